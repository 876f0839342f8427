"""Home Office police recorded crime open data tables by Police Force Area, as published.

Header: Financial Year, Financial Quarter, Force Name, Offence Description, Offence Group,
Offence Subgroup, Offence Code, Number of Offences. Their quirks are kept or undone exactly:
counts padded with spaces, zero written '-00', genuine negative adjustments (kept), several
rows for one force, quarter and code (summed after validation, never de-duplicated), and
non-territorial 'forces' (kept, marked as not a police force area).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from briefings.domain.periods import Period, PeriodError
from briefings.domain.returns import COUNT_BOUND
from briefings.ingest.files import ReturnReadError
from briefings.ingest.tables import Sheet
from briefings.reference import force_register
from briefings.resources import REFERENCE_DIR

HOME_OFFICE_HEADER = {
    "financial_year": "financial_year",
    "financial_quarter": "quarter",
    "force_name": "force_name",
    "offence_description": "offence_description",
    "offence_group": "offence_group",
    "offence_subgroup": "offence_subgroup",
    "offence_code": "offence_code",
    "number_of_offences": "offences",
}
TEXT_COLUMNS = list(HOME_OFFICE_HEADER.values())
# Entries in the tables that are not police force areas: national fraud reporting bodies
# (Financial Fraud Action UK became UK Finance in 2017) and British Transport Police.
NON_TERRITORIAL = (
    "Action Fraud",
    "CIFAS",
    "Financial Fraud Action UK",
    "UK Finance",
    "British Transport Police",
)
_ZERO = re.compile(r"^-0+$")


def _key(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


def is_home_office_header(cells: list) -> bool:
    keys = {_key(cell) for cell in cells if cell is not None}
    return {"force_name", "financial_quarter", "number_of_offences"} <= keys


def looks_like_home_office_csv(text_head: str) -> bool:
    return any(
        is_home_office_header(re.split(r"[,;\t]", line)) for line in text_head.splitlines()[:20]
    )


def part_year_notes(frame: pd.DataFrame) -> tuple[str, ...]:
    """Each year the table has fewer than four quarters of (a quarterly publication part-way
    through a year), said: a force's year is used only once all four quarters are in."""
    # Grouped on the (categorical) columns themselves: a million rows, a few dozen pairs.
    pairs = frame.groupby(["financial_year", "quarter"], observed=True, dropna=True).size().index
    by_year: dict[str, set[str]] = {}
    for year, quarter in pairs:
        by_year.setdefault(str(year), set()).add(str(quarter))
    notes = []
    for year, quarters in sorted(by_year.items()):
        found = sorted(quarters)
        if len(found) < 4:
            listed = " and ".join([", ".join(found[:-1]), found[-1]] if len(found) > 1 else found)
            notes.append(
                f"{year}: quarter{'s' if len(found) > 1 else ''} {listed} only; a force's "
                f"{year} figure is used only once all four of its quarters are in"
            )
    return tuple(notes)


def read_home_office_csv(path: Path) -> pd.DataFrame:
    """Streamed by pyarrow: a million rows stay well under 1 GiB."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        header_line, names = _header(path)
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=header_line, block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(
                # Dictionary-encoded: a million rows hold a few thousand distinct values.
                column_types={name: pa.dictionary(pa.int32(), pa.string()) for name in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        # Text is checked as UTF-8 only here, for dictionary-encoded columns.
        frame = table.to_pandas()
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise ReturnReadError(f"{path.name}: not a readable CSV table ({error})") from error
    return _canonical(frame, path.name, first_data_row=header_line + 2)


def _header(path: Path) -> tuple[int, list[str]]:
    """The header's line number and column names, read from the first lines only."""
    import csv

    with path.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8-sig", errors="replace")
    for index, line in enumerate(head.splitlines()[:20]):
        if is_home_office_header(re.split(r"[,;\t]", line)):
            return index, next(csv.reader([line]))
    raise ReturnReadError(f"{path.name}: no Home Office table header")


def read_home_office_sheet(file_name: str, sheet: Sheet) -> pd.DataFrame:
    for index, row in enumerate(sheet.rows[:20]):
        if is_home_office_header(row):
            width = len(row)
            for number, cells in enumerate(sheet.rows[index + 1 :], start=index + 2):
                if any(cell is not None for cell in cells[width:]):
                    extra = next(c for c in range(width, len(cells)) if cells[c] is not None)
                    raise ReturnReadError(
                        f"{file_name}: row {number}, column {extra + 1}: a value right of the "
                        f"{width} columns the header names"
                    )
            body = [(r + [None] * width)[:width] for r in sheet.rows[index + 1 :]]
            names = [str(c) if c is not None else f"column {i + 1}" for i, c in enumerate(row)]
            frame = pd.DataFrame(body, columns=names, dtype="category")
            return _canonical(frame, file_name, first_data_row=index + 2)
    raise ReturnReadError(f"{file_name}: no Home Office table header")


