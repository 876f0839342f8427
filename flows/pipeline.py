"""The Prefect flows: ingest-returns and publish-briefings.

Thin: each flow calls one service (briefings.services) with a `PrefectRunner`, which runs the
services' steps as task runs a steward can watch, renders briefings on a process pool or a
Dask cluster, sends each message as a task run with retries, and leaves artifacts.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prefect import Flow, Task, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.states import Failed, State
from prefect.utilities.annotations import quote

from briefings import services
from briefings.config import get_settings
from briefings.domain.figures import PeriodFigures
from briefings.domain.style import plural
from briefings.journal import Journal, JournalError, journal_path
from briefings.render.engines import (
    Engine,
    LocalPool,
    RenderWorkersLost,
    engine_for,
    warm_local_pool,
)
from briefings.render.publication import PreparedBriefing, rendering_dir
from briefings.resources import DEFAULT_DATA_DIR
from briefings.services import (
    IngestResult,
    OutOfDate,
    Publication,
    RunError,
    RunRequest,
    RunSummary,
    SendOutcome,
    out_dir_beside,
    outbox_dir,
)
from briefings.store import LedgerEntry, Status
from flows.states import (
    NEEDS_ATTENTION,
    StewardFlow,
    attention_result,
    needs_attention,
    steward_flow,
)

if TYPE_CHECKING:  # delivery is imported by the runs that deliver
    from briefings.delivery.compose import OutgoingMessage
    from briefings.delivery.settings import DeliverySettings

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "NEEDS_ATTENTION",
    "RunError",
    "StewardFlow",
    "attention_result",
    "RunRequest",
    "RunSummary",
    "ingest_new_returns",
    "publish_briefings",
]


class PrefectRunner:
    """The services' steps as Prefect task runs, rendering on a task runner, sends with
    Prefect's retries, and artifacts for the stewards."""

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter[Any]:
        return get_run_logger()

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        stopped: list[BaseException] = []

        @functools.wraps(function)
        def explaining(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as error:
                if not services.explained(error):
                    raise
                # The task run fails with the message, not a traceback; the flow says why.
                stopped.append(error)
                return Failed(message=str(error))

        step: Task[..., T] = Task(explaining, name=name, cache_policy=NO_CACHE)
        # quote: a step is given values, never futures; Prefect need not look through them
        # (a ledger, a period's figures) for any to wait for.
        result = step(*map(quote, args), **{key: quote(value) for key, value in kwargs.items()})
        if stopped:
            raise stopped[0]
        return result

    def render(
        self,
        pending: list[PreparedBriefing],
        period_dir: Path,
        ahead: Callable[[], list[PreparedBriefing]] | None = None,
    ) -> list[Path]:
        from prefect.futures import wait

        engine = render_engine(len(pending))
        if engine is None:
            return render_batch(pending, period_dir)
        handed, claimed = 0, 0
        if isinstance(engine, LocalPool):
            handed, claimed = engine.tally
            dropped = engine.keep_ahead(pending)
            if dropped:
                self.log.info(
                    "%s rendered ahead of this run not used: their inputs have changed since",
                    plural(dropped, "briefing"),
                )
        # Largest first, dealt round-robin, so batches take similar time. Each batch is a task
        # run in this process that sends its briefings to the engine's workers.
        ordered = sorted(pending, key=lambda p: TEMPLATE_COST[p.briefing.scope], reverse=True)
        batches = [ordered[i :: engine.batches] for i in range(engine.batches)]
        # quote: Prefect need not look through the briefings for futures to wait for.
        futures = [
            render_elsewhere.submit(quote(batch), period_dir, quote(engine))  # type: ignore[call-overload]
            for batch in batches
            if batch
        ]
        try:
            if ahead is not None and isinstance(engine, LocalPool):
                # While the workers render these, the next period's briefings are prepared
                # and queued behind them (briefings.render.engines.LocalPool.render_ahead).
                render_ahead(engine, ahead, handed + len(pending), self.log)
            wait(futures)  # every batch ends (rendered, failed or retried) before we go on
            paths = [path for future in futures for path in future.result()]
            if isinstance(engine, LocalPool) and engine.claimed > claimed:
                self.log.info(
                    "%s of %s rendered ahead, while the previous period's were finishing",
                    engine.claimed - claimed,
                    plural(len(pending), "briefing"),
                )
            return paths
        except RenderWorkersLost as error:
            raise RunError(
                f"{error} while rendering {period_dir}; manifest.json is unchanged and the "
                "next run renders those briefings again"
            ) from None
        finally:
            engine.done()

    def expect_rendering(self) -> None:
        warm_render_workers()

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        from flows.delivery import send_with_retries

        return send_with_retries(message, ledger_path, settings)

    def secret(self, name: str) -> str:
        from flows.delivery import load_secret_block

        return load_secret_block(name)

    def ingested(self, result: IngestResult, again: bool = False) -> None:
        publish_validation_artifacts(result, again)

    def published(
        self, publication: Publication, figures: PeriodFigures, again: bool = False
    ) -> None:
        publish_artifacts(publication, figures, again)


PREFECT = PrefectRunner()


class _NoEmptyTraceback(logging.Filter):
    """Prefect logs a task run that ends in a Failed state it returned (a step stopped by a
    failure its message explains) with exc_info=True outside any exception, which prints
    'NoneType: None' under the message; the message is all there is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info == (None, None, None):
            record.exc_info = None
        return True


logging.getLogger("prefect.task_runs").addFilter(_NoEmptyTraceback())


def notify_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """on_failure / on_crashed: tell the stewards, through the run's own outbox and ledger,
    unless the run was started by hand and stopped by its starter's mistake (see
    flows.delivery.stewards_should_hear)."""
    from flows.delivery import steward_failure_hook, stewards_should_hear

    if state.name == NEEDS_ATTENTION:  # told of each refused return once, and reminded by
        return  # the Automation in prefect.yaml (flows/stewards.py); the run did its work
    if not stewards_should_hear(flow_run, state):
        return
    parameters = flow_run.parameters or {}
    request = parameters.get("request") or {}
    data_dir = Path(request.get("data_dir") or parameters.get("data_dir") or DEFAULT_DATA_DIR)
    out_dir = Path(request.get("out_dir") or out_dir_beside(data_dir))
    try:
        if journal_path(data_dir).exists():
            Journal(journal_path(data_dir)).open()
    except JournalError:  # the run told the stewards itself, without the journal
        return
    hook = steward_failure_hook(
        ledger_path=services.delivery_ledger(data_dir), outbox_dir=outbox_dir(out_dir)
    )
    hook(flow, flow_run, state)


def stopped(error: Exception) -> State:
    """The state of a run stopped by a failure its message explains (services.explained):
    Failed, named for a user's mistake, with the message and no traceback in the logs.
    Calling the flow raises the error again, for the command line to say in one line."""
    from briefings.store import StoreBusyError
    from flows.delivery import BUSY, INVALID_REQUEST

    name = "Failed"
    if isinstance(error, StoreBusyError):
        name = BUSY
    elif services.users_mistake(error):
        name = INVALID_REQUEST
    return Failed(name=name, message=str(error), data=error)


def finished(
    result: T,
    waiting: list[LedgerEntry],
    unknown_messages: int = 0,
    out_of_date: list[OutOfDate] | None = None,
) -> T | State:
    """The run's result, or, when something waits for a person (a refused return that no
    corrected return covers and no steward has acknowledged; a message that may or may not
    have reached its subscriber; a period published before, now out of date), a Failed state
    named NeedsAttention saying what: the
    Prefect UI shows it red, never as a plain success, and the Automation in prefect.yaml
    tells the stewards. Schedules keep running: no flow here is retried, and a deployment's
    next run does not depend on how the last one ended."""
    reasons = []
    if waiting:
        files = ", ".join(e.file for e in waiting)
        reasons.append(f"{plural(len(waiting), 'return')} quarantined: {files}")
    if unknown_messages:
        reasons.append(
            f"{plural(unknown_messages, 'message')} whose delivery is unknown (the relay went "
            "silent "
            "after the message was sent): not sent again until a steward checks"
        )
    reasons += [f"published earlier, now out of date: {p.describe()}" for p in out_of_date or ()]
    if not reasons:
        return result
    message = "; ".join(reasons)
    return needs_attention(message, result)


@steward_flow(name="ingest-returns", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_new_returns(data_dir: Path, rebuild: bool = False) -> IngestResult | State:
    """Ingest and validate what is new in data/raw/ (or everything again, with rebuild)."""
    try:
        summary = services.ingest(data_dir, rebuild=rebuild, runner=PREFECT, progress=_progress)
    except Exception as error:
        if not services.explained(error):
            raise
        return stopped(error)
    open_reviews(data_dir, summary.needs_attention)
    return finished(summary, summary.needs_attention)


@steward_flow(
    name="publish-briefings",
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def publish_briefings(request: RunRequest) -> RunSummary | State:
    """From the returns in data/raw/ to the period's PDF briefings and figures.json. A
    refused return does not hold the run up: it publishes without it, and a review of the
    return opens as a run of its own (flows/stewards.py)."""
    try:
        summary = services.publish(request, runner=PREFECT)
    except Exception as error:
        if not services.explained(error):
            raise
        return stopped(error)
    open_reviews(request.data_dir, summary.needs_attention)
    unknown = len(summary.delivery.unknown) if summary.delivery else 0
    return finished(summary, summary.needs_attention, unknown, summary.out_of_date)


def open_reviews(data_dir: Path, waiting: list[LedgerEntry]) -> None:
    """A review run (flows/stewards.py) for each refused return waiting for a person."""
    if not waiting:  # nothing to review (and the reviews' code is not imported for nothing)
        return
    from flows.stewards import open_reviews as open_them

    open_them(data_dir, waiting)


def _progress(files: list[Path]) -> Any:
    """A progress bar over the raw files when a person watches the terminal."""
    import sys

    from rich.progress import track

    return track(
        files, description="Reading returns", disable=not sys.stderr.isatty(), transient=True
    )


# Rendering on a task runner -------------------------------------------------------------------


@task(name="render batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def render_batch(batch: list[PreparedBriefing], period_dir: Path) -> list[Path]:
    """Some briefings in this process, fonts and styles loaded once. Retried once: a PDF is
    rewritten whole, so a retry cannot leave a partial file."""
    return services.render_batch(batch, period_dir)


def _not_lost_workers(task: Task[..., Any], run: Any, state: State) -> bool:
    """Retry a batch unless its workers were lost (a killed worker is not a passing fault:
    the run fails, saying so, and the next run renders those briefings again)."""
    return not isinstance(state.result(raise_on_failure=False), RenderWorkersLost)


@task(
    name="render batch",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=_not_lost_workers,
)
def render_elsewhere(batch: list[PreparedBriefing], period_dir: Path, engine: Engine) -> list[Path]:
    """Some briefings rendered by the engine's workers (a local pool, a Dask cluster), into
    the period's .rendering/ folder."""
    with services.writing(f"the briefings in {period_dir}"):
        return engine.render(batch, rendering_dir(period_dir))


