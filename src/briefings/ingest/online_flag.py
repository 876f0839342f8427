"""Online-flag returns in the shapes FOI officers produce, to the canonical long layout.

Shapes taken: the canonical long layout; a wide layout with one column of online-flagged
counts per financial year, or several measures per year told apart by their headers' words;
a header over two rows (a year over its measures, a measure over its years, merged or not);
title and note rows above the header; several sheets of which one holds the figures; totals
rows (checked against the rows above them) and totals without an offence code; blank cells
of a pivot table; the file's own thousands separator; a return without a force column that
names its force in the title, the sheet name or the file name. docs/contributors.md lists
each shape with its example file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from briefings.domain.periods import PeriodError, year_label
from briefings.ingest.files import ReturnReadError
from briefings.ingest.tables import Cell, Sheet
from briefings.reference import force_register
from briefings.resources import REFERENCE_DIR

CANONICAL_COLUMNS = (
    "force",
    "financial_year",
    "offence_code",
    "offence_description",
    "offences",
    "online_flagged",
)
HEADER_SEARCH_ROWS = 40

# The one alias table: normalised header text (see header_key) -> canonical column.
HEADER_ALIASES = {
    **dict.fromkeys(
        [
            "force",
            "police_force",
            "force_name",
            "pfa",
            "police_force_area",
            "force_area",
            "constabulary",
            "pfa_name",
            "pfa_code",
            "ons_code",
            "force_code",
        ],
        "force",
    ),
    **dict.fromkeys(
        [
            "financial_year",
            "year",
            "fy",
            "financial_year_fy",
            "period",
            "reporting_year",
            "fin_year",
        ],
        "financial_year",
    ),
    **dict.fromkeys(
        [
            "offence_code",
            "ho_code",
            "home_office_code",
            "home_office_offence_code",
            "code",
            "ho_offence_code",
            "crime_code",
            "classification_code",
        ],
        "offence_code",
    ),
    **dict.fromkeys(
        [
            "offence_description",
            "offence",
            "description",
            "offence_type",
            "crime_type",
            "offence_name",
            "offence_category",
            "classification",
        ],
        "offence_description",
    ),
    **dict.fromkeys(
        [
            "offences",
            "number_of_offences",
            "all_offences",
            "total_offences",
            "recorded_offences",
            "number_of_crimes",
            "crimes",
            "total_recorded",
            "number_recorded",
        ],
        "offences",
    ),
    **dict.fromkeys(
        [
            "online_flagged",
            "online_flag",
            "cyber_flagged",
            "cyber_flag",
            "online",
            "flagged_online",
            "online_flagged_offences",
            "cyber_flagged_offences",
            "number_flagged_online",
            "number_online_flagged",
            "cyber_enabled",
            "online_cyber_flag",
            "online_cyber_flagged",
            "with_online_flag",
            "internet_flagged",
        ],
        "online_flagged",
    ),
}

_TOTALS_ROW = re.compile(r"^\s*(grand\s+)?(sub\s*-?\s*)?(totals?|sum)\b", re.IGNORECASE)
_CODE_AND_DESCRIPTION = re.compile(r"^\s*(\d{1,3}[A-Z]?(?:/\d+)?)\s*[-–:]\s*(.+?)\s*$")
_WHOLE = re.compile(r"^\d+$")

# The measures a wide table's year columns hold, told apart by their headers' words.
ONLINE_FLAGGED = "online_flagged"
ALL_OFFENCES = "all offences"  # 'all offences', 'total crimes': never the flagged count
OFFENCES_WORD = "offences"  # 'offences' alone: all offences beside a flagged column
PER_CENT = "per cent"  # never a count
_YEAR_INSIDE = re.compile(
    r"(?<![\d/])(?:fy\s*)?\d{4}\s*[/-]\s*(?:\d{4}|\d{2})(?!\d)", re.IGNORECASE
)
_PER_CENT_WORDS = re.compile(r"%|\bper\s*cent|\bpercent|\bproportion|\brate\b", re.IGNORECASE)
_ONLINE_WORDS = re.compile(r"online|cyber|internet|flag", re.IGNORECASE)
_ALL_OFFENCES_WORDS = re.compile(
    r"\b(all|total)\b.*\b(offen[cs]es?|crimes?)\b|\brecorded\b", re.IGNORECASE
)
_OFFENCES_WORDS = re.compile(r"\b(offen[cs]es?|crimes?)\b", re.IGNORECASE)

# A row without an offence code is the force's total when its words mean all of what the
# charity asked about ('All', 'Sexual offences against children under 18 with a cyber flag');
# never when they name a part ('Other sexual offences', '... under 16').
_MEANS_ALL = {"all", "total", "totals", "overall", "combined", "every", "any"}
_GENERIC_WORDS = _MEANS_ALL | {
    *("a", "an", "the", "of", "and", "with", "on", "in", "against", "number", "count", "cases"),
    *("offence", "offences", "offense", "offenses", "crime", "crimes", "recorded", "sexual"),
    *("child", "children", "victim", "victims", "online", "cyber", "internet", "flag"),
    *("flagged", "under", "aged", "year", "years"),
}
_THE_QUESTION = re.compile(r"\bsexual\s+(offen[cs]es|abuse)\b", re.IGNORECASE)
_CHILDREN = re.compile(
    r"\b(child|children|childrens?|under\s*18|u18|minors?|juveniles?|young\s+people)\b",
    re.IGNORECASE,
)
_A_PART = re.compile(
    r"\b(other|excluding|except|not|non)\b|\b(under|aged)\s*1[0-7]\b|\b1[0-7]\s*(and|or)\s*under\b",
    re.IGNORECASE,
)

# How a count may be written, and the separators each way uses: (shape, thousands, decimal).
_NUMBER_SHAPES = (
    (re.compile(r"^-?\d{1,3}(?:,\d{3})+$"), ",", None),
    (re.compile(r"^-?\d{1,3}(?:\.\d{3})+$"), ".", None),
    (re.compile(r"^-?\d{1,3}(?:,\d{3})+\.\d+$"), ",", "."),
    (re.compile(r"^-?\d{1,3}(?:\.\d{3})+,\d+$"), ".", ","),
    (re.compile(r"^-?\d+\.\d+$"), None, "."),
    (re.compile(r"^-?\d+,\d+$"), None, ","),
)


def header_key(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


def year_header(text: Cell) -> str | None:
    """'2015/16', '2016-17', '2016/2017' and 'FY2016/17' name a financial year column. A
    label for part of a year ('2016/17 Q1', '2026/27 (to date)') is kept as written, so its
    counts reach staging, which refuses them by name, instead of being taken as a whole year
    or dropped unseen."""
    if text is None:
        return None
    try:
        period = year_label(text)
    except PeriodError:
        return text.strip()
    return None if period is None else period.label


def year_column(text: Cell) -> tuple[str, str | None] | None:
    """The financial year a column header names and the measure its words give (None when
    they give none: '2016/17'), or None when it names no year. The year comes first
    ('2016/17 online flagged') or after words that say the measure ('All offences 2016/17')."""
    if text is None:
        return None
    year = year_header(text)
    if year is not None:
        inside = _YEAR_INSIDE.search(text)
        return year, _measure(text[inside.end() :] if inside else "")
    inside = _YEAR_INSIDE.search(text)
    if inside is None or re.search(r"\d", text[: inside.start()]):
        return None
    measure = _measure(f"{text[: inside.start()]} {text[inside.end() :]}")
    year = year_header(text[inside.start() :])
    return (year, measure) if year is not None and measure is not None else None


def _measure(words: str) -> str | None:
    if _PER_CENT_WORDS.search(words):
        return PER_CENT
    if _ONLINE_WORDS.search(words):
        return ONLINE_FLAGGED
    if _ALL_OFFENCES_WORDS.search(words):
        return ALL_OFFENCES
    if _OFFENCES_WORDS.search(words):
        return OFFENCES_WORD
    return None


def column_letter(position: int) -> str:
    """The spreadsheet's name for a column: 0 is A, 26 is AA."""
    letters, number = "", position + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


