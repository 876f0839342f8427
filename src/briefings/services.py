"""What the application does, as plain functions: ingest, publish, deliver, backfill.

The Prefect flows (flows/), the command line and the tests all call these. Nothing here knows
Prefect: how each step runs (in this process, or as a task run a steward can watch and
retry), how briefings render (one after another here, or in a pool of processes or on a Dask
cluster) and how a message is handed to the transport (with retries) is the `Runner`'s
business. `LocalRunner` runs everything here, in order; flows/pipeline.py has the Prefect one.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
from pydantic import BaseModel, Field, field_validator

from briefings.cache import Cache, cache_key
from briefings.config import get_settings
from briefings.delivery.compose import OutgoingMessage, quarantine_notice
from briefings.delivery.ledger import AlreadySentError, DeliveryLedger
from briefings.delivery.plan import DeliverySummary
from briefings.delivery.sending import deliver_publication, notify_stewards
from briefings.delivery.settings import DeliverySettings, DeliverySettingsError
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, load_subscriptions
from briefings.delivery.transport import SendError, UnknownOutcomeError, transport_for
from briefings.domain.briefing import BriefingSettings
from briefings.domain.figures import PeriodFigures, compute_period_figures, periods_with_data
from briefings.domain.periods import (
    AsOfError,
    Period,
    PeriodError,
    UnfinishedPeriodError,
    parse_as_of,
    periods_between,
)
from briefings.domain.supersession import (
    HOME_OFFICE_KEYS,
    ONLINE_FLAG_KEYS,
    RESTATED_VALUES,
    latest_by,
    replaced_by,
)
from briefings.ingest import Kind
from briefings.journal import Journal, JournalError
from briefings.journal.decisions import (
    Supersession,
    notified_refusals,
    record_notified,
    record_supersessions,
    settled_refusals,
)
from briefings.reference import child_population, force_register
from briefings.render.pdf import load_settings
from briefings.render.publication import (
    PreparedBriefing,
    needs_rendering,
    planned_briefings,
    prepare_briefings,
    publish_rendered,
    read_manifest,
    remove_leftovers,
    remove_stale_briefings,
    render_prepared,
    rendering_dir,
    write_figures_json,
    write_manifest,
)
from briefings.store import (
    DataFolders,
    LedgerEntry,
    StagedReturn,
    Status,
    accept_returns,
    clear_derived,
    load_accepted_returns,
    read_staged,
    stage_raw_files,
    store_checks,
    store_lock,
    store_state,
)
from briefings.validation import ValidationOutcome

T = TypeVar("T")
log = logging.getLogger("briefings")


class RunError(RuntimeError):
    """A run that cannot produce what was asked for; the message is for the person who asked."""


class RunRequest(BaseModel):
    """What to publish: one period (default the latest with data), some or all forces."""

    data_dir: Path = Field(description="Folder holding raw/ (returns) and processed/")
    out_dir: Path = Field(description="Briefings go to <out_dir>/<period-slug>/")
    period: str | None = Field(default=None, description="Financial year like 2016/17")
    forces: list[str] | None = Field(default=None, description="Force names or ONS codes")
    as_of: str | None = Field(
        default=None,
        description="Use only returns first seen by this date (YYYY-MM-DD), or by this time "
        "(ISO 8601 with its offset, as the ledger's first_seen)",
    )
    force_render: bool = Field(
        default=False, description="Render every briefing, even those whose inputs are unchanged"
    )
    deliver: bool = Field(
        default=True,
        description="Email the briefings to subscribers (reports/config/subscriptions.yaml); "
        "without SMTP settings in the environment, write them to the outbox",
    )

    @field_validator("period")
    @classmethod
    def _a_financial_year(cls, value: str | None) -> str | None:
        try:
            return None if value is None else Period.parse(value).label
        except PeriodError as error:
            raise ValueError(str(error)) from None

    @field_validator("as_of")
    @classmethod
    def _a_date(cls, value: str | None) -> str | None:
        # Parsed here, so a run never compares '20170601' with received times as text.
        if value is None:
            return None
        try:
            parse_as_of(value, times=True)
        except AsOfError as error:
            raise ValueError(str(error)) from None
        return value.strip()


@dataclass(frozen=True)
class IngestResult:
    ledger: list[LedgerEntry]
    warnings: list[str]  # checks across returns and per-return warnings, for stewards
    data_docs: str | None = None  # the Data Docs page of the checks across returns
    # Refused returns waiting for a person: neither covered by a later accepted return nor
    # acknowledged by a steward in the journal (see waiting_for_a_person).
    needs_attention: list[LedgerEntry] = field(default_factory=list)

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]


@dataclass(frozen=True)
class Publication:
    period_dir: Path
    pdfs: list[Path]  # every briefing of this run, rendered now or unchanged
    rendered: list[Path]  # those rendered by this run
    withdrawn: list[Path]
    figures_json: Path
    manifest: Path


@dataclass(frozen=True)
class RunSummary:
    period: str
    period_dir: Path
    pdfs: list[Path]
    figures_json: Path
    ledger: list[LedgerEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rendered: list[Path] = field(default_factory=list)  # the PDFs this run rendered
    manifest: Path | None = None
    delivery: DeliverySummary | None = None
    needs_attention: list[LedgerEntry] = field(default_factory=list)  # see IngestResult

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]


# How steps run -------------------------------------------------------------------------------

# status ("sent", "undelivered", or "unknown": given to the server, not confirmed), attempts,
# error
SendOutcome = tuple[str, int, str]


class Runner(Protocol):
    """How the services' steps run. Each method has a plain meaning; a runner decides where."""

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter[Any]: ...

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run one named step (ingest returns, validate returns, compute figures)."""
        ...

    def render(self, pending: list[PreparedBriefing], period_dir: Path) -> list[Path]:
        """Render the briefings into the period's .rendering/ folder; the paths written."""
        ...

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        """Hand one message to the transport, retrying as the settings say."""
        ...

    def secret(self, name: str) -> str:
        """The value of a named secret (the SMTP password's Secret block)."""
        ...

    def ingested(self, result: IngestResult) -> None:
        """Ingest's outcome, for the stewards (artifacts in the Prefect UI)."""
        ...

    def published(self, publication: Publication, figures: PeriodFigures) -> None:
        """A publication's outcome, for the stewards."""
        ...


