"""The Prefect flow: ingest, validate, compute figures, render briefings.

Each task is a thin wrapper over functions that know nothing of Prefect.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed
from pydantic import BaseModel, Field

from briefings.atomic import atomic_write_text
from briefings.domain.briefing import BriefingSettings
from briefings.domain.figures import PeriodFigures, compute_period_figures, periods_with_data
from briefings.domain.periods import Period
from briefings.faults import checkpoint
from briefings.ingest import Kind
from briefings.memo import memo_key, recall, remember, remembered
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
from briefings.resources import DEFAULT_DATA_DIR
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


class RunError(RuntimeError):
    """A run that cannot produce what was asked for; the message is for the person who asked."""


class RunRequest(BaseModel):
    """What to publish: one period (default the latest with data), some or all forces."""

    data_dir: Path = Field(description="Folder holding raw/ (returns) and processed/")
    out_dir: Path = Field(description="Briefings go to <out_dir>/<period-slug>/")
    period: str | None = Field(default=None, description="Financial year like 2016/17")
    forces: list[str] | None = Field(default=None, description="Force names or ONS codes")
    as_of: str | None = Field(
        default=None, description="Use only returns first seen by this date (YYYY-MM-DD)"
    )
    force_render: bool = Field(
        default=False, description="Render every briefing, even those whose inputs are unchanged"
    )
    deliver: bool = Field(
        default=True,
        description="Email the briefings to subscribers (reports/config/subscriptions.yaml); "
        "without SMTP settings in the environment, write them to the outbox",
    )


def outbox_dir(out_dir: Path) -> Path:
    """Where messages go without SMTP: beside the briefings (reports/out -> reports/outbox)."""
    return out_dir.parent / "outbox"


def out_dir_beside(data_dir: Path) -> Path:
    """Briefings of a data folder with no out_dir given: <data>/../reports/out, as the
    project lays them out (data/ -> reports/out/); only a flow without an out_dir (ingest,
    whose notices go to the outbox beside it) uses this."""
    return data_dir.parent / "reports" / "out"


def delivery_ledger(data_dir: Path) -> Path:
    return data_dir / "processed" / "deliveries.sqlite"


def tell_stewards(quarantined: list[LedgerEntry], data_dir: Path, out_dir: Path) -> None:
    """Quarantined returns, by email (or the outbox) to the stewards: once per notice."""
    if not quarantined:
        return
    from briefings.delivery import DeliverySettings, quarantine_notice
    from flows.delivery import notify_stewards

    settings = DeliverySettings.from_env(outbox_dir=outbox_dir(out_dir))
    subject, text = quarantine_notice([(e.file, e.detail) for e in quarantined])
    notify_stewards(
        subject, text, ledger_path=delivery_ledger(data_dir), transport_settings=settings
    )


def notify_failure(flow_, flow_run, state) -> None:
    """on_failure / on_crashed: tell the stewards, through the run's own outbox and ledger."""
    from flows.delivery import steward_failure_hook

    parameters = flow_run.parameters or {}
    request = parameters.get("request") or {}
    data_dir = Path(request.get("data_dir") or parameters.get("data_dir") or DEFAULT_DATA_DIR)
    out_dir = Path(request.get("out_dir") or out_dir_beside(data_dir))
    hook = steward_failure_hook(
        ledger_path=delivery_ledger(data_dir), outbox_dir=outbox_dir(out_dir)
    )
    hook(flow_, flow_run, state)


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
    delivery: object | None = None  # briefings.delivery.DeliverySummary, when delivered

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]


@task(name="ingest returns", cache_policy=NO_CACHE)
def ingest_returns(folders: DataFolders, rebuild: bool = False) -> list[StagedReturn]:
    """Read every raw file into the canonical layout of its kind; raw files are never changed."""
    import sys

    from rich.progress import track

    def progress(files):
        return track(
            files, description="Reading returns", disable=not sys.stderr.isatty(), transient=True
        )

    staged = stage_raw_files(folders, rebuild=rebuild, progress=progress)
    get_run_logger().info("Found %d raw files in %s", len(staged), folders.raw)
    checkpoint("ingest")  # staged, the ledger not yet written (tests/faults/test_kill.py)
    return staged


