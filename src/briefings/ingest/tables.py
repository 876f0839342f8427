"""Files to grids of text cells: every sheet of a workbook, or a CSV in any common dialect.

A grid keeps every cell as written (text, or None when blank) so that layout detection, not
the reader, decides what is a header, a title or a number.

Reading is bounded, whatever the bytes: workbooks are streamed (openpyxl read-only mode)
after their zip directory is checked, cells are counted as they are parsed, and a sheet's
declared size is never trusted, so a zip bomb, a sheet claiming a million rows or a merge
over a whole sheet is refused in moments, with the reason, instead of exhausting memory.

Only what a force released is read: hidden sheets (hidden or "very hidden"), hidden rows and
hidden columns are left out, and each Sheet says in words what was skipped, for the ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from briefings.ingest.files import ReturnReadError, max_return_bytes, max_table_bytes, megabytes

Cell = str | None
DELIMITERS = (",", ";", "\t")
EXCEL_MAX_ROWS = 1_048_576
# An online-flag return is a few hundred rows and a dozen columns; these leave wide margins.
RETURN_LIMITS = (100_000, 1_000, 2_000_000)  # rows, columns, cells parsed
# A Home Office table in a workbook may fill a sheet, in a handful of columns.
TABLE_LIMITS = (EXCEL_MAX_ROWS, 1_000, 12_000_000)
MAX_ZIP_PARTS = 2_000  # a workbook of many sheets has a few hundred


@dataclass(frozen=True)
class Sheet:
    name: str  # sheet name, or "" for a CSV
    rows: list[list[Cell]]  # rows[i] is spreadsheet row i + 1
    delimiter: str | None = None
    error: str | None = None  # why this reading of the file failed, if it did
    # What the workbook holds but the force did not release, left unread, in words
    # ("hidden sheet 'Working' not read", "hidden column D not read").
    skipped: tuple[str, ...] = ()
    # A workbook's merged ranges as (first row, first column, last row, last column), counted
    # from 0 like `rows`: a label merged across columns spans exactly those columns.
    merged: tuple[tuple[int, int, int, int], ...] = ()

    def merged_columns(self, row: int) -> set[int]:
        """The columns of a row that lie in a merged range (their value copied from the
        range's first cell), up to the row's width."""
        width = len(self.rows[row]) if row < len(self.rows) else 0
        return {
            column
            for top, left, bottom, right in self.merged
            if top <= row <= bottom
            for column in range(left, min(right, width - 1) + 1)
        }


@dataclass(frozen=True)
class Limits:
    rows: int
    columns: int
    cells: int  # rows and cells parsed in all, blank ones included

    @classmethod
    def for_returns(cls) -> Limits:
        return cls(*RETURN_LIMITS)

    @classmethod
    def for_tables(cls) -> Limits:
        return cls(*TABLE_LIMITS)


class _Budget:
    """Cells parsed so far in one file; the file is refused when it exceeds the limit."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name, self.limits, self.used = name, limits, 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limits.cells:
            raise ReturnReadError(
                f"{self.name}: more than {self.limits.cells:,} cells, far more than a police "
                "return holds; is it the right file?"
            )


def decode_text(path: Path, raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with or without BOM), else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReturnReadError(f"{path.name}: text in an unknown encoding (not UTF-8 or Windows-1252)")


def csv_grid(path: Path, text: str, delimiter: str, limits: Limits | None = None) -> Sheet:
    limits = limits or Limits.for_returns()
    budget = _Budget(path.name, limits)
    rows: list[list[Cell]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        for row in reader:
            budget.spend(1 + len(row))
            if len(row) > limits.columns:
                raise ReturnReadError(
                    f"{path.name}: row {reader.line_num} has {len(row):,} columns, more than "
                    f"the {limits.columns:,} a return can have"
                )
            rows.append([cell if cell.strip() else None for cell in row])
    except csv.Error as error:
        raise ReturnReadError(f"{path.name}: not a readable CSV table ({error})") from error
    return Sheet("", rows, delimiter)


def csv_sheets(path: Path, raw: bytes) -> list[Sheet]:
    """One candidate grid per delimiter; layout detection picks the one with a real header."""
    text, _ = decode_text(path, raw)
    if not text.strip():
        raise ReturnReadError(f"{path.name}: the file is empty")
    sheets = []
    for delimiter in DELIMITERS:
        try:
            sheets.append(csv_grid(path, text, delimiter))
        except ReturnReadError as error:
            sheets.append(Sheet("", [], delimiter, error=str(error)))
    return sheets


def cell_text(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


# --- workbooks ---------------------------------------------------------------------------------


def check_zip(path: Path) -> None:
    """Refuse a workbook whose zip directory shows it cannot be read safely: damaged or
    truncated, a zip bomb (more than max_table_bytes() once unzipped), or a part that is read
    whole into memory (shared strings, styles) over max_return_bytes(). Python's zipfile
    never inflates a part beyond the size the directory declares, so these checks hold."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ReturnReadError(f"{name}: a damaged or truncated Excel workbook ({error})") from error
    if len(parts) > MAX_ZIP_PARTS:
        raise ReturnReadError(
            f"{name}: {len(parts):,} parts in the zip, more than any workbook of returns has"
        )
    unzipped, limit = sum(part.file_size for part in parts), max_table_bytes()
    if unzipped > limit:
        raise ReturnReadError(
            f"{name}: unzips to {megabytes(unzipped)}, over the {megabytes(limit)} limit"
        )
    whole = max_return_bytes()
    for part in parts:
        read_whole = part.filename.endswith((".xml", ".rels")) and not part.filename.startswith(
            "xl/worksheets/"
        )
        if read_whole and part.file_size > whole:
            raise ReturnReadError(
                f"{name}: its part {part.filename} unzips to {megabytes(part.file_size)}, over "
                f"the {megabytes(whole)} limit"
            )


@contextmanager
def open_workbook(path: Path) -> Iterator[object]:
    """The workbook in openpyxl's streaming mode (formulas as their last computed values,
    never evaluated here), after check_zip; closed on leaving."""
    import openpyxl

    check_zip(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except MemoryError:
        raise  # a bug in the bounds above, never a verdict on the file
    except Exception as error:  # openpyxl raises many types for malformed parts
        raise ReturnReadError(
            f"{path.name}: not a readable Excel workbook ({_why(error)})"
        ) from error
    try:
        yield workbook
    finally:
        workbook.close()


def _why(error: BaseException) -> str:
    """The cause in one short line (openpyxl wraps causes in a paragraph naming the path)."""
    cause = error.__cause__ or error
    text = " ".join(str(cause).split()) or type(cause).__name__
    return text[:200]


@dataclass(frozen=True)
class Grid:
    """A sheet's cells as released, and what it hides."""

    rows: list[list[Cell]]  # rows[i] is spreadsheet row i + 1; hidden rows and columns blank
    merged: list[str]  # references of its merged ranges
    hidden_rows: frozenset[int] = frozenset()  # spreadsheet row numbers
    hidden_columns: frozenset[int] = frozenset()  # column numbers (A = 1), up to the limit
    unread_rows: tuple[int, ...] = ()  # hidden rows that held a value
    unread_columns: tuple[int, ...] = ()  # hidden columns that held a value

    def skipped(self) -> tuple[str, ...]:
        """What was left unread, in words; hidden rows and columns holding nothing are not
        worth a steward's attention (templates hide empty columns for looks)."""
        from openpyxl.utils import get_column_letter

        notes = []
        if self.unread_columns:
            spans = _spans(self.unread_columns, get_column_letter)
            notes.append(f"hidden column{'s' * _plural(self.unread_columns)} {spans} not read")
        if self.unread_rows:
            spans = _spans(self.unread_rows, str)
            notes.append(f"hidden row{'s' * _plural(self.unread_rows)} {spans} not read")
        return tuple(notes)


def _plural(numbers: tuple[int, ...]) -> bool:
    return len(numbers) > 1


SPANS_SHOWN = 10


def _spans(numbers: tuple[int, ...], name) -> str:
    """'3, 5, 7 to 9' for 3, 5, 7, 8, 9 (sorted), at most SPANS_SHOWN spans and how many more."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    words = [name(a) if a == b else f"{name(a)} to {name(b)}" for a, b in spans[:SPANS_SHOWN]]
    more = len(spans) - SPANS_SHOWN
    return ", ".join(words) + (f" and {more:,} more" if more > 0 else "")


def _is_true(value: object) -> bool:
    """An XML schema boolean attribute: '1' or 'true'."""
    return str(value).strip().lower() in ("1", "true")


def sheet_rows(
    path: Path,
    workbook,
    worksheet,
    limits: Limits,
    budget: _Budget | None = None,
    stop_after_row: int | None = None,
) -> tuple[list[list[Cell]], list[str]]:
    """The sheet's grid (hidden rows and columns blank) and its merged ranges: see read_grid."""
    grid = read_grid(path, workbook, worksheet, limits, budget, stop_after_row)
    return grid.rows, grid.merged


def read_grid(
    path: Path,
    workbook,
    worksheet,
    limits: Limits,
    budget: _Budget | None = None,
    stop_after_row: int | None = None,
) -> Grid:
    """The sheet's grid, from the cells its XML holds (never from the size it declares), with
    the references of its merged ranges. Rows past the last with a value are left out.
    Cells in hidden rows and columns are left blank, and which held a value is noted: the
    force did not release them.

    openpyxl's read-only worksheet pads rows to the declared size, drops merged ranges and
    row and column properties (where 'hidden' is), so its row parser is used directly
    (openpyxl 3.1 internals, covered by the format tests and the fuzz tests in tests/faults/)."""
    from openpyxl.worksheet._reader import WorkSheetParser

    budget = budget or _Budget(path.name, limits)
    where = f"{path.name}: sheet '{worksheet.title}'"
    cells: dict[int, dict[int, Cell]] = {}
    hidden_rows: set[int] = set()
    unread_rows: list[int] = []
    parser = None
    try:
        with worksheet._get_source() as source:
            parser = WorkSheetParser(
                source,
                worksheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            for number, parsed in parser.parse():
                budget.spend(1 + len(parsed))
                if stop_after_row is not None and number > stop_after_row:
                    break
                # Taken out as each row is read: the parser would otherwise keep the
                # properties of every row with a height or style until the sheet ends.
                properties = parser.row_dimensions.pop(str(number), None) or {}
                hidden = _is_true(properties.get("hidden"))
                if hidden:
                    hidden_rows.add(number)
                for cell in parsed:
                    text = cell_text(cell["value"])
                    if text is None:
                        continue
                    row, column = cell["row"], cell["column"]
                    _check_position(where, row, column, limits)
                    if hidden:
                        if not unread_rows or unread_rows[-1] != row:
                            unread_rows.append(row)
                        continue
                    cells.setdefault(row, {})[column] = text
            hidden_columns = _hidden_columns(parser.column_dimensions, limits)
    except (ReturnReadError, MemoryError):
        raise
    except Exception as error:  # malformed XML, a string that is not there, a bad number
        raise ReturnReadError(f"{where} cannot be read ({_why(error)})") from error
    if stop_after_row is not None:
        cells = {row: values for row, values in cells.items() if row <= stop_after_row}
    unread_columns: set[int] = set()
    if hidden_columns:
        for values in cells.values():
            for column in hidden_columns.intersection(values):
                unread_columns.add(column)
                del values[column]
        cells = {row: values for row, values in cells.items() if values}
    rows: list[list[Cell]] = [[] for _ in range(max(cells, default=0))]
    for number, values in cells.items():
        row = rows[number - 1] = [None] * max(values)
        for column, text in values.items():
            row[column - 1] = text
    merged = parser.merged_cells if parser is not None else None
    references = [str(m.ref) for m in merged.mergeCell] if merged is not None else []
    return Grid(
        rows,
        references,
        frozenset(hidden_rows),
        frozenset(hidden_columns),
        tuple(sorted(set(unread_rows))),
        tuple(sorted(unread_columns)),
    )


def _hidden_columns(dimensions: dict[str, dict[str, str]], limits: Limits) -> set[int]:
    """Numbers of the hidden columns a value can be in (up to the limit: a range hiding
    every column to XFD costs no more than the grid)."""
    hidden: set[int] = set()
    for properties in dimensions.values():
        if not _is_true(properties.get("hidden")):
            continue
        first = int(properties["min"])
        last = min(int(properties.get("max", first)), limits.columns)
        hidden.update(range(max(first, 1), last + 1))
    return hidden


def _check_position(where: str, row: int, column: int, limits: Limits) -> None:
    from openpyxl.utils import get_column_letter

    if row < 1 or column < 1:
        raise ReturnReadError(f"{where} has a cell at row {row}, column {column}, which is no cell")
    if row > limits.rows:
        raise ReturnReadError(
            f"{where}, cell {get_column_letter(min(column, 16384))}{row}: a value below row "
            f"{limits.rows:,}, far beyond where a return's figures end"
        )
    if column > limits.columns:
        raise ReturnReadError(
            f"{where}, cell {get_column_letter(min(column, 16384))}{row}: a value beyond "
            f"column {get_column_letter(limits.columns)}, far right of a return's figures"
        )


def fill_merged(
    rows: list[list[Cell]],
    references: list[str],
    where: str,
    budget: _Budget,
    hidden_rows: frozenset[int] = frozenset(),
    hidden_columns: frozenset[int] = frozenset(),
) -> None:
    """Each merged range takes its top-left value in every cell, within the grid's extent
    (rows with values, columns up to the widest of them): a merge over a whole sheet costs
    no more than the grid. Cells in hidden rows and columns (numbered from 1) stay blank."""
    from openpyxl.utils.cell import range_boundaries

    width = max((len(row) for row in rows), default=0)
    for reference in references:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(reference)
        except (ValueError, TypeError) as error:
            raise ReturnReadError(f"{where}: a merged range '{reference}' is no range") from error
        if None in (min_col, min_row, max_col, max_row) or min_row > len(rows):
            continue
        top = rows[min_row - 1]
        value = top[min_col - 1] if min_col - 1 < len(top) else None
        last_row, last_col = min(max_row, len(rows)), min(max_col, width)
        budget.spend(max(0, last_row - min_row + 1) * max(0, last_col - min_col + 1))
        for index in range(min_row - 1, last_row):
            if index + 1 in hidden_rows:
                continue
            row = rows[index]
            if len(row) < last_col:
                row.extend([None] * (last_col - len(row)))
            for column in range(min_col - 1, last_col):
                if column + 1 not in hidden_columns:
                    row[column] = value


def merged_ranges(references: list[str], height: int) -> tuple[tuple[int, int, int, int], ...]:
    """The merged ranges that start within the grid, counted from 0 (fill_merged has already
    refused any reference that is no range)."""
    from openpyxl.utils.cell import range_boundaries

    ranges = []
    for reference in references:
        min_col, min_row, max_col, max_row = range_boundaries(reference)
        if None in (min_col, min_row, max_col, max_row) or min_row > height:
            continue
        ranges.append((min_row - 1, min_col - 1, max_row - 1, max_col - 1))
    return tuple(ranges)


def visible_worksheets(workbook) -> list:
    """The sheets a person opening the workbook sees: not 'hidden', not 'veryHidden'."""
    return [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]


def xlsx_sheets(path: Path, workbook=None) -> list[Sheet]:
    """Every visible sheet, with merged cells filled from their top-left value; formulas as
    their last computed values, never evaluated here. Hidden sheets are not read at all, and
    every sheet returned names them in `skipped`."""
    if workbook is None:
        with open_workbook(path) as opened:
            return xlsx_sheets(path, opened)
    limits = Limits.for_returns()
    budget = _Budget(path.name, limits)
    visible = visible_worksheets(workbook)
    hidden = tuple(
        f"hidden sheet '{worksheet.title}' not read"
        for worksheet in workbook.worksheets
        if worksheet not in visible
    )
    if not visible:
        raise ReturnReadError(
            f"{path.name}: every sheet is hidden, so the workbook shows nothing a force released"
        )
    sheets = []
    for worksheet in visible:
        grid = read_grid(path, workbook, worksheet, limits, budget)
        where = f"{path.name}: sheet '{worksheet.title}'"
        fill_merged(grid.rows, grid.merged, where, budget, grid.hidden_rows, grid.hidden_columns)
        sheets.append(
            Sheet(
                worksheet.title,
                grid.rows,
                skipped=hidden + grid.skipped(),
                merged=merged_ranges(grid.merged, len(grid.rows)),
            )
        )
    return sheets