@dataclass(frozen=True)
class Header:
    row: int  # index into Sheet.rows of the header's last row: the figures start below it
    columns: dict[int, str]  # cell index -> canonical column
    years: dict[int, str]  # cell index -> financial year (wide layout)
    measures: dict[int, str | None] = field(default_factory=dict)  # year column -> measure
    # A header over two rows: the upper row's index, and each column's label in each row
    # (upper, lower) as read, the upper one carried across the columns it spans.
    upper: int | None = None
    stacked: dict[int, tuple[Cell, Cell]] = field(default_factory=dict)
    problem: str | None = None  # why the two rows cannot be read as one header

    @property
    def top(self) -> int:
        return self.row if self.upper is None else self.upper

    @property
    def rows_said(self) -> str:
        """'row 4', or 'rows 3 and 4' for a header over two rows."""
        if self.upper is None:
            return f"row {self.row + 1}"
        return f"rows {self.upper + 1} and {self.row + 1}"

    @property
    def layout(self) -> str:
        return "long" if "financial_year" in self.columns.values() or not self.years else "wide"

    @property
    def usable(self) -> bool:
        named = set(self.columns.values())
        identifies = named & {"force", "offence_code", "offence_description", "financial_year"}
        counts = "online_flagged" in named or (self.years and "financial_year" not in named)
        return bool(identifies) and bool(counts)


def find_header(sheet: Sheet) -> Header | None:
    """The first row (or two rows read as one) in the first rows of the sheet naming the
    return's columns. A header over two rows is taken before a row that names columns on its
    own, since that row alone would read the wrong counts (see _two_row_header)."""
    if all(len(row) <= 1 for row in sheet.rows[: HEADER_SEARCH_ROWS + 1]):
        # One column at most (a CSV read with a separator it does not use): a column that
        # says which rows these are and one of counts cannot both be there.
        return None
    for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        two_rows = _two_row_header(sheet, index)
        if two_rows is not None and two_rows.usable:
            return two_rows
        header = _header_named(index, dict(enumerate(row)))
        if header.usable:
            return header
    return None


def _header_named(
    index: int,
    names: dict[int, Cell],
    upper: int | None = None,
    stacked: dict[int, tuple[Cell, Cell]] | None = None,
) -> Header:
    columns: dict[int, str] = {}
    years: dict[int, str] = {}
    measures: dict[int, str | None] = {}
    for position, cell in sorted(names.items()):
        if cell is None:
            continue
        canonical = HEADER_ALIASES.get(header_key(cell))
        if canonical and canonical not in columns.values():
            columns[position] = canonical
        elif (year := year_column(cell)) is not None:
            years[position], measures[position] = year
    return Header(index, columns, years, measures, upper, stacked or {})