@dataclass(frozen=True)
class IngestSummary:
    ledger: list[LedgerEntry]
    warnings: list[str]  # checks across returns, for stewards

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]


@task(name="validate returns", cache_policy=NO_CACHE)
def validate_returns(folders: DataFolders, staged: list[StagedReturn]) -> IngestSummary:
    """Run each kind's Great Expectations checkpoint (once per file and suite version), then
    the checks across returns; refused returns are quarantined, warnings reported."""
    logger = get_run_logger()
    memo = folders.memo / "ingest.pickle"
    reused = recall(memo, ingest_key(folders, staged))
    if reused is not None:
        entries, store_warnings, store_docs = reused
        logger.info("No raw file has changed since the last run: the store stands as it was")
    else:
        entries, store_warnings, store_docs = _validate_and_accept(folders, staged)
        # Keyed on the store as now written: the next run with nothing new computes this key.
        remember(memo, ingest_key(folders, staged), (entries, store_warnings, store_docs))
    warnings = list(store_warnings)
    for entry in entries:
        if entry.status == Status.QUARANTINED:
            logger.warning("Quarantined %s: %s", entry.file, entry.detail)
        else:
            logger.info("%s %s: %s", entry.status.capitalize(), entry.file, entry.detail)
        warnings += list(entry.warnings)
    for warning in warnings:
        logger.warning("Warning: %s", warning)
    publish_validation_artifacts(entries, warnings, store_docs)
    return IngestSummary(entries, warnings)


def ingest_key(folders: DataFolders, staged: list[StagedReturn]) -> str:
    """Everything ingest's results depend on: the raw files as staged (names, hashes, first
    seen, whether still arriving), the suites' run-time parameters, and the store as it is."""
    from dataclasses import asdict

    from briefings.validation import expectation_parameters

    return memo_key(
        [asdict(item) for item in staged], expectation_parameters(), store_state(folders)
    )


def _validate_and_accept(
    folders: DataFolders, staged: list[StagedReturn]
) -> tuple[list[LedgerEntry], list[str], str | None]:
    """Validate what is new, write the accepted tables and ledger, run the checks across
    returns: the ledger entries, the cross-return warnings and their Data Docs page."""
    entries = accept_returns(folders, staged, validated(folders, staged))
    checks = store_checks(pd.read_parquet(folders.accepted_returns))
    store = validated_store(folders, checks) if not checks.empty else None
    warnings = [w.describe("Accepted returns") for w in store.warnings] if store else []
    return entries, warnings, store.data_docs if store else None


def validated(folders: DataFolders, staged: list[StagedReturn]) -> dict[str, ValidationOutcome]:
    """Each readable file's validation outcome, by content hash: reused while neither the file
    nor its suite changed; the others validated together, one Great Expectations run per kind
    for the returns that pass cleanly (see briefings.validation.validate_returns)."""
    from briefings.validation import suite_fingerprint, validate_returns

    outcomes: dict[str, ValidationOutcome] = {}
    pending: dict[Kind, dict[str, StagedReturn]] = {}
    kinds = {Kind(item.kind) for item in staged if item.staged is not None}
    fingerprints = {kind: suite_fingerprint(kind) for kind in kinds}  # read once per kind
    for item in staged:
        if item.staged is None or item.sha256 in outcomes:
            continue
        kind = Kind(item.kind)
        saved = saved_outcome(_outcome_path(folders, item), fingerprints[kind])
        if saved is not None:
            outcomes[item.sha256] = saved
        else:
            pending.setdefault(kind, {})[item.sha256] = item
    for kind, items in pending.items():
        frames = {item.file: read_staged(item) for item in items.values()}
        results = validate_returns(frames, kind, folders.validation)
        for sha256, item in items.items():
            outcomes[sha256] = results[item.file]
            save_outcome(_outcome_path(folders, item), fingerprints[kind], outcomes[sha256])
            checkpoint("validate")  # before the accepted tables and the ledger are written
    return outcomes


def _outcome_path(folders: DataFolders, item: StagedReturn) -> Path:
    return folders.validation / "outcomes" / f"{item.sha256}.json"


