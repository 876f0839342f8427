"""The processed store: the ledger of raw files, staged returns and the accepted returns.

data/raw/ is only ever read. Everything under data/processed/ can be regenerated from it:
- ledger.csv: every raw file with its content hash, when first seen, and its status
  (accepted, quarantined or superseded) with the reason;
- staged/<sha256>.parquet: each readable return in the canonical layout (content-addressed);
- quarantine/<file>.txt: for each refused file, what failed, in words;
- online_flag_returns.parquet: the accepted returns the figures are computed from.
Every write goes to a temporary name first and is renamed into place when complete.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from flows.figures import RETURN_COLUMNS
from flows.ingest import RawFile, ReturnReadError, list_raw_files, read_return
from flows.validation import ValidationOutcome, prepare_for_validation

LEDGER_COLUMNS = [
    "file",
    "sha256",
    "size_bytes",
    "first_seen",
    "status",
    "detail",
    "rows",
    "periods",
    "forces",
]


class Status:
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class DataFolders:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def ledger(self) -> Path:
        return self.processed / "ledger.csv"

    @property
    def accepted_returns(self) -> Path:
        return self.processed / "online_flag_returns.parquet"

    def staged(self, sha256: str) -> Path:
        return self.processed / "staged" / f"{sha256}.parquet"

    def quarantine_report(self, file_name: str) -> Path:
        return self.processed / "quarantine" / f"{file_name}.txt"


@dataclass(frozen=True)
class StagedReturn:
    """A raw file after reading: its canonical table on disk, or why it could not be read."""

    file: str  # path relative to raw/
    sha256: str
    size_bytes: int
    first_seen: str
    staged: Path | None
    read_error: str | None = None


def _atomic_write(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read_ledger(folders: DataFolders) -> pd.DataFrame:
    if not folders.ledger.exists():
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    return pd.read_csv(folders.ledger, dtype=str, keep_default_na=False)


def stage_raw_files(folders: DataFolders, now: datetime | None = None) -> list[StagedReturn]:
    """Read every raw file into the canonical layout, once per content hash."""
    if not folders.raw.is_dir():
        raise FileNotFoundError(f"no raw/ folder in {folders.root}")
    seen = {
        (row.file, row.sha256): row.first_seen
        for row in read_ledger(folders).itertuples(index=False)
    }
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    staged = []
    for raw in list_raw_files(folders.raw):
        relative = raw.path.relative_to(folders.raw).as_posix()
        first_seen = seen.get((relative, raw.sha256), stamp)
        staged.append(_stage(folders, raw, relative, first_seen))
    return staged


def _stage(folders: DataFolders, raw: RawFile, relative: str, first_seen: str) -> StagedReturn:
    target = folders.staged(raw.sha256)
    common = dict(
        file=relative, sha256=raw.sha256, size_bytes=raw.size_bytes, first_seen=first_seen
    )
    if target.exists():
        return StagedReturn(**common, staged=target)
    try:
        frame = read_return(raw.path)
    except ReturnReadError as error:
        return StagedReturn(**common, staged=None, read_error=str(error))
    _atomic_write(target, lambda path: frame.to_parquet(path, index=False))
    return StagedReturn(**common, staged=target)


def typed_return(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """A validated return in the store's columns, counts as integers."""
    prepared = prepare_for_validation(frame)
    return pd.DataFrame(
        {
            "force_code": prepared["force_code"],
            "financial_year": prepared["financial_year"],
            "offence_code": prepared["offence_code"],
            "offence_description": prepared["offence_description"],
            "offences": prepared["offences_value"].astype("Int64"),
            "online_flagged": prepared["online_flagged_value"].astype("Int64"),
            "source_file": file_name,
            "source_row": prepared["source_row"].astype(int),
        }
    )[list(RETURN_COLUMNS)]


@dataclass(frozen=True)
class LedgerEntry:
    staged: StagedReturn
    status: str
    detail: str
    rows: int = 0
    periods: str = ""
    forces: int = 0


