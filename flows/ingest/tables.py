"""Files to grids of text cells: every sheet of a workbook, or a CSV in any common dialect.

A grid keeps every cell as written (text, or None when blank) so that layout detection, not
the reader, decides what is a header, a title or a number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flows.ingest.files import ReturnReadError

Cell = str | None
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Sheet:
    name: str  # sheet name, or "" for a CSV
    rows: list[list[Cell]]  # rows[i] is spreadsheet row i + 1
    delimiter: str | None = None
    error: str | None = None  # why this reading of the file failed, if it did


def decode_text(path: Path, raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with or without BOM), else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReturnReadError(f"{path.name}: text in an unknown encoding (not UTF-8 or Windows-1252)")


def csv_grid(path: Path, text: str, delimiter: str) -> Sheet:
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        rows = [[cell if cell.strip() else None for cell in row] for row in reader]
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


def xlsx_sheets(path: Path) -> list[Sheet]:
    """Every sheet, with merged cells filled from their top-left value; formulas as their
    last computed values, never evaluated here."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise ReturnReadError(
            f"{path.name}: a damaged or truncated Excel workbook ({error})"
        ) from error
    except Exception as error:  # openpyxl raises many types for malformed XML
        raise ReturnReadError(f"{path.name}: not a readable Excel workbook ({error})") from error
    sheets = []
    for worksheet in workbook.worksheets:
        merged = [
            (r.min_row, r.max_row, r.min_col, r.max_col, worksheet.cell(r.min_row, r.min_col).value)
            for r in worksheet.merged_cells.ranges
        ]
        rows = [
            [cell_text(value) for value in row] for row in worksheet.iter_rows(values_only=True)
        ]
        for min_row, max_row, min_col, max_col, value in merged:
            for row in range(min_row - 1, min(max_row, len(rows))):
                for col in range(min_col - 1, max_col):
                    if col < len(rows[row]):
                        rows[row][col] = cell_text(value)
        sheets.append(Sheet(worksheet.title, rows))
    return sheets