# Columns that say which force, year and offence a row is about: a label above one of these
# that does not join it into a column name is a title over the header, not part of it.
_IDENTIFIERS = {"force", "financial_year", "offence_code", "offence_description"}


def _is_identifier(text: str) -> bool:
    return HEADER_ALIASES.get(header_key(text)) in _IDENTIFIERS


def _names_year(text: str) -> bool:
    return _YEAR_INSIDE.search(text) is not None


def _two_row_header(sheet: Sheet, top: int) -> Header | None:
    """Rows `top` and `top + 1` read as one header, each column named '<upper> <lower>'
    ('2015/16' over 'Online flagged' is '2015/16 Online flagged'; 'Online flagged' over
    '2015/16' is 'Online flagged 2015/16'; 'Financial year' over '2015/16' is '2015/16'), or
    None when they are not one header.

    They are one header when every label of the lower row either repeats the label above it
    (a cell merged down over both rows), names a column on its own under a blank, or joins the
    label above it into a column name; at least one must join, unless every label is merged
    down over both rows (a one-row header drawn two rows high). So a row of figures, a title
    over the header (its words joined to 'Force' name nothing) and a header over its first
    row of figures are never read as two rows. An upper label spans the columns it is merged
    across; unmerged, it continues over the blank cells to its right while the lower row has
    labels under them (never over a force, year or offence column, which is complete on its
    own). A column whose two labels each name a different year is ambiguous: the header is
    returned with the problem, so the return is refused naming the rows and the column."""
    if top + 1 >= len(sheet.rows):
        return None
    lower_row = sheet.rows[top + 1]
    lower = {p: cell for p, cell in enumerate(lower_row) if cell is not None}
    if not lower:
        return None
    upper = _upper_labels(sheet, top)
    names: dict[int, Cell] = {}
    stacked: dict[int, tuple[Cell, Cell]] = {}
    joined = 0
    problem = None
    for position in sorted(set(upper) | set(lower)):
        above, below = upper.get(position), lower.get(position)
        stacked[position] = (above, below)
        if below is None or above == below:
            names[position] = above if below is None else below
            continue
        if above is None:
            if not _names_a_column(below):
                return None  # a force, a code or a count: a row of figures
            names[position] = below
            continue
        name = f"{above} {below}"
        if HEADER_ALIASES.get(header_key(above)) == "financial_year" and _names_year(below):
            name = below  # 'Financial year' says only that the labels under it are years
        elif _names_year(above) and _names_year(below):
            problem = problem or (
                f"rows {top + 1} and {top + 2}, column {column_letter(position)}: "
                f"'{above}' over '{below}' names two years; which year are its counts for?"
            )
        elif HEADER_ALIASES.get(header_key(name)) is None and not (
            year_column(name) is not None and (_measure(below) or _names_year(below))
        ):
            if _is_identifier(above) or _is_identifier(below) or _measure(below) is None:
                return None  # a title above the header, or a row that is not labels
            # Measure words under a label that gives no year ('Total' over 'All offences'):
            # a column no year owns, left unread like a one-row 'Total' column.
            names[position] = name
            continue
        names[position] = name
        joined += 1
    merged_down = sheet.merged_columns(top) & sheet.merged_columns(top + 1)
    if not joined and not set(lower) <= merged_down:
        return None  # at least one label joins, or every label is merged down over both rows
    header = _header_named(top + 1, names, top, stacked)
    return replace(header, problem=problem) if problem else header


def _names_a_column(text: str) -> bool:
    """Header words on their own: a column name, a financial year, or what a count counts."""
    return (
        HEADER_ALIASES.get(header_key(text)) is not None
        or year_column(text) is not None
        or (_measure(text) is not None and bool(re.search(r"[a-z%]", text, re.IGNORECASE)))
    )


def _upper_labels(sheet: Sheet, top: int) -> dict[int, str]:
    """The upper row's label over each column: a merged label over the columns it is merged
    across; an unmerged one also over the blank cells to its right while the lower row has
    labels under them that are not a force, year or offence column."""
    upper_row, lower_row = sheet.rows[top], sheet.rows[top + 1]
    merged = sheet.merged_columns(top)
    labels: dict[int, str] = {}
    carried: str | None = None
    for position in range(max(len(upper_row), len(lower_row))):
        cell, below = _cell(upper_row, position), _cell(lower_row, position)
        if cell is not None:
            labels[position] = cell
            carried = None if position in merged else cell
        elif carried is not None and below is not None and not _is_identifier(below):
            labels[position] = carried
        else:
            carried = None
    return labels


@dataclass(frozen=True)
class ParsedTable:
    frame: pd.DataFrame
    layout: str
    notes: tuple[str, ...]


# Names shown when no header is found: the first few of each column's (HEADER_ALIASES).
_SHOWN_NAMES = {
    "force": ("Force", "Police force", "PFA"),
    "financial_year": ("Financial year", "Year", "FY"),
    "offence_code": ("Offence code", "HO code"),
    "online_flagged": ("Online flagged", "Cyber flagged", "Online flag"),
}