TEMPLATE_COST = {"national": 3, "region": 2, "force": 1}  # rough relative render times


def render_ahead(
    pool: LocalPool,
    ahead: Callable[[], list[PreparedBriefing]],
    after: int,
    log: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Give the pool the next period's briefings (those `ahead` prepares) to render once it has
    been handed `after` briefings. Only a saving: the next period's run prepares its briefings
    itself and claims only those prepared alike (the same PDF, the same inputs hash); so this
    never fails the run, and anything that stops it is logged and left."""
    try:
        upcoming = ahead()
        if upcoming and render_engine(len(upcoming)) is pool:
            pool.render_ahead(upcoming, after)
            log.info(
                "Rendering the next period's %s ahead, behind these",
                plural(len(upcoming), "briefing"),
            )
    except Exception as error:  # the next period's own run meets it again, and says what
        log.info("Not rendering the next period's briefings ahead: %s", error)


def render_engine(pending: int) -> Engine | None:
    """Where `pending` briefings render (briefings.render.engines.engine_for): a Dask cluster
    when BRIEFINGS_DASK_ADDRESS names a scheduler, else the process's pool of
    BRIEFINGS_RENDER_WORKERS processes (default: one per core), or this process (None) for
    fewer than BRIEFINGS_PARALLEL_FROM briefings (default 12) or one worker."""
    settings = get_settings()
    return engine_for(
        pending,
        settings.workers,
        settings.parallel_from,
        settings.dask_address,
        settings.dask_batches,
    )


def warm_render_workers() -> None:
    """Briefings are coming (new returns are being read): start the local pool's workers now,
    so they are ready when the figures are."""
    settings = get_settings()
    warm_local_pool(settings.workers, settings.dask_address)


# Artifacts: what stewards follow in the Prefect UI, under the same keys on every run ----------


def publish_validation_artifacts(result: IngestResult, again: bool = False) -> None:
    """The returns ledger and the validation warnings; `again` (a rerun that found nothing
    new): each only if its latest version does not already show the same."""
    ledger = Shown(
        "returns-ledger",
        kept_ledger_rows(result),
        "Every raw file seen by this run, what needs a person first: its status "
        "and why, the forces it names, its quarantine report and Data Docs page.",
    )
    quarantined = [e for e in result.ledger if e.status == Status.QUARANTINED]
    warnings = result.warnings
    lines = [f"# Validation: {len(quarantined)} quarantined, {len(warnings)} warnings", ""]
    lines += [f"- **Quarantined** `{e.file}`: {e.detail}" for e in quarantined]
    lines += [f"- Warning: {warning}" for warning in warnings]
    if result.data_docs:
        lines += ["", f"Checks across returns: {result.data_docs}"]
    validation = Shown("validation-warnings", "\n".join(lines))
    show(ledger, validation, again=again)


class Shown:
    """An artifact as a steward sees it under its key: a table (rows) or markdown (text)."""

    def __init__(self, key: str, data: list[dict[str, Any]] | str, description: str = ""):
        self.key, self.data, self.description = key, data, description

    def same_as(self, latest: Any) -> bool:
        """Whether `latest` (the server's latest artifact under the key) shows the same."""
        return (
            latest is not None
            and latest.type == ("table" if isinstance(self.data, list) else "markdown")
            and (latest.description or "") == self.description
            and _as_json(latest.data) == _as_json(self.data)
        )

    def create(self) -> None:
        if isinstance(self.data, list):
            create_table_artifact(key=self.key, table=self.data, description=self.description)
        else:
            create_markdown_artifact(key=self.key, markdown=self.data)


def show(*artifacts: Shown, again: bool = False) -> None:
    """Each artifact a new version under its key, in this run; for a rerun that found
    nothing new (`again`), only where the latest version there does not already show the
    same (no copies of the same table: the UI's artifact pages show the latest, still true)."""
    if not again:
        for artifact in artifacts:
            artifact.create()
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    latest: dict[str, Any] = {}
    try:
        # The run's own client (not closed here: the run does that).
        client = get_client(sync_client=True)
        keys = ArtifactCollectionFilterKey(any_=[artifact.key for artifact in artifacts])
        found = client.read_latest_artifacts(artifact_filter=ArtifactCollectionFilter(key=keys))
        latest = {artifact.key: artifact for artifact in found}
    except Exception as error:  # not knowing, show them all
        get_run_logger().debug("Could not read the latest artifacts (%s)", error)
    for artifact in artifacts:
        if not artifact.same_as(latest.get(artifact.key)):
            artifact.create()


def _as_json(data: Any) -> Any:
    """An artifact's data as the server keeps it: a table as JSON text, markdown as text."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return json.loads(json.dumps(data, default=str))


# What a steward looks at first: returns refused, then those decided by a steward, and so on.
STEWARDS_ORDER = (
    Status.QUARANTINED,
    Status.WITHDRAWN,
    Status.INCOMPLETE,
    Status.ACCEPTED,
    Status.SUPERSEDED,
    Status.DUPLICATE,
    Status.MOVED,
    Status.REMOVED,
)


def kept_ledger_rows(result: IngestResult) -> list[dict[str, Any]]:
    """returns_ledger_rows, kept in the data folder's cache under what they are made from:
    the forces are named from the reference tables, which take pandas to read, and a run
    with nothing new shows the same rows."""
    if result.data_dir is None:
        return returns_ledger_rows(result)
    from briefings.cache import cache_key
    from briefings.store import DataFolders

    folders = DataFolders(result.data_dir)
    reports = [
        e.file
        for e in result.ledger
        if e.status == Status.QUARANTINED and folders.quarantine_report(e.file).exists()
    ]
    key = cache_key("returns-ledger rows", str(result.data_dir), repr(result.ledger), reports)
    return services.cache_of(folders).get_or_compute(  # type: ignore[no-any-return]
        "artifacts", "returns-ledger", key, lambda: returns_ledger_rows(result)
    )


def returns_ledger_rows(result: IngestResult) -> list[dict[str, Any]]:
    """The returns-ledger artifact's rows, in a steward's order: status and why first, the
    forces by name, then links to the quarantine report and the Data Docs page (table
    artifacts show markdown links)."""
    from briefings.store import DataFolders

    folders = DataFolders(result.data_dir) if result.data_dir is not None else None
    rows = []
    ordered = sorted(
        result.ledger,
        key=lambda e: STEWARDS_ORDER.index(e.status) if e.status in STEWARDS_ORDER else 9,
    )
    for e in ordered:
        report = folders.quarantine_report(e.file) if folders is not None else None
        rows.append(
            {
                "status": e.status,
                "why": e.detail,
                "file": e.file,
                "forces": force_names(e.force_codes),
                "periods": e.periods,
                "quarantine report": (
                    f"[report]({report.resolve().as_uri()})"
                    if e.status == Status.QUARANTINED and report is not None and report.exists()
                    else ""
                ),
                "data docs": f"[Data Docs]({e.data_docs})" if e.data_docs else "",
                "warnings": len(e.warnings),
                "kind": e.staged.kind or "not recognised",
            }
        )
    return rows


def force_names(codes: tuple[str, ...], shown: int = 3) -> str:
    """Forces by name, a long list cut short: 'Kent, Surrey and Wiltshire', 'Avon and
    Somerset, Bedfordshire, Cambridgeshire and 40 more', 'all 43 forces'."""
    from briefings.reference import force_register

    register = force_register()
    names = sorted(register.by_code(code).name for code in codes)
    if not names:
        return ""
    if len(names) == len(register.forces):
        return f"all {len(names)} forces"
    if len(names) > shown + 1:
        return f"{', '.join(names[:shown])} and {len(names) - shown} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def publish_artifacts(
    publication: Publication, figures: PeriodFigures, again: bool = False
) -> None:
    """One table of every briefing (whether this run rendered it, and a link to it), and the
    figures (for a rerun that found nothing new, `again`, only when the latest version does
    not show them already): at most two artifacts a run, however many PDFs it renders."""
    slug = figures.period.slug
    rendered = {path.name for path in publication.rendered}
    # Every run's own table, even when it rendered nothing: it says what this run did.
    create_table_artifact(
        key=f"briefings-{slug}",
        table=[
            {
                "pdf": path.name,
                "this run": "rendered" if path.name in rendered else "unchanged",
                "path": str(path),
                "link": path.resolve().as_uri(),
            }
            for path in publication.pdfs
        ],
        description=f"Briefings for {figures.period.label}: {len(rendered)} rendered by this "
        f"run, {len(publication.pdfs) - len(rendered)} unchanged.",
    )
    national = figures.national
    table = Shown(
        f"figures-{slug}",
        [
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
        f"Figures for {figures.period.label}: {national.forces_responding} forces "
        f"responding, {national.online_flagged:,} offences with an online flag.",
    )
    show(table, again=again)
