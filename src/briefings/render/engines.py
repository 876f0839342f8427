"""Where briefings render when not in the running process: a pool of local worker processes
kept for the life of the process, or a Dask cluster.

Both run briefings.render.worker's functions, so a worker imports only what rendering needs.
The local pool's workers are forked from one server process that imported the renderer once
(multiprocessing's forkserver), each parses the stylesheet and fonts once, and the pool is
kept across periods and flow runs in the same process; `warm` starts it ahead of need (while
ingest runs), and `render_ahead` gives it the next period's briefings while this period's
finish, so its workers do not wait between one period's flow run and the next. A Dask
cluster's workers render each briefing into bytes, which this process writes: they need the
package, not this machine's file system.

No Prefect here: flows/pipeline.py runs `render` in task runs a steward can follow.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from briefings.atomic import atomic_write
from briefings.render import worker

#: A briefing rendered ahead is claimed by the briefing with the same PDF name and inputs hash
#: (everything its PDF shows: words, figures, templates, fonts, renderer), nothing less.
AheadKey = tuple[str, str]

if TYPE_CHECKING:
    from briefings.render.publication import PreparedBriefing


class RenderWorkersLost(RuntimeError):
    """A render worker ended abruptly (killed, or out of memory), or the cluster went away."""


class Engine(Protocol):
    """Somewhere briefings render, in `batches` parts (the task runs a steward sees)."""

    name: str
    batches: int

    def render(self, batch: Sequence[PreparedBriefing], rendering_dir: Path) -> list[Path]:
        """Render each briefing into `rendering_dir`: the paths written."""
        ...

    def done(self) -> None:
        """A publication's briefings are all rendered (a pool is kept; a connection closed)."""
        ...


# The local pool ------------------------------------------------------------------------------


def _process_start(pid: int) -> str | None:
    """When process `pid` started (Linux's /proc), or None if it has ended or is a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, *fields = stat.rsplit(")", 1)[1].split()
    return None if state in ("Z", "X") else fields[18]


def _start_worker(flow_pid: int, flow_started: str | None) -> None:
    """In each worker: end when the flow's process ends, killed or not (left alone, a worker
    would render on beside the next run; the forkserver it was forked from lives as long as
    its workers do), and pay for the first PDF's set-up now."""

    def alive() -> bool:
        if flow_started is None:  # no /proc: the process, or another with its number
            try:
                os.kill(flow_pid, 0)
            except ProcessLookupError:
                return False
            return True
        return _process_start(flow_pid) == flow_started

    def watch() -> None:
        while alive():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-flow", daemon=True).start()
    with contextlib.suppress(Exception):  # the first briefing meets it again, and says what
        worker.warm()


def _ready() -> int:
    return os.getpid()


def _ahead_key(item: PreparedBriefing) -> AheadKey:
    return (item.briefing.pdf_name, item.inputs_hash)


