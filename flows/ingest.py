"""Read police returns from data/raw/ into the canonical long layout (see ARCHITECTURE.md).

Pure functions over file paths: nothing here writes, moves or changes a raw file.
Counts stay text at this stage so validation can name any value that is not a count.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.periods import Period, PeriodError

RETURN_SUFFIXES = {".csv", ".xlsx"}

REQUIRED_COLUMNS = ("force", "financial_year", "offence_code", "online_flagged")
CANONICAL_COLUMNS = (
    "force",
    "financial_year",
    "offence_code",
    "offence_description",
    "offences",
    "online_flagged",
)

# One alias table for the header wordings forces use; keys are normalised (see _header_key).
HEADER_ALIASES = {
    "force": "force",
    "police_force": "force",
    "force_name": "force",
    "pfa": "force",
    "financial_year": "financial_year",
    "year": "financial_year",
    "fy": "financial_year",
    "offence_code": "offence_code",
    "ho_code": "offence_code",
    "home_office_code": "offence_code",
    "offence_description": "offence_description",
    "offence": "offence_description",
    "description": "offence_description",
    "offences": "offences",
    "number_of_offences": "offences",
    "all_offences": "offences",
    "online_flagged": "online_flagged",
    "online_flag": "online_flagged",
    "cyber_flagged": "online_flagged",
    "online": "online_flagged",
}


class ReturnReadError(ValueError):
    """A raw file that cannot be read as a return at all (not a table, no usable header)."""


@dataclass(frozen=True)
class RawFile:
    path: Path
    sha256: str
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def list_raw_files(raw_dir: Path) -> list[RawFile]:
    """Every file in raw_dir, hashed; hidden files (editor swap files, .gitkeep) are skipped."""
    files = []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(raw_dir).parts):
            continue
        if path.name.lower() == "readme.md":
            continue
        files.append(RawFile(path, file_sha256(path), path.stat().st_size))
    return files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _header_key(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


def read_return(path: Path) -> pd.DataFrame:
    """The return in canonical columns, all text, with `source_row` (the row number a person
    sees in a spreadsheet: the header is row 1)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv_text(path)
    elif suffix == ".xlsx":
        try:
            table = pd.read_excel(path, dtype=str, sheet_name=0)
        except Exception as error:  # openpyxl raises many types for a damaged workbook
            raise ReturnReadError(
                f"{path.name}: not a readable Excel workbook ({error})"
            ) from error
    else:
        raise ReturnReadError(
            f"{path.name}: not a police return (expected .csv or .xlsx, found '{suffix or 'none'}')"
        )
    return canonicalise(table, path.name)


def _read_csv_text(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise ReturnReadError(f"{path.name}: text in an unknown encoding")
    from io import StringIO

    try:
        return pd.read_csv(
            StringIO(text), dtype=str, keep_default_na=False, na_values=[""], skip_blank_lines=False
        )
    except pd.errors.ParserError as error:
        raise ReturnReadError(f"{path.name}: not a readable CSV table ({error})") from error
    except pd.errors.EmptyDataError as error:
        raise ReturnReadError(f"{path.name}: the file is empty") from error


def _canonical_period(text: object) -> object:
    """'2016-17' and '2016/17' name the same year; anything else is left for validation."""
    if pd.isna(text):
        return text
    try:
        return Period.parse(str(text)).label
    except PeriodError:
        return text


def canonicalise(table: pd.DataFrame, file_name: str) -> pd.DataFrame:
    renamed = {}
    for column in table.columns:
        canonical = HEADER_ALIASES.get(_header_key(column))
        if canonical and canonical not in renamed.values():
            renamed[column] = canonical
    frame = table.rename(columns=renamed)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(str(c) for c in table.columns) or "no columns"
        raise ReturnReadError(
            f"{file_name}: row 1 (header) lacks column(s) {', '.join(missing)}; found {found}"
        )
    frame = frame.assign(source_row=range(2, len(frame) + 2))
    for column in CANONICAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame = frame[[*CANONICAL_COLUMNS, "source_row"]]
    # Blank lines are padding, not data.
    frame = frame.dropna(how="all", subset=list(CANONICAL_COLUMNS))
    for column in CANONICAL_COLUMNS:
        frame[column] = frame[column].astype("str").str.strip()
        frame.loc[frame[column] == "", column] = pd.NA
    for column in ("offences", "online_flagged"):
        # "1,204" is a count with a thousands separator.
        frame[column] = frame[column].str.replace(r"(?<=\d),(?=\d{3}\b)", "", regex=True)
    frame["offence_code"] = frame["offence_code"].str.upper()
    frame["financial_year"] = frame["financial_year"].map(_canonical_period).astype("str")
    return frame.reset_index(drop=True)
