"""Ingest: raw files in data/raw/ to canonical tables, one kind of return at a time.

Pure functions over file paths: nothing here writes, moves or changes a raw file. Counts
stay text at this stage, so validation can name any value that is not a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pandas as pd

from briefings.ingest.files import (
    MAX_RETURN_BYTES,
    MAX_TABLE_BYTES,
    RETURN_SUFFIXES,
    STILL_ARRIVING,
    FileState,
    RawFile,
    ReturnReadError,
    check_container,
    file_sha256,
    list_raw_files,
    max_return_bytes,
    max_table_bytes,
    megabytes,
    settle_seconds,
    unsettled,
)
from briefings.ingest.home_office import (
    is_home_office_header,
    looks_like_home_office_csv,
    part_year_notes,
    read_home_office_csv,
    read_home_office_sheet,
)
from briefings.ingest.online_flag import CANONICAL_COLUMNS, HEADER_ALIASES, parse_online_flag
from briefings.ingest.tables import (
    Limits,
    Sheet,
    csv_sheets,
    open_workbook,
    sheet_rows,
    visible_worksheets,
    xlsx_sheets,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "HEADER_ALIASES",
    "MAX_RETURN_BYTES",
    "MAX_TABLE_BYTES",
    "STILL_ARRIVING",
    "FileState",
    "Kind",
    "ParsedReturn",
    "RawFile",
    "ReturnReadError",
    "file_sha256",
    "list_raw_files",
    "max_return_bytes",
    "max_table_bytes",
    "read_return",
    "settle_seconds",
    "unsettled",
]


class Kind(StrEnum):
    ONLINE_FLAG = "online-flag return"
    HOME_OFFICE = "Home Office table"


@dataclass(frozen=True)
class ParsedReturn:
    kind: Kind
    layout: str  # "long", "wide" or "open data"
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()  # what ingest did with the layout, for the ledger


def read_return(path: Path) -> ParsedReturn:
    """Whatever the file holds, in the canonical layout of its kind, or a ReturnReadError
    naming the file and why it cannot be read. Size limits (files.py) are checked against the
    size on disk before the file is read whole."""
    size, limit = path.stat().st_size, max_table_bytes()
    if size > limit and path.suffix.lower() in RETURN_SUFFIXES:  # said before any reading
        raise ReturnReadError(f"{path.name}: {megabytes(size)}, over the {megabytes(limit)} limit")
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    check_container(path, head)
    if path.suffix.lower() == ".csv":
        if looks_like_home_office_csv(head.decode("utf-8-sig", errors="replace")):
            frame = read_home_office_csv(path)
            return ParsedReturn(Kind.HOME_OFFICE, "open data", frame, part_year_notes(frame))
        _check_return_size(path, size)
        parsed = parse_online_flag(path.name, csv_sheets(path, path.read_bytes()))
        return ParsedReturn(Kind.ONLINE_FLAG, parsed.layout, parsed.frame, parsed.notes)
    with open_workbook(path) as workbook:
        home_office = _home_office_sheet(path, workbook)
        if home_office is not None:
            notes = part_year_notes(home_office)
            return ParsedReturn(Kind.HOME_OFFICE, "open data", home_office, notes)
        _check_return_size(path, size)
        parsed = parse_online_flag(path.name, xlsx_sheets(path, workbook))
    return ParsedReturn(Kind.ONLINE_FLAG, parsed.layout, parsed.frame, parsed.notes)


def _home_office_sheet(path: Path, workbook) -> pd.DataFrame | None:
    """A visible sheet with the Home Office header in its first 20 rows, read whole (hidden
    rows and columns left blank); else None."""
    limits = Limits.for_tables()
    for worksheet in visible_worksheets(workbook):
        head, _ = sheet_rows(path, workbook, worksheet, limits, stop_after_row=20)
        if any(is_home_office_header(row) for row in head):
            rows, _ = sheet_rows(path, workbook, worksheet, limits)
            return read_home_office_sheet(path.name, Sheet(worksheet.title, rows))
    return None


def _check_return_size(path: Path, size: int) -> None:
    limit = max_return_bytes()
    if size > limit:
        raise ReturnReadError(
            f"{path.name}: {megabytes(size)} is too large for an online-flag return (limit "
            f"{megabytes(limit)}, BRIEFINGS_MAX_RETURN_MB); is it the right file?"
        )
