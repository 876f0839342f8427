"""Publish: a period's figures, its briefings rendered (only those that changed) and, holding
the data folder's lock throughout, delivered."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from briefings.cache import cache_key
from briefings.config import get_settings
from briefings.delivery.settings import DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, load_subscriptions
from briefings.domain.briefing import BriefingSettings
from briefings.domain.editions import SentVersion
from briefings.domain.figures import PeriodFigures, compute_period_figures, periods_with_data
from briefings.domain.periods import (
    Period,
    PeriodError,
    UnfinishedPeriodError,
)
from briefings.domain.style import plural
from briefings.journal import journal_path
from briefings.journal.deliveries import read_sent_versions
from briefings.reference import child_population, force_register
from briefings.render.publication import (
    MANIFEST_JSON,
    PreparedBriefing,
    needs_rendering,
    planned_briefings,
    prepare_briefings,
    printed_figures,
    publish_rendered,
    read_manifest,
    remove_leftovers,
    remove_stale_briefings,
    write_figures_json,
    write_manifest,
)
from briefings.services import receipts
from briefings.services.delivering import (
    deliver,
)
from briefings.services.journal_guard import (
    open_journal,
)
from briefings.services.runs import (
    LOCAL,
    IngestResult,
    OutOfDate,
    Publication,
    RequestError,
    RunError,
    Runner,
    RunRequest,
    RunSummary,
    cache_of,
    outbox_dir,
    writing,
)
from briefings.store import (
    DataFolders,
    LedgerEntry,
    store_lock,
    store_state,
)

if TYPE_CHECKING:
    from briefings.services.receipts import Receipt


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

    from briefings.store import load_accepted_returns, load_child_sexual_offences

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
        raise RequestError(str(error)) from None
    if chosen not in available:
        listed = ", ".join(p.label for p in available)
        raise RequestError(f"no accepted returns for {chosen.label}; periods with data: {listed}")
    # As of a date, only the Home Office tables received by then.
    home_office = load_child_sexual_offences(folders, as_of)
    return compute_period_figures(
        returns, chosen, force_register(), threshold, child_population(), home_office
    )


# Render --------------------------------------------------------------------------------------


def render_briefings(
    figures: PeriodFigures,
    force_codes: list[str] | None,
    ledger: list[LedgerEntry],
    out_dir: Path,
    settings: BriefingSettings,
    force_render: bool = False,
    runner: Runner = LOCAL,
    folder: str | None = None,
    sent: Mapping[str, Sequence[SentVersion]] | None = None,
    as_of: str | None = None,
    ahead: Callable[[], list[PreparedBriefing]] | None = None,
) -> Publication:
    """Render the briefings whose inputs changed since the last publication (all of them
    with force_render), publish them together, then write figures.json and manifest.json,
    in <out_dir>/<folder> (default the period's slug, 2016-17). `sent`: the versions of each
    PDF sent before (by `as_of`, if given), which decide each briefing's edition. `ahead`:
    what prepares the briefings this process renders next (briefings_ahead)."""
    logger = runner.log
    period_dir = out_dir / (folder or figures.period.slug)
    briefings = planned_briefings(figures, force_codes)
    prepared = prepare_briefings(briefings, figures, settings, ledger, sent, as_of)
    previous = read_manifest(period_dir)
    for leftover in remove_leftovers(period_dir):
        logger.info("Removed %s, left by a run that was stopped", leftover.name)
    pending = pending_briefings(prepared, period_dir, previous, force_render)
    logger.info(what_renders(len(pending), len(prepared)))
    rendered: list[Path] = []
    if pending:
        rendered = publish_rendered(runner.render(pending, period_dir, ahead), period_dir)
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


def pending_briefings(
    prepared: list[PreparedBriefing], period_dir: Path, previous: dict[str, Any], force_render: bool
) -> list[PreparedBriefing]:
    """The briefings to render: all with force_render, else those whose inputs changed since
    the PDF on disk was published (manifest.json's `previous`)."""
    return [p for p in prepared if force_render or needs_rendering(p, period_dir, previous)]


def briefings_ahead(
    request: RunRequest,
    folders: DataFolders,
    settings: BriefingSettings,
    force_codes: list[str] | None,
    ledger: list[LedgerEntry],
    channel: str,
) -> list[PreparedBriefing]:
    """The briefings the run of `request.next_period` will render, prepared as it will prepare
    them if nothing changes before it starts (the same returns, ledger, settings, journal and
    published PDFs): what a runner may render ahead. That run prepares its own, and uses one
    rendered ahead only where its PDF name and inputs hash are the same."""
    assert request.next_period is not None
    figures = period_figures(
        folders, request.next_period, settings.small_number_threshold, request.as_of
    )
    folder = publication_folder(figures.period, request.as_of)
    sent = read_sent_versions(journal_path(request.data_dir), channel, figures.period.slug)
    briefings = planned_briefings(figures, force_codes)
    prepared = prepare_briefings(briefings, figures, settings, ledger, sent, request.as_of)
    period_dir = request.out_dir / folder
    return pending_briefings(prepared, period_dir, read_manifest(period_dir), request.force_render)


def what_renders(pending: int, briefings: int) -> str:
    """The log line that says how many of a period's briefings render in this run."""
    if pending == 0:
        return "No briefing changed since the last publication: nothing to render"
    if pending == briefings:  # a first publication, or every briefing changed or forced
        return f"Rendering {plural(briefings, 'briefing')}"
    return f"{pending} of {briefings} briefings changed since the last publication; rendering them"


# Publish -------------------------------------------------------------------------------------


def publish(request: RunRequest, runner: Runner = LOCAL) -> RunSummary:
    """From the returns in <data_dir>/raw/ to the period's PDF briefings, figures.json and
    manifest.json, then (unless asked not to) delivery to the subscribers."""
    folders = DataFolders(request.data_dir)
    # A rerun that finds every input as the last publication of this request left them is
    # given that publication again (services/receipts.py): there is nothing to read, check,
    # compute or render, so neither the configuration nor the reference tables are loaded.
    again = receipts.unchanged(folders, request)
    # Every file comms teams edit, and the environment, checked before any work: a mistake
    # stops the run here, not after the briefings were rendered.
    settings = _briefing_settings() if again is None else None
    transport = DeliverySettings.from_settings(get_settings(), outbox_dir(request.out_dir))
    if request.deliver:
        load_subscriptions(DEFAULT_SUBSCRIPTIONS)
    force_codes = _force_codes(request) if again is None else None
    open_journal(request.data_dir, request.out_dir, runner)  # a damaged one stops us here
    with store_lock(folders):  # one run at a time updates a data folder
        if again is not None:  # still as it was? (another run may have ended since)
            again = receipts.unchanged(folders, request)
            if again is None:
                settings, force_codes = _briefing_settings(), _force_codes(request)
        if again is not None:
            ingested, figures, publication = _publish_again(again, folders, runner)
            out_of_date = list(again.out_of_date)
        else:
            assert settings is not None
            ingested, figures, publication, out_of_date = _publish_afresh(
                request, folders, settings, force_codes, transport.channel, runner
            )
        for stale in out_of_date:
            runner.log.warning("Published earlier, now out of date: %s", stale.describe())
        # Still holding the lock: a second run must not render new PDFs while these are being
        # sent, or a message would carry bytes other than the version the journal records.
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
        out_of_date=out_of_date,
    )


def _briefing_settings() -> BriefingSettings:
    from briefings.render.pdf import load_settings

    return load_settings()


def _force_codes(request: RunRequest) -> list[str] | None:
    register = force_register()
    return [register.resolve(name).code for name in request.forces] if request.forces else None


def _publish_afresh(
    request: RunRequest,
    folders: DataFolders,
    settings: BriefingSettings,
    force_codes: list[str] | None,
    channel: str,
    runner: Runner,
) -> tuple[IngestResult, PeriodFigures, Publication, list[OutOfDate]]:
    """Ingest what is new, the period's figures, the briefings whose inputs changed, the
    other periods published with figures that have changed since; and what a rerun that
    finds nothing new needs (receipts.keep)."""
    from briefings.services.ingesting import ingest_locked, tell_stewards

    if request.force_render:
        runner.expect_rendering()
    ingested = ingest_locked(folders, runner=runner, briefings_follow=True)
    # Refused returns are a data problem, told whatever becomes of the rest of the run.
    tell_stewards(ingested.needs_attention, request.data_dir, request.out_dir, runner)
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
            register = force_register()
            names = ", ".join(register.by_code(code).name for code in missing)
            raise RequestError(f"no accepted return for {names} in {figures.period.label}")
    folder = publication_folder(figures.period, request.as_of)
    # Editions count what was sent on the channel this run delivers through.
    sent = read_sent_versions(journal_path(request.data_dir), channel, figures.period.slug)
    ahead = None
    if request.next_period is not None:
        ahead = functools.partial(
            briefings_ahead, request, folders, settings, force_codes, ingested.ledger, channel
        )
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
            sent,
            request.as_of,
            ahead,
        )
    runner.published(publication, figures)
    out_of_date = []
    # A publication of the latest period (what the schedule runs) looks at the other periods
    # published; one asked for by name, or as of a date, does not.
    others = other_publications(request.out_dir, figures.period)
    if request.period is None and request.as_of is None and others:
        out_of_date = runner.step(
            "check other periods",
            published_out_of_date,
            folders,
            others,
            settings,
            ingested.ledger,
            channel,
            request.out_dir,
        )
    receipts.keep(folders, request, ingested, figures, publication, tuple(out_of_date))
    return ingested, figures, publication, out_of_date