class LocalRunner:
    """Everything in this process, in order; retries of a send wait between attempts."""

    log: logging.Logger | logging.LoggerAdapter[Any] = log

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)

    def render(self, pending: list[PreparedBriefing], period_dir: Path) -> list[Path]:
        return render_batch(pending, period_dir)

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        attempts = len(settings.retry_delays) + 1
        for delay in [*settings.retry_delays, None]:
            try:
                return send_once(message, ledger_path, settings, self.log)
            except SendError as error:
                if delay is None:
                    return "undelivered", attempts, str(error)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt returns either way

    def secret(self, name: str) -> str:
        raise DeliverySettingsError(
            f"BRIEFINGS_SMTP_PASSWORD_BLOCK names the Secret block '{name}', which only a "
            "Prefect run can load: run `briefings run`, or set BRIEFINGS_SMTP_PASSWORD"
        )

    def ingested(self, result: IngestResult) -> None:
        pass

    def published(self, publication: Publication, figures: PeriodFigures) -> None:
        pass


def send_once(
    message: OutgoingMessage,
    ledger_path: Path,
    settings: DeliverySettings,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> SendOutcome:
    """One attempt to hand one message over (`ledger_path`: the data folder's journal):
    ("sent", attempt, "") once accepted, attempt 0 when it was sent before. The journal says
    'sending' before the transport is called and 'sent' after it returns. A failure is
    recorded 'undelivered' and raised as SendError (a retry may help); a server that was
    given the whole message and did not confirm it is recorded 'unknown' and returned as
    ("unknown", attempt, why), never retried: it may have delivered it."""
    ledger = DeliveryLedger(ledger_path)
    try:
        attempt = ledger.claim(settings.channel, message)
    except AlreadySentError as settled:
        logger.info("Already %s to %s: %s", settled.status, message.recipient_name, message.subject)
        return settled.status, 0, ""
    try:
        transport_for(settings).send(message)
    except UnknownOutcomeError as error:
        ledger.mark_unknown(settings.channel, message, str(error))
        logger.warning("Attempt %d to %s: %s", attempt, message.recipient_name, error)
        return "unknown", attempt, str(error)
    except Exception as error:  # every failure is recorded, so nothing is lost
        reason = str(error) if isinstance(error, SendError) else f"{type(error).__name__}"
        ledger.mark_undelivered(settings.channel, message, reason)
        logger.warning("Attempt %d to %s failed: %s", attempt, message.recipient_name, reason)
        raise SendError(reason) from None
    try:
        ledger.mark_sent(settings.channel, message)
    except JournalError as error:
        # Do not raise: a retry would send it twice. The row stays 'sending', and the next
        # run sends it once more under the same Message-ID (see briefings/delivery/ledger.py).
        logger.error("Sent to %s but not recorded (%s)", message.recipient_name, error)
    logger.info(
        "Sent %s to %s <%s> (%s): %s",
        message.kind,
        message.recipient_name,
        message.recipient_email,
        message.message_id,
        ", ".join(message.pdfs) or message.subject,
    )
    return "sent", attempt, ""


LOCAL = LocalRunner()


# Where things go ---------------------------------------------------------------------------


def outbox_dir(out_dir: Path) -> Path:
    """Where messages go without SMTP: beside the briefings (reports/out -> reports/outbox)."""
    return out_dir.parent / "outbox"


def out_dir_beside(data_dir: Path) -> Path:
    """Briefings of a data folder with no out_dir given: <data>/../reports/out, as the
    project lays them out (data/ -> reports/out/); only ingest, whose notices go to the
    outbox beside it, uses this."""
    return data_dir.parent / "reports" / "out"


def delivery_ledger(data_dir: Path) -> Path:
    """What each subscriber was sent: the data folder's journal, <data>/state/journal.sqlite
    (never under processed/, which is rebuildable)."""
    from briefings.journal import journal_path

    return journal_path(data_dir)


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@contextmanager
def writing(what: str) -> Iterator[None]:
    """A full disk (or a file size limit) said in one line naming what was being written.
    Every file is written to a temporary name and renamed, the ledger and manifest last, so
    what is there is whole: the last complete run's, and the next run finishes the work."""
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        raise RunError(
            f"could not write {what}: {os.strerror(error.errno)}; files already there are "
            "whole, and the next run with room finishes the work"
        ) from None


def cache_of(folders: DataFolders) -> Cache:
    """The data folder's cache: processed/cache/."""
    return Cache(folders.cache)


# Ingest --------------------------------------------------------------------------------------


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
) -> IngestResult:
    """Ingest, for a caller that holds the data folder's lock."""
    with writing(f"the store in {folders.processed}"):
        if rebuild:
            clear_derived(folders)
        reading = {"progress": progress} if progress else {}
        staged = runner.step(
            "ingest returns", stage_raw_files, folders, now=now, rebuild=rebuild, **reading
        )
        runner.log.info("Found %d raw files in %s", len(staged), folders.raw)
        result = runner.step("validate returns", validate_and_accept, folders, staged, runner.log)
    # Not part of the cached result: a steward's decision changes it, not the raw files.
    result = replace(result, needs_attention=waiting_for_a_person(result.ledger, folders.root))
    record_replacements(folders, result.ledger)
    runner.ingested(result)
    return result


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
) -> IngestResult:
    """Run each kind's Great Expectations suite over what is new, write the accepted tables
    and the ledger, and run the checks across returns. Reused whole while no raw file, suite,
    reference table or code changed and the store is as this left it."""
    cache = cache_of(folders)
    reused = cache.get("ingest", "results", ingest_key(folders, staged))
    if reused is not None:
        result: IngestResult = reused
        logger.info("No raw file has changed since the last run: the store stands as it was")
    else:
        entries = accept_returns(folders, staged, validated(folders, staged))
        checks = store_checks(pd.read_parquet(folders.accepted_returns))
        store = validated_store(folders, checks) if not checks.empty else None
        warnings = [w.describe("Accepted returns") for w in store.warnings] if store else []
        warnings += [warning for entry in entries for warning in entry.warnings]
        result = IngestResult(entries, warnings, store.data_docs if store else None)
        # Keyed on the store as now written: the next run with nothing new computes this key.
        cache.put("ingest", "results", ingest_key(folders, staged), result)
    for entry in result.ledger:
        if entry.status == Status.QUARANTINED:
            logger.warning("Quarantined %s: %s", entry.file, entry.detail)
        else:
            logger.info("%s %s: %s", entry.status.capitalize(), entry.file, entry.detail)
    for warning in result.warnings:
        logger.warning("Warning: %s", warning)
    return result


