"""The processed store: the ledger of raw files, staged returns and the accepted tables.

data/raw/ is only ever read. Everything under data/processed/ can be rebuilt from it
(`briefings ingest --rebuild`):
- ledger.csv: every raw file with its content hash, size, when first seen, kind and layout,
  and its status (accepted, quarantined, superseded, duplicate, or incomplete while it is
  still being written) with the reason; a copy travels in the accepted tables' metadata;
- staged/<sha256>.parquet: each readable file in the canonical layout of its kind;
- quarantine/<file>.txt: for each refused file, what failed, in words;
- online_flag_returns.parquet: every row of every accepted online-flag return, with when its
  file was first seen, so figures can be rebuilt as of any date;
- home_office_offences.parquet and child_sexual_offences.parquet: accepted Home Office tables,
  summed per force, quarter and code, and the child sexual offences derived from them.
Every write goes to a temporary name and is renamed into place; the ledger is written last.

A damaged store is noticed and rebuilt: each run first checks that the ledger parses, that
every Parquet file reads whole (page checksums verified) and matches the raw file it was
made from, and that the ledger's tables are all there. If not, it logs which file was
damaged and why, and rebuilds everything from raw/. First-seen dates come from the ledger,
else from the copy of it kept with the accepted tables, else (no ledger at all: a first run,
or processed/ deleted) from the raw files' modification times.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from briefings.atomic import atomic_write
from briefings.domain.figures import RETURN_COLUMNS
from briefings.domain.supersession import end_of, latest_by
from briefings.ingest import (
    STILL_ARRIVING,
    Kind,
    RawFile,
    ReturnReadError,
    file_sha256,
    list_raw_files,
    read_return,
    unsettled,
)
from briefings.ingest.home_office import child_sexual_offences, summed_offences
from briefings.validation import ValidationOutcome, prepare_for_validation

LEDGER_COLUMNS = [
    "file",
    "sha256",
    "size_bytes",
    "first_seen",
    "kind",
    "layout",
    "status",
    "detail",
    "rows",
    "periods",
    "forces",
    "warnings",
    "data_docs",
]
ONLINE_FLAG_KEYS = ["force_code", "financial_year"]
HOME_OFFICE_KEYS = ["financial_year", "quarter"]
# A later return whose rows for a force and year have these values unchanged restates them.
RESTATED_VALUES = ["offence_code", "offences", "online_flagged"]
LEDGER_COPY_KEY = b"briefings-ledger"  # the ledger, in the accepted tables' schema metadata
log = logging.getLogger(__name__)


class Status:
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"
    INCOMPLETE = "incomplete"  # still being written: read on a later run, never used
    ALL = (ACCEPTED, QUARANTINED, SUPERSEDED, DUPLICATE, INCOMPLETE)


class StoreBusyError(RuntimeError):
    """Another run holds the store."""


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

    @property
    def home_office_offences(self) -> Path:
        return self.processed / "home_office_offences.parquet"

    @property
    def child_sexual_offences(self) -> Path:
        return self.processed / "child_sexual_offences.parquet"

    @property
    def accepted_tables(self) -> tuple[Path, Path, Path]:
        return (self.accepted_returns, self.home_office_offences, self.child_sexual_offences)

    @property
    def validation(self) -> Path:
        """GX results, Data Docs and cached outcomes."""
        return self.processed / "validation"

    @property
    def memo(self) -> Path:
        """Results reused while their inputs are unchanged (flows/memo.py)."""
        return self.processed / "memo"

    def staged(self, sha256: str) -> Path:
        return self.processed / "staged" / f"{sha256}.parquet"

    def quarantine_report(self, file: str) -> Path:
        return self.processed / "quarantine" / f"{file.replace('/', '__')}.txt"


@contextmanager
def store_lock(folders: DataFolders) -> Iterator[None]:
    """One run at a time per data folder; a second run is told, not queued."""
    from filelock import FileLock, Timeout

    folders.processed.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folders.processed / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreBusyError(
            f"another run is updating {folders.processed}; try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


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


def read_ledger(folders: DataFolders) -> pd.DataFrame:
    """The ledger; if ledger.csv is damaged, the copy kept with the accepted tables; else
    an empty ledger. Never raises for a damaged file: check_store says what was wrong."""
    try:
        return parse_ledger(folders.ledger)
    except FileNotFoundError:
        return _empty_ledger()
    except LedgerError:
        copy = ledger_copy(folders)
        return copy if copy is not None else _empty_ledger()


class LedgerError(ValueError):
    """ledger.csv exists but cannot be trusted; the message says why."""


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse_ledger(path: Path) -> pd.DataFrame:
    """ledger.csv, checked row by row: a hash, a known status and an ISO first-seen time in
    every row (a truncated or garbled ledger fails here, not later)."""
    try:
        ledger = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as error:  # pandas' ParserError included
        raise LedgerError(
            f"not a readable CSV table: {' '.join(str(error).split())[:120]}"
        ) from None
    return _checked_ledger(ledger)


def _checked_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    required = ["file", "sha256", "first_seen", "status"]
    missing = [c for c in required if c not in ledger.columns]
    if missing:
        raise LedgerError(f"no column(s) {', '.join(missing)} in its header")
    for column in LEDGER_COLUMNS:
        if column not in ledger.columns:  # a ledger written by an earlier version
            ledger[column] = ""
    for number, row in enumerate(ledger[required].itertuples(index=False), start=2):
        if not row.file or not _SHA256.match(row.sha256) or row.status not in Status.ALL:
            raise LedgerError(f"row {number} is incomplete or garbled")
        try:
            datetime.fromisoformat(row.first_seen)
        except ValueError:
            raise LedgerError(
                f"row {number}: first_seen '{row.first_seen}' is not a time"
            ) from None
    for column in ("file", "detail", "layout", "warnings"):
        ledger[column] = ledger[column].map(_unescape_cell)
    return ledger[LEDGER_COLUMNS].reset_index(drop=True)


def _empty_ledger() -> pd.DataFrame:
    return pd.DataFrame(columns=LEDGER_COLUMNS, dtype=str)


def ledger_copy(folders: DataFolders) -> pd.DataFrame | None:
    """The ledger as written with the accepted tables by the last complete run, if any of
    them holds a readable copy."""
    import pyarrow.parquet as pq

    for path in folders.accepted_tables:
        if not path.exists() or _parquet_damage(path):
            continue
        try:
            metadata = pq.read_schema(path).metadata or {}
            records = json.loads(metadata[LEDGER_COPY_KEY])
            ledger = pd.DataFrame.from_records(records, columns=LEDGER_COLUMNS).astype(str)
            return _checked_ledger(ledger)
        except Exception:  # no copy (an earlier version), or a garbled one: try the next
            continue
    return None


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
            _shown(folders, folders.processed),
            _shown(folders, folders.raw),
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
    common = dict(
        file=raw.relative, sha256=raw.sha256, size_bytes=raw.size_bytes, first_seen=first_seen
    )
    written_to = f"changed while it was read; {STILL_ARRIVING}"
    if target.exists() and not rebuild:
        meta = json.loads(pq.read_schema(target).metadata[b"briefings"])
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
        {**(table.schema.metadata or {}), b"briefings": json.dumps(meta)}
    )
    write_parquet(target, table)
    return StagedReturn(
        **common, staged=target, kind=parsed.kind.value, layout=parsed.layout, notes=parsed.notes
    )


# --- a damaged store ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreHealth:
    ledger: pd.DataFrame  # the best ledger found (see read_ledger); empty if none
    problems: tuple[str, ...] = ()  # "data/processed/<file> was damaged (<reason>)"
    ledger_damaged: bool = False
    ledger_from_copy: bool = False


def check_store(folders: DataFolders) -> StoreHealth:
    """What in processed/ cannot be trusted: a ledger that does not parse, or that lists
    returns while its tables are missing; a Parquet file that does not read whole (page
    checksums verified) or was not made from the raw file its name says; a staged table the
    ledger needs that is gone; a cached validation outcome that does not parse. A Parquet
    file is read whole once; while its bytes hash the same as when it passed, it is not read
    again (processed/memo/verified.json): any changed byte means a full check."""
    problems: list[str] = []
    verified = _VerifiedBytes(folders)

    def problem(path: Path, what: str, why: str) -> None:
        problems.append(f"{_shown(folders, path)} {what} ({why})")

    ledger, damaged, from_copy = _empty_ledger(), False, False
    try:
        ledger = parse_ledger(folders.ledger)
    except FileNotFoundError:
        # Accepted tables are written just before the ledger: without it they are orphans.
        # Staged tables alone are a first run stopped early, and are checked one by one.
        if any(path.exists() for path in folders.accepted_tables):
            problem(folders.ledger, "is missing", "the accepted tables are there, the ledger not")
            damaged = True
    except LedgerError as error:
        problem(folders.ledger, "was damaged", str(error))
        damaged = True
    if damaged:
        copy = ledger_copy(folders)
        if copy is not None:
            ledger, from_copy = copy, True
    if not ledger.empty:
        for path in folders.accepted_tables:
            if not path.exists():
                problem(path, "is missing", "the ledger lists returns but this table is gone")
    for path in folders.accepted_tables:
        if path.exists() and (why := verified.damage(path)):
            problem(path, "was damaged", why)
    staged_dir = folders.processed / "staged"
    for path in sorted(staged_dir.glob("*.parquet")) if staged_dir.is_dir() else []:
        if _SHA256.match(path.stem) and (why := verified.damage(path, sha256=path.stem)):
            problem(path, "was damaged", why)
    # Every file that was read has a staged table (those refused on reading have no kind).
    read = ledger[
        (ledger["kind"] != "")
        & (ledger["status"] != Status.INCOMPLETE)
        & ~ledger["detail"].str.endswith("no longer in raw/")
    ]
    for sha256, group in read.groupby("sha256"):
        if not folders.staged(sha256).exists():
            files = ", ".join(sorted(group["file"]))
            problem(folders.staged(sha256), "is missing", f"the staged table of {files}")
    outcomes = folders.validation / "outcomes"
    for path in sorted(outcomes.glob("*.json")) if outcomes.is_dir() else []:
        if why := _outcome_damage(path):
            problem(path, "was damaged", why)
    if not problems:
        verified.save()
    return StoreHealth(ledger, tuple(problems), damaged, from_copy)


class _VerifiedBytes:
    """The sha256 of each Parquet file's bytes when it last passed _parquet_damage: the same
    bytes need no second reading (a run with nothing new checks the store in milliseconds)."""

    def __init__(self, folders: DataFolders):
        self.path = folders.memo / "verified.json"
        self.root = folders.processed
        try:
            self.known = json.loads(self.path.read_text())
            assert isinstance(self.known, dict)
        except Exception:  # none yet, or unreadable: check everything
            self.known = {}
        self.passed: dict[str, str] = {}

    def damage(self, path: Path, sha256: str | None = None) -> str | None:
        name = path.relative_to(self.root).as_posix()
        digest = file_sha256(path)
        why = None if self.known.get(name) == digest else _parquet_damage(path, sha256)
        if why is None:
            self.passed[name] = digest
        return why

    def save(self) -> None:
        if self.passed != self.known:
            atomic_write(self.path, lambda p: Path(p).write_text(json.dumps(self.passed)))


def repair_store(folders: DataFolders, health: StoreHealth) -> None:
    """Say what was damaged, keep a damaged ledger beside the store for a person to look at,
    restore the ledger from its copy if there is one, and clear everything derived."""
    import shutil

    raw = _shown(folders, folders.raw)
    for problem in health.problems:
        log.warning("%s: rebuilding from %s/", problem, raw)
    if health.ledger_damaged:
        if folders.ledger.exists():
            kept = folders.ledger.with_name("ledger.damaged.csv")
            shutil.copyfile(folders.ledger, kept)
            folders.ledger.unlink()
            log.warning("The damaged ledger is kept as %s", _shown(folders, kept))
        if health.ledger_from_copy:
            _write_ledger_table(folders, health.ledger)
            log.warning("The ledger was restored from the copy kept with the accepted tables")
        else:
            log.warning(
                "No copy of the ledger survived: first-seen dates are taken from the raw "
                "files' modification times, and files no longer in %s/ are no longer listed",
                raw,
            )
    clear_derived(folders)


def _shown(folders: DataFolders, path: Path) -> str:
    """A path as a person knows it: data/processed/ledger.csv."""
    try:
        return f"{folders.root.name}/{path.relative_to(folders.root).as_posix()}"
    except ValueError:
        return str(path)


def _parquet_damage(path: Path, sha256: str | None = None) -> str | None:
    """Why a Parquet file of ours cannot be trusted, or None. Read whole, so truncation,
    garbled pages (checksums) and a garbled footer all show."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, page_checksum_verification=True)
        metadata = table.schema.metadata or {}
        if b"pandas" not in metadata:  # every table of ours has it
            return "its description of its columns is missing"
        written = metadata.get(DIGEST_KEY)  # absent from stores written before digests
        if written is not None and written.decode() != table_digest(table):
            return "its contents do not match the digest written with them"
    except Exception as error:  # pyarrow's errors for a damaged file vary with the damage
        return f"unreadable: {' '.join(str(error).split())[:120]}"
    if sha256 is None:
        return None
    try:
        meta = json.loads((table.schema.metadata or {})[b"briefings"])
        kind, layout, notes = meta["kind"], meta["layout"], meta["notes"]
        Kind(kind)
    except Exception:
        return "no readable description of the raw file it was made from"
    if not isinstance(layout, str) or not isinstance(notes, list):
        return "no readable description of the raw file it was made from"
    if meta.get("sha256", sha256) != sha256:
        return f"made from raw bytes {str(meta['sha256'])[:12]}..., not those its name says"
    if meta.get("rows", table.num_rows) != table.num_rows:
        return f"{table.num_rows} rows where {meta['rows']} were written"
    return None


