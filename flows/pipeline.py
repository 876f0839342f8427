"""The Prefect flows: ingest-returns and publish-briefings.

Thin: each flow calls one service (briefings.services) with a `PrefectRunner`, which runs the
services' steps as task runs a steward can watch, renders briefings on a process pool or a
Dask cluster, sends each message as a task run with retries, and leaves artifacts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from prefect import Flow, Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, State

from briefings import services
from briefings.config import get_settings
from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.settings import DeliverySettings
from briefings.domain.figures import PeriodFigures
from briefings.journal import Journal, JournalError, journal_path
from briefings.render.publication import PreparedBriefing
from briefings.resources import DEFAULT_DATA_DIR
from briefings.services import (
    IngestResult,
    Publication,
    RunError,
    RunRequest,
    RunSummary,
    SendOutcome,
    out_dir_beside,
    outbox_dir,
)
from briefings.store import LedgerEntry, Status

T = TypeVar("T")

__all__ = [
    "RunError",
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
        step: Task[..., T] = Task(function, name=name, cache_policy=NO_CACHE)
        return step(*args, **kwargs)

    def render(self, pending: list[PreparedBriefing], period_dir: Path) -> list[Path]:
        runner, batches = render_task_runner(len(pending))
        if runner is None:
            return render_batch(pending, period_dir)
        parallel = render_in_parallel.with_options(task_runner=runner)
        with api_url_for_workers():
            try:
                return parallel(pending, period_dir, batches)
            except BrokenProcessPool:
                raise RunError(
                    f"a render worker process ended abruptly (killed, or out of memory) "
                    f"while rendering {period_dir}; manifest.json is unchanged and the next "
                    "run renders those briefings again"
                ) from None

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        from flows.delivery import send_with_retries

        return send_with_retries(message, ledger_path, settings)

    def secret(self, name: str) -> str:
        from flows.delivery import load_secret_block

        return load_secret_block(name)

    def ingested(self, result: IngestResult) -> None:
        publish_validation_artifacts(result)

    def published(self, publication: Publication, figures: PeriodFigures) -> None:
        publish_artifacts(publication, figures)


PREFECT = PrefectRunner()


def notify_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """on_failure / on_crashed: tell the stewards, through the run's own outbox and ledger."""
    from flows.delivery import steward_failure_hook

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


def finished(result: T, waiting: list[LedgerEntry], unknown_messages: int = 0) -> T | State:
    """Completed either way, so schedules keep running; named NeedsAttention when something
    waits for a person (a refused return that no corrected return covers and no steward has
    acknowledged; a message that may or may not have reached its subscriber), so the steward
    sees it in the Prefect UI."""
    reasons = []
    if waiting:
        files = ", ".join(e.file for e in waiting)
        reasons.append(f"{len(waiting)} return(s) quarantined: {files}")
    if unknown_messages:
        reasons.append(
            f"{unknown_messages} message(s) whose delivery is unknown (the relay went silent "
            "after the message was sent): not sent again until a steward checks"
        )
    if not reasons:
        return result
    return Completed(name="NeedsAttention", message="; ".join(reasons), data=result)


@flow(name="ingest-returns", on_failure=[notify_failure], on_crashed=[notify_failure])
def ingest_new_returns(data_dir: Path, rebuild: bool = False) -> IngestResult | State:
    """Ingest and validate what is new in data/raw/ (or everything again, with rebuild)."""
    summary = services.ingest(data_dir, rebuild=rebuild, runner=PREFECT, progress=_progress)
    return finished(summary, summary.needs_attention)


@flow(
    name="publish-briefings",
    log_prints=True,
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def publish_briefings(request: RunRequest) -> RunSummary | State:
    """From the returns in data/raw/ to the period's PDF briefings and figures.json."""
    summary = services.publish(request, runner=PREFECT)
    unknown = len(summary.delivery.unknown) if summary.delivery else 0
    return finished(summary, summary.needs_attention, unknown)


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
    """Some briefings in one process, fonts and styles loaded once. Retried once: a PDF is
    rewritten whole, so a retry cannot leave a partial file."""
    return services.render_batch(batch, period_dir)


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


def render_task_runner(pending: int) -> tuple[Any | None, int]:
    """Where briefings render: a Dask cluster when BRIEFINGS_DASK_ADDRESS names a scheduler,
    else a pool of BRIEFINGS_RENDER_WORKERS processes (default: one per core), or this
    process for fewer than BRIEFINGS_PARALLEL_FROM briefings (default 12) or one worker."""
    settings = get_settings()
    if settings.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address), min(settings.dask_batches, pending)
    workers = min(settings.workers, pending)
    # A worker process costs seconds to start (Prefect, pandas, WeasyPrint imports), a
    # briefing a fraction of one: a handful of briefings renders faster right here.
    if workers <= 1 or pending < settings.parallel_from:
        return None, 1
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers, initializer=end_with_parent), workers


def end_with_parent() -> None:
    """In each render worker: end as soon as the flow's process has ended (killed, say).
    Left alone, a pool's workers outlive it for good, rendering on beside the next run."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


@contextmanager
def api_url_for_workers() -> Iterator[None]:
    """Worker processes report to this run's Prefect server, even the temporary one a
    one-off `briefings run` starts (they would otherwise each start their own)."""
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


# Artifacts: what stewards follow in the Prefect UI, under the same keys on every run ----------


def publish_validation_artifacts(result: IngestResult) -> None:
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
            for e in result.ledger
        ],
        description="Every raw file seen by this run, and what happened to it.",
    )
    quarantined = [e for e in result.ledger if e.status == Status.QUARANTINED]
    warnings = result.warnings
    lines = [f"# Validation: {len(quarantined)} quarantined, {len(warnings)} warnings", ""]
    lines += [f"- **Quarantined** `{e.file}`: {e.detail}" for e in quarantined]
    lines += [f"- Warning: {warning}" for warning in warnings]
    if result.data_docs:
        lines += ["", f"Checks across returns: {result.data_docs}"]
    create_markdown_artifact(key="validation-warnings", markdown="\n".join(lines))


def publish_artifacts(publication: Publication, figures: PeriodFigures) -> None:
    """A link per PDF rendered by this run and a table of every briefing."""
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
