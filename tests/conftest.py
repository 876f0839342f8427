"""Shared fixtures. One Prefect server serves the whole test run: in-process flows, the CLI
run in-process, the runs and workers tests start as subprocesses, and the test that stops a
server mid-run all use it. Under pytest-xdist (`make test` runs two workers) the controller
starts it and every worker uses that one."""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Before Prefect is imported anywhere: a private home, no telemetry, patient start-up.
_PREFECT_HOME = tempfile.mkdtemp(prefix="briefings-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Files written by a test are complete at once: no need to wait for them to settle.
os.environ.setdefault("BRIEFINGS_SETTLE_SECONDS", "0")

from .helpers import PROJECT_ROOT, TEST_DATA, copy_data_folder, tree_digest  # noqa: E402

SERVER_FIXTURES = {"prefect_api_url", "prefect_server", "stoppable_prefect_server"}


class PrefectServer:
    """`briefings server` on a free loopback port, its SQLite database in a home of its own.

    It takes 10 to 25 s to answer, so it is started in the background as soon as the tests
    are collected, and the tests that need it run after those that do not. `stop` kills it
    (the whole process group, as a crash would) and `start` brings it back on the same port
    and database."""

    def __init__(self, root: Path, port: int | None = None):
        self.root = root
        self.home = root / "home"
        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen | None = None
        self.log: Path = root / "server.log"
        # A worker's view of the controller's server: it neither stops nor restarts it.
        self.owned = True

    @classmethod
    def started_elsewhere(cls, described: str) -> PrefectServer:
        root, port = described.rsplit(":", 1)
        server = cls(Path(root), int(port))
        server.owned = False
        return server

    def describe(self) -> str:
        return f"{self.root}:{self.port}"

    @property
    def url(self) -> str:
        return self.api

    def start(self, name: str = "server") -> None:
        env = {**os.environ, "PREFECT_HOME": str(self.home), "DO_NOT_TRACK": "1"}
        # Runs here are started by hand: a scheduled one (ingest every 30 minutes, once a
        # test has deployed) would ingest the project's own data/ folder.
        env["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"
        env.pop("PREFECT_API_URL", None)
        self.log = self.root / f"{name}.log"
        command = [str(Path(sys.executable).parent / "briefings"), "server", "--port"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.root,
            )

    def running(self) -> bool:
        if not self.owned:
            return True  # the controller's: if it has stopped, answering says so
        return self.process is not None and self.process.poll() is None

    def answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.api}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_until_it_answers(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.running(), f"the Prefect server stopped:\n{self.log_tail()}"
            if self.answers():
                return
            time.sleep(0.3)
        raise AssertionError(
            f"no answer from the Prefect server in {timeout:g} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGKILL the whole process group: the server and the processes it started."""
        if self.process is None or not self.owned:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


_server: PrefectServer | None = None
# Set by the xdist controller for its workers (they inherit its environment).
_SHARED_SERVER = "BRIEFINGS_TEST_PREFECT_SERVER"


def _the_server() -> PrefectServer:
    global _server
    if _server is None:
        if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(_SHARED_SERVER):
            _server = PrefectServer.started_elsewhere(os.environ[_SHARED_SERVER])
        else:
            _server = PrefectServer(Path(tempfile.mkdtemp(prefix="briefings-test-prefect-server-")))
            _server.start()
    return _server


def _is_xdist_controller(config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "from_published: the test goes on from the small round as published once for the "
        "session (published_small, copied into its folder), not from raw returns",
    )
    config.addinivalue_line(
        "markers",
        "integration: the test drives other processes as a user would (make deploy and a "
        "worker, briefings serve, a Dask cluster, Chromium, Dovecot); run by "
        "make test-integration, which CI runs after make test",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session) -> None:
    """The xdist controller starts the one server before it starts its workers (it collects
    nothing itself, so it cannot tell whether any test needs it: most runs do)."""
    config = session.config
    if _is_xdist_controller(config) and not config.option.collectonly:
        os.environ[_SHARED_SERVER] = _the_server().describe()


def _uses_the_server(item: pytest.Item) -> bool:
    return bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(session, config, items: list[pytest.Item]) -> None:
    """Modules that need no Prefect server first, while it starts; each module stays whole."""
    needing = {getattr(item, "module", None) for item in items if _uses_the_server(item)}
    items.sort(key=lambda item: getattr(item, "module", None) in needing)


def pytest_collection_finish(session) -> None:
    if session.config.option.collectonly:
        return
    if any(_uses_the_server(item) for item in session.items):
        _the_server()


def pytest_unconfigure(config) -> None:
    if _server is not None and _server.owned:
        _server.stop()
        shutil.rmtree(_server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    """The test run's Prefect server, answering."""
    server = _the_server()
    server.wait_until_it_answers()
    yield server
    if server.owned:
        server.stop()
        assert not server.answers()


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server: PrefectServer) -> Iterator[str]:
    """The server's API URL, for flows in this process and for the processes tests start."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    # Also for code in a context copied before this one (as prefect_test_harness does).
    with (
        temporary_settings({PREFECT_API_URL: prefect_server.api}),
        _temporary_global_settings_context(get_settings_context()),
    ):
        os.environ["PREFECT_API_URL"] = prefect_server.api
        yield prefect_server.api
        os.environ.pop("PREFECT_API_URL", None)

        async def drain() -> None:
            """Logs and events still queued reach the server before it stops (else
            Prefect retries them for a minute at exit)."""
            with contextlib.suppress(RuntimeError):  # never started
                result = APILogWorker.instance().drain()
                if inspect.isawaitable(result):
                    await result
            result = EventsWorker.drain_all()
            if inspect.isawaitable(result):
                await result

        run_coro_as_sync(drain())


@pytest.fixture
def stoppable_prefect_server(prefect_server: PrefectServer, prefect_api_url: str):
    """The session's server, for a test that stops it: started again afterwards if it is
    down, so the tests after it find it answering."""
    if not prefect_server.owned:
        pytest.fail(
            "this test stops the Prefect server, which a pytest-xdist worker shares with the "
            "others and cannot stop: run it without -n (make test-faults does)"
        )
    yield prefect_server
    if not prefect_server.running():
        prefect_server.start("server-restarted")
    prefect_server.wait_until_it_answers()


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    return copy_data_folder(TEST_DATA / "small", tmp_path / "data")


@dataclass(frozen=True)
class Publication:
    """A data folder and its published briefings (out), the outbox beside them."""

    data: Path
    out: Path

    @property
    def outbox(self) -> Path:
        return self.out.parent / "outbox"

    def copy_to(self, root: Path) -> Publication:
        """A copy to go on from: root/data, root/out and root/outbox."""
        copy = Publication(root / "data", root / "out")
        for source, target in ((self.data, copy.data), (self.out, copy.out)):
            shutil.copytree(source, target, symlinks=True)
        if self.outbox.exists():
            shutil.copytree(self.outbox, copy.outbox, symlinks=True)
        return copy


@pytest.fixture(scope="session")
def published_small(prefect_api_url, tmp_path_factory) -> tuple[Publication, object]:
    """tests/data/small without its bad return (a clean round: no steward notices), published
    once for the session in this process, with no SMTP server (to the outbox), and the run's
    summary: root/data, root/reports/out, root/reports/outbox. Never change these folders:
    copy them."""
    from flows.pipeline import RunRequest, publish_briefings

    root = tmp_path_factory.mktemp("published-small")
    data = copy_data_folder(TEST_DATA / "small", root / "data")
    (data / "raw" / "dorset-return-with-errors.csv").unlink()
    publication = Publication(data, root / "reports" / "out")
    smtp = [name for name in os.environ if name.startswith("BRIEFINGS_SMTP")]
    with pytest.MonkeyPatch.context() as patched:
        for name in smtp:
            patched.delenv(name)
        summary = publish_briefings(RunRequest(data_dir=data, out_dir=publication.out))
    return publication, summary


@pytest.fixture(scope="session", autouse=True)
def raw_data_is_never_changed():
    """data/raw/ (the bundled returns) and tests/data/ are byte-identical after the session."""
    folders = [PROJECT_ROOT / "data" / "raw", TEST_DATA]
    before = [tree_digest(folder) for folder in folders]
    yield
    assert [tree_digest(folder) for folder in folders] == before
