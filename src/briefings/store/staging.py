"""Staging: each raw file read once into the canonical table of its kind, kept by content hash.

A return's identity is its bytes, so a staged table is named by the raw file's sha256: a
moved or copied file is read once, and a file whose bytes are unchanged is not read again.
Staging also decides when each file was first seen (from the ledger, else its modification
time) and leaves a file still being written for a later run rather than refusing it. The
store's integrity is checked before anything is staged, so nothing is built on damage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from briefings.ingest import (
    STILL_ARRIVING,
    RawFile,
    ReturnReadError,
    list_raw_files,
    read_return,
    unsettled,
)
from briefings.store.integrity import StoreHealth, check_store, repair_store
from briefings.store.layout import DataFolders
from briefings.store.ledger import Status
from briefings.store.parquet import STAGED_KEY, write_parquet

log = logging.getLogger("briefings.store")  # one logger for the whole store


@dataclass(frozen=True)
class StagedReturn:
    """A raw file after reading: its canonical table on disk, or why it could not be read."""

    file: str  # path relative to raw/
    sha256: str
    size_bytes: int
    first_seen: str
    staged: Path | None
    kind: str = ""
    layout: str = ""
    notes: tuple[str, ...] = ()
    read_error: str | None = None
    arriving: str | None = None  # why it is taken to be still being written (not read)


def stage_raw_files(
    folders: DataFolders,
    now: datetime | None = None,
    rebuild: bool = False,
    progress: Callable[[Iterable[RawFile]], Iterable[RawFile]] = lambda files: files,
) -> list[StagedReturn]:
    """Read every raw file into the canonical layout of its kind, once per content hash.

    The store is checked first (check_store) and rebuilt from raw/ if it is damaged. A file
    still being written (see briefings.ingest.files.unsettled) is not read: it is recorded as
    incomplete and read on a later run."""
    if not folders.raw.is_dir():
        raise FileNotFoundError(f"no raw/ folder in {folders.root}")
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    health = check_store(folders)
    if health.problems:
        repair_store(folders, health)
        rebuild = True
    seen = {
        (row.file, row.sha256): row.first_seen
        for row in health.ledger.itertuples()
        if row.status != Status.INCOMPLETE  # first seen when it was complete, not before
    }
    if health.ledger.empty and not health.problems and any(folders.raw.rglob("*")):
        log.warning(
            "No ledger in %s/ (a first run, or the store was deleted): building it from %s/; "
            "first-seen dates are taken from the raw files' modification times",
            folders.shown(folders.processed),
            folders.shown(folders.raw),
        )
    files = list_raw_files(folders.raw)
    arriving = unsettled(files)
    staged: list[StagedReturn] = []
    done: dict[str, StagedReturn] = {}
    for raw in progress(files):
        first_seen = seen.get((raw.relative, raw.sha256)) or _first_seen(raw, clock, health)
        if raw.relative in arriving:
            staged.append(_arriving(raw, first_seen, arriving[raw.relative]))
            continue
        if raw.sha256 in done:  # the same bytes under another name: read once
            twin = done[raw.sha256]
            staged.append(_with(twin, raw, first_seen))
            continue
        item = _stage(folders, raw, first_seen, rebuild)
        if item.arriving is None:
            done[raw.sha256] = item
        staged.append(item)
    return staged


def read_staged(item: StagedReturn) -> pd.DataFrame:
    return pd.read_parquet(item.staged)


def _first_seen(raw: RawFile, clock: datetime, health: StoreHealth) -> str:
    """Now, for a file new since the last run. With no ledger at all (a first run, or a store
    lost with its ledger) the file's modification time is the best record of when it
    arrived, so a rebuilt store orders returns as the lost one did."""
    if not health.ledger.empty or raw.state is None:
        return clock.isoformat()
    modified = datetime.fromtimestamp(raw.state.mtime_ns / 1e9, UTC).replace(microsecond=0)
    return min(modified, clock).isoformat()


def _arriving(raw: RawFile, first_seen: str, why: str) -> StagedReturn:
    return StagedReturn(raw.relative, raw.sha256, raw.size_bytes, first_seen, None, arriving=why)


def _with(twin: StagedReturn, raw: RawFile, first_seen: str) -> StagedReturn:
    return StagedReturn(
        raw.relative,
        raw.sha256,
        raw.size_bytes,
        first_seen,
        twin.staged,
        twin.kind,
        twin.layout,
        twin.notes,
        twin.read_error,
    )


def _stage(folders: DataFolders, raw: RawFile, first_seen: str, rebuild: bool) -> StagedReturn:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folders.staged(raw.sha256)
    common: dict[str, Any] = dict(
        file=raw.relative, sha256=raw.sha256, size_bytes=raw.size_bytes, first_seen=first_seen
    )
    written_to = f"changed while it was read; {STILL_ARRIVING}"
    if target.exists() and not rebuild:
        meta = json.loads(pq.read_schema(target).metadata[STAGED_KEY])
        if raw.changed():
            return _arriving(raw, first_seen, written_to)
        return StagedReturn(
            **common,
            staged=target,
            kind=meta["kind"],
            layout=meta["layout"],
            notes=tuple(meta["notes"]),
        )
    try:
        parsed = read_return(raw.path)
    except ReturnReadError as error:
        if raw.changed():  # a half-copied file fails to read: not final, not refused
            return _arriving(raw, first_seen, written_to)
        return StagedReturn(**common, staged=None, read_error=str(error))
    except FileNotFoundError:
        return _arriving(raw, first_seen, f"removed or renamed while it was read; {STILL_ARRIVING}")
    if raw.changed():  # the bytes read may not be the bytes hashed
        return _arriving(raw, first_seen, written_to)
    table = pa.Table.from_pandas(parsed.frame, preserve_index=False)
    meta = {
        "kind": parsed.kind.value,
        "layout": parsed.layout,
        "notes": list(parsed.notes),
        "sha256": raw.sha256,
        "rows": table.num_rows,
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), STAGED_KEY: json.dumps(meta)}
    )
    write_parquet(target, table)
    return StagedReturn(
        **common, staged=target, kind=parsed.kind.value, layout=parsed.layout, notes=parsed.notes
    )
