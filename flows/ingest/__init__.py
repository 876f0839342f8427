"""Ingest: raw files in data/raw/ to canonical tables, one kind of return at a time.

Pure functions over file paths: nothing here writes, moves or changes a raw file. Counts
stay text at this stage, so validation can name any value that is not a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from pathlib import Path

import pandas as pd

from flows.ingest.files import (
    MAX_RETURN_BYTES,
    MAX_TABLE_BYTES,
    RawFile,
    ReturnReadError,
    check_container,
    file_sha256,
    list_raw_files,
)
from flows.ingest.home_office import (
    is_home_office_header,
    looks_like_home_office_csv,
    read_home_office_csv,
    read_home_office_sheet,
)
from flows.ingest.online_flag import CANONICAL_COLUMNS, HEADER_ALIASES, parse_online_flag
from flows.ingest.tables import csv_sheets, xlsx_sheets

__all__ = [
    "CANONICAL_COLUMNS",
    "HEADER_ALIASES",
    "Kind",
    "ParsedReturn",
    "RawFile",
    "ReturnReadError",
    "file_sha256",
    "list_raw_files",
    "read_return",
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
    naming the file and why it cannot be read."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    check_container(path, head)
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise ReturnReadError(
            f"{path.name}: {_megabytes(size)}, over the {_megabytes(MAX_TABLE_BYTES)} limit"
        )
    if path.suffix.lower() == ".csv":
        if looks_like_home_office_csv(head.decode("utf-8-sig", errors="replace")):
            return ParsedReturn(Kind.HOME_OFFICE, "open data", read_home_office_csv(path))
        _check_return_size(path, size)
        parsed = parse_online_flag(path.name, csv_sheets(path, path.read_bytes()))
        return ParsedReturn(Kind.ONLINE_FLAG, parsed.layout, parsed.frame, parsed.notes)
    home_office = _home_office_sheet(path)
    if home_office is not None:
        return ParsedReturn(Kind.HOME_OFFICE, "open data", home_office)
    _check_return_size(path, size)
    parsed = parse_online_flag(path.name, xlsx_sheets(path))
    return ParsedReturn(Kind.ONLINE_FLAG, parsed.layout, parsed.frame, parsed.notes)


def _home_office_sheet(path: Path) -> pd.DataFrame | None:
    """A workbook sheet with the Home Office header, read in streaming mode; else None."""
    import openpyxl

    from flows.ingest.tables import Sheet, cell_text

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a damaged workbook: the full reader gives the precise error
        xlsx_sheets(path)
        raise ReturnReadError(f"{path.name}: not a readable Excel workbook ({error})") from error
    try:
        for worksheet in workbook.worksheets:
            head = [list(row) for row in islice(worksheet.iter_rows(values_only=True), 20)]
            if any(is_home_office_header(row) for row in head):
                rows = [
                    [cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)
                ]
                return read_home_office_sheet(path.name, Sheet(worksheet.title, rows))
    finally:
        workbook.close()
    return None


def _check_return_size(path: Path, size: int) -> None:
    if size > MAX_RETURN_BYTES:
        raise ReturnReadError(
            f"{path.name}: {_megabytes(size)} is too large for an online-flag return (limit "
            f"{_megabytes(MAX_RETURN_BYTES)}); is it the right file?"
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"