def accept_returns(
    folders: DataFolders,
    staged: list[StagedReturn],
    outcomes: dict[str, ValidationOutcome],
) -> list[LedgerEntry]:
    """Build the accepted store from the returns that passed, the latest return winning for
    each force and year, and record every raw file in the ledger. Returns the ledger entries."""
    entries: list[LedgerEntry] = []
    passed: list[tuple[StagedReturn, pd.DataFrame]] = []
    for item in staged:
        if item.read_error:
            entries.append(LedgerEntry(item, Status.QUARANTINED, item.read_error))
            _write_quarantine_report(folders, item, [item.read_error])
            continue
        outcome = outcomes[item.sha256]
        if not outcome.passed:
            lines = [problem.describe(item.file) for problem in outcome.problems]
            entries.append(LedgerEntry(item, Status.QUARANTINED, outcome.summary))
            _write_quarantine_report(folders, item, lines)
            continue
        passed.append((item, typed_return(pd.read_parquet(item.staged), item.file)))

    # A later return for the same force and year supersedes an earlier one.
    order = sorted(passed, key=lambda pair: (pair[0].first_seen, pair[0].file))
    latest: dict[tuple[str, str], str] = {}
    for item, frame in order:
        for key in (
            frame[["force_code", "financial_year"]].drop_duplicates().itertuples(index=False)
        ):
            latest[tuple(key)] = item.file
    kept = []
    for item, frame in order:
        keys = frame[["force_code", "financial_year"]].apply(tuple, axis=1)
        winners = keys.map(latest)
        mine = frame[winners == item.file]
        if mine.empty:
            newer = sorted(set(winners))
            entries.append(
                LedgerEntry(
                    item, Status.SUPERSEDED, f"superseded by {', '.join(newer)}", rows=len(frame)
                )
            )
            continue
        lost = sorted(set(winners[winners != item.file]))
        detail = f"passed {outcomes[item.sha256].checks_run} checks"
        if lost:
            detail += f"; some force-years superseded by {', '.join(lost)}"
        entries.append(
            LedgerEntry(
                item,
                Status.ACCEPTED,
                detail,
                rows=len(mine),
                periods=" ".join(sorted(mine["financial_year"].unique())),
                forces=mine["force_code"].nunique(),
            )
        )
        kept.append(mine)
    accepted = (
        pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=list(RETURN_COLUMNS))
    )
    _atomic_write(folders.accepted_returns, lambda path: accepted.to_parquet(path, index=False))
    _write_ledger(folders, entries)
    return entries


def _write_quarantine_report(folders: DataFolders, item: StagedReturn, lines: list[str]) -> None:
    text = "\n".join(
        [
            f"Return refused: raw/{item.file}",
            f"sha256: {item.sha256}",
            f"first seen: {item.first_seen}",
            "",
            "What failed (rows are spreadsheet rows; the header is row 1):",
            *[f"- {line}" for line in lines],
            "",
            "The file is left untouched in raw/. Send a corrected return as a new file;",
            "it will be picked up on the next run.",
            "",
        ]
    )
    target = folders.quarantine_report(Path(item.file).name)
    _atomic_write(target, lambda path: Path(path).write_text(text, encoding="utf-8"))


def _write_ledger(folders: DataFolders, entries: list[LedgerEntry]) -> None:
    current = pd.DataFrame(
        [
            {
                "file": e.staged.file,
                "sha256": e.staged.sha256,
                "size_bytes": e.staged.size_bytes,
                "first_seen": e.staged.first_seen,
                "status": e.status,
                "detail": e.detail,
                "rows": e.rows,
                "periods": e.periods,
                "forces": e.forces,
            }
            for e in entries
        ],
        columns=LEDGER_COLUMNS,
    )
    # A file that has gone from raw/ (removed by hand) stays in the ledger, marked as gone.
    previous = read_ledger(folders)
    listed = set(zip(current["file"], current["sha256"], strict=True))
    still_listed = [
        (f, h) in listed for f, h in zip(previous["file"], previous["sha256"], strict=True)
    ]
    gone = previous.loc[~pd.Series(still_listed, index=previous.index, dtype=bool)].copy()
    gone["detail"] = [
        d if d.endswith("no longer in raw/") else f"{d}; no longer in raw/" for d in gone["detail"]
    ]
    table = pd.concat([current.astype(str), gone], ignore_index=True).sort_values(
        ["first_seen", "file"]
    )
    _atomic_write(folders.ledger, lambda path: table.to_csv(path, index=False))


def load_accepted_returns(folders: DataFolders) -> pd.DataFrame:
    return pd.read_parquet(folders.accepted_returns)
