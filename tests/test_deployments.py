"""The scheduled paths for real: on the test run's Prefect server (`briefings server` on a
free loopback port, its home in a temporary folder, no scheduler), `make deploy` to the process
work pool and `make worker`, runs started with `briefings trigger`, `briefings status`, and
`briefings serve`.

Every process started here runs in its own process group and is stopped at the end, also when
a test fails; the deployments and the work pool are removed at the end. The developer's Prefect
home is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from briefings.store import DataFolders

from .helpers import PROJECT_ROOT, TEST_DATA, briefings, copy_data_folder

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent
BRIEFINGS = VENV_BIN / "briefings"
DEPLOYMENTS = {
    "ingest-returns": "*/30 * * * *",
    "fetch-replies": "10,40 * * * *",
    "publish-briefings": "0 6 * * 1-5",
}
UNSCHEDULED = ("review-return", "review-reply", "tell-stewards")  # by runs, an Automation


@dataclass
class Server:
    url: str
    port: int
    env: dict[str, str]
    logs: Path


def stop(process: subprocess.Popen) -> None:
    """Terminate the process group, again (a worker stops on the second signal), then kill."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
    with contextlib.suppress(ProcessLookupError):  # whatever the group leader left behind
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def started(command: list[str], env: dict, log: Path, cwd: Path = PROJECT_ROOT) -> Iterator:
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop(process)


def wait_for(condition, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(1)
    tail = "\n".join(log.read_text().splitlines()[-30:]) if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


def run(command: list[str], server: Server, timeout: float = 300, cwd: Path = PROJECT_ROOT):
    return subprocess.run(
        command, cwd=cwd, env=server.env, capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def client(server: Server):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.url}), get_client(sync_client=True) as c:
        yield c


@pytest.fixture(scope="module")
def server(prefect_server, prefect_api_url, tmp_path_factory) -> Iterator[Server]:
    """The test run's server (its scheduler off: a scheduled run due during the tests, ingest
    every 30 minutes, would ingest the project's own data/ folder; runs here are started by
    hand), and the environment of the workers and commands started here."""
    from briefings.operations import server_is_up

    folder = tmp_path_factory.mktemp("prefect-clients")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    assert server_is_up(prefect_api_url, timeout=2)
    server = Server(prefect_api_url, prefect_server.port, env, folder)
    yield server
    with client(server) as prefect:  # the server goes on serving the rest of the run
        for name in [*DEPLOYMENTS, *UNSCHEDULED]:
            with contextlib.suppress(Exception):
                deployment = prefect.read_deployment_by_name(f"{name}/{name}")
                # tell-stewards' Automation, which would start runs nobody runs
                prefect.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
                prefect.delete_deployment(deployment.id)
        with contextlib.suppress(Exception):
            prefect.delete_work_pool("briefings-process")