def validated_store(folders: DataFolders, checks: pd.DataFrame) -> ValidationOutcome:
    """The checks across returns, run again only when the accepted figures or the suite
    changed (Great Expectations costs seconds to start; a rerun with nothing new should not)."""
    from briefings.validation import STORE_CHECKPOINT, suite_fingerprint, validate_store

    digest = int(pd.util.hash_pandas_object(checks.astype(str), index=False).sum())
    return cached_outcome(
        folders.validation / "outcomes" / f"store-{digest:x}.json",
        suite_fingerprint(STORE_CHECKPOINT),
        lambda: validate_store(checks, folders.validation),
    )


def cached_outcome(
    cached: Path, fingerprint: str, validate: Callable[[], ValidationOutcome]
) -> ValidationOutcome:
    """A validation outcome saved beside its suite's fingerprint; run again when that changes."""
    outcome = saved_outcome(cached, fingerprint)
    if outcome is None:
        outcome = validate()
        save_outcome(cached, fingerprint, outcome)
    return outcome


def saved_outcome(cached: Path, fingerprint: str) -> ValidationOutcome | None:
    if cached.exists():
        saved = json.loads(cached.read_text())
        if saved["fingerprint"] == fingerprint:
            return ValidationOutcome.from_json(saved["outcome"])
    return None


def save_outcome(cached: Path, fingerprint: str, outcome: ValidationOutcome) -> None:
    record = json.dumps({"fingerprint": fingerprint, "outcome": outcome.to_json()})
    atomic_write_text(cached, record)


def publish_validation_artifacts(
    entries: list[LedgerEntry], warnings: list[str], store_docs: str | None
) -> None:
    """What stewards follow in the Prefect UI, under the same keys on every run."""
    create_table_artifact(
        key="returns-ledger",
        table=[
            {
                "file": e.file,
                "kind": e.staged.kind or "not recognised",
                "forces": ", ".join(e.force_codes),
                "periods": e.periods,
                "status": e.status,
                "failed expectations": " | ".join(e.problems),
                "warnings": len(e.warnings),
            }
            for e in entries
        ],
        description="Every raw file seen by this run, and what happened to it.",
    )
    quarantined = [e for e in entries if e.status == Status.QUARANTINED]
    lines = [f"# Validation: {len(quarantined)} quarantined, {len(warnings)} warnings", ""]
    lines += [f"- **Quarantined** `{e.file}`: {e.detail}" for e in quarantined]
    lines += [f"- Warning: {warning}" for warning in warnings]
    if store_docs:
        lines += ["", f"Checks across returns: {store_docs}"]
    create_markdown_artifact(key="validation-warnings", markdown="\n".join(lines))


def _ingest(folders: DataFolders, rebuild: bool) -> IngestSummary:
    with writing(f"the store in {folders.processed}"):
        if rebuild:
            clear_derived(folders)
        return validate_returns(folders, ingest_returns(folders, rebuild))


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@contextmanager
def writing(what: str):
    """A full disk (or a file size limit) said in one line naming what was being written.
    Every file is written to a temporary name and renamed, the ledger and manifest last, so
    what is there is whole: the last complete run's, and the next run finishes the work."""
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        import os

        raise RunError(
            f"could not write {what}: {os.strerror(error.errno)}; files already there are "
            "whole, and the next run with room finishes the work"
        ) from None


