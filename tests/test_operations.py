"""Operations without a deployment: prefect.yaml as the one source of truth, the pull step,
what the commands say when no server answers, status from the ledger, and backfill."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from briefings import operations as ops
from briefings.domain.periods import Period, periods_between
from briefings.store import DataFolders

from .helpers import PROJECT_ROOT, TEST_DATA, briefings, copy_data_folder


@pytest.fixture
def no_server() -> dict[str, str]:
    """PREFECT_API_URL on a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}


def test_prefect_yaml_declares_both_scheduled_deployments_on_the_process_pool():
    specs = {spec.name: spec for spec in ops.deployment_specs()}
    assert set(specs) == {
        "ingest-returns",
        "fetch-replies",
        "publish-briefings",
        "review-return",
        "review-reply",
        "tell-stewards",
    }
    for name in ("review-return", "review-reply", "tell-stewards"):  # by runs, the Automation
        assert specs.pop(name).schedules == []
    expected = {
        "ingest-returns": "*/30 * * * *",
        "fetch-replies": "10,40 * * * *",
        "publish-briefings": "0 6 * * 1-5",
    }
    for name, spec in specs.items():
        assert spec.schedules == [{"cron": expected[name], "timezone": "Europe/London"}]
        assert spec.concurrency_limit == 1
        assert spec.work_pool == "briefings-process"
        assert spec.load_flow().name == name  # the entrypoint is the flow of that name
    assert specs["ingest-returns"].parameters == {"data_dir": "data", "rebuild": False}
    assert specs["fetch-replies"].parameters == {"data_dir": "data"}
    assert specs["publish-briefings"].parameters == {
        "request": {"data_dir": "data", "out_dir": "reports/out"}
    }
    config = yaml.safe_load(ops.PREFECT_FILE.read_text())
    assert config["pull"] == [{"briefings.operations.enter_project_folder": {}}]
    text = ops.PREFECT_FILE.read_text().lower()
    assert not any(word in text for word in ("password", "token:", "api_key", "secret:"))


def test_the_pull_step_enters_the_project_folder_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ops.enter_project_folder() == {"directory": str(PROJECT_ROOT)}
    assert Path.cwd() == PROJECT_ROOT
    assert Path("data").resolve() == PROJECT_ROOT / "data"  # relative parameters


def test_served_deployments_are_those_of_prefect_yaml(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)  # as `briefings serve` does
    served = {d.name: d for d in ops.served_deployments(ops.deployment_specs())}
    assert set(served) == {
        "ingest-returns",
        "fetch-replies",
        "publish-briefings",
        "review-return",
        "review-reply",
        "tell-stewards",
    }
    publish = served["publish-briefings"]
    assert publish.entrypoint == "flows/pipeline.py:publish_briefings"
    assert publish.parameters == {"request": {"data_dir": "data", "out_dir": "reports/out"}}
    assert publish.concurrency_limit == 1
    assert publish.work_pool_name is None
    [schedule] = publish.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * 1-5", "Europe/London")
    [schedule] = served["ingest-returns"].schedules
    assert schedule.schedule.cron == "*/30 * * * *"
    # The Automation: a publish run ending NeedsAttention starts tell-stewards with its id.
    [trigger] = served["tell-stewards"].triggers
    assert trigger.expect == {"prefect.flow-run.NeedsAttention"}
    assert trigger.match_related.root["prefect.resource.name"] == "publish-briefings"
    assert trigger.parameters == {"flow_run": "{{ event.resource.id }}"}


def test_a_schedule_that_cannot_be_served_is_named(tmp_path):
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(
        "deployments:\n  - name: odd\n    entrypoint: flows/pipeline.py:ingest_new_returns\n"
        "    schedules:\n      - rrule: FREQ=DAILY\n"
    )
    [spec] = ops.deployment_specs(prefect_file)
    with pytest.raises(ops.OperationsError, match="only cron and interval schedules"):
        spec.schedule_objects()
    prefect_file.write_text("name: nothing\n")
    with pytest.raises(ops.OperationsError, match="no deployments in"):
        ops.deployment_specs(prefect_file)


def test_parameters_given_at_trigger_time_keep_the_deployments_other_values():
    defaults = {"request": {"data_dir": "data", "out_dir": "reports/out"}}
    merged = ops.merged_parameters(defaults, {"request": {"period": "2016/17"}})
    assert merged == {
        "request": {"data_dir": "data", "out_dir": "reports/out", "period": "2016/17"}
    }
    assert ops.merged_parameters({"data_dir": "data", "rebuild": False}, {"rebuild": True}) == {
        "data_dir": "data",
        "rebuild": True,
    }
    assert defaults == {"request": {"data_dir": "data", "out_dir": "reports/out"}}  # unchanged


