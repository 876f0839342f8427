"""Shared fixtures. One Prefect server serves the whole test session (not one per test)."""

from __future__ import annotations

import os
import tempfile
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


@pytest.fixture(scope="session")
def prefect_api_url() -> str:
    """A real Prefect server for the session; in-process flows and CLI subprocesses use it."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        url = PREFECT_API_URL.value()
        os.environ["PREFECT_API_URL"] = url  # for subprocesses started by tests
        yield url
        os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    return copy_data_folder(TEST_DATA / "small", tmp_path / "data")


@pytest.fixture(scope="session", autouse=True)
def raw_data_is_never_changed():
    """data/raw/ (the bundled returns) and tests/data/ are byte-identical after the session."""
    folders = [PROJECT_ROOT / "data" / "raw", TEST_DATA]
    before = [tree_digest(folder) for folder in folders]
    yield
    assert [tree_digest(folder) for folder in folders] == before
