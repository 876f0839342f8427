"""Rendering on a Dask cluster, chosen by BRIEFINGS_DASK_ADDRESS: a real `dask scheduler`
and `dask worker`, each a process of its own on loopback (free ports, started here and
killed at the end), render the session's small round again; the PDFs are the bytes the
local render made, written by the flow's process from what the worker sent back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

distributed = pytest.importorskip(
    "distributed", reason="the Dask cluster run needs the `distributed` package"
)

DASK = Path(sys.executable).parent / "dask"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[str]:
    """A scheduler and one single-threaded worker without a nanny: the scheduler's address."""
    if not DASK.exists():
        pytest.skip(f"no `dask` command beside {sys.executable}")
    root = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    # The worker renders for itself: no Prefect server, no fault injection, no SMTP.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BRIEFINGS_"))}
    commands = {
        "scheduler": [
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
        ],
        "worker": [
            "worker",
            address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-nanny",
            "--preload",
            "briefings.render.worker",
            "--no-dashboard",
            "--local-directory",
            str(root / "worker"),
        ],
    }
    started: list[subprocess.Popen] = []
    try:
        for name, arguments in commands.items():
            with (root / f"{name}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(DASK), *arguments],
                        env=env,
                        cwd=root,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def rendered_on_the_cluster(address: str) -> int:
    """How many render tasks the cluster's scheduler has seen finish."""

    def count(dask_scheduler) -> int:
        prefix = dask_scheduler.task_prefixes.get("render_bytes")
        return (
            0
            if prefix is None
            else int(prefix.state_counts.get("memory", 0))
            + int(prefix.state_counts.get("forgotten", 0))
        )

    with distributed.Client(address, timeout=30, set_as_default=False) as client:
        return client.run_on_scheduler(count)


def test_a_round_renders_on_a_dask_cluster_to_the_same_bytes(
    cluster, published_small, tmp_path, monkeypatch
):
    from flows.pipeline import RunRequest, publish_briefings

    publication, summary = published_small
    here = {path.name: path.read_bytes() for path in summary.pdfs}
    copy = publication.copy_to(tmp_path)
    monkeypatch.setenv("BRIEFINGS_DASK_ADDRESS", cluster)
    monkeypatch.setenv("BRIEFINGS_DASK_BATCHES", "2")
    for name in [n for n in os.environ if n.startswith("BRIEFINGS_SMTP")]:
        monkeypatch.delenv(name)

    start = time.monotonic()
    again = publish_briefings(
        RunRequest(data_dir=copy.data, out_dir=copy.out, force_render=True, deliver=False)
    )
    elapsed = time.monotonic() - start

    assert {path.name for path in again.rendered} == set(here)
    assert {path.name: path.read_bytes() for path in again.pdfs} == here
    assert rendered_on_the_cluster(cluster) >= len(here)
    assert not (again.period_dir / ".rendering").exists()
    assert elapsed < 60