def _outcome_damage(path: Path) -> str | None:
    from briefings.validation import ValidationOutcome

    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        str(saved["fingerprint"])
        ValidationOutcome.from_json(saved["outcome"])
    except Exception as error:  # any damage to a cache entry means: validate again
        return f"unreadable: {type(error).__name__}"
    return None


def clear_derived(folders: DataFolders) -> None:
    """Remove what ingest derives (staged tables, accepted tables, quarantine reports) so it
    is rebuilt from raw/. The ledger stays, keeping when each file was first seen."""
    import shutil

    for folder in (
        folders.processed / "staged",
        folders.processed / "quarantine",
        folders.validation / "outcomes",
        folders.memo,
    ):
        shutil.rmtree(folder, ignore_errors=True)
    for path in (
        folders.accepted_returns,
        folders.home_office_offences,
        folders.child_sexual_offences,
    ):
        path.unlink(missing_ok=True)


def store_state(folders: DataFolders) -> dict[str, str | None]:
    """What the store holds now, cheaply: the digest each accepted table carries (checked
    against its data by check_store), the ledger's hash and the quarantine reports' names.
    Part of the key under which ingest's results are reused (flows/memo.py)."""
    import pyarrow.parquet as pq

    state: dict[str, str | None] = {}
    for path in folders.accepted_tables:
        try:
            state[path.name] = (pq.read_schema(path).metadata or {})[DIGEST_KEY].decode()
        except (KeyError, OSError, ValueError):  # missing, or damaged (check_store says)
            state[path.name] = None
    try:
        state["ledger"] = file_sha256(folders.ledger)
    except FileNotFoundError:
        state["ledger"] = None
    reports = folders.processed / "quarantine"
    state["quarantine"] = "|".join(sorted(p.name for p in reports.glob("*.txt")))
    return state


