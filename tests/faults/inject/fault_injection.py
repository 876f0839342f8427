"""Fault injection at named steps of a run, for the fault tests (tests/faults/).

The pipeline promises that a run killed anywhere loses nothing and publishes nothing wrong:
the next run finishes the work, with the same result as a run that was never interrupted. To
prove it, a test starts a run in a subprocess with an environment variable naming a step, and
the run stops itself there, in the hardest way (SIGKILL: no `finally`, no `atexit`, no
Prefect crash hook), exactly between two writes that must not be separated.

- BRIEFINGS_TEST_KILL_AT=<step>: the process SIGKILLs itself when it reaches that step.
- BRIEFINGS_TEST_PAUSE_AT=<step>:<seconds>: it sleeps there instead, the first time it
  reaches the step, so a test can act meanwhile (stop the Prefect server, say). A line on
  stderr says when the pause starts.
- BRIEFINGS_TEST_FILL_DISK_AT=<step>:<bytes>: from that step on, no file can grow past
  <bytes> (RLIMIT_FSIZE), so writes fail as on a full disk (EFBIG). Set at a step rather
  than at start-up because WeasyPrint writes the briefing fonts (700 kB each) to temporary
  files before the first PDF: "the disk fills up while rendering" needs the first PDF
  written. SIGXFSZ must be ignored in the process (the test's preexec_fn does it), or it
  kills it.

The application knows nothing of this: a step is reached when one of its plain functions
returns, and this module wraps those functions as their modules are imported (see STEPS).
Wrapping happens right after the defining module has run, before any other module can take
the function by name (`from briefings.store import stage_raw_files` binds the wrapper), and
again in every module of the same package that re-exports it. A render worker of a process
pool is spawned with the run's environment, so this module wraps its functions too.

Steps, in the order a run meets them:
- ingest: raw files staged, before the ledger is written;
- validate: the first kind's returns validated, before their outcomes are saved and before
  the accepted tables and ledger are written;
- figures: figures computed, before anything is rendered;
- render: after each PDF is rendered (so at the first) into the period's .rendering/
  folder, before the others, before any is published and before manifest.json; in a
  worker process when briefings render in a process pool;
- deliver: after each message is handed to the transport, before the delivery ledger
  records it as sent: the one window exactly-once delivery cannot close (it is sent again,
  under the same Message-ID).
"""

from __future__ import annotations

import functools
import importlib.abc
import inspect
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

KILL_AT = "BRIEFINGS_TEST_KILL_AT"
PAUSE_AT = "BRIEFINGS_TEST_PAUSE_AT"
FILL_DISK_AT = "BRIEFINGS_TEST_FILL_DISK_AT"


@dataclass(frozen=True)
class Step:
    """A step is reached when `function` returns (or, with `method`, when that method of any
    class that defines it returns), looked for in the modules of `package`."""

    name: str
    package: str
    function: str = ""
    method: str = ""

    def covers(self, module: str) -> bool:
        return module == self.package or module.startswith(self.package + ".")


STEPS = (
    Step("ingest", "briefings.store", function="stage_raw_files"),
    Step("validate", "briefings.validation", function="validate_returns"),
    Step("figures", "briefings.domain.figures", function="compute_period_figures"),
    Step("render", "briefings.render", function="render_prepared"),
    Step("deliver", "briefings.delivery.transport", method="send"),  # each transport's
)

_paused: set[str] = set()
_wrappers: dict[Callable[..., Any], Callable[..., Any]] = {}  # original -> wrapper
_depth = threading.local()  # calls of a step's function under way, per thread


def reach(step: str) -> None:
    """Kill or pause this process here if the environment asks for it at `step`."""
    if os.environ.get(KILL_AT) == step:
        print(f"briefings: killed at {step} ({KILL_AT})", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE_AT)
    if pause and pause.partition(":")[0] == step and step not in _paused:
        _paused.add(step)
        seconds = float(pause.partition(":")[2] or 0)
        print(
            f"briefings: paused at {step} for {seconds:g} s ({PAUSE_AT})",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(seconds)
    fill = os.environ.get(FILL_DISK_AT)
    if fill and fill.partition(":")[0] == step:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fill.partition(":")[2]), hard))


def requested_steps() -> set[str]:
    """The steps the environment names."""
    return {
        value.partition(":")[0]
        for value in (os.environ.get(name) for name in (KILL_AT, PAUSE_AT, FILL_DISK_AT))
        if value
    }


def reached_after(step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, reaching `step` when it returns. Only the outermost call counts: a step's
    function that calls itself (or another wrapped function of the same step) reaches the step
    once, when its result is all there."""
    if function in _wrappers:
        return _wrappers[function]

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_depth, step, 0)
        setattr(_depth, step, depth + 1)
        try:
            result = function(*args, **kwargs)
        finally:
            setattr(_depth, step, depth)
        if depth == 0:
            reach(step)
        return result

    _wrappers[function] = wrapper
    return wrapper


def wrap_module(module: ModuleType, steps: tuple[Step, ...]) -> None:
    """Wrap the steps' functions that `module` defines, and put the wrapper in place of any
    original it took from a module of its package before that one was wrapped."""
    for step in steps:
        if not step.covers(module.__name__):
            continue
        if step.function:
            found = module.__dict__.get(step.function)
            if found in _wrappers:
                setattr(module, step.function, _wrappers[found])
            elif inspect.isfunction(found) and found.__module__ == module.__name__:
                setattr(module, step.function, reached_after(step.name, found))
        if step.method:
            for value in list(module.__dict__.values()):
                if (
                    inspect.isclass(value)
                    and value.__module__ == module.__name__
                    and not getattr(value, "_is_protocol", False)  # a Protocol's stub
                    and inspect.isfunction(value.__dict__.get(step.method))
                    and value.__dict__[step.method] not in _wrappers.values()
                ):
                    original = value.__dict__[step.method]
                    setattr(value, step.method, reached_after(step.name, original))


class WrapOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the finders after it, and has the module the steps look in
    wrapped as soon as it has run, before its importer gets it back."""

    def __init__(self, steps: tuple[Step, ...]):
        self.steps = steps

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if not any(step.covers(fullname) for step in self.steps):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is not None and hasattr(loader, "exec_module"):
            # On the loader itself, not a proxy: the package's resource reader stays its own.
            run = loader.exec_module
            steps = self.steps

            def exec_module(module: ModuleType) -> None:
                run(module)
                wrap_module(module, steps)

            loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Wrap the functions of the steps the environment names, in modules imported from now
    on (and in any already imported, though their importers may hold the originals)."""
    steps = tuple(step for step in STEPS if step.name in requested_steps())
    unknown = requested_steps() - {step.name for step in STEPS}
    if unknown:
        raise SystemExit(f"fault injection: no step named {', '.join(sorted(unknown))}")
    if not steps:
        return
    sys.meta_path.insert(0, WrapOnImport(steps))
    for name, module in list(sys.modules.items()):
        if any(step.covers(name) for step in steps):
            wrap_module(module, steps)