@dataclass
class Deployed:
    data: Path
    out: Path
    publish_run_id: str
    publish: subprocess.CompletedProcess
    relative_data: Path
    busy: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def deployed(server: Server, tmp_path_factory) -> Iterator[Deployed]:
    """`make deploy` and `make worker`, then a publish run triggered with `briefings trigger`
    and an ingest run given a relative data folder, both run by the worker."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from briefings.store import DataFolders, store_lock

    folder = tmp_path_factory.mktemp("deployed")
    make = ["make", "-o", "env"]  # the environment is the one the tests run in
    result = run([*make, "deploy"], server)
    assert result.returncode == 0, result.stdout + result.stderr
    data = copy_data_folder(TEST_DATA / "small", folder / "data")
    relative_data = copy_data_folder(TEST_DATA / "small", folder / "relative")
    out = folder / "out"
    with started([*make, "worker"], server.env, server.logs / "worker.log"):
        with temporary_settings({PREFECT_API_URL: server.url}):
            ingest = run_deployment(  # a relative folder resolves against the project folder
                "ingest-returns/ingest-returns",
                parameters={"data_dir": os.path.relpath(relative_data, PROJECT_ROOT)},
                timeout=0,
            )
        publish = briefings(
            "trigger",
            "publish",
            "--period",
            "2016/17",
            "--force",
            "Wiltshire",
            "--data-dir",
            str(data),
            "--out-dir",
            str(out),
            "--wait",
        )
        with client(server) as prefect:
            wait_for(
                lambda: prefect.read_flow_run(ingest.id).state.is_final(),
                180,
                "the ingest run",
                server.logs / "worker.log",
            )
        busy = copy_data_folder(TEST_DATA / "small", folder / "busy")
        with store_lock(DataFolders(busy)):  # as if `briefings run` were updating it
            busy_run = briefings("trigger", "ingest", "--data-dir", str(busy), "--wait")
    run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", publish.stdout)
    assert run_id, publish.stdout + publish.stderr
    yield Deployed(data, out, run_id.group(1), publish, relative_data, busy_run)


def test_make_deploy_puts_both_deployments_on_the_process_pool(server, deployed):
    with client(server) as prefect:
        assert prefect.read_work_pool("briefings-process").type == "process"
        for name, cron in DEPLOYMENTS.items():
            deployment = prefect.read_deployment_by_name(f"{name}/{name}")
            assert deployment.work_pool_name == "briefings-process"
            assert deployment.pull_steps == [{"briefings.operations.enter_project_folder": {}}]
            [schedule] = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == (cron, "Europe/London")
            assert deployment.global_concurrency_limit.limit == 1


def test_the_worker_runs_a_triggered_publish_to_completion(server, deployed):
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    assert deployed.publish.returncode == 4, deployed.publish.stdout + deployed.publish.stderr
    assert re.search(
        r"Run '[\w-]+' ended NeedsAttention: 1 return quarantined", (deployed.publish.stdout)
    )
    with client(server) as prefect:
        flow_run = prefect.read_flow_run(deployed.publish_run_id)
        # Failed by name, so the UI never shows it as a success; the run did its work.
        assert flow_run.state.is_failed() and flow_run.state.name == "NeedsAttention"
        deployment = prefect.read_deployment(flow_run.deployment_id)
        assert deployment.name == "publish-briefings"
        assert flow_run.parameters["request"]["period"] == "2016/17"
        assert flow_run.parameters["request"]["forces"] == ["Wiltshire"]
        artifacts = {
            a.key: a
            for a in prefect.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]),
                    key=ArtifactFilterKey(any_=["returns-ledger", "validation-warnings"]),
                )
            )
        }
    assert set(artifacts) == {"returns-ledger", "validation-warnings"}
    ledger = artifacts["returns-ledger"].data
    rows = json.loads(ledger) if isinstance(ledger, str) else ledger
    assert {row["file"]: row["status"] for row in rows} == {
        "dorset-return-with-errors.csv": "quarantined",
        "returns-2017.csv": "accepted",
        "surrey-foi-response.xlsx": "accepted",
    }
    assert "dorset-return-with-errors.csv" in artifacts["validation-warnings"].data
    assert (deployed.out / "2016-17" / "wiltshire.pdf").stat().st_size > 10_000
    assert (deployed.out / "2016-17" / "figures.json").exists()
    assert not (deployed.out / "2016-17" / "kent.pdf").exists()  # only the force asked for


def test_worker_runs_start_in_the_project_folder(server, deployed):
    """The ingest run was given its data folder relative to the project folder."""
    ledger = deployed.relative_data / "processed" / "ledger.csv"
    assert ledger.exists(), (server.logs / "worker.log").read_text()[-3000:]
    assert "dorset-return-with-errors.csv" in ledger.read_text()


def test_a_run_that_finds_the_data_folder_busy_exits_3(deployed):
    assert deployed.busy.returncode == 3, deployed.busy.stdout + deployed.busy.stderr
    assert re.search(
        r"briefings: error: run '[\w-]+' ended Busy: another run is updating .*busy/processed",
        deployed.busy.stderr,
    )


def test_status_lists_runs_returns_and_quarantined_files(server, deployed):
    result = briefings("status", "--data-dir", str(deployed.data))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Deployments on http://127.0.0.1:{server.port}" in out
    lines: dict[str, str] = {}  # the first row for each name: deployments come first
    for line in out.splitlines():
        if "│" in line:
            lines.setdefault(line.split("│")[1].strip(), line)
    assert "*/30 * * * * (Europe/London)" in lines["ingest-returns"]
    assert "briefings-process" in lines["ingest-returns"]
    run_lines = [line for line in out.splitlines() if "publish-briefings" in line]
    assert any("NeedsAttention" in line for line in run_lines), out
    assert "returns-2017.csv" in lines["Wiltshire"]
    assert "Quarantined returns (1)" in out
    report = DataFolders(deployed.data).quarantine_report("dorset-return-with-errors.csv")
    assert f"Quarantine report: {report}" in out


def test_trigger_names_a_missing_deployment(server, deployed):
    with client(server) as prefect:
        deployment = prefect.read_deployment_by_name("ingest-returns/ingest-returns")
        prefect.delete_deployment(deployment.id)
    result = briefings("trigger", "ingest")
    assert result.returncode == 1
    assert result.stderr == (
        f"briefings: error: no deployment named ingest-returns on {server.url}: "
        "run `make deploy` (then `make worker`), or `briefings serve`\n"
    )


def test_serve_runs_both_deployments_from_one_process(server, tmp_path):
    """Also after `make deploy`: the served deployments replace those on the work pool."""
    from briefings.operations import is_ready

    log = server.logs / "serve.log"
    data = copy_data_folder(TEST_DATA / "small", tmp_path / "data")
    with started([str(BRIEFINGS), "serve"], server.env, log, cwd=tmp_path):

        def served():
            with client(server) as prefect:
                found = prefect.read_deployments()
                ours = [d for d in found if d.name in DEPLOYMENTS]
                if len(ours) == len(DEPLOYMENTS) and all(
                    is_ready(d) and not d.work_pool_name for d in ours
                ):
                    return ours
            return None

        deployments = wait_for(served, 120, "both deployments served", log)
        for deployment in deployments:
            [schedule] = deployment.schedules
            assert schedule.schedule.cron == DEPLOYMENTS[deployment.name]
            assert schedule.schedule.timezone == "Europe/London"
            assert schedule.active and not deployment.paused
            assert deployment.global_concurrency_limit.limit == 1
        # A served run starts in the project folder, whatever folder serve was started from.
        with client(server) as prefect:
            from prefect.deployments import run_deployment
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings({PREFECT_API_URL: server.url}):
                flow_run = run_deployment(
                    "ingest-returns/ingest-returns",
                    parameters={"data_dir": os.path.relpath(data, PROJECT_ROOT)},
                    timeout=180,
                    poll_interval=1,
                )
            assert flow_run.state.name == "NeedsAttention", log.read_text()[-3000:]
            assert flow_run.state.is_failed()
            assert prefect.read_flow_run(flow_run.id).work_pool_name is None
        assert (data / "processed" / "ledger.csv").exists()
    with client(server) as prefect:  # stopping serve pauses the schedules
        assert all(prefect.read_deployment_by_name(f"{name}/{name}").paused for name in DEPLOYMENTS)
    assert "Serving publish-briefings: 0 6 * * 1-5 (Europe/London)" in log.read_text()
