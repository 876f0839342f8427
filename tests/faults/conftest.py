"""Fault tests: the clean run every recovered run is compared with, and, at the end of the
session, how many faults were injected and fuzz inputs tried (the issue notes quote them)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def clean_run(published_small):
    """(data_dir, out_dir, state) of a clean first run on the small folder: the session's
    published_small (tests/conftest.py), shared with other tests: never change these folders."""
    from .running import state_of

    publication = published_small[0]
    return publication.data, publication.out, state_of(publication.data, publication.out)


@pytest.fixture(scope="module")
def clean(clean_run):
    """The state a clean first run on the small folder leaves behind."""
    return clean_run[2]


def pytest_terminal_summary(terminalreporter) -> None:
    running = sys.modules.get("tests.faults.running")
    faults, recovered = getattr(running, "FAULTS", None), getattr(running, "RECOVERED", None)
    if faults:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(faults.items()))
        terminalreporter.write_line(
            f"faults injected: {faults.total()} ({kinds}); runs recovered: {recovered.total()}"
        )
    module = sys.modules.get("tests.faults.test_fuzz_ingest")
    tried = getattr(module, "TRIED", None)
    ingested = getattr(module, "INGESTED", {})
    if tried:
        parts = ", ".join(
            f"{kind} {count:,}"
            + (f" ({ingested[kind]:,} read to a table)" if kind in ingested else "")
            for kind, count in sorted(tried.items())
        )
        terminalreporter.write_line(f"fuzz inputs tried: {sum(tried.values()):,} ({parts})")
