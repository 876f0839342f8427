"""Ingest: raw files staged, validated and accepted (reused whole while nothing changed),
and what of it waits for a person."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from briefings.cache import cache_key
from briefings.config import get_settings
from briefings.delivery.compose import quarantine_notice
from briefings.delivery.sending import notify_stewards
from briefings.delivery.settings import DeliverySettings
from briefings.domain.supersession import (
    HOME_OFFICE_KEYS,
    ONLINE_FLAG_KEYS,
    RESTATED_VALUES,
    latest_by,
    replaced_by,
)
from briefings.ingest import Kind
from briefings.journal import Journal
from briefings.journal.decisions import (
    Decision,
    Supersession,
    notified_refusals,
    record_notified,
    record_supersessions,
    settled_refusals,
    standing_decisions,
)
from briefings.services.journal_guard import (
    open_journal,
)
from briefings.services.runs import (
    LOCAL,
    IngestResult,
    Runner,
    cache_of,
    delivery_ledger,
    log,
    out_dir_beside,
    outbox_dir,
    writing,
)
from briefings.store import (
    DataFolders,
    LedgerEntry,
    StagedReturn,
    Status,
    accept_returns,
    clear_derived,
    read_staged,
    stage_raw_files,
    store_checks,
    store_lock,
    store_state,
)
from briefings.validation import ValidationOutcome


def ingest(
    data_dir: Path,
    *,
    rebuild: bool = False,
    runner: Runner = LOCAL,
    now: datetime | None = None,
    progress: Callable[[list[Path]], Any] | None = None,
    notify: bool = True,
) -> IngestResult:
    """Ingest and validate what is new in <data_dir>/raw/ (everything again with rebuild),
    holding the data folder's lock; stewards are told of newly refused returns."""
    folders = DataFolders(data_dir)
    open_journal(data_dir, out_dir_beside(data_dir), runner)  # a damaged one stops us here
    with store_lock(folders):
        result = ingest_locked(folders, rebuild=rebuild, runner=runner, now=now, progress=progress)
    if notify:
        tell_stewards(result.needs_attention, data_dir, out_dir_beside(data_dir), runner)
    return result


def ingest_locked(
    folders: DataFolders,
    *,
    rebuild: bool = False,
    runner: Runner = LOCAL,
    now: datetime | None = None,
    progress: Callable[[list[Path]], Any] | None = None,
    briefings_follow: bool = False,
) -> IngestResult:
    """Ingest, for a caller that holds the data folder's lock. When a return is new, Great
    Expectations is imported in the background while the files are read and, if
    `briefings_follow` (a publication), the runner readies its render workers."""

    def new_content() -> None:
        import_validation_meanwhile()
        if briefings_follow:
            runner.expect_rendering()

    with writing(f"the store in {folders.processed}"):
        if rebuild:
            clear_derived(folders)
        reading = {"progress": progress} if progress else {}
        staged = runner.step(
            "ingest returns",
            stage_raw_files,
            folders,
            now=now,
            rebuild=rebuild,
            new_content=new_content,
            **reading,
        )
        runner.log.info("Found %d raw files in %s", len(staged), folders.raw)
        # Stewards' decisions that change which figures count (accepted, withdrawn returns).
        decided = standing_decisions(Journal.of(folders.root))
        result = runner.step(
            "validate returns", validate_and_accept, folders, staged, runner.log, decided
        )
    # Not part of the cached result: a steward's decision changes it, not the raw files.
    result = replace(
        result,
        needs_attention=waiting_for_a_person(result.ledger, folders.root),
        data_dir=folders.root,
    )
    record_replacements(folders, result.ledger)
    runner.ingested(result)
    return result


def import_validation_meanwhile() -> None:
    """Great Expectations takes seconds to import: a run that has new returns to validate
    starts importing it in a thread while it reads them (validation waits for the thread,
    if it gets there first)."""
    from briefings.validation import import_great_expectations

    threading.Thread(
        target=import_great_expectations, name="import-great-expectations", daemon=True
    ).start()


def record_replacements(folders: DataFolders, ledger: list[LedgerEntry]) -> None:
    """Which accepted return supersedes which, for which forces and years (and quarters),
    into the journal, by content: recorded once, the first time a run sees it."""
    contents = {entry.file: entry.staged.sha256 for entry in ledger}
    found: dict[tuple[str, str], frozenset[tuple[str, ...]]] = {}
    tables = [
        (folders.accepted_returns, ONLINE_FLAG_KEYS, RESTATED_VALUES),
        (folders.home_office_offences, HOME_OFFICE_KEYS, None),
    ]
    for table, keys, values in tables:
        if table.exists():
            rows = pd.read_parquet(
                table, columns=[*keys, *(values or []), "source_file", "first_seen"]
            )
            found |= replaced_by(rows, latest_by(rows, keys, values=values), keys)
    replacements = [
        Supersession(contents[later], contents[earlier], later, earlier, tuple(sorted(keys)))
        for (later, earlier), keys in sorted(found.items())
        if later in contents and earlier in contents
    ]
    if replacements:
        record_supersessions(Journal.of(folders.root), replacements)