def _no_header(sheets: list[Sheet]) -> str:
    """Why no header was found, for a person to fix the file: the row most like a header
    (the most column names recognised, then the most labels) with its labels, what a
    header needs, and names each column is read by."""
    best: tuple[int, int, str, int, list[str]] | None = None
    for sheet in sheets:
        for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
            labels = [
                cell.strip()
                for cell in row
                if cell and cell.strip() and not re.fullmatch(r"[\d.,\s%-]+", cell)
            ]
            known = sum(header_key(label) in HEADER_ALIASES for label in labels)
            if labels and (best is None or (known, len(labels)) > best[:2]):
                best = (known, len(labels), sheet.name, index, labels)
    text = (
        f"no header row with the return's columns in the first {HEADER_SEARCH_ROWS} rows "
        "of any sheet"
    )
    if best is None:
        text += "; no row holds labels, only numbers or nothing"
    else:
        _, _, sheet_name, index, labels = best
        where = f"row {index + 1}" + (f" of sheet '{sheet_name}'" if sheet_name else "")
        shown = ", ".join(f"'{label[:40]}'" for label in labels[:8])
        more = f" and {len(labels) - 8} more" if len(labels) > 8 else ""
        read = sorted({HEADER_ALIASES.get(header_key(label)) or "" for label in labels} - {""})
        text += f"; the likeliest, {where}, has {shown}{more}" + (
            f" (read as {', '.join(read)})" if read else " (no column name read)"
        )
    named = "; ".join(f"{column}: {', '.join(names)}" for column, names in _SHOWN_NAMES.items())
    # A table a force left in a hidden sheet is not released, so never read: say it is there,
    # since that is what a steward asks the force about.
    hidden = sorted(
        {note for sheet in sheets for note in sheet.skipped if note.startswith("hidden sheet")}
    )
    unread = (
        f"; the workbook also has a {', a '.join(hidden)} (hidden sheets are not released: "
        "ask the force to send the figures in a sheet it shows)"
        if hidden
        else ""
    )
    return (
        f"{text}{unread}; a header needs a force, year or offence column and an online-flagged "
        f"count (or one column per financial year, like 2016/17), named for example {named}"
    )


def parse_online_flag(file_name: str, sheets: list[Sheet]) -> ParsedTable:
    """The return in canonical columns (all text) with `source_row`, the spreadsheet row."""
    found = [(sheet, header) for sheet in sheets if (header := find_header(sheet))]
    if not found:
        failed = [sheet.error for sheet in sheets if sheet.error]
        if failed:  # a table that could not be parsed explains a missing header best
            raise ReturnReadError(failed[0])
        raise ReturnReadError(f"{file_name}: {_no_header(sheets)}")
    # Several sheets may have a header (CSV dialects, notes sheets): take the one with most rows.
    sheet, header = max(found, key=lambda pair: _data_rows(pair[0], pair[1]))
    if header.problem:
        raise ReturnReadError(f"{file_name}: {header.problem}")
    plan: dict[str, YearColumns] = {}
    if header.layout == "wide":
        _check_wide_counts(file_name, sheet, header)
        plan = _year_columns(file_name, sheet, header)
    notes = []
    if sheet.name and len(sheets) > 1:
        notes.append(f"figures from sheet '{sheet.name}' of {len(sheets)}")
    notes.extend(sheet.skipped)  # hidden sheets, rows and columns: not released, not read
    if sheet.delimiter and sheet.delimiter != ",":
        notes.append(f"separator '{sheet.delimiter}'")
    if header.upper is not None:
        notes.append(f"header read from two rows, {header.upper + 1} and {header.row + 1}")
    elif header.row:
        notes.append(f"header on row {header.row + 1}")
    note_rows = [i + 1 for i in range(header.row + 1, len(sheet.rows)) if is_note(sheet.rows[i])]
    if note_rows:
        notes.append(
            f"note row{'s' * (len(note_rows) > 1)} {', '.join(map(str, note_rows))} left out"
        )
    if header.layout == "long":
        records = _long_frame(sheet, header)
    else:
        records, blanks = _wide_frame(sheet, header, plan)
        if blanks:
            notes.append(f"{blanks} blank cell{'s' * (blanks != 1)} read as 0")
        per_cent = [p for p, measure in header.measures.items() if measure == PER_CENT]
        if per_cent:
            named = ", ".join(_column_named(sheet, header, p) for p in per_cent)
            notes.append(f"column{'s' * (len(per_cent) > 1)} {named} not read")
    for record in records:
        record["_total"] = _is_totals_row(record)
    if "force" not in header.columns.values():
        force = _force_from_context(file_name, sheet, header)
        for record in records:
            record["force"] = force
        notes.append(f"force '{force}' named outside the table")
    records, number_notes = _read_numbers(file_name, _clean(records))
    records, total_notes = _resolve_totals(file_name, records)
    notes += number_notes + total_notes
    return ParsedTable(_table(records), header.layout, tuple(notes))


def _check_wide_counts(file_name: str, sheet: Sheet, header: Header) -> None:
    """In the wide layout each year column holds that year's online-flagged counts; a count
    column without a year beside them belongs to no year, so the return is ambiguous."""
    counts = [p for p, name in header.columns.items() if name in ("online_flagged", "offences")]
    if counts:
        named = ", ".join(_header_said(sheet, header, p) for p in counts)
        years = ", ".join(sorted(set(header.years.values())))
        has = "has" if header.upper is None else "have"
        raise ReturnReadError(
            f"{file_name}: {header.rows_said} {has} a column for each financial year ({years}) "
            f"and also {named}, which gives no year; please send counts either one column "
            "per year or with a financial year column"
        )


@dataclass(frozen=True)
class YearColumns:
    online_flagged: int  # cell index of the year's online-flagged counts
    offences: int | None = None  # and of its counts of all offences, where given