class LocalPool:
    """`workers` render processes on this machine, started once and kept."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        # The server imports the renderer once; each worker is a fork of it. Only these
        # modules: not the running program's __main__ (a test runner, a command line).
        context.set_forkserver_preload(list(worker.RENDER_MODULES))
        self.name = f"a pool of {workers} render processes"
        self.batches = workers
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(), _process_start(os.getpid())),
        )
        self.broken = False
        # Briefings rendered ahead (render_ahead), to bytes, until a render claims them.
        self._ahead: dict[AheadKey, Future[bytes]] = {}
        # How many briefings render() has handed to the workers: render_ahead waits for the
        # current period's to be handed over first, so the next period's queue behind them.
        self._handed = 0
        self._handing = threading.Condition()
        self.claimed = 0  # briefings render() found rendered ahead

    def warm(self) -> None:
        """Start every worker, in the background: the first start waits for the forkserver
        to import the renderer (seconds), which the caller need not."""

        def start() -> None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile (the process ends)
                for _ in range(self.workers):
                    self._executor.submit(_ready)

        threading.Thread(target=start, name="start-render-workers", daemon=True).start()

    @property
    def tally(self) -> tuple[int, int]:
        """How many briefings render() has handed to the workers so far, and how many of
        them it found rendered ahead."""
        with self._handing:
            return self._handed, self.claimed

    def render(self, batch: Sequence[PreparedBriefing], rendering_dir: Path) -> list[Path]:
        jobs: list[tuple[Future[Any], bool]] = []  # each briefing's future; rendered ahead?
        with self._handing:
            for item in batch:
                early = self._ahead.pop(_ahead_key(item), None)
                if early is None:
                    now = self._executor.submit(worker.render_one, item, rendering_dir)
                    jobs.append((now, False))
                else:
                    jobs.append((early, True))
                    self.claimed += 1
            self._handed += len(batch)
            self._handing.notify_all()
        try:
            return [
                self._written(item, future, rendering_dir) if early else future.result()
                for item, (future, early) in zip(batch, jobs, strict=True)
            ]
        except BrokenProcessPool:
            self.broken = True
            raise RenderWorkersLost(
                "a render worker process ended abruptly (killed, or out of memory)"
            ) from None
        finally:
            for future, _ in jobs:
                future.cancel()

    def _written(self, item: PreparedBriefing, ahead: Future[bytes], rendering_dir: Path) -> Path:
        """The PDF of `item`, rendered ahead, written into `rendering_dir` (atomically)."""
        try:
            content = ahead.result()
        except BrokenProcessPool:
            raise
        except Exception:  # failed ahead, or dropped: rendered now, so an error is this run's
            return self._executor.submit(worker.render_one, item, rendering_dir).result()
        return _write(rendering_dir / item.briefing.pdf_name, content)

    def keep_ahead(self, pending: Sequence[PreparedBriefing]) -> int:
        """Drop what was rendered ahead for none of `pending` (a run about to render them found
        other inputs than were foreseen: a return came in between), so it does not hold up
        their own renders: how many were dropped."""
        wanted = {_ahead_key(item) for item in pending}
        with self._handing:
            unwanted = [key for key in self._ahead if key not in wanted]
            for key in unwanted:
                self._ahead.pop(key).cancel()  # if not started; else it ends, unclaimed
        return len(unwanted)

    def render_ahead(self, batch: Sequence[PreparedBriefing], after: int) -> None:
        """Start rendering `batch` (the briefings the next period's run in this process will
        render, if nothing changes meanwhile) once render() has handed `after` briefings to the
        workers, so they queue behind the current period's. Each is kept, as bytes, until a
        render() of the same briefing with the same inputs hash claims it; anything rendered
        ahead before and not claimed is dropped."""
        with self._handing:
            self._handing.wait_for(lambda: self._handed >= after, timeout=10)
            for stale in self._ahead.values():
                stale.cancel()
            self._ahead = {
                _ahead_key(item): self._executor.submit(worker.render_bytes, item) for item in batch
            }

    def done(self) -> None:
        pass  # kept for the next period or flow run in this process

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_pool: LocalPool | None = None
_pool_lock = threading.Lock()


def local_pool(workers: int) -> LocalPool:
    """The process's pool of `workers` render processes: the one already running if it has
    that size and none of its workers was lost, else a new one."""
    global _pool
    with _pool_lock:
        if _pool is not None and (_pool.broken or _pool.workers != workers):
            old, _pool = _pool, None
            old.shutdown()
        if _pool is None:
            _pool = LocalPool(workers)
        return _pool


@atexit.register
def _stop_pool() -> None:
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown()


# A Dask cluster ------------------------------------------------------------------------------


class DaskCluster:
    """The Dask scheduler at `address` and its workers. Each briefing is one Dask task that
    returns the PDF's bytes; this process writes them (atomically) into the period's
    rendering folder, so the workers need not share its file system. One connection to the
    scheduler per publication, closed when its briefings are rendered: a cluster may be
    restarted between runs."""

    def __init__(self, address: str, batches: int) -> None:
        self.name = f"the Dask cluster at {address}"
        self.address = address
        self.batches = batches
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from distributed import Client

                try:
                    self._client = Client(self.address, set_as_default=False, timeout=30)
                except OSError as error:
                    raise RenderWorkersLost(
                        f"no Dask scheduler answers at {self.address} ({error})"
                    ) from None
            return self._client

    def render(self, batch: Sequence[PreparedBriefing], rendering_dir: Path) -> list[Path]:
        from distributed import KilledWorker

        client = self.client()
        futures = client.map(worker.render_bytes, list(batch), pure=False)
        try:
            contents = client.gather(futures)
        except KilledWorker as error:
            raise RenderWorkersLost(
                f"Dask workers were lost rendering briefings: {error}"
            ) from None
        except OSError as error:  # the scheduler went away
            raise RenderWorkersLost(
                f"lost the Dask scheduler at {self.address} ({error})"
            ) from None
        finally:
            client.cancel(futures)
        return [
            _write(rendering_dir / item.briefing.pdf_name, content)
            for item, content in zip(batch, contents, strict=True)
        ]

    def done(self) -> None:
        with self._lock:
            if self._client is not None:
                client, self._client = self._client, None
                client.close()


def _write(target: Path, content: bytes) -> Path:
    atomic_write(target, lambda path: Path(path).write_bytes(content))
    return target


_clusters: dict[str, DaskCluster] = {}


def dask_cluster(address: str, batches: int) -> DaskCluster:
    """The Dask cluster at `address`, its client connected once per process."""
    cluster = _clusters.get(address)
    if cluster is None or cluster.batches != batches:
        cluster = _clusters[address] = DaskCluster(address, batches)
    return cluster


# Which -------------------------------------------------------------------------------------


def engine_for(
    pending: int, workers: int, parallel_from: int, dask_address: str | None, dask_batches: int
) -> Engine | None:
    """A Dask cluster when an address names one; else a local pool of `workers` processes,
    unless there are fewer than `parallel_from` briefings or one worker (None: render in
    this process, which a handful of briefings does fastest)."""
    if dask_address:
        return dask_cluster(dask_address, max(1, min(dask_batches, pending)))
    if min(workers, pending) <= 1 or pending < parallel_from:
        return None
    return local_pool(workers)


def warm_local_pool(workers: int, dask_address: str | None) -> None:
    """Start the local pool's workers ahead of need (while ingest runs), when briefings will
    render there: more than one worker and no Dask cluster."""
    if workers > 1 and not dask_address:
        local_pool(workers).warm()