@flow(name="ingest-returns", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_new_returns(data_dir: Path, rebuild: bool = False) -> IngestSummary:
    """Ingest and validate what is new in data/raw/ (or everything again, with rebuild)."""
    folders = DataFolders(data_dir)
    with store_lock(folders):
        summary = _ingest(folders, rebuild)
    tell_stewards(summary.quarantined, data_dir, out_dir_beside(data_dir))
    return finished(summary, summary.quarantined)


def finished(result: object, quarantined: list[LedgerEntry]) -> object:
    """Completed either way, so schedules keep running; named NeedsAttention when a return
    was refused, so the steward sees it in the Prefect UI."""
    if not quarantined:
        return result
    files = ", ".join(e.file for e in quarantined)
    return Completed(
        name="NeedsAttention",
        message=f"{len(quarantined)} return(s) quarantined: {files}",
        data=result,
    )


@task(name="compute figures", cache_policy=NO_CACHE)
def compute_figures(
    folders: DataFolders, period: str | None, threshold: int, as_of: str | None = None
) -> PeriodFigures:
    """Force and national figures for the period, from the latest accepted returns; reused
    while the accepted tables, reference data and code are unchanged."""
    key = memo_key(store_state(folders), period, threshold, as_of)
    name = f"figures-{(period or 'latest').replace('/', '-')}-{as_of or 'now'}.pickle"
    return remembered(
        folders.memo / name, key, lambda: _period_figures(folders, period, threshold, as_of)
    )


def _period_figures(
    folders: DataFolders, period: str | None, threshold: int, as_of: str | None
) -> PeriodFigures:
    returns = load_accepted_returns(folders, as_of)
    available = periods_with_data(returns)
    if not available:
        raise RunError(f"no accepted returns in {folders.raw}: nothing to publish")
    chosen = Period.parse(period) if period else available[-1]
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


def render_task_runner(pending: int) -> tuple[object | None, int]:
    """Where briefings render: a Dask cluster when BRIEFINGS_DASK_ADDRESS names a scheduler,
    else a pool of BRIEFINGS_RENDER_WORKERS processes (default: one per core), or this
    process for fewer than BRIEFINGS_PARALLEL_FROM briefings (default 12) or one worker."""
    import os

    address = os.environ.get("BRIEFINGS_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        batches = int(os.environ.get("BRIEFINGS_DASK_BATCHES") or 8)
        return DaskTaskRunner(address=address), min(batches, pending)
    workers = min(int(os.environ.get("BRIEFINGS_RENDER_WORKERS") or os.cpu_count() or 1), pending)
    # A worker process costs seconds to start (Prefect, pandas, WeasyPrint imports), a
    # briefing a fraction of one: a handful of briefings renders faster right here.
    if workers <= 1 or pending < int(os.environ.get("BRIEFINGS_PARALLEL_FROM") or 12):
        return None, 1
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers, initializer=end_with_parent), workers


def end_with_parent() -> None:
    """In each render worker: end as soon as the flow's process has ended (killed, say).
    Left alone, a pool's workers outlive it for good, rendering on beside the next run."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


@contextmanager
def api_url_for_workers():
    """Worker processes report to this run's Prefect server, even the temporary one a
    one-off `briefings run` starts (they would otherwise each start their own)."""
    import os

    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.client.orchestration import get_client

    os.environ["PREFECT_API_URL"] = str(get_client().api_url)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


@task(name="render batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def render_batch(batch: list[PreparedBriefing], period_dir: Path) -> list[Path]:
    """Some briefings, one after another in one process (fonts and styles loaded once), into
    the period's .rendering/ folder. Retried once: a PDF is rewritten whole, so a retry
    cannot leave a partial file."""
    rendered = []
    for item in batch:
        with writing(f"{item.briefing.pdf_name} in {period_dir}"):
            rendered.append(render_prepared(item, rendering_dir(period_dir)))
        checkpoint("render")  # a PDF rendered; the others, publishing them, manifest.json not
    return rendered


@flow(name="render-briefings")
def render_in_parallel(
    pending: list[PreparedBriefing], period_dir: Path, batches: int
) -> list[Path]:
    """The briefings that changed, in `batches` batches on the flow's task runner (chosen by
    render_task_runner). Largest first, dealt round-robin, so batches take similar time."""
    ordered = sorted(pending, key=lambda p: TEMPLATE_COST[p.briefing.scope], reverse=True)
    futures = [
        render_batch.submit(ordered[i::batches], period_dir)
        for i in range(batches)
        if ordered[i::batches]
    ]
    return [path for future in futures for path in future.result()]


TEMPLATE_COST = {"national": 3, "region": 2, "force": 1}  # rough relative render times


def render_briefings(
    figures: PeriodFigures,
    force_codes: list[str] | None,
    ledger: list[LedgerEntry],
    out_dir: Path,
    settings: BriefingSettings,
    force_render: bool = False,
) -> Publication:
    """Render the briefings whose inputs changed since the last publication (all of them
    with force_render), then write figures.json and manifest.json beside them."""
    logger = get_run_logger()
    period_dir = out_dir / figures.period.slug
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
    rendered = []
    if pending:
        runner, batches = render_task_runner(len(pending))
        if runner is None:
            rendered = render_batch(pending, period_dir)
        else:
            parallel = render_in_parallel.with_options(task_runner=runner)
            with api_url_for_workers():
                try:
                    rendered = parallel(pending, period_dir, batches)
                except BrokenProcessPool:
                    raise RunError(
                        f"a render worker process ended abruptly (killed, or out of memory) "
                        f"while rendering {period_dir}; manifest.json is unchanged and the next "
                        "run renders those briefings again"
                    ) from None
        rendered = publish_rendered(rendered, period_dir)  # all together, when all are done
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


@dataclass(frozen=True)
class Publication:
    period_dir: Path
    pdfs: list[Path]  # every briefing of this run, rendered now or unchanged
    rendered: list[Path]  # those rendered by this run
    withdrawn: list[Path]
    figures_json: Path
    manifest: Path


def publish_artifacts(publication: Publication, figures: PeriodFigures) -> None:
    """A link per PDF rendered by this run and a table of every briefing, under keys that
    stay the same across runs so stewards can follow them in the Prefect UI."""
    from prefect.artifacts import create_link_artifact

    slug = figures.period.slug
    rendered = {path.name for path in publication.rendered}
    for path in publication.rendered:
        create_link_artifact(
            key=f"briefing-{slug}-{path.stem}",
            link=path.resolve().as_uri(),
            link_text=path.name,
            description=f"Briefing {path.name} for {figures.period.label}, rendered by this run",
        )
    create_table_artifact(
        key=f"briefings-{slug}",
        table=[
            {
                "pdf": path.name,
                "this run": "rendered" if path.name in rendered else "unchanged",
                "path": str(path),
            }
            for path in publication.pdfs
        ],
        description=f"Briefings for {figures.period.label}: {len(rendered)} rendered by this "
        f"run, {len(publication.pdfs) - len(rendered)} unchanged.",
    )
    national = figures.national
    create_table_artifact(
        key=f"figures-{slug}",
        table=[
            {
                "force": f.force.name,
                "region": f.force.region,
                "recorded": "withheld" if f.suppressed else f.count,
                "previous year": (
                    "withheld" if f.previous_suppressed else (f.previous if f.previous else "")
                ),
                "assessment": f.assessment.value,
            }
            for f in figures.forces
        ],
        description=f"Figures for {figures.period.label}: {national.forces_responding} forces "
        f"responding, {national.online_flagged:,} offences with an online flag.",
    )


@flow(
    name="publish-briefings",
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def publish_briefings(request: RunRequest) -> RunSummary:
    """From the returns in data/raw/ to the period's PDF briefings and figures.json."""
    folders = DataFolders(request.data_dir)
    settings = load_settings()  # configuration errors stop the run before any work
    register = force_register()
    force_codes = (
        [register.resolve(name).code for name in request.forces] if request.forces else None
    )
    with store_lock(folders):  # one run at a time updates a data folder
        ingested = _ingest(folders, rebuild=False)
        ledger = ingested.ledger
        figures = compute_figures(
            folders, request.period, settings.small_number_threshold, request.as_of
        )
        if force_codes:
            responding = {f.force.code for f in figures.forces}
            missing = [code for code in force_codes if code not in responding]
            if missing:
                names = ", ".join(register.by_code(code).name for code in missing)
                raise RunError(f"no accepted return for {names} in {figures.period.label}")
        checkpoint("figures")  # figures computed, nothing rendered yet
        with writing(f"the briefings in {request.out_dir / figures.period.slug}"):
            publication = render_briefings(
                figures, force_codes, ledger, request.out_dir, settings, request.force_render
            )
    publish_artifacts(publication, figures)
    tell_stewards(ingested.quarantined, request.data_dir, request.out_dir)
    delivery = None
    if request.deliver:
        from briefings.delivery import DeliverySettings
        from flows.delivery import deliver_publication

        delivery = deliver_publication(
            publication.period_dir,
            ledger_path=delivery_ledger(request.data_dir),
            transport_settings=DeliverySettings.from_env(outbox_dir=outbox_dir(request.out_dir)),
        )
    summary = RunSummary(
        figures.period.label,
        publication.period_dir,
        publication.pdfs,
        publication.figures_json,
        ledger,
        ingested.warnings,
        rendered=publication.rendered,
        manifest=publication.manifest,
        delivery=delivery,
    )
    return finished(summary, summary.quarantined)
