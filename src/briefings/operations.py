"""Running the pipeline as a service: the local Prefect server, the deployments in
prefect.yaml (served from one process, or run by a process work pool's worker), runs started
by hand, and what stewards see in `briefings status`.

Importing this module is cheap: the CLI imports it at the start of its commands, and a worker
imports it for the pull step. Prefect, pandas and PyYAML are imported inside the functions.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from briefings.resources import PREFECT_FILE, PROJECT_ROOT

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.deployments.runner import RunnerDeployment

    from briefings.store import DataFolders

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
UK = "Europe/London"


class OperationsError(RuntimeError):
    """An expected failure; the message is one line for the person at the terminal."""


def enter_project_folder() -> dict[str, str]:
    """Pull step (prefect.yaml): run the flow from the project folder, wherever the worker
    was started, so relative data_dir and out_dir resolve against it. The folder is where the
    `flows` package is installed from: this clone, installed editable by `make env`."""
    os.chdir(PROJECT_ROOT)
    return {"directory": str(PROJECT_ROOT)}


# The server --------------------------------------------------------------------------------


def api_url_for(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}/api"


def ui_url(api_url: str) -> str:
    return api_url.rstrip("/").removesuffix("/api")


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def server_command(port: int) -> tuple[list[str], dict[str, str]]:
    """`prefect server start` on the loopback interface, with its SQLite database in
    PREFECT_HOME (the project's .prefect/ unless set), analytics off, and the UI talking to
    this server whatever PREFECT_API_URL says."""
    import sys

    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_SERVER_UI_API_URL"] = api_url_for(port)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST]
    return [*command, "--port", str(port)], env


def server_is_up(api_url: str, timeout: float = 3.0) -> bool:
    import httpx

    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def no_server_message(api_url: str) -> str:
    return (
        f"no Prefect server is reachable at {api_url}: start one with `briefings server` "
        "(or `make server`), or set PREFECT_API_URL"
    )


def require_server() -> str:
    """The API URL the operations commands use (PREFECT_API_URL, else the server that
    `briefings server` starts), if a server answers there."""
    api_url = os.environ.get("PREFECT_API_URL") or api_url_for()
    if not server_is_up(api_url):
        raise OperationsError(no_server_message(api_url))
    return api_url


# Deployments, from prefect.yaml -------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment as prefect.yaml declares it."""

    name: str
    entrypoint: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: int | dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    work_pool: str | None = None
    # Event triggers: each an Automation that runs this deployment (prefect.yaml's `triggers`)
    triggers: list[dict[str, Any]] = field(default_factory=list)

    def load_flow(self):
        """The flow object, imported as a module of the installed package (so a served run's
        subprocess imports it the same way)."""
        import importlib

        path, function = self.entrypoint.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        return getattr(module, function)

    def schedule_objects(self) -> list:
        from prefect.schedules import Cron, Interval

        made = []
        for schedule in self.schedules:
            options = {"timezone": schedule.get("timezone"), "active": schedule.get("active", True)}
            if "cron" in schedule:
                made.append(Cron(schedule["cron"], **options))
            elif "interval" in schedule:
                made.append(Interval(schedule["interval"], **options))
            else:
                raise OperationsError(
                    f"deployment {self.name} in prefect.yaml: only cron and interval "
                    f"schedules can be served, not {sorted(schedule)}"
                )
        return made

    def describe_schedules(self) -> str:
        return ", ".join(
            f"{s.get('cron', s.get('interval'))} ({s.get('timezone', 'UTC')})"
            for s in self.schedules
        )


def deployment_specs(prefect_file: Path = PREFECT_FILE) -> list[DeploymentSpec]:
    """prefect.yaml's deployments, checked by briefings.config.deployments."""
    from briefings.config.deployments import DeploymentFileError, read_deployments

    try:
        entries = read_deployments(prefect_file)
    except DeploymentFileError as error:
        raise OperationsError(str(error)) from None
    return [
        DeploymentSpec(
            name=entry.name,
            entrypoint=entry.entrypoint,
            description=entry.description,
            parameters=entry.parameters,
            schedules=entry.schedules,
            concurrency_limit=entry.concurrency_limit,
            tags=entry.tags,
            work_pool=entry.work_pool.name,
            triggers=list((entry.model_extra or {}).get("triggers") or []),
        )
        for entry in entries
    ]


def spec_named(name: str, prefect_file: Path = PREFECT_FILE) -> DeploymentSpec:
    for spec in deployment_specs(prefect_file):
        if spec.name == name:
            return spec
    raise OperationsError(f"no deployment named {name} in {prefect_file}")


def served_deployments(specs: list[DeploymentSpec]) -> list[RunnerDeployment]:
    """The deployments of prefect.yaml, as `prefect.serve` takes them: same names,
    parameters, schedules (cron and timezone), concurrency limits and triggers (the
    Automations that run a deployment when an event happens)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.events import DeploymentEventTrigger

    deployments = []
    for spec in specs:
        # prefect.yaml gives a number, or a mapping with a collision strategy.
        given = spec.concurrency_limit
        limit = ConcurrencyLimitConfig(**given) if isinstance(given, dict) else given
        deployments.append(
            spec.load_flow().to_deployment(
                name=spec.name,
                description=spec.description,
                parameters=spec.parameters,
                schedules=spec.schedule_objects(),
                concurrency_limit=limit,
                tags=spec.tags,
                triggers=[
                    DeploymentEventTrigger(**{k: v for k, v in t.items() if k != "type"})
                    for t in spec.triggers
                ],
            )
        )
    return deployments


def release_from_work_pools(specs: list[DeploymentSpec]) -> list[str]:
    """Delete the deployments of these names that `prefect deploy` put on a work pool, so that
    `briefings serve` recreates them whole. Prefect 3.9.1 upserts a served deployment over a
    deployed one keeping its work pool and dropping its pull steps, and its runs then crash
    (path None) or go to a worker that cannot load the flow. Returns what was done, in words."""
    from prefect.client.orchestration import get_client

    released = []
    with get_client(sync_client=True) as client:
        for spec in specs:
            try:
                deployment = find_deployment(client, spec.name)
            except OperationsError:
                continue
            if deployment.work_pool_name:
                client.delete_deployment(deployment.id)
                released.append(
                    f"{spec.name} was deployed to the work pool {deployment.work_pool_name}: "
                    "replaced by the served one (`make deploy` puts it back)"
                )
    return released


def find_deployment(client: SyncPrefectClient, name: str) -> DeploymentResponse:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    found = client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name]))
    )
    server = str(client.api_url).rstrip("/")
    if not found:
        raise OperationsError(
            f"no deployment named {name} on {server}: "
            "run `make deploy` (then `make worker`), or `briefings serve`"
        )
    if len(found) > 1:
        raise OperationsError(f"{len(found)} deployments are named {name} on {server}")
    return found[0]


def merged_parameters(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The deployment's parameters with the given ones on top, one level deep: the server
    replaces a whole parameter, so `request` keeps its data_dir when only the period is given."""
    merged = dict(defaults)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def is_ready(deployment: DeploymentResponse) -> bool:
    """Whether a worker or a serving process polled for the deployment's runs lately."""
    return str(getattr(deployment.status, "value", deployment.status)).upper() == "READY"


def delivery_of_run(flow_run_id: Any) -> str | None:
    """What a publish run sent, as its deliveries-<period> artifact says (None: nothing)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    described = [a.description for a in artifacts if (a.key or "").startswith("deliveries-")]
    return "; ".join(d for d in described if d) or None


def flow_run_url(api_url: str, flow_run_id: object) -> str:
    return f"{ui_url(api_url)}/runs/flow-run/{flow_run_id}"


# Status -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    deployed: bool
    schedules: str = ""
    runs_on: str = ""  # the work pool, or "briefings serve"
    ready: bool = False  # a worker or `briefings serve` polled for its runs lately
    next_run: str = ""
    concurrency_limit: int | None = None

    @property
    def polled(self) -> str:
        if self.ready:
            return "the worker" if self.runs_on != "briefings serve" else "briefings serve"
        return "nothing polling now"


@dataclass(frozen=True)
class RunRow:
    deployment: str
    run: str
    state: str
    started: str
    duration: str
    message: str = ""


def uk_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(UK)).strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _run_duration(run: FlowRun, now: datetime) -> float | None:
    if run.start_time is None:
        return None
    end = run.end_time or (now if run.state and run.state.is_running() else None)
    if end is None:
        return run.total_run_time.total_seconds() if run.total_run_time else None
    return (end - run.start_time).total_seconds()


def deployment_overview(
    api_url: str, specs: list[DeploymentSpec], runs_each: int
) -> tuple[list[DeploymentStatus], list[RunRow]]:
    """For each deployment of prefect.yaml: how it is deployed, and its latest runs (those
    due by now, newest first, including late ones nobody picked up)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    statuses: list[DeploymentStatus] = []
    rows: list[RunRow] = []
    now = datetime.now().astimezone()
    with (
        temporary_settings({PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        for spec in specs:
            try:
                deployment = find_deployment(client, spec.name)
            except OperationsError:
                statuses.append(DeploymentStatus(spec.name, deployed=False))
                continue
            only_this = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            upcoming = client.read_flow_runs(
                deployment_filter=only_this,
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=now),
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    ),
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=1,
            )
            limit = deployment.global_concurrency_limit
            statuses.append(
                DeploymentStatus(
                    name=spec.name,
                    deployed=True,
                    schedules=", ".join(
                        f"{_schedule_text(s.schedule)}{'' if s.active else ' (paused)'}"
                        for s in deployment.schedules
                    )
                    + (" (paused)" if deployment.paused and deployment.schedules else ""),
                    runs_on=deployment.work_pool_name or "briefings serve",
                    ready=is_ready(deployment),
                    next_run=uk_time(upcoming[0].expected_start_time) if upcoming else "",
                    concurrency_limit=limit.limit if limit else None,
                )
            )
            runs = client.read_flow_runs(
                deployment_filter=only_this,
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(before_=now)
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=runs_each,
            )
            for run in runs:
                state = run.state
                rows.append(
                    RunRow(
                        deployment=spec.name,
                        run=run.name,
                        state=(state.name or "") if state else "",
                        started=uk_time(run.start_time)
                        or f"due {uk_time(run.expected_start_time)}",
                        duration=duration_text(_run_duration(run, now)),
                        message=(state.message or "") if state else "",
                    )
                )
    return statuses, rows


@dataclass(frozen=True)
class RecentRun:
    """A run of any kind, as `briefings status` lists it."""

    flow: str
    run: str
    kind: str  # scheduled, automation, triggered (a deployment run started by a person), by hand
    state: str
    started: str
    duration: str
    period: str = ""
    published: str = ""  # what the run published, as its briefings-<period> artifact says
    waiting: str = ""  # what waits for a person (a run that ended NeedsAttention)
    message: str = ""  # why a run failed


def run_kind(run: FlowRun) -> str:
    """How a run came about: a deployment's schedule, an automation (an event), a person
    starting a deployment's run (`briefings trigger`, the UI), or by hand (`briefings run`,
    a flow called from Python)."""
    if run.deployment_id is None:
        return "by hand"
    if run.auto_scheduled:
        return "scheduled"
    created_by = getattr(run, "created_by", None)
    if created_by is not None and str(getattr(created_by, "type", "")).upper() == "AUTOMATION":
        return "automation"
    return "triggered"


def recent_runs(api_url: str, limit: int, data_dir: Path | None = None) -> list[RecentRun]:
    """The latest runs of every flow (not subflows), newest first, whatever started them:
    scheduled, by an automation, triggered, or by hand; runs due later are not listed. With
    `data_dir`, only the runs over that data folder (and those that name none)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterParentTaskRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    now = datetime.now().astimezone()
    with (
        temporary_settings({PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                expected_start_time=FlowRunFilterExpectedStartTime(before_=now),
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            # Runs over other data folders are left out here, so read more than are shown.
            limit=limit if data_dir is None else min(limit * 10, 200),
        )
        if data_dir is not None:
            runs = [run for run in runs if _over(run, data_dir)][:limit]
        flows = {run.flow_id for run in runs}
        names = {flow.id: flow.name for flow in client.read_flows(limit=200) if flow.id in flows}
        artifacts = (
            client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id for run in runs])
                )
            )
            if runs
            else []
        )
    published: dict[Any, tuple[str, str]] = {}
    for artifact in artifacts:
        key = artifact.key or ""
        if key.startswith("briefings-") and artifact.flow_run_id is not None:
            slug = key.removeprefix("briefings-")
            period = slug.replace("-", "/", 1) if slug[:4].isdigit() else slug
            published[artifact.flow_run_id] = (period, artifact.description or "")
    rows = []
    for run in runs:
        state = run.state
        name = (state.name or "") if state else ""
        message = " ".join(((state.message or "") if state else "").split())
        request = (run.parameters or {}).get("request") or {}
        period, what = published.get(run.id, (str(request.get("period") or ""), ""))
        waits = name == "NeedsAttention"
        rows.append(
            RecentRun(
                flow=names.get(run.flow_id, ""),
                run=run.name,
                kind=run_kind(run),
                state=name,
                started=uk_time(run.start_time) or f"due {uk_time(run.expected_start_time)}",
                duration=duration_text(_run_duration(run, now)),
                period=period,
                published=what,
                waiting=message if waits else "",
                message="" if waits or (state and state.is_completed()) else message,
            )
        )
    return rows


def _over(run: FlowRun, data_dir: Path) -> bool:
    """Whether a run was over this data folder, by its parameters (the publish and ingest
    flows' request, or a data_dir of its own); a run that names no folder is kept."""
    parameters = run.parameters or {}
    request = parameters.get("request")
    named = (request.get("data_dir") if isinstance(request, dict) else None) or parameters.get(
        "data_dir"
    )
    if not named:
        return True
    return Path(str(named)).resolve() == data_dir.resolve()


def _schedule_text(schedule: Any) -> str:
    if getattr(schedule, "cron", None):
        return f"{schedule.cron} ({schedule.timezone or 'UTC'})"
    if getattr(schedule, "interval", None):
        interval = schedule.interval
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        return f"every {duration_text(seconds)}"
    return str(schedule)


@dataclass(frozen=True)
class ForceReturn:
    force: str
    file: str
    received: str
    years: str


@dataclass(frozen=True)
class QuarantinedFile:
    file: str
    received: str
    why: str
    report: Path | None


def received_text(first_seen: str) -> str:
    """'2017-06-01 09:30 UTC' from the ledger's ISO timestamp."""
    try:
        moment = datetime.fromisoformat(first_seen)
    except ValueError:
        return first_seen
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.utcoffset() is not None else "")


def latest_returns_per_force(folders: DataFolders) -> list[ForceReturn]:
    """For each force, the accepted online-flag return the figures now use that arrived last
    (a force's years can come from several returns), with the years it has figures for."""
    from briefings.reference import force_register
    from briefings.store import Status, load_accepted_returns, read_ledger

    if not folders.accepted_returns.exists():
        return []
    rows = load_accepted_returns(folders)
    if rows.empty:
        return []
    ledger = read_ledger(folders)
    accepted = set(ledger.loc[ledger["status"] == Status.ACCEPTED, "file"])
    register = force_register()
    found = []
    for code, group in rows.groupby("force_code"):
        latest = group.sort_values(["first_seen", "source_file"]).iloc[-1]
        if latest["source_file"] not in accepted:
            continue
        years = sorted(group["financial_year"].unique())
        found.append(
            ForceReturn(
                force=register.by_code(code).name,
                file=latest["source_file"],
                received=received_text(latest["first_seen"]),
                years=", ".join(years),
            )
        )
    return sorted(found, key=lambda r: r.force)


def quarantined_files(folders: DataFolders) -> list[QuarantinedFile]:
    from briefings.store import Status, read_ledger

    ledger = read_ledger(folders)
    found = []
    for row in ledger.loc[ledger["status"] == Status.QUARANTINED].itertuples():
        report = folders.quarantine_report(row.file)
        found.append(
            QuarantinedFile(
                file=row.file,
                received=received_text(row.first_seen),
                why=row.detail,
                report=report if report.exists() else None,
            )
        )
    return found


if __name__ == "__main__":  # `python -m briefings.operations`: is a server up? (the Makefile asks)
    import sys

    try:
        require_server()
    except OperationsError as error:
        sys.exit(f"error: {error}")