def ingest_key(folders: DataFolders, staged: list[StagedReturn]) -> str:
    """Everything ingest's results depend on: the raw files as staged (names, hashes, first
    seen, whether still arriving), the suites' run-time parameters, and the store as it is."""
    from briefings.validation import expectation_parameters

    return cache_key(
        [asdict(item) for item in staged], expectation_parameters(), store_state(folders)
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


class JournalUnavailable(RunError):
    """The journal cannot be opened: the run stopped before anything was published or sent,
    and the stewards were told without it."""


def open_journal(data_dir: Path, out_dir: Path, runner: Runner = LOCAL) -> Journal:
    """The data folder's journal, opened (and quick-checked) before a run does anything. A
    damaged or unreadable journal stops the run; the stewards are told straight through the
    transport, since the notices' own record lives in the journal."""
    try:
        journal = Journal.of(data_dir)
        check_journal_not_lost(journal, DataFolders(data_dir))
        return journal
    except JournalError as error:
        tell_stewards_without_journal(
            "Briefings: the journal cannot be read; nothing was published or sent",
            f"A run on {data_dir} stopped before doing anything: {error}.\n"
            "Nothing was published or sent. `briefings journal check` says what is wrong; "
            "restore the journal from its latest backup (docs/operators.md) and run again.",
            out_dir,
            runner,
        )
        raise JournalUnavailable(str(error)) from None


STARTED_OVER = "started_over"


def check_journal_not_lost(journal: Journal, folders: DataFolders) -> None:
    """A journal that has never received anything, beside a store that has (a ledger in
    processed/), was deleted or emptied: running on would send every subscriber everything
    again and date every return today. Stop, unless a steward chose to start over."""
    from briefings.journal.received import nothing_received

    if folders.ledger.exists() and nothing_received(journal) and not journal.meta(STARTED_OVER):
        raise JournalError(
            f"the journal {journal.path} is new or empty, but {folders.ledger} shows earlier "
            "runs: nothing was published or sent; restore the journal from its backup, or, if "
            "it is lost for good, `briefings journal start-over` (every subscriber is then "
            "sent the current briefings, and returns are dated by the next run)"
        )


def start_journal_over(data_dir: Path, reason: str, who: str) -> Journal:
    """A steward's decision to go on with a new journal after the old one was lost."""
    from briefings.journal.core import now

    journal = Journal.of(data_dir)
    journal.set_meta(STARTED_OVER, f"{now()} by {who}: {' '.join(reason.split())}")
    return journal


def tell_stewards_without_journal(subject: str, text: str, out_dir: Path, runner: Runner) -> None:
    """A notice handed to the transport directly, recorded nowhere: for when the journal,
    which records notices, is what failed. Sent again by each run until it is repaired."""
    from briefings.delivery.compose import compose_notice
    from briefings.delivery.sending import sender_address, with_password

    try:
        settings = with_password(
            DeliverySettings.from_settings(get_settings(), outbox_dir(out_dir)), runner.secret
        )
        transport = transport_for(settings)
        sender = sender_address(settings, "Briefings")
        for steward in load_subscriptions(DEFAULT_SUBSCRIPTIONS).stewards:
            transport.send(compose_notice(steward, subject, text, sender))
    except Exception as error:  # the run's own failure is what matters: say this and go on
        runner.log.error("Could not tell the stewards (%s): %s", type(error).__name__, error)


# Figures -------------------------------------------------------------------------------------


def period_figures(
    folders: DataFolders, period: str | None, threshold: int, as_of: str | None = None
) -> PeriodFigures:
    """Force, regional and national figures for the period (default the latest with data),
    from the latest accepted returns; reused while the store, reference data and code are
    unchanged."""
    # The default period is the latest that has ended: it changes with the calendar.
    ended = Period.latest_ended(date.today()).label
    key = cache_key(store_state(folders), period, threshold, as_of, ended)
    name = f"{(period or 'latest').replace('/', '-')}-{as_of or 'now'}"
    return cache_of(folders).get_or_compute(
        "figures", name, key, lambda: _period_figures(folders, period, threshold, as_of)
    )


def _period_figures(
    folders: DataFolders, period: str | None, threshold: int, as_of: str | None
) -> PeriodFigures:
    returns = load_accepted_returns(folders, as_of)
    today = date.today()
    # Figures are published for whole financial years only: a year still running is never
    # the default, and asking for it is refused by name.
    available = [p for p in periods_with_data(returns) if p.has_ended(today)]
    if not available:
        raise RunError(
            f"no accepted returns in {folders.raw} for a financial year that has ended: "
            "nothing to publish"
        )
    try:
        chosen = Period.parse(period).ended_by(today) if period else available[-1]
    except UnfinishedPeriodError as error:
        raise RunError(str(error)) from None
    if chosen not in available:
        listed = ", ".join(p.label for p in available)
        raise RunError(f"no accepted returns for {chosen.label}; periods with data: {listed}")
    home_office = (
        pd.read_parquet(folders.child_sexual_offences)
        if folders.child_sexual_offences.exists()
        else None
    )
    return compute_period_figures(
        returns, chosen, force_register(), threshold, child_population(), home_office
    )


# Render --------------------------------------------------------------------------------------


def render_batch(batch: list[PreparedBriefing], period_dir: Path) -> list[Path]:
    """Some briefings, one after another in this process (fonts and styles loaded once),
    into the period's .rendering/ folder. A PDF is written whole or not at all."""
    rendered = []
    for item in batch:
        with writing(f"{item.briefing.pdf_name} in {period_dir}"):
            rendered.append(render_prepared(item, rendering_dir(period_dir)))
    return rendered


def render_briefings(
    figures: PeriodFigures,
    force_codes: list[str] | None,
    ledger: list[LedgerEntry],
    out_dir: Path,
    settings: BriefingSettings,
    force_render: bool = False,
    runner: Runner = LOCAL,
    folder: str | None = None,
) -> Publication:
    """Render the briefings whose inputs changed since the last publication (all of them
    with force_render), publish them together, then write figures.json and manifest.json,
    in <out_dir>/<folder> (default the period's slug, 2016-17)."""
    logger = runner.log
    period_dir = out_dir / (folder or figures.period.slug)
    briefings = planned_briefings(figures, force_codes)
    prepared = prepare_briefings(briefings, figures, settings, ledger)
    previous = read_manifest(period_dir)
    for leftover in remove_leftovers(period_dir):
        logger.info("Removed %s, left by a run that was stopped", leftover.name)
    pending = [p for p in prepared if force_render or needs_rendering(p, period_dir, previous)]
    logger.info(
        "%d of %d briefings changed since the last publication; rendering them",
        len(pending),
        len(prepared),
    )
    rendered: list[Path] = []
    if pending:
        rendered = publish_rendered(runner.render(pending, period_dir), period_dir)
    withdrawn = []
    if force_codes is None:
        withdrawn = remove_stale_briefings(period_dir, briefings)
        for stale in withdrawn:
            logger.info("Withdrew %s: no figures for that force now", stale.name)
    kept = {} if force_codes is None else previous
    kept = {name: entry for name, entry in kept.items() if (period_dir / name).is_file()}
    manifest = write_manifest(prepared, figures, settings, period_dir, keep=kept)
    figures_json = write_figures_json(figures, period_dir)
    return Publication(
        period_dir=period_dir,
        pdfs=[period_dir / b.pdf_name for b in briefings],
        rendered=rendered,
        withdrawn=withdrawn,
        figures_json=figures_json,
        manifest=manifest,
    )


# Publish -------------------------------------------------------------------------------------


def publish(request: RunRequest, runner: Runner = LOCAL) -> RunSummary:
    """From the returns in <data_dir>/raw/ to the period's PDF briefings, figures.json and
    manifest.json, then (unless asked not to) delivery to the subscribers."""
    folders = DataFolders(request.data_dir)
    # Every file comms teams edit, and the environment, checked before any work: a mistake
    # stops the run here, not after the briefings were rendered.
    settings = load_settings()
    transport = DeliverySettings.from_settings(get_settings(), outbox_dir(request.out_dir))
    if request.deliver:
        load_subscriptions(DEFAULT_SUBSCRIPTIONS)
    register = force_register()
    force_codes = (
        [register.resolve(name).code for name in request.forces] if request.forces else None
    )
    open_journal(request.data_dir, request.out_dir, runner)  # a damaged one stops us here
    with store_lock(folders):  # one run at a time updates a data folder
        ingested = ingest_locked(folders, runner=runner)
        figures = runner.step(
            "compute figures",
            period_figures,
            folders,
            request.period,
            settings.small_number_threshold,
            request.as_of,
        )
        if force_codes:
            responding = {f.force.code for f in figures.forces}
            missing = [code for code in force_codes if code not in responding]
            if missing:
                names = ", ".join(register.by_code(code).name for code in missing)
                raise RunError(f"no accepted return for {names} in {figures.period.label}")
        folder = publication_folder(figures.period, request.as_of)
        with writing(f"the briefings in {request.out_dir / folder}"):
            publication = render_briefings(
                figures,
                force_codes,
                ingested.ledger,
                request.out_dir,
                settings,
                request.force_render,
                runner,
                folder,
            )
        runner.published(publication, figures)
        # Still holding the lock: a second run must not render new PDFs while these are being
        # sent, or a message would carry bytes other than the version the journal records.
        tell_stewards(ingested.needs_attention, request.data_dir, request.out_dir, runner)
        delivery = None
        if request.deliver and request.as_of is not None:
            runner.log.info(
                "Not delivered: briefings as of %s show the figures as they stood then, beside "
                "the current ones (%s); they are never sent",
                request.as_of,
                publication.period_dir,
            )
        elif request.deliver:
            delivery = deliver(
                publication.period_dir,
                request.data_dir,
                outbox_dir(request.out_dir),
                runner,
                transport,
            )
    return RunSummary(
        figures.period.label,
        publication.period_dir,
        publication.pdfs,
        publication.figures_json,
        ingested.ledger,
        ingested.warnings,
        rendered=publication.rendered,
        manifest=publication.manifest,
        delivery=delivery,
        needs_attention=ingested.needs_attention,
    )


def publication_folder(period: Period, as_of: str | None) -> str:
    """Where a period's briefings go under the output folder: 2016-17 for the current
    figures; 2016-17-as-of-2017-06-01 for the figures as they stood on a date, so a look at
    the past never replaces, withdraws or re-sends what was published."""
    if as_of is None:
        return period.slug
    return f"{period.slug}-as-of-" + re.sub(r"[^0-9A-Za-z]+", "-", as_of).strip("-")


# Deliver -------------------------------------------------------------------------------------


def deliver(
    period_dir: Path,
    data_dir: Path,
    outbox: Path,
    runner: Runner = LOCAL,
    transport: DeliverySettings | None = None,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
) -> DeliverySummary:
    """Send each subscriber the briefings of this publication whose current version is not
    the one they were last sent (SMTP from the environment, else .eml files in `outbox`),
    as the data folder's journal records. The caller holds the data folder's lock."""
    summary = deliver_publication(
        period_dir,
        subscriptions_file=subscriptions_file,
        ledger_path=delivery_ledger(data_dir),
        transport_settings=transport or DeliverySettings.from_settings(get_settings(), outbox),
        send=runner.send,
        load_secret=runner.secret,
        logger=runner.log,
    )
    return summary


# Backfill ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillResult:
    ingested: IngestResult
    published: list[RunSummary]
    skipped: list[str]  # periods without accepted returns
    failed: dict[str, str]  # period -> why it was not published


def backfill(
    data_dir: Path,
    out_dir: Path,
    first: Period,
    last: Period,
    *,
    deliver: bool = True,
    runner: Runner = LOCAL,
    ingest_returns: Callable[[Path], IngestResult] | None = None,
    publish_period: Callable[[RunRequest], RunSummary] | None = None,
    announce: Callable[[str], None] = lambda line: None,
    before_publishing: Callable[[IngestResult], None] = lambda ingested: None,
) -> BackfillResult:
    """Publish every period from `first` to `last` that has accepted returns; the others are
    skipped. `ingest_returns` and `publish_period` ingest and publish one period (default:
    ingest() and publish() with this runner; the flows pass themselves)."""
    from briefings.config import ConfigurationError

    publish_one = publish_period or (lambda request: publish(request, runner))
    ingested = (ingest_returns or (lambda folder: ingest(folder, runner=runner)))(data_dir)
    before_publishing(ingested)
    folders = DataFolders(data_dir)
    returns = load_accepted_returns(folders) if folders.accepted_returns.exists() else None
    available = set(periods_with_data(returns)) if returns is not None else set()
    available = {period for period in available if period.has_ended(date.today())}
    wanted = periods_between(first, last)
    todo = [period for period in wanted if period in available]
    if not todo:
        listed = ", ".join(p.label for p in sorted(available)) or "none"
        raise RunError(
            f"no accepted returns from {first.label} to {last.label}; periods with data: {listed}"
        )
    published, skipped, failed = [], [], {}
    for period in wanted:
        if period not in available:
            skipped.append(period.label)
            announce(f"Skipped {period.label}: no accepted returns")
            continue
        announce(f"Publishing {period.label} ({todo.index(period) + 1} of {len(todo)})")
        request = RunRequest(
            data_dir=data_dir, out_dir=out_dir, period=period.label, deliver=deliver
        )
        try:
            published.append(publish_one(request))
        except (RunError, ConfigurationError, FileNotFoundError) as error:
            failed[period.label] = str(error)
    return BackfillResult(ingested, published, skipped, failed)
