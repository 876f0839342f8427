"""Ingest as the flow does (stage, validate, accept), with a fixed clock, for the fault tests."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from briefings.ingest import Kind
from briefings.store import DataFolders, LedgerEntry, accept_returns, read_staged, stage_raw_files
from briefings.validation import validate_return

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"


def ingest(
    folders: DataFolders, when: str | datetime, rebuild: bool = False, cached: bool = False
) -> dict[str, LedgerEntry]:
    """`cached`: validate as the flow does, through the outcome cache in processed/ (with Data
    Docs); else straight, without Data Docs, which is quicker."""
    now = when if isinstance(when, datetime) else datetime.fromisoformat(when).replace(tzinfo=UTC)
    staged = stage_raw_files(folders, now=now, rebuild=rebuild)
    if cached:
        from briefings.services import validated

        outcomes = validated(folders, staged)
    else:
        outcomes = {
            s.sha256: validate_return(read_staged(s), s.file, Kind(s.kind))
            for s in staged
            if s.staged is not None
        }
    return {e.file: e for e in accept_returns(folders, staged, outcomes)}


def age(path: Path, seconds: float = 3600, now: float | None = None) -> Path:
    """The file as if it had been copied in `seconds` ago and left alone since."""
    then = (now or time.time()) - seconds
    os.utime(path, (then, then))
    return path


def write_return(folders: DataFolders, name: str, body: str, settled: bool = True) -> Path:
    path = folders.raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)
    return age(path) if settled else path


def accepted_counts(folders: DataFolders) -> dict[tuple[str, str], int]:
    """Online-flagged offences per force and year that the figures would use now."""
    from briefings.store import load_accepted_returns

    rows = load_accepted_returns(folders)
    totals = rows.groupby(["force_code", "financial_year"])["online_flagged"].sum()
    return {key: int(total) for key, total in totals.items()}