def validate_and_accept(
    folders: DataFolders,
    staged: list[StagedReturn],
    logger: logging.Logger | logging.LoggerAdapter[Any] = log,
    decisions: Mapping[str, Decision] | None = None,
) -> IngestResult:
    """Run each kind's Great Expectations suite over what is new, write the accepted tables
    and the ledger, and run the checks across returns. Reused whole while no raw file, suite,
    reference table, steward's decision (accepted or withdrawn returns) or code changed and
    the store is as this left it."""
    decisions = decisions or {}
    cache = cache_of(folders)
    reused = cache.get("ingest", "results", ingest_key(folders, staged, decisions))
    if reused is not None:
        result: IngestResult = reused
        logger.info("No raw file has changed since the last run: the store stands as it was")
    else:
        entries = accept_returns(folders, staged, validated(folders, staged), decisions)
        checks = store_checks(pd.read_parquet(folders.accepted_returns))
        store = validated_store(folders, checks) if not checks.empty else None
        warnings = [w.describe("Accepted returns") for w in store.warnings] if store else []
        warnings += [warning for entry in entries for warning in entry.warnings]
        result = IngestResult(entries, warnings, store.data_docs if store else None)
        # Keyed on the store as now written: the next run with nothing new computes this key.
        cache.put("ingest", "results", ingest_key(folders, staged, decisions), result)
    result.tell(logger)
    return result


def ingest_key(
    folders: DataFolders,
    staged: list[StagedReturn],
    decisions: Mapping[str, Decision] | None = None,
) -> str:
    """Everything ingest's results depend on: the raw files as staged (names, hashes, first
    seen, whether still arriving), the suites' run-time parameters, stewards' decisions that
    change which figures count, and the store as it is."""
    from briefings.validation import expectation_parameters

    decisions = decisions or {}
    decided = [asdict(decisions[sha256]) for sha256 in sorted(decisions)]
    return cache_key(
        [asdict(item) for item in staged], expectation_parameters(), store_state(folders), decided
    )


def validated(folders: DataFolders, staged: list[StagedReturn]) -> dict[str, ValidationOutcome]:
    """Each readable file's validation outcome, by content hash: reused while neither the file
    nor its suite changed; the others validated together, one Great Expectations run per kind
    for the returns that pass cleanly (see briefings.validation.validate_returns)."""
    from briefings.validation import suite_fingerprint, validate_returns

    cache = cache_of(folders)
    outcomes: dict[str, ValidationOutcome] = {}
    pending: dict[Kind, dict[str, StagedReturn]] = {}
    kinds = {Kind(item.kind) for item in staged if item.staged is not None}
    keys = {kind: cache_key(suite_fingerprint(kind)) for kind in kinds}  # read once per kind
    for item in staged:
        if item.staged is None or item.sha256 in outcomes:
            continue
        kind = Kind(item.kind)
        saved = cache.get("validation", item.sha256, keys[kind])
        if saved is not None:
            outcomes[item.sha256] = saved
        else:
            pending.setdefault(kind, {})[item.sha256] = item
    for kind, items in pending.items():
        frames = {item.file: read_staged(item) for item in items.values()}
        results = validate_returns(frames, kind, folders.validation)
        for sha256, item in items.items():
            outcomes[sha256] = results[item.file]
            cache.put("validation", sha256, keys[kind], outcomes[sha256])
    return outcomes


def validated_store(folders: DataFolders, checks: pd.DataFrame) -> ValidationOutcome:
    """The checks across returns, run again only when the accepted figures or the suite
    changed (Great Expectations costs seconds to start; a rerun with nothing new should not)."""
    from briefings.validation import STORE_CHECKPOINT, suite_fingerprint, validate_store

    digest = int(pd.util.hash_pandas_object(checks.astype(str), index=False).sum())
    return cache_of(folders).get_or_compute(
        "validation",
        "store",
        cache_key(f"{digest:x}", suite_fingerprint(STORE_CHECKPOINT)),
        lambda: validate_store(checks, folders.validation),
    )


def waiting_for_a_person(ledger: list[LedgerEntry], data_dir: Path) -> list[LedgerEntry]:
    """The refused returns a person still has to act on: those no later accepted return
    covers, force by force and year by year (acceptance says which are covered), and that no
    steward has acknowledged or withdrawn (the journal's decisions)."""
    refused = [e for e in ledger if e.status == Status.QUARANTINED and not e.superseded_by]
    if not refused:
        return []
    settled = settled_refusals(Journal.of(data_dir))
    return [e for e in refused if e.staged.sha256 not in settled]


def tell_stewards(
    refused: list[LedgerEntry], data_dir: Path, out_dir: Path, runner: Runner = LOCAL
) -> None:
    """Refused returns waiting for a person, by email (or the outbox) to the stewards: each
    return once (by content, recorded in the journal), so a new refusal does not repeat the
    earlier ones."""
    if not refused:
        return
    journal = Journal.of(data_dir)
    told = notified_refusals(journal)
    new = [e for e in refused if e.staged.sha256 not in told]
    new = list({e.staged.sha256: e for e in new}.values())  # one entry per content
    if not new:
        return
    settings = DeliverySettings.from_settings(get_settings(), outbox_dir(out_dir))
    subject, text = quarantine_notice([(e.file, e.detail) for e in new])
    summary = notify_stewards(
        subject,
        text,
        ledger_path=delivery_ledger(data_dir),
        transport_settings=settings,
        send=runner.send,
        load_secret=runner.secret,
    )
    # Left undelivered, the notice is not marked: the next run sends it again.
    if not summary.undelivered:
        record_notified(journal, [(e.staged.sha256, e.file) for e in new])