def _year_columns(file_name: str, sheet: Sheet, header: Header) -> dict[str, YearColumns]:
    """Which column holds each year's online-flagged counts (and all offences), from the
    headers' words, never from their order; refused, naming the columns, where the words do
    not tell them apart."""
    by_year: dict[str, list[int]] = {}
    for position, year in header.years.items():
        if header.measures.get(position) != PER_CENT:
            by_year.setdefault(year, []).append(position)
    plan = {}
    for year, positions in by_year.items():
        measures = {p: header.measures.get(p) for p in positions}
        if len(positions) == 1 and measures[positions[0]] != ALL_OFFENCES:
            plan[year] = YearColumns(positions[0])  # the one count a year: online flagged
            continue
        online = [p for p in positions if measures[p] == ONLINE_FLAGGED]
        offences = [p for p in positions if measures[p] in (ALL_OFFENCES, OFFENCES_WORD)]
        unnamed = [p for p in positions if measures[p] is None]

        def columns(chosen: list[int]) -> str:
            return _columns_named(sheet, header, chosen)

        both = "both" if len(positions) == 2 else "all"
        if unnamed and len(unnamed) == len(positions):
            why = (
                f"{both} hold {year} and their headers do not say which is the online-flagged count"
            )
        elif unnamed:
            why = (
                f"{both} hold {year}, and the header of {columns(unnamed)} does not say what it "
                "counts"
            )
        elif len(online) > 1:
            positions, why = (
                online,
                f"both hold {year} online-flagged counts; which one was released?",
            )
        elif len(offences) > 1:
            positions, why = offences, f"both hold {year} counts of all offences; which one?"
        elif not online:
            raise ReturnReadError(
                f"{file_name}: {_in_two_rows(header)}{columns(offences)} gives all offences for "
                f"{year}, but no column "
                "gives its online-flagged count"
            )
        else:
            plan[year] = YearColumns(online[0], offences[0] if offences else None)
            continue
        raise ReturnReadError(f"{file_name}: {_in_two_rows(header)}{columns(positions)} {why}")
    return plan


def _in_two_rows(header: Header) -> str:
    return "" if header.upper is None else f"the header over {header.rows_said}: "


def _column_named(sheet: Sheet, header: Header, position: int) -> str:
    return f"{column_letter(position)} ({_header_said(sheet, header, position)})"


def _header_said(sheet: Sheet, header: Header, position: int) -> str:
    """A column's header as the file shows it: "'2015/16'", or "'2015/16' over 'Online
    flagged'" where the header is over two rows."""
    if header.upper is None:
        return f"'{_cell(sheet.rows[header.row], position)}'"
    above, below = header.stacked.get(position, (None, None))
    if above is None or below is None or above == below:
        return f"'{above if below is None else below}'"
    return f"'{above}' over '{below}'"


def _columns_named(sheet: Sheet, header: Header, positions: list[int]) -> str:
    named = [_column_named(sheet, header, p) for p in positions]
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    return f"column{'s' * (len(named) > 1)} {listed}"


def _data_rows(sheet: Sheet, header: Header) -> int:
    return sum(1 for row in sheet.rows[header.row + 1 :] if any(cell for cell in row))


def _cell(row: list[Cell], index: int) -> Cell:
    return row[index] if index < len(row) else None


def is_note(row: list[Cell]) -> bool:
    """A line of prose under or between the figures ('Note: figures are a snapshot ...')."""
    filled = [cell for cell in row if cell is not None and cell.strip()]
    return len(filled) == 1 and len(filled[0].split()) >= 4 and not filled[0][:1].isdigit()


def _rows_below(sheet: Sheet, header: Header):
    """(spreadsheet row number, cells) for each row under the header that is not a note."""
    for index in range(header.row + 1, len(sheet.rows)):
        if not is_note(sheet.rows[index]):
            yield index + 1, sheet.rows[index]


# A return's rows while ingest reads them: one dict per row, keyed by column (the canonical
# columns, source_row, and ingest's own columns starting with "_"), None for a blank. A return
# is a few hundred rows: worked in plain Python, the table is built once, at the end (pandas
# costs about a millisecond a call, whatever the size).
Record = dict[str, Any]


def _long_frame(sheet: Sheet, header: Header) -> list[Record]:
    records = []
    for number, row in _rows_below(sheet, header):
        values = {name: _cell(row, position) for position, name in header.columns.items()}
        if not any(values.values()):
            continue  # blank lines are padding
        records.append({**values, "source_row": number})
    return records


def _wide_frame(
    sheet: Sheet, header: Header, plan: dict[str, YearColumns]
) -> tuple[list[Record], int]:
    """One record per row and year, and how many blank cells were read as 0.

    A blank beside other counts in the row is what a pivot table leaves where nothing was
    recorded: 0. A column blank in every row was not answered, and a row without any count
    says nothing: both stay blank, for validation to name."""
    where = {
        p: _column_named(sheet, header, p)
        for columns in plan.values()
        for p in (columns.online_flagged, columns.offences)
        if p is not None
    }
    rows = list(_rows_below(sheet, header))
    answered = {p for p in where if any(_cell(row, p) is not None for _, row in rows)}
    records, blanks = [], 0
    for number, row in rows:
        ids = {name: _cell(row, position) for position, name in header.columns.items()}
        counts = {p: _cell(row, p) for p in where}
        if not any(counts.values()):
            if any(ids.values()):  # a label without counts: validation names the blank
                records += [{**ids, "financial_year": year, "source_row": number} for year in plan]
            continue
        for position in answered:
            if counts[position] is None:
                counts[position], blanks = "0", blanks + 1
        for year, columns in plan.items():
            record = {
                **ids,
                "financial_year": year,
                "online_flagged": counts[columns.online_flagged],
                "_where_online_flagged": where[columns.online_flagged],
                "source_row": number,
            }
            if columns.offences is not None:
                record["offences"] = counts[columns.offences]
                record["_where_offences"] = where[columns.offences]
            records.append(record)
    return records, blanks


