"""The processed store: the ledger of raw files, staged returns and the accepted tables.

data/raw/ is only ever read. Everything under data/processed/ can be rebuilt from it
(`briefings ingest --rebuild`):
- ledger.csv: every raw file with its content hash, size, when first seen, kind and layout,
  and its status (accepted, quarantined, superseded or duplicate) with the reason;
- staged/<sha256>.parquet: each readable file in the canonical layout of its kind;
- quarantine/<file>.txt: for each refused file, what failed, in words;
- online_flag_returns.parquet: every row of every accepted online-flag return, with when its
  file was first seen, so figures can be rebuilt as of any date;
- home_office_offences.parquet and child_sexual_offences.parquet: accepted Home Office tables,
  summed per force, quarter and code, and the child sexual offences derived from them.
Every write goes to a temporary name and is renamed into place; the ledger is written last.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from flows.atomic import atomic_write
from flows.figures import RETURN_COLUMNS
from flows.ingest import Kind, RawFile, ReturnReadError, list_raw_files, read_return
from flows.ingest.home_office import child_sexual_offences, summed_offences
from flows.supersession import latest_by
from flows.validation import ValidationOutcome, prepare_for_validation

LEDGER_COLUMNS = [
    "file", "sha256", "size_bytes", "first_seen", "kind", "layout", "status", "detail", "rows",
    "periods", "forces", "warnings", "data_docs",
]  # fmt: skip
ONLINE_FLAG_KEYS = ["force_code", "financial_year"]
HOME_OFFICE_KEYS = ["financial_year", "quarter"]


class Status:
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"


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
    def validation(self) -> Path:
        """GX results, Data Docs and cached outcomes."""
        return self.processed / "validation"

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


def read_ledger(folders: DataFolders) -> pd.DataFrame:
    if not folders.ledger.exists():
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    ledger = pd.read_csv(folders.ledger, dtype=str, keep_default_na=False)
    for column in LEDGER_COLUMNS:
        if column not in ledger.columns:  # a ledger written by an earlier version
            ledger[column] = ""
    for column in ("file", "detail", "layout", "warnings"):
        ledger[column] = ledger[column].map(_unescape_cell)
    return ledger


def stage_raw_files(
    folders: DataFolders,
    now: datetime | None = None,
    rebuild: bool = False,
    progress: Callable[[Iterable[RawFile]], Iterable[RawFile]] = lambda files: files,
) -> list[StagedReturn]:
    """Read every raw file into the canonical layout of its kind, once per content hash."""
    if not folders.raw.is_dir():
        raise FileNotFoundError(f"no raw/ folder in {folders.root}")
    seen = {(row.file, row.sha256): row.first_seen for row in read_ledger(folders).itertuples()}
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    staged: list[StagedReturn] = []
    done: dict[str, StagedReturn] = {}
    for raw in progress(list_raw_files(folders.raw)):
        first_seen = seen.get((raw.relative, raw.sha256), stamp)
        if raw.sha256 in done:  # the same bytes under another name: read once
            twin = done[raw.sha256]
            staged.append(_with(twin, raw, first_seen))
            continue
        item = _stage(folders, raw, first_seen, rebuild)
        done[raw.sha256] = item
        staged.append(item)
    return staged


def _with(twin: StagedReturn, raw: RawFile, first_seen: str) -> StagedReturn:
    return StagedReturn(
        raw.relative, raw.sha256, raw.size_bytes, first_seen, twin.staged, twin.kind, twin.layout,
        twin.notes, twin.read_error,
    )  # fmt: skip


def _stage(folders: DataFolders, raw: RawFile, first_seen: str, rebuild: bool) -> StagedReturn:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folders.staged(raw.sha256)
    common = dict(
        file=raw.relative, sha256=raw.sha256, size_bytes=raw.size_bytes, first_seen=first_seen
    )
    if target.exists() and not rebuild:
        meta = json.loads(pq.read_schema(target).metadata[b"briefings"])
        return StagedReturn(**common, staged=target, kind=meta["kind"], layout=meta["layout"],
                            notes=tuple(meta["notes"]))  # fmt: skip
    try:
        parsed = read_return(raw.path)
    except ReturnReadError as error:
        return StagedReturn(**common, staged=None, read_error=str(error))
    table = pa.Table.from_pandas(parsed.frame, preserve_index=False)
    meta = {"kind": parsed.kind.value, "layout": parsed.layout, "notes": list(parsed.notes)}
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"briefings": json.dumps(meta)}
    )
    atomic_write(target, lambda path: pq.write_table(table, path))
    return StagedReturn(**common, staged=target, kind=parsed.kind.value, layout=parsed.layout,
                        notes=parsed.notes)  # fmt: skip


def clear_derived(folders: DataFolders) -> None:
    """Remove what ingest derives (staged tables, accepted tables, quarantine reports) so it
    is rebuilt from raw/. The ledger stays, keeping when each file was first seen."""
    import shutil

    for folder in (folders.processed / "staged", folders.processed / "quarantine",
                   folders.validation / "outcomes"):  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
    for path in (
        folders.accepted_returns,
        folders.home_office_offences,
        folders.child_sexual_offences,
    ):
        path.unlink(missing_ok=True)


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
        entries, latest_by(online_rows, ONLINE_FLAG_KEYS), ONLINE_FLAG_KEYS, online_rows
    )
    entries = _mark_superseded(
        entries, latest_by(office_rows, HOME_OFFICE_KEYS), HOME_OFFICE_KEYS, office_rows
    )

    atomic_write(folders.accepted_returns, lambda path: online_rows.to_parquet(path, index=False))
    atomic_write(
        folders.home_office_offences, lambda path: office_rows.to_parquet(path, index=False)
    )
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
    atomic_write(folders.child_sexual_offences, lambda path: children.to_parquet(path, index=False))
    for entry in entries:
        if entry.status == Status.QUARANTINED:
            _write_quarantine_report(folders, entry)
    _write_ledger(folders, entries)  # last: a run killed before here leaves the old ledger
    return entries


def _forces_named(frame: pd.DataFrame, kind: str) -> tuple[str, ...]:
    from flows.reference import force_register

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
            marked.append(replace(entry, status=Status.SUPERSEDED, detail=f"superseded by {later}",
                                  rows=len(mine), periods=periods, forces=forces))  # fmt: skip
            continue
        detail = entry.detail
        lost = mine.merge(kept[keys].drop_duplicates(), on=keys, how="left", indicator=True)
        if (lost["_merge"] == "left_only").any():
            later = _superseding(lost[lost["_merge"] == "left_only"], current, keys)
            detail += f"; some figures superseded by {later}"
        marked.append(replace(entry, detail=detail, rows=len(mine), periods=periods,
                              forces=forces))  # fmt: skip
    return marked


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


def _write_ledger(folders: DataFolders, entries: list[LedgerEntry]) -> None:
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
    table = pd.concat([current, gone], ignore_index=True).sort_values(["first_seen", "file"])
    for column in ("file", "detail", "layout", "warnings"):
        table[column] = table[column].fillna("").map(spreadsheet_safe)
    atomic_write(folders.ledger, lambda path: table.to_csv(path, index=False))


def load_accepted_returns(folders: DataFolders, as_of: str | None = None) -> pd.DataFrame:
    """The online-flag rows the figures use: the latest return for each force and year."""
    return latest_by(pd.read_parquet(folders.accepted_returns), ONLINE_FLAG_KEYS, as_of)


def store_checks(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per force and year for the checks across returns (suite online_flag_store):
    the change from the year before where that year's count is at least 20 (fold_change),
    a force missing for a year after one it reported (current_total is null), and a figure
    an earlier return gave differently for the same force and year (restated_from)."""
    from flows.figures import force_year_totals
    from flows.periods import Period
    from flows.reference import force_register

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
        earlier = per_file[(per_file["key"] == f"{code}|{year}")
                           & ~per_file["file"].isin(winners[(code, year)])
                           & (per_file["online_flagged"] != total)]  # fmt: skip
        restated = "; ".join(
            f"{n:,} in {f}" for f, n in zip(earlier["file"], earlier["online_flagged"], strict=True)
        )
        description = f"{name} {year}: {total:,}"
        if previous is not None:
            description += f" against {previous:,} in {previous_year}"
        if restated:
            description += f"; an earlier return gave {restated}"
        records.append({
            "label": f"{name} {year}",
            "description": description,
            "fold_change": total / previous if previous is not None and previous >= 20 else None,
            "current_total": float(total),
            "restated_from": restated or None,
        })  # fmt: skip
        following = Period.parse(year).start_year + 1
        next_year = Period(following).label
        if next_year in years and (code, next_year) not in totals:
            records.append({
                "label": f"{name} {next_year}",
                "description": f"{name} {next_year}: no figure, after {total:,} in {year}",
                "fold_change": None, "current_total": None, "restated_from": None,
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=columns).astype(
        {"fold_change": "float64", "current_total": "float64", "restated_from": "str"}
    )


def _by_file(rows: pd.DataFrame) -> pd.DataFrame:
    """Each file's own total per force and year: force_year_totals over a file-level key."""
    return rows.assign(
        force_code=rows["force_code"] + "|" + rows["financial_year"],
        financial_year=rows["source_file"],
    )