def test_periods_between_and_durations():
    periods = [p.label for p in periods_between(Period(2015), Period(2019))]
    assert periods == ["2015/16", "2016/17", "2017/18", "2018/19", "2019/20"]
    assert [ops.duration_text(s) for s in (4.4, 83, 3725)] == ["4 s", "1 min 23 s", "1 h 02 min"]
    assert ops.received_text("2017-06-01T09:30:00+00:00") == "2017-06-01 09:30 UTC"


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["trigger", "publish", "--period", "2016/17"],
        ["trigger", "ingest"],
    ],
)
def test_commands_that_need_a_server_say_so_in_one_line(args, no_server):
    result = briefings(*args, env=no_server)
    assert result.returncode == 1
    url = no_server["PREFECT_API_URL"]
    assert result.stderr == (
        f"briefings: error: no Prefect server is reachable at {url}: start one with "
        "`briefings server` (or `make server`), or set PREFECT_API_URL\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trigger", "publish", "--period", "2016/18"], "'2016/18' is not a financial year"),
        (["trigger", "publish", "--force", "Wiltshre"], "unknown force 'Wiltshre'"),
        (["trigger", "publish", "--as-of", "June"], "--as-of 'June' is not a date"),
        (["backfill", "--from", "2015/17", "--to", "2016/17"], "'2015/17' is not a financial"),
        (["backfill", "--from", "2019/20", "--to", "2015/16"], "--from 2019/20 comes after"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(args, message, no_server, small_data):
    if args[0] == "backfill":
        args = [*args, "--data-dir", str(small_data)]
    result = briefings(*args, env=no_server)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"briefings: error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (small_data / "processed").exists()


def test_a_second_server_on_a_busy_port_is_refused():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = briefings("server", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == (
        f"briefings: error: port {port} on 127.0.0.1 is in use: "
        "is a Prefect server already running?\n"
    )


def test_status_without_a_server_still_shows_returns_and_quarantine(
    prefect_api_url, small_data, no_server
):
    from flows.pipeline import ingest_new_returns

    ingest_new_returns(small_data)
    result = briefings("status", "--data-dir", str(small_data), env=no_server)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    url = no_server["PREFECT_API_URL"]
    assert f"Runs: not shown, no Prefect server is reachable at {url}" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 5}
    assert {"Cumbria", "Gwent", "Kent", "Surrey", "Wiltshire"} <= set(rows)
    assert "returns-2017.csv" in rows["Wiltshire"] and "2015/16, 2016/17" in rows["Wiltshire"]
    assert "surrey-foi-response.xlsx" in rows["Surrey"] and "2016/17" in rows["Surrey"]
    assert "Quarantined returns (1)" in out
    report = DataFolders(small_data).quarantine_report("dorset-return-with-errors.csv")
    assert f"Quarantine report: {report}" in out and report.exists()
    assert "Data Docs: " + str(small_data / "processed" / "validation" / "data-docs") in out


def test_status_before_any_ingest_says_where_the_ledger_will_be(tmp_path, no_server):
    result = briefings("status", "--data-dir", str(tmp_path), env=no_server)
    assert result.returncode == 0
    assert f"Returns: no ledger in {tmp_path / 'processed'} yet" in result.stdout


def test_backfill_publishes_each_period_with_data_and_skips_the_others(prefect_api_url, tmp_path):
    data = copy_data_folder(TEST_DATA / "later-years", tmp_path / "data")
    out = tmp_path / "out"
    args = ["--from", "2017/18", "--to", "2019/20", "--data-dir", str(data), "--out-dir", str(out)]
    result = briefings("backfill", *args)
    assert result.returncode == 0, result.stderr
    assert "Skipped 2017/18: no accepted returns" in result.stdout
    assert "Publishing 2018/19 (1 of 2)" in result.stdout
    assert "Publishing 2019/20 (2 of 2)" in result.stdout
    assert (
        "Backfill 2017/18 to 2019/20: published 2018/19, 2019/20; skipped (no returns) 2017/18"
    ) in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["2018-19", "2019-20"]
    for slug in ("2018-19", "2019-20"):
        assert {"national.pdf", "wiltshire.pdf", "figures.json"} <= {
            p.name for p in (out / slug).iterdir()
        }

    args = ["--from", "2015/16", "--to", "2016/17", "--data-dir", str(data), "--out-dir", str(out)]
    result = briefings("backfill", *args)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "briefings: error: no accepted returns from 2015/16 to 2016/17; "
        "periods with data: 2018/19, 2019/20"
    )


@pytest.mark.parametrize("args", [["--help"], ["trigger", "--help"], ["status", "--help"]])
def test_help_imports_neither_prefect_nor_pandas(args):
    code = (
        "import sys\n"
        "from briefings.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit as done:\n    assert done.code == 0\n"
        "heavy = ('prefect', 'pandas', 'yaml', 'httpx', 'great_expectations', 'weasyprint')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
