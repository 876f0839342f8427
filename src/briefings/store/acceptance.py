"""Acceptance: what each staged return became once validated, and the accepted tables.

Every raw file gets one ledger entry: accepted, quarantined (with a report in words for the
data steward), a duplicate of bytes or figures already received, or superseded by a later
return for the same force and year (force, year and quarter for Home Office tables). A
refused return that later accepted returns cover, force by force and year by year, says so:
it waits for no steward. The accepted online-flag table keeps every accepted row, superseded
ones included, with when its file was first seen, and the domain's supersession rule picks
the rows that count when it is read, so figures can be rebuilt as of any date. The tables are
written before the ledger, so a run killed in between leaves the old ledger and nothing
half-recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from briefings.atomic import atomic_write
from briefings.domain.returns import RETURN_COLUMNS
from briefings.domain.supersession import (
    HOME_OFFICE_KEYS,
    ONLINE_FLAG_KEYS,
    RESTATED_VALUES,
    ReturnScope,
    latest_by,
    received_by,
    superseding_returns,
    with_total_sources,
)
from briefings.ingest import Kind
from briefings.ingest.home_office import child_sexual_offences, summed_offences
from briefings.journal import Journal
from briefings.journal.decisions import ACCEPT, WITHDRAW, Decision
from briefings.journal.received import everything_received
from briefings.store.layout import DataFolders
from briefings.store.ledger import (
    LedgerEntry,
    Status,
    ledger_copy_metadata,
    ledger_table,
    write_ledger,
)
from briefings.store.parquet import DIGEST_KEY, write_parquet
from briefings.store.staging import StagedReturn, read_staged
from briefings.validation import ValidationOutcome, prepare_for_validation, prepared_together


def accept_returns(
    folders: DataFolders,
    staged: list[StagedReturn],
    outcomes: dict[str, ValidationOutcome],
    decisions: Mapping[str, Decision] | None = None,
) -> list[LedgerEntry]:
    """Record every raw file in the ledger and build the accepted tables from the returns
    that passed: the latest return wins for each force and year (each force, year and
    quarter for Home Office tables); the earlier ones stay on disk, in the ledger and in the
    store. `decisions` (by content: the journal's standing_decisions) are stewards' words:
    a withdrawn return is left out, and a refused one a steward accepted is used when only
    checks a steward may overrule refused it (never a file that could not be read)."""
    decisions = decisions or {}
    entries: list[LedgerEntry] = []
    online: list[tuple[pd.DataFrame, str, str]] = []  # each accepted return, typed at the end
    home_office: list[pd.DataFrame] = []
    primary: dict[str, StagedReturn] = {}
    refused: dict[str, ReturnScope | None] = {}  # by file: what each refused return covers
    # In the order received; of two paths holding the same bytes, the one seen first stays
    # the return's name (a copy made later is the duplicate, whatever it is called).
    for item in sorted(staged, key=lambda s: (s.first_seen, s.seen_here, s.file)):
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
        decision = decisions.get(item.sha256)
        if decision is not None and decision.action == WITHDRAW:
            entries.append(LedgerEntry(item, Status.WITHDRAWN, decision.describe()))
            continue
        accepted_by = decision if decision is not None and decision.action == ACCEPT else None
        if item.read_error:
            detail = item.read_error
            if accepted_by:
                detail += f"; {CANNOT_ACCEPT_UNREAD} ({accepted_by.describe()})"
            entries.append(
                LedgerEntry(item, Status.QUARANTINED, detail, problems=(item.read_error,))
            )
            continue
        outcome = outcomes[item.sha256]
        frame = read_staged(item)
        checked: dict[str, Any] = dict(
            warnings=tuple(w.describe(item.file) for w in outcome.warnings),
            data_docs=outcome.data_docs or "",
            force_codes=_forces_named(frame, item.kind),
        )
        lines = tuple(problem.describe(item.file) for problem in outcome.problems)
        overruled = accepted_by is not None and outcome.steward_may_accept
        if not outcome.passed and not overruled:
            refused[item.file] = _refused_scope(item, frame)
            detail = outcome.summary
            if accepted_by:
                detail += f"; {CANNOT_ACCEPT_CHECKS} ({accepted_by.describe()})"
            entries.append(LedgerEntry(item, Status.QUARANTINED, detail, problems=lines, **checked))
            continue
        if item.kind == Kind.HOME_OFFICE:
            home_office.append(summed_offences(frame, item.file).assign(first_seen=item.first_seen))
        else:
            online.append((frame, item.file, item.first_seen))
        if overruled and accepted_by is not None:
            detail = f"{accepted_by.describe()}; refused by validation: {outcome.summary}"
            entries.append(LedgerEntry(item, Status.ACCEPTED, detail, problems=lines, **checked))
            continue
        entries.append(
            LedgerEntry(item, Status.ACCEPTED, outcome.summary.split(": ", 1)[1], **checked)
        )

    online_rows = _typed_returns(online)
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
    accepted = [
        *_accepted_scopes(online_rows, ONLINE_FLAG_KEYS),
        *_accepted_scopes(_police_force_areas(office_rows), HOME_OFFICE_KEYS),
    ]
    entries = [
        _refusal_superseded(entry, refused.get(entry.file), accepted)
        if entry.status == Status.QUARANTINED
        else entry
        for entry in entries
    ]

    # Everything the journal has received: a return removed from raw/ stays accounted for,
    # even in a ledger rebuilt after processed/ was deleted.
    ledger = ledger_table(folders, entries, everything_received(Journal(folders.journal).open()))
    copy = ledger_copy_metadata(ledger)
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
    write_ledger(folders, ledger)  # last: a run killed before here leaves the old ledger
    return entries


# Why a steward's acceptance did not make a refused return count (the ledger's detail).
CANNOT_ACCEPT_UNREAD = "a steward accepted it, but a file that could not be read stays refused"
CANNOT_ACCEPT_CHECKS = (
    "a steward accepted it, but it stays refused: it failed a check no steward may overrule"
)


# The rows load_accepted_returns gave last, under the digest of the data they were read from
# (the one the table carries): a backfill reads the same store once for every period.
_LOADED: dict[tuple[str, str, str | None], pd.DataFrame] = {}


def load_accepted_returns(folders: DataFolders, as_of: str | None = None) -> pd.DataFrame:
    """The online-flag rows the figures use: the latest return for each force and year (a
    return that restates the same figures does not replace the one first received), with
    the file each force-year total was first received in (`total_source`)."""
    import pyarrow.parquet as pq

    # One open file for the digest and the rows: a table replaced meanwhile (another
    # process's ingest) cannot put its rows under this one's digest.
    with folders.accepted_returns.open("rb") as handle:
        digest = (pq.read_schema(handle).metadata or {}).get(DIGEST_KEY)
        key = (str(folders.accepted_returns.resolve()), digest.decode() if digest else "", as_of)
        loaded = _LOADED.get(key) if digest else None
        if loaded is None:
            handle.seek(0)
            loaded = _latest_returns(pd.read_parquet(handle), as_of)
            if digest:  # a table not written by this store (check_store says) is not kept
                _LOADED.clear()
                _LOADED[key] = loaded
    return loaded.copy(deep=False)  # the caller's own frame (pandas copies on write)


def _latest_returns(rows: pd.DataFrame, as_of: str | None) -> pd.DataFrame:
    current = latest_by(rows, ONLINE_FLAG_KEYS, as_of, values=RESTATED_VALUES)
    if as_of is not None:
        rows = rows[received_by(rows["first_seen"], as_of)]
    return with_total_sources(current, rows)


def load_child_sexual_offences(
    folders: DataFolders, as_of: str | None = None
) -> pd.DataFrame | None:
    """All recorded child sexual offences per force, year and quarter from the Home Office
    tables (None when no table was accepted); with `as_of`, only from the tables received by
    then, so a briefing as of a date never prints a figure published after it."""
    if as_of is None:
        if not folders.child_sexual_offences.exists():
            return None
        return pd.read_parquet(folders.child_sexual_offences)
    if not folders.home_office_offences.exists():
        return None
    current = latest_by(pd.read_parquet(folders.home_office_offences), HOME_OFFICE_KEYS, as_of)
    return child_sexual_offences(current) if not current.empty else None


def typed_return(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """A validated online-flag return in the store's columns, counts as integers."""
    return _typed(prepare_for_validation(frame), file_name)


def _typed(prepared: pd.DataFrame, file_name: str | pd.Series) -> pd.DataFrame:
    """Prepared rows in the store's columns (`file_name`: the return's, or each row's)."""
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


def _typed_returns(returns: list[tuple[pd.DataFrame, str, str]]) -> pd.DataFrame:
    """The accepted online-flag returns (frame, file, first seen) typed (typed_return) with
    when each was first seen, concatenated: typed in one pass over all their rows where
    prepared_together can prepare them together, else one by one."""
    columns = [*RETURN_COLUMNS, "first_seen"]
    if not returns:
        return pd.DataFrame(columns=columns)
    together = prepared_together([frame for frame, _, _ in returns])
    if together is None:
        return pd.concat(
            [typed_return(frame, file).assign(first_seen=when) for frame, file, when in returns],
            ignore_index=True,
        )
    lengths = [len(frame) for frame, _, _ in returns]
    files = pd.Series(np.repeat([file for _, file, _ in returns], lengths), dtype="str")
    seen = pd.Series(np.repeat([when for _, _, when in returns], lengths), dtype="str")
    return _typed(together, files).assign(first_seen=seen)[columns]


def _write_table(target: Path, frame: pd.DataFrame, metadata: dict[bytes, bytes]) -> None:
    """An accepted table, with the ledger's copy in its schema metadata."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_parquet(
        target, table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    )


def _forces_named(frame: pd.DataFrame, kind: str) -> tuple[str, ...]:
    from briefings.reference import force_register

    column = "force_name" if kind == Kind.HOME_OFFICE else "force"
    register = force_register()
    found = {register.find(text) for text in frame[column].dropna().unique()}
    return tuple(sorted(force.code for force in found if force is not None))


def _scope_keys(rows: pd.DataFrame, columns: list[str]) -> frozenset[tuple[str, ...]] | None:
    """The distinct keys of these rows, years as financial years; None if any is missing or
    is not a year (what the return covers cannot then be read)."""
    return _keys_of(rows[columns].drop_duplicates().itertuples(index=False), columns, {})


def _keys_of(
    distinct: Iterable[tuple[Any, ...]], columns: list[str], years: dict[str, str | None]
) -> frozenset[tuple[str, ...]] | None:
    """_scope_keys of these distinct rows; `years`: year labels already parsed (None for
    text that is no year), shared between calls."""
    from briefings.domain.periods import Period, PeriodError

    keys = set()
    for values in distinct:
        if any(pd.isna(value) for value in values):
            return None
        key = dict(zip(columns, (str(value).strip() for value in values), strict=True))
        text = key["financial_year"]
        if text not in years:
            try:
                years[text] = Period.parse(text).label
            except PeriodError:
                years[text] = None
        label = years[text]
        if label is None:
            return None
        key["financial_year"] = label
        keys.add(tuple(key.values()))
    return frozenset(keys)


def _refused_scope(item: StagedReturn, frame: pd.DataFrame) -> ReturnScope | None:
    """What a refused return covers (its forces and years; and quarters, for a Home Office
    table), when every row names a known force and a year; else None."""
    if item.kind == Kind.HOME_OFFICE:
        from briefings.ingest.home_office import classify_forces

        classified = classify_forces(frame["force_name"])
        if classified["force_kind"].isna().any():
            return None
        territorial = classified["force_kind"] == "police force area"
        rows = frame.loc[territorial, ["financial_year", "quarter"]].assign(
            force_code=classified.loc[territorial, "force_code"]
        )
        keys = _scope_keys(rows, HOME_OFFICE_KEYS)
    else:
        keys = _scope_keys(prepare_for_validation(frame), ONLINE_FLAG_KEYS)
    return ReturnScope(item.file, item.first_seen, keys) if keys else None


def refused_force_years(entry: LedgerEntry) -> frozenset[tuple[str, str]]:
    """The (force code, year) pairs a refused online-flag return gives figures for, as far
    as they can be read (none for a file that could not be read, or a Home Office table,
    which is no force's reply)."""
    item = entry.staged
    if entry.status != Status.QUARANTINED or item.kind != Kind.ONLINE_FLAG or not item.staged:
        return frozenset()
    try:
        scope = _refused_scope(item, read_staged(item))
    except (OSError, ValueError, KeyError):
        return frozenset()
    return frozenset((key[0], key[1]) for key in scope.keys) if scope else frozenset()


def _police_force_areas(rows: pd.DataFrame) -> pd.DataFrame:
    """Home Office rows of police force areas (Action Fraud and the like cover no force)."""
    if "police_force_area" not in rows.columns:
        return rows
    return rows[rows["police_force_area"].astype(bool)]


def _accepted_scopes(rows: pd.DataFrame, keys: list[str]) -> list[ReturnScope]:
    """What each accepted return covers (_scope_keys of its rows), in order of file name:
    the distinct keys of every return found at once, not return by return."""
    if rows.empty:
        return []
    rows = rows[rows["source_file"].notna()]  # as groupby leaves out a missing file name
    first_seen = rows.groupby("source_file")["first_seen"].min()
    distinct: dict[Any, list[tuple[Any, ...]]] = {}
    for file, *values in rows[["source_file", *keys]].drop_duplicates().itertuples(index=False):
        distinct.setdefault(file, []).append(tuple(values))
    years: dict[str, str | None] = {}
    scopes = []
    for file in first_seen.index:
        covered = _keys_of(distinct[file], keys, years)
        if covered:
            scopes.append(ReturnScope(str(file), str(first_seen[file]), covered))
    return scopes


def _refusal_superseded(
    entry: LedgerEntry, scope: ReturnScope | None, accepted: list[ReturnScope]
) -> LedgerEntry:
    """A refused return that later accepted returns cover, force by force and year by year,
    says so: it waits for no steward (a corrected return was sent)."""
    later = ", ".join(superseding_returns(scope, accepted))
    if not later:
        return entry
    return replace(entry, detail=f"{entry.detail}; superseded by {later}", superseded_by=later)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _mark_superseded(
    entries: list[LedgerEntry], current: pd.DataFrame, keys: list[str], rows: pd.DataFrame
) -> list[LedgerEntry]:
    """Entries with the rows, periods and forces of their accepted returns, and each return
    none of whose rows are `current` marked superseded (or a duplicate, if it came later and
    only restates figures an earlier return still gives)."""
    if rows.empty:
        return entries
    # Each row in use or not, in one merge: in use when `current` has its key from its file.
    in_use = (
        rows[[*keys, "source_file"]]
        .merge(current[[*keys, "source_file"]].drop_duplicates(), how="left", indicator=True)[
            "_merge"
        ]
        .to_numpy()
        == "both"
    )
    by_file = {
        file: (rows.iloc[positions], in_use[positions])
        for file, positions in rows.groupby("source_file", sort=False).indices.items()
    }
    marked = []
    for entry in entries:
        if entry.status != Status.ACCEPTED or entry.file not in by_file:
            marked.append(entry)
            continue
        mine, kept = by_file[entry.file]
        periods = " ".join(sorted(mine["financial_year"].unique()))
        forces = int(mine["force_code"].nunique())
        if not kept.any():
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
        if not kept.all():
            later = _superseding(mine[~kept], current, keys)
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