def _force_from_context(file_name: str, sheet: Sheet, header: Header) -> str:
    """A single-force return may name its force only in its title, sheet name or file name;
    one naming two forces is refused, listing both, since either could be its force."""
    register = force_register()
    places = [
        (f"row {i + 1}", " ".join(c for c in row if c))
        for i, row in enumerate(sheet.rows[: header.top])
    ]
    places += [
        ("the sheet name", sheet.name),
        ("the file name", re.sub(r"\.[a-z]+$", "", file_name)),
    ]
    named: dict[str, list[str]] = {}  # force name -> where it is named
    for place, text in places:
        for force in register.find_all_in_text(text):
            where = named.setdefault(force.name, [])
            if place not in where:
                where.append(place)
    if len(named) == 1:
        return next(iter(named))
    if named:
        count = {2: "two", 3: "three"}.get(len(named), str(len(named)))
        where = list(dict.fromkeys(place for places in named.values() for place in places))
        said = where[0] if len(where) == 1 else f"{', '.join(where[:-1])} and {where[-1]}"
        raise ReturnReadError(
            f"{file_name}: names {count} forces ({', '.join(named)}) in {said} and has no "
            "force column; whose figures are these?"
        )
    raise ReturnReadError(
        f"{file_name}: no force column, and no force named in the title rows, sheet name or "
        "file name"
    )


def _is_totals_row(record: Record) -> bool:
    return any(
        isinstance(text := record.get(column), str) and _TOTALS_ROW.match(text) is not None
        for column in ("force", "offence_code", "offence_description")
    )


def _read_numbers(file_name: str, records: list[Record]) -> tuple[list[Record], list[str]]:
    """Counts as whole numbers without separators, in the file's one convention for
    thousands and decimals, inferred from all its counts: '1.000' beside '12.345' is a
    thousand, beside '12.5' or '1,500' it could be one, so the file is refused naming the
    cell. A count that is not whole is left as written, for validation to name."""
    uses = []  # (record, column order, text, column, (thousands, decimal))
    for order, column in enumerate(("offences", "online_flagged")):
        for index, record in enumerate(records):
            text = record.get(column)
            if isinstance(text, str) and (marks := _separators(text)) is not None:
                uses.append((index, order, text, column, marks))
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (use, mark) -> (where, text)
    for index, _, text, column, (thousands, decimal) in sorted(uses):
        label = records[index].get(f"_where_{column}")
        named = label if isinstance(label, str) else column
        where = f"row {records[index]['source_row']}, column {named}"
        mine = [
            (use, mark) for use, mark in (("thousands", thousands), ("decimal", decimal)) if mark
        ]
        for use, mark in mine:
            for (other_use, other_mark), (other_where, other_text) in first.items():
                if (use == other_use) != (mark == other_mark):
                    theirs = f"'{other_mark}'" if use == other_use else _said(other_use, other_mark)
                    raise ReturnReadError(
                        f"{file_name}: {where}: '{text}' has {_said(use, mark)}, but "
                        f"{other_where}: '{other_text}' has {theirs}; one file, one convention"
                    )
        for use, mark in mine:
            first.setdefault((use, mark), (where, text))
    notes = []
    if ("thousands", ".") in first:
        notes.append("'.' read as the thousands separator")
    if ("decimal", ",") in first:
        notes.append("',' read as the decimal point")
    # Text, as every reader gives it: a column with nothing in it stays text too, so returns
    # can be validated together.
    for record in records:
        for column in ("offences", "online_flagged"):
            record[column] = _whole_number(record[column])
    return records, notes


def _separators(text: str) -> tuple[str | None, str | None] | None:
    for shape, thousands, decimal in _NUMBER_SHAPES:
        if shape.match(text):
            return thousands, decimal
    return None


def _said(use: str, mark: str) -> str:
    return f"'{mark}' between thousands" if use == "thousands" else f"'{mark}' as a decimal point"


def _whole_number(text: object) -> object:
    """'1,204' and '1.204' (once the file's convention is known) are 1204; '12.0' is 12."""
    if not isinstance(text, str) or (marks := _separators(text)) is None:
        return text
    thousands, decimal = marks
    digits = text.replace(thousands, "") if thousands else text
    whole, _, fraction = digits.partition(decimal) if decimal else (digits, "", "")
    return whole if not fraction.strip("0") else text


def _shown(value: object) -> str:
    """A value as the ledger's notes write it: a blank is 'nan', as pandas printed it."""
    return "nan" if value is None else str(value)


