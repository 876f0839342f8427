"""Staging: each raw file read once into the canonical table of its kind, kept by content hash.

A return's identity is its bytes, so a staged table is named by the raw file's sha256: a
moved or copied file is read once, and a file whose bytes are unchanged is not read again.
When each return was first received is a fact of the journal (briefings.journal.received),
not of the files: staging records every settled file's content and path there and takes its
first-received time back, so a moved or copied file keeps its time, and a deleted processed/
changes no date. Returns bundled with the project date from raw/received-dates.csv until the
journal has seen them. A file still being written is left for a later run, not recorded and
not refused. The store's integrity is checked before anything is staged, so nothing is built
on damage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from briefings.domain.periods import PeriodError, year_label
from briefings.journal import Journal
from briefings.journal.received import (
    RECEIVED_DATES,
    first_sightings,
    read_received_dates,
    record_received,
)
from briefings.store.integrity import check_store, repair_store
from briefings.store.layout import DataFolders
from briefings.store.ledger import Status
from briefings.store.parquet import STAGED_KEY, write_parquet

if TYPE_CHECKING:  # reading returns imports pandas: only when a run reads them
    import pandas as pd

    from briefings.ingest import ParsedReturn, RawFile

log = logging.getLogger("briefings.store")  # one logger for the whole store


@dataclass(frozen=True)
class StagedReturn:
    """A raw file after reading: its canonical table on disk, or why it could not be read."""

    file: str  # path relative to raw/
    sha256: str
    size_bytes: int
    first_seen: str  # when these bytes were first received, from the journal
    staged: Path | None
    kind: str = ""
    layout: str = ""
    notes: tuple[str, ...] = ()
    read_error: str | None = None
    arriving: str | None = None  # why it is taken to be still being written (not read)
    seen_here: str = ""  # when this path was first seen holding these bytes
    # The path these bytes were first received under: what a briefing names as the source,
    # so moving or copying a return changes no briefing.
    received_as: str = ""


def stage_raw_files(
    folders: DataFolders,
    now: datetime | None = None,
    rebuild: bool = False,
    progress: Callable[[Iterable[RawFile]], Iterable[RawFile]] = lambda files: files,
    new_content: Callable[[], object] = lambda: None,
) -> list[StagedReturn]:
    """Read every raw file into the canonical layout of its kind, once per content hash.

    The store is checked first (check_store) and rebuilt from raw/ if it is damaged. A file
    still being written (see briefings.ingest.files.unsettled) is not read: it is recorded as
    incomplete and read on a later run. `new_content` is called once, before any file is
    read, when some content has not been staged before (so validation and briefings follow)."""
    from briefings.ingest import list_raw_files, unsettled

    if not folders.raw.is_dir():
        raise FileNotFoundError(f"no raw/ folder in {folders.root}")
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    health = check_store(folders)
    if health.problems:
        repair_store(folders, health)
        rebuild = True
    if health.ledger.empty and not health.problems and any(folders.raw.rglob("*")):
        log.warning(
            "No ledger in %s/ (a first run, or the store was deleted): building it from %s/; "
            "first-received dates come from the journal, %s",
            folders.shown(folders.processed),
            folders.shown(folders.raw),
            folders.shown(folders.journal),
        )
    files = list_raw_files(folders.raw)
    arriving = unsettled(files)
    received, sightings = _received(folders, files, arriving, clock, health.ledger)
    if any(
        rebuild or not folders.staged(raw.sha256).exists()
        for raw in files
        if raw.relative not in arriving and not raw.unreadable
    ):
        new_content()
    staged: list[StagedReturn] = []
    done: dict[str, StagedReturn] = {}
    for raw in progress(files):
        first_seen = received.get(raw.sha256, clock.isoformat())
        here = sightings.get((raw.sha256, raw.relative), clock.isoformat())
        if raw.relative in arriving:
            staged.append(_arriving(raw, first_seen, here, arriving[raw.relative]))
            continue
        if raw.unreadable:  # quarantined on its own; the other files are read as usual
            why = f"{raw.relative}: {raw.unreadable}"
            staged.append(
                StagedReturn(
                    raw.relative, raw.sha256, 0, first_seen, None, read_error=why, seen_here=here
                )
            )
            continue
        if raw.sha256 in done:  # the same bytes under another name: read once
            twin = done[raw.sha256]
            staged.append(_with(twin, raw, first_seen, here))
            continue
        item = _stage(folders, raw, first_seen, here, rebuild)
        if item.arriving is None:
            done[raw.sha256] = item
        staged.append(item)
    first_paths: dict[str, tuple[str, str]] = {}
    for (sha256, path), when in sightings.items():
        first_paths[sha256] = min(first_paths.get(sha256, (when, path)), (when, path))
    return [
        replace(item, received_as=first_paths.get(item.sha256, ("", item.file))[1])
        for item in staged
    ]


# Staged returns read lately, by path and file state: validation and acceptance each read
# every new return, and a return is small. (Home Office tables, large, are read each time.)
_READ_LATELY: dict[tuple[str, int, int, int], pd.DataFrame] = {}
_KEPT_ROWS, _KEPT_FILES = 50_000, 512
_SMALL_FILE = 1 << 20  # bytes


def read_staged(item: StagedReturn) -> pd.DataFrame:
    import pandas as pd

    if item.staged is None:
        raise ValueError(f"{item.file} was not staged")
    state = item.staged.stat()
    key = (str(item.staged), state.st_mtime_ns, state.st_size, state.st_ino)
    frame = _READ_LATELY.get(key)
    if frame is None:
        # A small return is read on this thread: starting Arrow's threads costs more than
        # they save on a few dozen rows (a large table is read in parallel as before).
        small = state.st_size <= _SMALL_FILE
        threads: dict[str, Any] = (
            dict(use_threads=False, to_pandas_kwargs={"use_threads": False}) if small else {}
        )
        frame = pd.read_parquet(item.staged, **threads)
        if len(frame) <= _KEPT_ROWS:
            if len(_READ_LATELY) >= _KEPT_FILES:
                _READ_LATELY.clear()
            _READ_LATELY[key] = frame
    return frame.copy(deep=False)  # the caller's own frame (pandas copies on write)


def _received(
    folders: DataFolders,
    files: list[RawFile],
    arriving: dict[str, str],
    clock: datetime,
    ledger: pd.DataFrame,
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """When each content was first received, and when each path was first seen holding it,
    as the journal has them once this run's settled files are recorded. A file still being
    written is not recorded: it is received when it is complete."""
    journal = Journal(folders.journal).open()
    # A file whose bytes cannot be read has no content to record: received when it can be.
    settled = [
        (raw.sha256, raw.relative)
        for raw in files
        if raw.relative not in arriving and not raw.unreadable
    ]
    received = record_received(
        journal,
        settled,
        when=clock.isoformat(),
        bundled=read_received_dates(folders.raw / RECEIVED_DATES),
        earlier=_ledger_dates(ledger),
    )
    sightings = first_sightings(journal, (raw.sha256 for raw in files))
    return {sha256: r.first_received for sha256, r in received.items()}, sightings


def _ledger_dates(ledger: pd.DataFrame) -> dict[str, str]:
    """First-seen dates in a ledger (by content), for a data folder ingested before it had a
    journal: used only for content the journal has never seen. Still-arriving rows are not
    sightings of complete files."""
    complete = ledger[ledger["status"] != Status.INCOMPLETE]
    return {str(k): str(v) for k, v in complete.groupby("sha256")["first_seen"].min().items()}


def _arriving(raw: RawFile, first_seen: str, here: str, why: str) -> StagedReturn:
    return StagedReturn(
        raw.relative, raw.sha256, raw.size_bytes, first_seen, None, arriving=why, seen_here=here
    )


def _with(twin: StagedReturn, raw: RawFile, first_seen: str, here: str) -> StagedReturn:
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
        seen_here=here,
    )


def read_return(path: Path) -> ParsedReturn:
    """briefings.ingest.read_return, imported when a file is first read (it imports pandas);
    named here so the fault tests can stand in for it."""
    from briefings.ingest import read_return as read

    return read(path)


def _stage(
    folders: DataFolders, raw: RawFile, first_seen: str, here: str, rebuild: bool
) -> StagedReturn:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from briefings.ingest import STILL_ARRIVING, ReturnReadError

    target = folders.staged(raw.sha256)
    common: dict[str, Any] = dict(
        file=raw.relative,
        sha256=raw.sha256,
        size_bytes=raw.size_bytes,
        first_seen=first_seen,
        seen_here=here,
    )
    written_to = f"changed while it was read; {STILL_ARRIVING}"
    if target.exists() and not rebuild:
        meta = json.loads(pq.read_schema(target).metadata[STAGED_KEY])
        if raw.changed():
            return _arriving(raw, first_seen, here, written_to)
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
            return _arriving(raw, first_seen, here, written_to)
        return StagedReturn(**common, staged=None, read_error=_one_line(str(error), raw))
    except FileNotFoundError:
        return _arriving(
            raw, first_seen, here, f"removed or renamed while it was read; {STILL_ARRIVING}"
        )
    except OSError as error:  # hashed, then could not be opened (permissions changed)
        reason = error.strerror or type(error).__name__
        if isinstance(error, PermissionError):
            reason = "permission denied"
        why = f"{raw.relative}: cannot be read: {reason.lower()}"
        return StagedReturn(**common, staged=None, read_error=why)
    if raw.changed():  # the bytes read may not be the bytes hashed
        return _arriving(raw, first_seen, here, written_to)
    if part_year := years_not_whole(parsed, raw.relative, first_seen):
        return StagedReturn(**common, staged=None, read_error=part_year)
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


def _one_line(message: str, raw: RawFile) -> str:
    """A reading error as one line of text, naming the file as the ledger does: a name with
    a newline or bytes that are not UTF-8 must not break the ledger or a report."""
    from briefings.ingest.files import printable_name

    message = message.replace(raw.path.name, printable_name(raw.path.name))
    return printable_name(message, backslashes=False)


def years_not_whole(parsed: ParsedReturn, file: str, received: str) -> str | None:
    """Why an online-flag return's counts cannot be taken as whole financial years, naming
    the row: a label for part of a year ('2016/17 Q1'), or a year that had not ended when the
    return was received (its counts are for part of it, whatever the label says). Judged on
    the day the return was first received, so the answer never changes with the calendar.
    None when every year is whole; labels that are no year at all are validation's to name."""
    import pandas as pd

    from briefings.ingest import Kind

    if parsed.kind != Kind.ONLINE_FLAG or "financial_year" not in parsed.frame:
        return None
    day = datetime.fromisoformat(received).astimezone(UTC).date()
    frame = parsed.frame
    rows = frame["source_row"] if "source_row" in frame else pd.Series(range(2, len(frame) + 2))
    for label, row in zip(frame["financial_year"], rows, strict=True):
        if not isinstance(label, str):
            continue
        try:
            period = year_label(label)
        except PeriodError as error:
            return f"{file} row {row}, column financial_year: {error}"
        if period is not None and not period.has_ended(day):
            return (
                f"{file} row {row}, column financial_year: {period.label} had not ended when "
                f"this return was received on {day.day} {day:%B %Y} (it ends "
                f"{period.last_day.day} {period.last_day:%B %Y}), so its counts are for part "
                "of the year; please send the whole year's figures after it ends"
            )
    return None
