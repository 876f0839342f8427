"""The `briefings` command as a user runs it: one-line errors, exit codes, a real run.

The commands run in this process (no second start-up of pandas, Great Expectations and
Prefect per call); one test runs the installed script in a process of its own (the fault tests
run it end to end, killed, paused and side by side)."""

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PROJECT_ROOT, briefings

BRIEFINGS = Path(sys.executable).parent / "briefings"


def installed_briefings(*args: str) -> subprocess.CompletedProcess:
    """The console script, in a process of its own."""
    return subprocess.run(
        [str(BRIEFINGS), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        timeout=300,
    )


def test_help_lists_the_run_command():
    """The installed script, in a process of its own."""
    result = installed_briefings("--help")
    assert result.returncode == 0
    assert "run" in result.stdout


def test_commands_annotations_are_objects_not_strings():
    """Typer reads every command's signature for the help: string annotations (`from __future__
    import annotations`) it would evaluate several times over on every start."""
    from briefings.cli import app

    def callbacks(typer_app):
        yield typer_app.registered_callback.callback if typer_app.registered_callback else None
        yield from (command.callback for command in typer_app.registered_commands)
        for group in typer_app.registered_groups:
            yield from callbacks(group.typer_instance)

    found = [callback for callback in callbacks(app) if callback is not None]
    assert len(found) > 20
    strings = {
        f"{callback.__name__}({name})"
        for callback in found
        for name, annotation in callback.__annotations__.items()
        if isinstance(annotation, str)
    }
    assert not strings


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
    assert result.returncode == 4, result.stderr  # done, but a return was quarantined
    assert sorted(p.name for p in (out / "2016-17").iterdir()) == [
        "figures.json",
        "manifest.json",
        "wiltshire.pdf",
    ]
    assert (
        f"Briefings for 2016/17 (1 PDF, 1 rendered by this run): {out / '2016-17'}" in result.stdout
    )
    assert "Quarantined: dorset-return-with-errors.csv: row 2, column force" in result.stderr
    figures = json.loads((out / "2016-17" / "figures.json").read_text())
    assert len(figures["forces"]) == 5  # figures.json covers the whole period


def test_a_period_with_no_returns_fails_with_the_periods_that_have_data(
    prefect_api_url, small_data, tmp_path
):
    out = tmp_path / "reports" / "out"
    result = briefings(
        "run", "--data-dir", str(small_data), "--out-dir", str(out), "--period", "2012/13"
    )
    assert result.returncode == 1
    assert (
        "briefings: error: no accepted returns for 2012/13; periods with data: 2015/16, 2016/17"
    ) in result.stderr
    # The stewards hear of the refused return (a data problem), not of the analyst's period.
    (notice,) = (tmp_path / "reports" / "outbox" / "stewards").glob("*.eml")
    message = email.message_from_bytes(notice.read_bytes(), policy=email.policy.default)
    assert "dorset-return-with-errors.csv" in message.get_content()
    assert "2012/13" not in message.get_content()


def test_a_force_without_a_return_for_the_period_is_a_clear_error(
    prefect_api_url, small_data, tmp_path
):
    out = tmp_path / "reports" / "out"  # its steward notices go beside it, not into reports/
    result = briefings(
        "run", "--data-dir", str(small_data), "--out-dir", str(out), "--force", "Dorset"
    )
    assert result.returncode == 1
    assert "briefings: error: no accepted return for Dorset in 2016/17" in result.stderr


def test_validate_reports_each_file_and_fails_when_one_would_be_refused():
    good = PROJECT_ROOT / "tests" / "data" / "formats" / "wide-years.csv"
    bad = PROJECT_ROOT / "tests" / "data" / "bad" / "flagged-above-offences.csv"
    result = briefings("validate", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK wide-years.csv: passed")
    assert "online-flag return, wide; totals row 4 left out" in result.stdout
    result = briefings("validate", str(good), str(bad))
    assert result.returncode == 1
    assert (
        "  - flagged-above-offences.csv row 3, column online_flagged: expected no more "
        "online-flagged offences than offences; found 9 flagged of 5 offences"
    ) in result.stdout


def test_ingest_prints_a_summary_and_rebuild_gives_the_same_store(prefect_api_url, small_data):
    import pandas as pd

    shutil.copy(small_data / "raw" / "returns-2017.csv", small_data / "raw" / "copy.csv")
    result = briefings("ingest", "--data-dir", str(small_data))
    assert result.returncode == 4, result.stderr
    assert "Returns: 4 files: 2 accepted, 0 superseded, 1 duplicate, 1 quarantined" in result.stdout
    before = pd.read_parquet(small_data / "processed" / "online_flag_returns.parquet")
    result = briefings("ingest", "--data-dir", str(small_data), "--rebuild")
    assert result.returncode == 4, result.stderr
    after = pd.read_parquet(small_data / "processed" / "online_flag_returns.parquet")
    pd.testing.assert_frame_equal(before, after)


def test_a_second_run_while_one_holds_the_store_is_refused_clearly(small_data):
    from briefings.store import DataFolders, store_lock

    with store_lock(DataFolders(small_data)):
        result = briefings("ingest", "--data-dir", str(small_data))
    assert result.returncode == 3
    assert "briefings: error: another run is updating" in result.stderr