def other_publications(out_dir: Path, latest: Period) -> dict[Period, dict[str, Any]]:
    """Each period published under `out_dir` other than `latest` (its own folder, not one of
    figures as of a date): the figures each of its PDFs was published with (manifest.json).
    Most are earlier; one published later has lost the returns it was published from (a
    return removed or withdrawn since), or `latest` would be it."""
    found = {}
    for manifest_path in sorted(out_dir.glob(f"*/{MANIFEST_JSON}")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            period = Period.parse(manifest["period"])
            published = {entry["pdf"]: entry["figures"] for entry in manifest["briefings"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a publication of ours (or an unreadable one): nothing to compare
        if manifest_path.parent.name == period.slug and period != latest:
            found[period] = published
    return found


def undeliverable(data_dir: Path, period_dir: Path) -> str | None:
    """Why the briefings published in `period_dir` must not be sent, or None: the period has
    no accepted returns any more (taken out of raw/, or withdrawn, since it was published, as
    the last ingest found), so they rest on nothing. A period whose figures have changed since
    is named by the scheduled run instead (its briefings are sent as published)."""
    from briefings.store import load_accepted_returns

    folders = DataFolders(data_dir)
    try:
        period = Period.parse(period_dir.name)
    except PeriodError:  # figures as of a date, which are never sent
        return None
    if not folders.accepted_returns.exists():
        return None
    if period in periods_with_data(load_accepted_returns(folders)):
        return None
    return (
        f"{period.label} has no accepted returns now (taken out of {folders.raw} or withdrawn "
        f"since it was published): its briefings in {period_dir} can no longer be given, and "
        "none is sent"
    )


def published_out_of_date(
    folders: DataFolders,
    published_periods: Mapping[Period, Mapping[str, Any]],
    settings: BriefingSettings,
    ledger: list[LedgerEntry],
    channel: str,
    out_dir: Path,
) -> list[OutOfDate]:
    """The periods published (other_publications) whose briefings would now print other
    figures than they were published with (a force restated an earlier year in a later
    return, or a later Home Office table restated a year), or could not be published at all
    (the returns they were published from are gone). Never published again or removed
    unasked (a restatement or a removal may itself be a mistake a steward should see); said,
    with what to do."""
    stale = []
    for period, published in sorted(published_periods.items()):
        sent = read_sent_versions(journal_path(folders.root), channel, period.slug)
        try:
            figures = period_figures(folders, period.label, settings.small_number_threshold)
        except (RunError, RequestError) as error:
            pdfs = tuple(sorted(published))
            stale.append(
                OutOfDate(
                    period.label,
                    pdfs,
                    str(error),
                    folder=str(out_dir / period.slug),
                    sent=sum(1 for pdf in pdfs if sent.get(pdf)),
                )
            )
            continue
        now = {
            item.briefing.pdf_name: printed_figures(item.context)
            for item in prepare_briefings(
                planned_briefings(figures, None), figures, settings, ledger, sent
            )
        }
        changed = tuple(pdf for pdf, shown in sorted(published.items()) if now.get(pdf) != shown)
        if changed:
            stale.append(OutOfDate(period.label, changed))
    return stale


def _publish_again(
    receipt: Receipt, folders: DataFolders, runner: Runner
) -> tuple[IngestResult, PeriodFigures, Publication]:
    """The last publication of the same request, every input being as it left them: one
    step says that no raw file changed and gives ingest's result as it stands; the figures
    and the briefings are those published."""
    ingested = runner.step("ingest returns", receipts.say_nothing_new, receipt, folders, runner.log)
    runner.ingested(ingested, again=True)
    runner.log.info(what_renders(0, len(receipt.publication.pdfs)))
    runner.published(receipt.publication, receipt.figures, again=True)
    return ingested, receipt.figures, receipt.publication


def publication_folder(period: Period, as_of: str | None) -> str:
    """Where a period's briefings go under the output folder: 2016-17 for the current
    figures; 2016-17-as-of-2017-06-01 for the figures as they stood on a date, so a look at
    the past never replaces, withdraws or re-sends what was published."""
    if as_of is None:
        return period.slug
    return f"{period.slug}-as-of-" + re.sub(r"[^0-9A-Za-z]+", "-", as_of).strip("-")