def _canonical(frame: pd.DataFrame, file_name: str, first_data_row: int) -> pd.DataFrame:
    renamed = {
        c: HOME_OFFICE_HEADER[_key(c)] for c in frame.columns if _key(c) in HOME_OFFICE_HEADER
    }
    keys = [_key(c) for c in frame.columns]
    twice = sorted(
        {
            str(c)
            for c, k in zip(frame.columns, keys, strict=True)
            if keys.count(k) > 1 and k in HOME_OFFICE_HEADER
        }
    )
    if twice:
        raise ReturnReadError(
            f"{file_name}: row {first_data_row - 1} (header) names column(s) "
            f"{', '.join(twice)} more than once"
        )
    missing = sorted(set(TEXT_COLUMNS) - set(renamed.values()))
    if missing:
        raise ReturnReadError(
            f"{file_name}: row {first_data_row - 1} (header) lacks column(s) {', '.join(missing)}"
        )
    frame = frame.rename(columns=renamed)[TEXT_COLUMNS]
    frame = frame.assign(source_row=pd.RangeIndex(first_data_row, first_data_row + len(frame)))
    frame = frame.dropna(how="all", subset=TEXT_COLUMNS)
    # Cleaning works on each column's distinct values, not on every row.
    for column in TEXT_COLUMNS:
        frame[column] = recode(frame[column], _stripped)
    frame["offences"] = recode(frame["offences"], lambda text: _ZERO.sub("0", text))
    frame["financial_year"] = recode(frame["financial_year"], _period_label)
    return frame.reset_index(drop=True)


def _stripped(text: str) -> str | None:
    text = text.strip()
    return text or None


def recode(column: pd.Series, change: Callable[[str], str | None]) -> pd.Series:
    """A categorical column with `change` applied to each distinct value (None for blank);
    values that become equal share one category."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    changed = [change(str(value)) for value in column.cat.categories]
    new_codes, categories = pd.factorize(pd.Series(changed, dtype=object))
    # Blank cells have code -1, which picks the -1 appended last: works for all-blank columns.
    mapped = np.append(new_codes, -1)[column.cat.codes.to_numpy()]
    categories = pd.Index(categories, dtype="str")
    return pd.Series(pd.Categorical.from_codes(mapped, categories=categories), index=column.index)


def _period_label(text: str) -> str:
    try:
        return Period.parse(text).label
    except PeriodError:
        return text


def classify_forces(names: pd.Series) -> pd.DataFrame:
    """ONS code and kind ("police force area" or "not a police force area") per row, worked
    out once per distinct name; unknown names get neither."""
    register = force_register()
    non_territorial = {_key(name) for name in NON_TERRITORIAL}
    codes, kinds = {}, {}
    for name in names.dropna().unique():
        force = register.find(name)
        codes[name] = force.code if force else None
        kinds[name] = (
            "police force area"
            if force
            else "not a police force area"
            if _key(name) in non_territorial
            else None
        )
    return pd.DataFrame(
        {"force_code": names.map(codes).astype("str"), "force_kind": names.map(kinds)},
        index=names.index,
    )


def summed_offences(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """A validated table, typed, with the rows for one force, quarter and code summed
    (homicide has four per force and quarter)."""
    classified = classify_forces(frame["force_name"])
    typed = frame.assign(
        force_code=classified["force_code"],
        police_force_area=classified["force_kind"].eq("police force area"),
        quarter=_whole_numbers(frame["quarter"], file_name, "Financial Quarter"),
        offences=_whole_numbers(frame["offences"], file_name, "Number of Offences"),
    )
    keys = ["financial_year", "quarter", "force_name", "offence_code"]
    summed = typed.groupby(keys, as_index=False, sort=True, dropna=False, observed=True).agg(
        force_code=("force_code", "first"),
        police_force_area=("police_force_area", "first"),
        offence_description=("offence_description", "first"),
        offence_group=("offence_group", "first"),
        offence_subgroup=("offence_subgroup", "first"),
        offences=("offences", "sum"),
        rows_summed=("offences", "size"),
    )
    summed["source_file"] = file_name
    for column in (
        "financial_year",
        "force_name",
        "offence_code",
        "offence_description",
        "offence_group",
        "offence_subgroup",
    ):
        summed[column] = summed[column].astype("str")
    return summed


def _whole_numbers(column: pd.Series, file_name: str, name: str) -> pd.Series:
    """Validated count text to int64, converting each distinct value once. Validation keeps
    every count within COUNT_BOUND; a table that reached here unvalidated is refused by
    name rather than overflowing."""
    try:
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = column.cat.categories.astype("int64").to_numpy()
            numbers = pd.Series(values[column.cat.codes.to_numpy()], index=column.index)
        else:
            numbers = column.astype("int64")
    except (OverflowError, TypeError, ValueError) as error:
        raise ReturnReadError(
            f"{file_name}: column {name}: a value that is not a whole number within "
            f"{COUNT_BOUND:,} of zero"
        ) from error
    if numbers.abs().ge(COUNT_BOUND).any():
        raise ReturnReadError(
            f"{file_name}: column {name}: a count of {COUNT_BOUND:,} or more, beyond any count"
        )
    return numbers


@cache
def child_offence_codes() -> tuple[str, ...]:
    """Home Office codes whose offence definition makes the victim a child (reference table)."""
    table = pd.read_csv(REFERENCE_DIR / "hocr-child-sexual-offence-codes.csv", dtype=str)
    is_child = table["victim_under_18_in_offence_definition"].str.startswith("Y")
    codes = table.loc[is_child, "offence_code"]
    return tuple(sorted(c for c in codes if re.fullmatch(r"\d{1,3}[A-Z]?", c)))


def child_sexual_offences(offences: pd.DataFrame) -> pd.DataFrame:
    """All recorded child sexual offences per police force area, year and quarter (no online
    flag): the sum over the child offence codes."""
    chosen = offences[
        offences["police_force_area"] & offences["offence_code"].isin(child_offence_codes())
    ]
    return chosen.groupby(["force_code", "financial_year", "quarter"], as_index=False).agg(
        child_sexual_offences=("offences", "sum"),
        source_file=("source_file", "first"),
    )
