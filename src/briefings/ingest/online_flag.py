"""Online-flag returns in the shapes FOI officers produce, to the canonical long layout.

Shapes taken: the canonical long layout; a wide layout with one column of online-flagged
counts per financial year; title and note rows above the header; several sheets of which one
holds the figures; a totals row; a return without a force column that names its force in the
title, the sheet name or the file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

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

_TOTALS_ROW = re.compile(r"^\s*(grand\s+)?(sub\s*-?\s*)?totals?\b", re.IGNORECASE)
_CODE_AND_DESCRIPTION = re.compile(r"^\s*(\d{1,3}[A-Z]?(?:/\d+)?)\s*[-–:]\s*(.+?)\s*$")
_FRACTIONLESS = re.compile(r"^(-?\d+)\.0+$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


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


@dataclass(frozen=True)
class Header:
    row: int  # index into Sheet.rows
    columns: dict[int, str]  # cell index -> canonical column
    years: dict[int, str]  # cell index -> financial year (wide layout)

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
    for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        columns: dict[int, str] = {}
        years: dict[int, str] = {}
        for position, cell in enumerate(row):
            if cell is None:
                continue
            canonical = HEADER_ALIASES.get(header_key(cell))
            if canonical and canonical not in columns.values():
                columns[position] = canonical
            elif (year := year_header(cell)) is not None:
                years[position] = year
        header = Header(index, columns, years)
        if header.usable:
            return header
    return None


@dataclass(frozen=True)
class ParsedTable:
    frame: pd.DataFrame
    layout: str
    notes: tuple[str, ...]


def parse_online_flag(file_name: str, sheets: list[Sheet]) -> ParsedTable:
    """The return in canonical columns (all text) with `source_row`, the spreadsheet row."""
    found = [(sheet, header) for sheet in sheets if (header := find_header(sheet))]
    if not found:
        failed = [sheet.error for sheet in sheets if sheet.error]
        if failed:  # a table that could not be parsed explains a missing header best
            raise ReturnReadError(failed[0])
        raise ReturnReadError(
            f"{file_name}: no header row with the return's columns (force, financial_year, "
            "offence_code, online_flagged) in the first 40 rows of any sheet"
        )
    # Several sheets may have a header (CSV dialects, notes sheets): take the one with most rows.
    sheet, header = max(found, key=lambda pair: _data_rows(pair[0], pair[1]))
    if header.layout == "wide":
        _check_wide_counts(file_name, sheet, header)
    notes = []
    if sheet.name and len(sheets) > 1:
        notes.append(f"figures from sheet '{sheet.name}' of {len(sheets)}")
    if sheet.delimiter and sheet.delimiter != ",":
        notes.append(f"separator '{sheet.delimiter}'")
    if header.row:
        notes.append(f"header on row {header.row + 1}")
    note_rows = [i + 1 for i in range(header.row + 1, len(sheet.rows)) if is_note(sheet.rows[i])]
    if note_rows:
        notes.append(
            f"note row{'s' * (len(note_rows) > 1)} {', '.join(map(str, note_rows))} left out"
        )
    frame = _long_frame(sheet, header) if header.layout == "long" else _wide_frame(sheet, header)
    if "force" not in header.columns.values():
        force = _force_from_context(file_name, sheet, header)
        frame["force"] = force
        notes.append(f"force '{force}' named outside the table")
    frame, dropped = _drop_totals_rows(frame)
    if dropped:
        notes.append(
            f"totals row{'s' * (len(dropped) > 1)} {', '.join(map(str, dropped))} left out"
        )
    return ParsedTable(_clean(frame), header.layout, tuple(notes))


def _check_wide_counts(file_name: str, sheet: Sheet, header: Header) -> None:
    """In the wide layout each year column holds that year's online-flagged counts; a count
    column without a year beside them belongs to no year, so the return is ambiguous."""
    counts = [p for p, name in header.columns.items() if name in ("online_flagged", "offences")]
    if counts:
        cells = sheet.rows[header.row]
        named = ", ".join(f"'{cells[p]}'" for p in counts)
        years = ", ".join(sorted(set(header.years.values())))
        raise ReturnReadError(
            f"{file_name}: row {header.row + 1} has a column for each financial year ({years}) "
            f"and also {named}, which gives no year; please send counts either one column "
            "per year or with a financial year column"
        )


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


def _long_frame(sheet: Sheet, header: Header) -> pd.DataFrame:
    records = []
    for number, row in _rows_below(sheet, header):
        values = {name: _cell(row, position) for position, name in header.columns.items()}
        if not any(values.values()):
            continue  # blank lines are padding
        records.append({**values, "source_row": number})
    return pd.DataFrame.from_records(records, columns=[*header.columns.values(), "source_row"])


def _wide_frame(sheet: Sheet, header: Header) -> pd.DataFrame:
    records = []
    for number, row in _rows_below(sheet, header):
        ids = {name: _cell(row, position) for position, name in header.columns.items()}
        counts = {year: _cell(row, position) for position, year in header.years.items()}
        if not any(ids.values()) and not any(counts.values()):
            continue
        for year, count in counts.items():
            records.append(
                {**ids, "financial_year": year, "online_flagged": count, "source_row": number}
            )
    columns = [*header.columns.values(), "financial_year", "online_flagged", "source_row"]
    return pd.DataFrame.from_records(records, columns=columns)


def _force_from_context(file_name: str, sheet: Sheet, header: Header) -> str:
    """A single-force return may name its force only in its title, sheet name or file name."""
    register = force_register()
    texts = [" ".join(c for c in row if c) for row in sheet.rows[: header.row]]
    texts += [sheet.name, re.sub(r"\.[a-z]+$", "", file_name)]
    for text in texts:
        force = register.find_in_text(text)
        if force is not None:
            return force.name
    raise ReturnReadError(
        f"{file_name}: no force column, and no force named in the title rows, sheet name or "
        "file name"
    )


def _drop_totals_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    labels = [c for c in ("force", "offence_code", "offence_description") if c in frame.columns]
    is_total = pd.Series(False, index=frame.index)
    for column in labels:
        is_total |= frame[column].fillna("").astype(str).str.match(_TOTALS_ROW)
    dropped = sorted(set(frame.loc[is_total, "source_row"].tolist()))
    return frame.loc[~is_total].reset_index(drop=True), dropped


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


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    for column in CANONICAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[[*CANONICAL_COLUMNS, "source_row"]].copy()
    for column in CANONICAL_COLUMNS:
        frame[column] = frame[column].astype("str").str.strip()
        frame.loc[frame[column] == "", column] = pd.NA
    # "19D - Rape of a female child under 16" in one cell is a code and a description.
    split = frame["offence_description"].str.extract(_CODE_AND_DESCRIPTION)
    has_split = frame["offence_code"].isna() & split[0].notna()
    frame.loc[has_split, "offence_code"] = split.loc[has_split, 0]
    frame.loc[has_split, "offence_description"] = split.loc[has_split, 1]
    known = offence_codes_by_description()
    by_description = frame["offence_description"].map(
        lambda text: known.get(header_key(text)) if isinstance(text, str) else None
    )
    frame["offence_code"] = frame["offence_code"].fillna(by_description.astype("str"))
    frame["offence_code"] = frame["offence_code"].str.upper()
    for column in ("offences", "online_flagged"):
        values = frame[column].str.replace(_THOUSANDS, "", regex=True)
        frame[column] = values.str.replace(_FRACTIONLESS, r"\1", regex=True)
    frame["financial_year"] = frame["financial_year"].map(_canonical_period).astype("str")
    frame["source_row"] = frame["source_row"].astype(int)
    return frame.reset_index(drop=True)


def _canonical_period(text: object) -> object:
    """'2016-17', 'FY2016/17' and '2016/2017' name 2016/17; anything else is for validation."""
    if pd.isna(text):
        return text
    try:
        period = year_label(str(text))
    except PeriodError:
        return text  # part of a year: refused by name when staged
    return text if period is None else period.label