def _resolve_totals(file_name: str, records: list[Record]) -> tuple[list[Record], list[str]]:
    """Totals rows, and rows that are a force's total without saying so.

    A totals row ('Total', 'Grand total', 'Sum:') is checked against the rows above it when
    their online-flagged counts are all given, and left out: the rows are the figures. Where
    it stands alone, or the rows above it are incomplete (a withheld cell), it is the force's
    total for the year (offence code ALL). A row with no offence code whose words mean all
    of the question is the force's total too; so is a row with no words at all that is the
    only row for its force and year, in a table that gives no offence code anywhere (where
    other rows have codes, a blank one is a missing answer, for validation to name). The
    ledger says which rows were read so."""
    flags = [bool(r.pop("_total")) for r in records]
    totals = [r for r, total in zip(records, flags, strict=True) if total]
    breakdown = [r for r, total in zip(records, flags, strict=True) if not total]
    codes_given = any(r["offence_code"] is not None for r in breakdown)
    reasons: dict[int, tuple[str, list[str]]] = {}  # source row -> (why, years)
    left_out = []
    previous = 0
    for number in sorted({r["source_row"] for r in totals}):
        since = [r for r in breakdown if previous < r["source_row"] < number]
        if not since:  # a grand total under subtotals covers every row above it
            since = [r for r in breakdown if r["source_row"] < number]
        previous = number
        kept = False
        for record in (r for r in totals if r["source_row"] == number):
            year = record["financial_year"]
            covered = since if year is None else [r for r in since if r["financial_year"] == year]
            why = _check_total(file_name, number, record, covered)
            if why is None:
                continue
            record["offence_code"] = "ALL"
            forces = list(dict.fromkeys(r["force"] for r in covered if r["force"] is not None))
            force = record["force"]
            if len(forces) == 1 and (force is None or _TOTALS_ROW.match(force)):
                record["force"] = forces[0]
            reasons.setdefault(number, (why, []))[1].append(_shown(year))
            kept = True
        if not kept:
            left_out.append(number)
    records = [
        r
        for r, total in zip(records, flags, strict=True)
        if not total or r["offence_code"] == "ALL"
    ]
    rows_per_year: dict[tuple[object, object], int] = {}
    for record in records:
        key = (record["force"], record["financial_year"])
        rows_per_year[key] = rows_per_year.get(key, 0) + 1
    for record in records:
        if record["offence_code"] is not None:
            continue
        description = record["offence_description"]
        only_row = (
            rows_per_year[(record["force"], record["financial_year"])] == 1
            and description is None
            and not codes_given
        )
        if _means_all(description) or only_row:
            record["offence_code"] = "ALL"
            reasons.setdefault(record["source_row"], ("no offence code", []))[1].append(
                _shown(record["financial_year"])
            )
    records, withheld = _withheld_under_a_total(records)
    records, withheld_count = _withheld_without_a_total(records)
    notes = []
    grouped: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for number, (why, years) in sorted(reasons.items()):
        grouped.setdefault((why, tuple(sorted(set(years)))), []).append(number)
    for (why, labels), numbers in grouped.items():
        rows = f"row{'s' * (len(numbers) > 1)} {', '.join(map(str, numbers))}"
        notes.append(f"{rows} read as the total for {', '.join(labels)}: {why}")
    if left_out:
        notes.append(
            f"totals row{'s' * (len(left_out) > 1)} {', '.join(map(str, left_out))} left out"
        )
    return records, notes + withheld + withheld_count


# How FOI answers write a count withheld as too small to disclose.
_WITHHELD = re.compile(r"^(\*|<\s*\d+|\[[xcz]\]|\.\.|-|n/?a|withheld)$", re.IGNORECASE)
# The online-flagged cell of a force's year whose count the force withheld and did not total:
# the force responded, but no figure, change or total may be computed from that year.
WITHHELD_COUNT = "withheld"


def _code_said(code: object) -> str:
    return code if isinstance(code, str) else "no code"


def _is_withheld(value: object) -> bool:
    return isinstance(value, str) and bool(_WITHHELD.match(value.strip()))


def _withheld_without_a_total(records: list[Record]) -> tuple[list[Record], list[str]]:
    """A force and year with a withheld online-flagged cell and no total of its own: its count
    is known only as a range, so the force responded with its count withheld. Its rows become
    one total row marked `withheld` (counts from the other rows would understate it), and the
    ledger says which cells made it so. A withheld count of all offences is read as unknown."""
    notes = []
    for record in records:
        if _is_withheld(record["offences"]):
            notes.append(
                f"row {record['source_row']} ({_code_said(record['offence_code'])}, "
                f"{_shown(record['financial_year'])}) gives all offences as "
                f"'{record['offences'].strip()}': read as not known"
            )
            record["offences"] = None
    withheld = [r for r in records if _is_withheld(r["online_flagged"])]
    if not withheld:
        return records, notes

    def key_of(record: Record) -> str:
        # As text, so that a force named only in the title (a blank cell here) is still one key.
        return f"{record['force'] or ''}\n{record['financial_year'] or ''}"

    keys = [key_of(r) for r in records]
    in_year = {key_of(r) for r in withheld}
    totals = []
    for key in dict.fromkeys(key_of(r) for r in withheld):
        rows = [r for r, k in zip(records, keys, strict=True) if k == key]
        cells = [r for r in rows if _is_withheld(r["online_flagged"])]
        said = ", ".join(
            f"row {r['source_row']} ({_code_said(r['offence_code'])}) "
            f"'{r['online_flagged'].strip()}'"
            for r in cells
        )
        force, year = key.split("\n")
        notes.append(
            f"{year}: withheld ({said}) and no total given: the count of "
            f"{force or 'the force'} for {year} is withheld, so the force is listed as "
            "responding, with no figure"
        )
        totals.append(
            {
                **rows[0],
                "offence_code": "ALL",
                "offence_description": "count withheld by the force",
                "offences": None,
                "online_flagged": WITHHELD_COUNT,
                "source_row": min(r["source_row"] for r in cells),
            }
        )
    kept = [r for r, k in zip(records, keys, strict=True) if k not in in_year]
    return sorted(kept + totals, key=lambda r: r["source_row"]), notes


