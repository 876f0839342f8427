"""The `briefings` command as a user runs it: one-line errors, exit codes, a real run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PROJECT_ROOT

BRIEFINGS = Path(sys.executable).parent / "briefings"


def briefings(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BRIEFINGS), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_help_lists_the_run_command():
    result = briefings("--help")
    assert result.returncode == 0
    assert "run" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2016/18"], "briefings: error: '2016/18' is not a financial year"),
        (["--period", "last year"], "briefings: error: 'last year' is not a financial year"),
        (
            ["--force", "Wiltshre"],
            "briefings: error: unknown force 'Wiltshre'; nearest known: Wiltshire",
        ),
    ],
)
def test_bad_arguments_give_a_one_line_error(args, message, small_data):
    result = briefings("run", "--data-dir", str(small_data), *args)
    assert result.returncode == 2
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]  # one line
    assert result.stderr.startswith(message)


@pytest.mark.parametrize("layout", ["missing", "empty", "hidden-only"])
def test_an_empty_data_folder_is_a_one_line_error(tmp_path, layout):
    if layout != "missing":
        (tmp_path / "raw").mkdir()
    if layout == "hidden-only":
        (tmp_path / "raw" / ".gitkeep").touch()
    result = briefings("run", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"briefings: error: no returns found in {tmp_path / 'raw'}"


def test_run_one_force_into_another_folder(prefect_api_url, small_data, tmp_path):
    out = tmp_path / "briefings"
    result = briefings(
        "run",
        "--data-dir",
        str(small_data),
        "--out-dir",
        str(out),
        "--period",
        "2016-17",
        "--force",
        "E23000038",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "2016-17").iterdir()) == ["figures.json", "wiltshire.pdf"]
    assert f"Briefings for 2016/17 (1 PDFs): {out / '2016-17'}" in result.stdout
    assert "Quarantined: dorset-return-with-errors.csv row 2, column force" in result.stderr
    figures = json.loads((out / "2016-17" / "figures.json").read_text())
    assert len(figures["forces"]) == 5  # figures.json covers the whole period


def test_a_period_with_no_returns_fails_with_the_periods_that_have_data(
    prefect_api_url, small_data
):
    result = briefings("run", "--data-dir", str(small_data), "--period", "2012/13")
    assert result.returncode == 1
    assert (
        "briefings: error: no accepted returns for 2012/13; periods with data: 2015/16, 2016/17"
    ) in result.stderr


def test_a_force_without_a_return_for_the_period_is_a_clear_error(prefect_api_url, small_data):
    result = briefings("run", "--data-dir", str(small_data), "--force", "Dorset")
    assert result.returncode == 1
    assert "briefings: error: no accepted return for Dorset in 2016/17" in result.stderr
