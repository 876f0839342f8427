"""The fault injection itself (inject/): a step is reached when the application's function
returns, whichever module the caller took it from, and without a variable nothing happens."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from .running import INJECT, run_env

PACKAGE = {
    "__init__.py": "from shop.staging import stage_raw_files\nfrom shop.transport import Outbox\n",
    "staging.py": (
        "def stage_raw_files(years):\n"
        "    return years if years == 0 else 1 + stage_raw_files(years - 1)\n"
    ),
    "report.py": "from shop import stage_raw_files\n",
    "transport.py": (
        "from typing import Protocol\n"
        "class Transport(Protocol):\n"
        "    def send(self, message): ...\n"
        "class Outbox:\n"
        "    def send(self, message):\n"
        "        return message\n"
    ),
}


@pytest.fixture
def injection(tmp_path, monkeypatch):
    """inject/fault_injection.py, loaded on its own (not as a sitecustomize), with each step
    it reaches recorded rather than acted on; a package `shop` to wrap, in tmp_path."""
    path = INJECT / "fault_injection.py"
    spec = importlib.util.spec_from_file_location("fault_injection_under_test", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    reached: list[str] = []
    monkeypatch.setattr(module, "reach", reached.append)
    for name, text in PACKAGE.items():
        (tmp_path / "shop").mkdir(exist_ok=True)
        (tmp_path / "shop" / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module, reached
    for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
        del sys.modules[name]


def test_the_wrapper_is_what_every_importer_binds_and_reached_once_per_call(injection):
    module, reached = injection
    steps = (
        module.Step("ingest", "shop", function="stage_raw_files"),
        module.Step("deliver", "shop.transport", method="send"),
    )
    finder = module.WrapOnImport(steps)
    sys.meta_path.insert(0, finder)
    try:
        import shop.report
    finally:
        sys.meta_path.remove(finder)
    import shop

    # Defined in shop.staging, re-exported by shop, taken from there by shop.report.
    wrapped = shop.staging.stage_raw_files
    assert wrapped.__wrapped__.__module__ == "shop.staging"
    assert shop.stage_raw_files is wrapped and shop.report.stage_raw_files is wrapped
    assert wrapped(3) == 3
    assert reached == ["ingest"]  # the recursive calls inside do not count
    assert shop.Outbox().send("message") == "message"
    assert reached == ["ingest", "deliver"]
    assert not hasattr(shop.transport.Transport.send, "__wrapped__")  # a Protocol's stub


def test_a_step_is_not_reached_when_its_function_raises(injection):
    module, reached = injection

    def failing():
        raise OSError("disk full")

    with pytest.raises(OSError):
        module.reached_after("render", failing)()
    assert reached == []


def in_a_run(code: str, **env: str) -> str:
    """What `code` prints in a process started as the fault tests start runs."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=run_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_without_a_variable_the_injection_imports_nothing_and_wraps_nothing():
    code = """if True:
        import sys

        import sitecustomize
        from briefings.domain.figures import compute_period_figures

        wrapped = hasattr(compute_period_figures, "__wrapped__")
        print(sitecustomize.__file__, "fault_injection" in sys.modules, wrapped)
    """
    assert in_a_run(code) == f"{INJECT / 'sitecustomize.py'} False False"


def test_the_application_functions_are_wrapped_where_the_runs_take_them():
    """The names as flows and services import them: a wrapper in each, the original under it."""
    code = """if True:
        import sys

        import briefings.store
        from briefings.delivery.transport import OutboxTransport, SmtpTransport
        from briefings.domain.figures import compute_period_figures
        from briefings.render.publication import render_prepared
        from briefings.store import stage_raw_files
        from briefings.validation import validate_returns

        original = getattr(stage_raw_files, "__wrapped__", stage_raw_files)
        defined = sys.modules[original.__module__]  # after the store's split, not the package
        print(defined.stage_raw_files is stage_raw_files is briefings.store.stage_raw_files)
        for f in (stage_raw_files, validate_returns, compute_period_figures, render_prepared,
                  OutboxTransport.send, SmtpTransport.send):
            print(f.__name__, hasattr(f, "__wrapped__"))
    """
    first = in_a_run(
        code,
        BRIEFINGS_TEST_KILL_AT="ingest",
        BRIEFINGS_TEST_PAUSE_AT="validate:0",
        BRIEFINGS_TEST_FILL_DISK_AT="figures:1",
    )
    assert first.splitlines() == [
        "True",
        "stage_raw_files True",
        "validate_returns True",
        "compute_period_figures True",
        "render_prepared False",
        "send False",
        "send False",
    ]
    second = in_a_run(code, BRIEFINGS_TEST_KILL_AT="render", BRIEFINGS_TEST_PAUSE_AT="deliver:0")
    assert second.splitlines()[1:] == [
        "stage_raw_files False",
        "validate_returns False",
        "compute_period_figures False",
        "render_prepared True",
        "send True",
        "send True",
    ]