def read_staged(item: StagedReturn) -> pd.DataFrame:
    return pd.read_parquet(item.staged)


def typed_return(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """A validated online-flag return in the store's columns, counts as integers."""
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
    problems: tuple[str, ...] = field(default_factory=tuple)  # why it was refused, in words
    warnings: tuple[str, ...] = field(default_factory=tuple)  # shown to stewards, not refusing
    data_docs: str = ""  # the Data Docs page of its validation
    force_codes: tuple[str, ...] = ()  # forces the file names (also when refused)

    @property
    def file(self) -> str:
        return self.staged.file


def accept_returns(
    folders: DataFolders,
    staged: list[StagedReturn],
    outcomes: dict[str, ValidationOutcome],
) -> list[LedgerEntry]:
    """Record every raw file in the ledger and build the accepted tables from the returns
    that passed: the latest return wins for each force and year (each year and quarter for
    Home Office tables); the earlier ones stay on disk, in the ledger and in the store."""
    entries: list[LedgerEntry] = []
    online: list[pd.DataFrame] = []
    home_office: list[pd.DataFrame] = []
    primary: dict[str, StagedReturn] = {}
    for item in sorted(staged, key=lambda s: (s.first_seen, s.file)):
        if item.arriving:  # neither read nor refused, and it supersedes nothing
            entries.append(LedgerEntry(item, Status.INCOMPLETE, item.arriving))
            continue
        if item.sha256 in primary:
            twin = primary[item.sha256]
            entries.append(
                LedgerEntry(item, Status.DUPLICATE, f"same bytes as {twin.file}; read once")
            )
            continue
        primary[item.sha256] = item
        if item.read_error:
            entries.append(
                LedgerEntry(item, Status.QUARANTINED, item.read_error, problems=(item.read_error,))
            )
            continue
        outcome = outcomes[item.sha256]
        frame = read_staged(item)
        checked = dict(
            warnings=tuple(w.describe(item.file) for w in outcome.warnings),
            data_docs=outcome.data_docs or "",
            force_codes=_forces_named(frame, item.kind),
        )
        if not outcome.passed:
            lines = tuple(problem.describe(item.file) for problem in outcome.problems)
            entries.append(
                LedgerEntry(item, Status.QUARANTINED, outcome.summary, problems=lines, **checked)
            )
            continue
        if item.kind == Kind.HOME_OFFICE:
            home_office.append(summed_offences(frame, item.file).assign(first_seen=item.first_seen))
        else:
            online.append(typed_return(frame, item.file).assign(first_seen=item.first_seen))
        entries.append(
            LedgerEntry(item, Status.ACCEPTED, outcome.summary.split(": ", 1)[1], **checked)
        )

    online_rows = _concat(online, [*RETURN_COLUMNS, "first_seen"])
    office_rows = _concat(
        home_office, ["financial_year", "quarter", "force_code", "source_file", "first_seen"]
    )
    entries = _mark_superseded(
        entries,
        latest_by(online_rows, ONLINE_FLAG_KEYS, values=RESTATED_VALUES),
        ONLINE_FLAG_KEYS,
        online_rows,
    )
    entries = _mark_superseded(
        entries, latest_by(office_rows, HOME_OFFICE_KEYS), HOME_OFFICE_KEYS, office_rows
    )

    ledger = _ledger_table(folders, entries)
    copy = {LEDGER_COPY_KEY: _escaped(ledger).to_json(orient="records").encode()}
    _write_table(folders.accepted_returns, online_rows, copy)
    _write_table(folders.home_office_offences, office_rows, copy)
    current_office = latest_by(office_rows, HOME_OFFICE_KEYS)
    children = (
        child_sexual_offences(current_office)
        if not current_office.empty
        else pd.DataFrame(
            columns=[
                "force_code",
                "financial_year",
                "quarter",
                "child_sexual_offences",
                "source_file",
            ]
        )
    )
    _write_table(folders.child_sexual_offences, children, copy)
    for entry in entries:
        if entry.status == Status.QUARANTINED:
            _write_quarantine_report(folders, entry)
    _write_ledger(folders, ledger)  # last: a run killed before here leaves the old ledger
    return entries


def _write_table(target: Path, frame: pd.DataFrame, metadata: dict[bytes, bytes]) -> None:
    """An accepted table, with the ledger's copy in its schema metadata."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_parquet(
        target, table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    )


DIGEST_KEY = b"briefings-digest"


def write_parquet(target: Path, table) -> None:
    """Parquet with page checksums and, in its metadata, a digest of everything a reader gets
    from it (see table_digest): damage anywhere that would change what is read shows."""
    import pyarrow.parquet as pq

    def write(path: str) -> None:
        pq.write_table(table, path, write_page_checksum=True)
        digest = table_digest(pq.read_table(path))  # the data as it reads back
        metadata = {**(table.schema.metadata or {}), DIGEST_KEY: digest.encode()}
        pq.write_table(table.replace_schema_metadata(metadata), path, write_page_checksum=True)

    atomic_write(target, write)


def table_digest(table) -> str:
    """sha256 of a table's data (Arrow IPC bytes) and schema metadata, the digest excepted.
    Bytes of the file that change neither (statistics, padding) are harmless."""
    import hashlib

    import pyarrow as pa

    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != DIGEST_KEY}
    bare = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, bare.schema) as stream:
        stream.write_table(bare)
    digest = hashlib.sha256(sink.getvalue())
    for key in sorted(metadata):
        digest.update(b"%d:%s%d:%s" % (len(key), key, len(metadata[key]), metadata[key]))
    return digest.hexdigest()


def _forces_named(frame: pd.DataFrame, kind: str) -> tuple[str, ...]:
    from briefings.reference import force_register

    column = "force_name" if kind == Kind.HOME_OFFICE else "force"
    register = force_register()
    found = {register.find(text) for text in frame[column].dropna().unique()}
    return tuple(sorted(force.code for force in found if force is not None))


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _mark_superseded(
    entries: list[LedgerEntry], current: pd.DataFrame, keys: list[str], rows: pd.DataFrame
) -> list[LedgerEntry]:
    if rows.empty:
        return entries
    winners = current.groupby("source_file")
    marked = []
    for entry in entries:
        if entry.status != Status.ACCEPTED or entry.file not in set(rows["source_file"]):
            marked.append(entry)
            continue
        mine = rows[rows["source_file"] == entry.file]
        kept = winners.get_group(entry.file) if entry.file in winners.groups else mine.iloc[0:0]
        periods = " ".join(sorted(mine["financial_year"].unique()))
        forces = int(mine["force_code"].nunique())
        if kept.empty:
            later = _superseding(mine, current, keys)
            if _earlier(later, entry, rows):  # it restates figures already received
                marked.append(
                    replace(
                        entry,
                        status=Status.DUPLICATE,
                        detail=f"same figures as {later}, received earlier, which "
                        "stays their source",
                        rows=len(mine),
                        periods=periods,
                        forces=forces,
                    )
                )
                continue
            marked.append(
                replace(
                    entry,
                    status=Status.SUPERSEDED,
                    detail=f"superseded by {later}",
                    rows=len(mine),
                    periods=periods,
                    forces=forces,
                )
            )
            continue
        detail = entry.detail
        lost = mine.merge(kept[keys].drop_duplicates(), on=keys, how="left", indicator=True)
        if (lost["_merge"] == "left_only").any():
            later = _superseding(lost[lost["_merge"] == "left_only"], current, keys)
            if _earlier(later, entry, rows):
                detail += f"; some figures the same as in {later}, which stays their source"
            else:
                detail += f"; some figures superseded by {later}"
        marked.append(replace(entry, detail=detail, rows=len(mine), periods=periods, forces=forces))
    return marked


def _earlier(files: str, entry: LedgerEntry, rows: pd.DataFrame) -> bool:
    """Whether the files (comma-separated) that keep these figures came before `entry`."""
    seen = rows.drop_duplicates("source_file").set_index("source_file")["first_seen"]
    mine = (entry.staged.first_seen, entry.file)
    return all((seen[name], name) < mine for name in files.split(", ") if name in seen)


def _superseding(mine: pd.DataFrame, current: pd.DataFrame, keys: list[str]) -> str:
    merged = (
        mine[keys]
        .drop_duplicates()
        .merge(current[[*keys, "source_file"]].drop_duplicates(), on=keys)
    )
    return ", ".join(sorted(set(merged["source_file"])))


def _write_quarantine_report(folders: DataFolders, entry: LedgerEntry) -> None:
    item = entry.staged
    text = "\n".join(
        [
            f"Return refused: raw/{item.file}",
            f"sha256: {item.sha256}",
            f"first seen: {item.first_seen}",
            f"kind: {item.kind or 'not recognised'}",
            "",
            "What failed (rows are spreadsheet rows; the header is row 1):",
            *[f"- {line}" for line in entry.problems],
            "",
            *([f"Validation report (Data Docs): {entry.data_docs}", ""] if entry.data_docs else []),
            "The file is left untouched in raw/. Send a corrected return as a new file;",
            "it will be picked up on the next run.",
            "",
        ]
    )
    atomic_write(
        folders.quarantine_report(item.file),
        lambda path: Path(path).write_text(text, encoding="utf-8"),
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _ledger_table(folders: DataFolders, entries: list[LedgerEntry]) -> pd.DataFrame:
    """The ledger to write: this run's entries, then files gone from raw/ since (kept, and
    marked), formula-like cells escaped. A file that was still arriving and has gone (it was
    renamed, or completed under other bytes) is simply dropped: it was never used."""
    current = pd.DataFrame(
        [
            {
                "file": e.file,
                "sha256": e.staged.sha256,
                "size_bytes": str(e.staged.size_bytes),
                "first_seen": e.staged.first_seen,
                "kind": e.staged.kind,
                "layout": "; ".join([e.staged.layout, *e.staged.notes]).strip("; "),
                "status": e.status,
                "detail": e.detail,
                "rows": str(e.rows),
                "periods": e.periods,
                "forces": str(e.forces),
                "warnings": " | ".join(e.warnings),
                "data_docs": e.data_docs,
            }
            for e in entries
        ],
        columns=LEDGER_COLUMNS,
    )
    previous = read_ledger(folders)
    listed = set(zip(current["file"], current["sha256"], strict=True))
    still_listed = [
        (f, h) in listed for f, h in zip(previous["file"], previous["sha256"], strict=True)
    ]
    gone = previous.loc[
        ~pd.Series(still_listed, index=previous.index, dtype=bool)
        & (previous["status"] != Status.INCOMPLETE)
    ].copy()
    gone["detail"] = [
        d if d.endswith("no longer in raw/") else f"{d}; no longer in raw/" for d in gone["detail"]
    ]
    table = pd.concat([current, gone], ignore_index=True).sort_values(["first_seen", "file"])
    return table.reset_index(drop=True)


def _escaped(table: pd.DataFrame) -> pd.DataFrame:
    """The ledger as written: formula-like cells escaped (read_ledger undoes it)."""
    table = table.copy()
    for column in ("file", "detail", "layout", "warnings"):
        table[column] = table[column].fillna("").map(spreadsheet_safe)
    return table


def _write_ledger(folders: DataFolders, table: pd.DataFrame) -> None:
    _write_ledger_table(folders, table)


def _write_ledger_table(folders: DataFolders, table: pd.DataFrame) -> None:
    escaped = _escaped(table)
    atomic_write(folders.ledger, lambda path: escaped.to_csv(path, index=False))


def load_accepted_returns(folders: DataFolders, as_of: str | None = None) -> pd.DataFrame:
    """The online-flag rows the figures use: the latest return for each force and year (a
    return that restates the same figures does not replace the one first received), with
    the file each force-year total was first received in (`total_source`)."""
    from briefings.domain.figures import with_total_sources

    rows = pd.read_parquet(folders.accepted_returns)
    current = latest_by(rows, ONLINE_FLAG_KEYS, as_of, values=RESTATED_VALUES)
    if as_of is not None:
        rows = rows[rows["first_seen"] <= end_of(as_of)]
    return with_total_sources(current, rows)


def store_checks(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per force and year for the checks across returns (suite online_flag_store):
    the change from the year before where that year's count is at least 20 (fold_change),
    a force missing for a year after one it reported (current_total is null), and a figure
    an earlier return gave differently for the same force and year (restated_from)."""
    from briefings.domain.figures import force_year_totals
    from briefings.domain.periods import Period
    from briefings.reference import force_register

    columns = ["label", "description", "fold_change", "current_total", "restated_from"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    register = force_register()
    current = force_year_totals(latest_by(rows, ONLINE_FLAG_KEYS))
    totals = {(r.force_code, r.financial_year): int(r.online_flagged) for r in current.itertuples()}
    winners = {(r.force_code, r.financial_year): r.sources for r in current.itertuples()}
    per_file = force_year_totals(_by_file(rows)).rename(
        columns={"force_code": "key", "financial_year": "file"}
    )
    years = {label for _, label in totals}
    records = []
    for (code, year), total in sorted(totals.items()):
        name = register.by_code(code).name
        previous_year = Period.parse(year).previous.label
        previous = totals.get((code, previous_year))
        earlier = per_file[
            (per_file["key"] == f"{code}|{year}")
            & ~per_file["file"].isin(winners[(code, year)])
            & (per_file["online_flagged"] != total)
        ]
        restated = "; ".join(
            f"{n:,} in {f}" for f, n in zip(earlier["file"], earlier["online_flagged"], strict=True)
        )
        description = f"{name} {year}: {total:,}"
        if previous is not None:
            description += f" against {previous:,} in {previous_year}"
        if restated:
            description += f"; an earlier return gave {restated}"
        records.append(
            {
                "label": f"{name} {year}",
                "description": description,
                "fold_change": total / previous
                if previous is not None and previous >= 20
                else None,
                "current_total": float(total),
                "restated_from": restated or None,
            }
        )
        following = Period.parse(year).start_year + 1
        next_year = Period(following).label
        if next_year in years and (code, next_year) not in totals:
            records.append(
                {
                    "label": f"{name} {next_year}",
                    "description": f"{name} {next_year}: no figure, after {total:,} in {year}",
                    "fold_change": None,
                    "current_total": None,
                    "restated_from": None,
                }
            )
    return pd.DataFrame.from_records(records, columns=columns).astype(
        {"fold_change": "float64", "current_total": "float64", "restated_from": "str"}
    )


def _by_file(rows: pd.DataFrame) -> pd.DataFrame:
    """Each file's own total per force and year: force_year_totals over a file-level key."""
    return rows.assign(
        force_code=rows["force_code"] + "|" + rows["financial_year"],
        financial_year=rows["source_file"],
    )