def _withheld_under_a_total(records: list[Record]) -> tuple[list[Record], list[str]]:
    """A withheld cell makes its row's count known only as a range; where the force gave its
    own total for that year, the total is the count, and the withheld row is left out of the
    breakdown (the ledger says so). Without a total the row stays, for validation to name."""
    with_total = {(r["force"], r["financial_year"]) for r in records if r["offence_code"] == "ALL"}
    drop = [
        _is_withheld(r["online_flagged"])
        and (r["force"], r["financial_year"]) in with_total
        and r["offence_code"] != "ALL"
        for r in records
    ]
    if not any(drop):
        return records, []
    notes = [
        f"row {r['source_row']} ({_code_said(r['offence_code'])}, "
        f"{_shown(r['financial_year'])}) withheld as '{r['online_flagged'].strip()}': the "
        f"force's own total for {_shown(r['financial_year'])} is its count"
        for r, dropped in zip(records, drop, strict=True)
        if dropped
    ]
    return [r for r, dropped in zip(records, drop, strict=True) if not dropped], notes


def _check_total(file_name: str, number: int, row: Record, covered: list[Record]) -> str | None:
    """Why a totals row is the force's total for its year, or None when the rows above it
    give the figures (checked: a total that differs from their sum is refused)."""
    year = row["financial_year"]
    if not covered:
        return None if year is None else "a totals row on its own"
    for column, counted in (("online_flagged", "online-flagged"), ("offences", "offences")):
        given = row[column]
        if not (isinstance(given, str) and _WHOLE.match(given)):
            continue
        values = [r[column] for r in covered]
        if all(isinstance(v, str) and _WHOLE.match(v) for v in values):
            added = sum(int(v) for v in values)
            if added != int(given):
                during = "" if year is None else f" for {year}"
                raise ReturnReadError(
                    f"{file_name}: row {number} gives a total of {int(given):,} {counted}"
                    f"{during}, but the rows above it add up to {added:,}; which is right?"
                )
        elif column == "online_flagged" and year is not None:
            # A withheld or missing count above: the force's own total is its count, when
            # the rows are one force's (a grand total over forces is no force's count).
            forces = {r["force"] for r in covered if r["force"] is not None}
            return "the rows above it are incomplete" if len(forces) <= 1 else None
    return None


def _means_all(text: object) -> bool:
    if not isinstance(text, str) or _A_PART.search(text):
        return False
    words = set(re.findall(r"[a-z]+", text.lower()))
    if words & _MEANS_ALL and words <= _GENERIC_WORDS:
        return True
    return bool(_THE_QUESTION.search(text) and _CHILDREN.search(text))


@cache
def offence_codes_by_description() -> dict[str, str]:
    table = pd.read_csv(REFERENCE_DIR / "hocr-child-sexual-offence-codes.csv", dtype=str)
    return {
        header_key(description): code
        for code, description in zip(
            table["offence_code"], table["offence_description_prc_open_data"], strict=True
        )
        if re.fullmatch(r"\d{1,3}[A-Z]?", code)
    }


def _clean(records: list[Record]) -> list[Record]:
    """Each canonical column as text without surrounding space (None for a blank), a code
    and description written in one cell split, a code found from its description, codes in
    capitals and years in the canonical form."""
    known = offence_codes_by_description()
    periods: dict[str, object] = {}
    for record in records:
        for column in CANONICAL_COLUMNS:
            value = record.get(column)
            record[column] = (value.strip() or None) if isinstance(value, str) else None
        description = record["offence_description"]
        if description is not None:
            # "19D - Rape of a female child under 16" in one cell is a code and a description.
            split = _CODE_AND_DESCRIPTION.search(description)
            if record["offence_code"] is None and split is not None:
                record["offence_code"], description = split.group(1), split.group(2)
                record["offence_description"] = description
            if record["offence_code"] is None:
                record["offence_code"] = known.get(header_key(description))
        code = record["offence_code"]
        if code is not None:
            # As Arrow writes capitals (pandas' str.upper): Python's differ beyond ASCII.
            record["offence_code"] = code.upper() if code.isascii() else _upper(code)
        year = record["financial_year"]
        if year is not None:
            if year not in periods:
                periods[year] = _canonical_period(year)
            record["financial_year"] = periods[year]
    return records


def _upper(text: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    return str(pc.utf8_upper(pa.array([text], type=pa.large_string()))[0].as_py())


def _canonical_period(text: str) -> str:
    """'2016-17', 'FY2016/17' and '2016/2017' name 2016/17; anything else is for validation."""
    try:
        period = year_label(text)
    except PeriodError:
        return text  # part of a year: refused by name when staged
    return text if period is None else period.label


def _table(records: list[Record]) -> pd.DataFrame:
    """The canonical columns as text (pandas' string type, a blank missing) and source_row."""
    columns: dict[str, Any] = {
        column: pd.array([r[column] for r in records], dtype="str") for column in CANONICAL_COLUMNS
    }
    columns["source_row"] = np.array([r["source_row"] for r in records], dtype=np.int64)
    return pd.DataFrame(columns)
