"""The whole flow on small data folders, under one real Prefect server for the session."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from briefings.store import DataFolders
from flows.pipeline import RunError, RunRequest, attention_result, publish_briefings

from .helpers import TEST_DATA, copy_data_folder, pdf_text, tree_digest


@pytest.fixture
def run(prefect_api_url, tmp_path):
    def run_flow(data_dir: Path, **options):
        request = RunRequest(data_dir=data_dir, out_dir=tmp_path / "out", **options)
        return publish_briefings(request)

    return run_flow


def test_a_small_folder_gives_force_and_national_briefings(run, small_data):
    raw_before = tree_digest(small_data / "raw")
    summary = run(small_data)

    assert summary.period == "2016/17"
    names = sorted(p.name for p in summary.pdfs)
    # Dorset's return failed validation; Surrey has no previous year but still gets a briefing.
    assert names == [
        "cumbria.pdf",
        "gwent.pdf",
        "kent.pdf",
        "national.pdf",
        "region-north-west.pdf",
        "region-south-east.pdf",
        "region-south-west.pdf",
        "region-wales.pdf",
        "surrey.pdf",
        "wiltshire.pdf",
    ]
    assert tree_digest(small_data / "raw") == raw_before  # raw files untouched

    figures = json.loads(summary.figures_json.read_text())
    national = figures["national"]
    assert national["forces_responding"] == 5
    assert national["online_flagged"] == 44 + 1150 + 65 + 12 + 63
    # Cumbria's previous count (3) is withheld, so Cumbria is left out of the comparison:
    # a like-for-like total including it would reveal it.
    assert national["like_for_like_forces"] == 3
    assert (national["like_for_like_previous"], national["like_for_like_current"]) == (
        10 + 120 + 59,
        44 + 1150 + 65,
    )
    # Cut toward zero at the printed precision, as every printed figure is: 3.68 is 3.6.
    assert national["per_day"] == math.floor((44 + 1150 + 65 + 12 + 63) / 365 * 10) / 10
    cumbria = next(f for f in figures["forces"] if f["name"] == "Cumbria")
    assert cumbria["previous_online_flagged"] is None and cumbria["previous_suppressed"]

    text = pdf_text(summary.period_dir / "cumbria.pdf")
    assert "compared with fewer than 5 in 2015/16" in text
    assert "Cumbria, 2015/16 fewer than 5" in text  # the table withholds it too
    assert "2015/16 fewer than 5 not given" in text  # and the chart's table


def test_a_failing_return_is_quarantined_with_a_readable_report(run, small_data):
    summary = run(small_data)
    quarantined = {e.staged.file: e for e in summary.quarantined}
    assert set(quarantined) == {"dorset-return-with-errors.csv"}
    report = DataFolders(small_data).quarantine_report("dorset-return-with-errors.csv")
    text = report.read_text()
    assert "row 2, column force" in text and "'Dorsett'" in text
    assert "row 3, column online_flagged" in text and "'twelve'" in text
    assert "row 4, column online_flagged" in text and "9 flagged of 5 offences" in text
    ledger = pd.read_csv(small_data / "processed" / "ledger.csv")
    assert ledger.set_index("file")["status"].to_dict() == {
        "dorset-return-with-errors.csv": "quarantined",
        "returns-2017.csv": "accepted",
        "surrey-foi-response.xlsx": "accepted",
    }


def test_a_later_return_for_the_same_force_and_year_supersedes_the_earlier(run, small_data):
    run(small_data)
    (small_data / "raw" / "wiltshire-correction.csv").write_text(
        "force,financial_year,offence_code,offences,online_flagged\n"
        "Wiltshire,2015/16,ALL,,10\nWiltshire,2016/17,ALL,,45\n"
    )
    summary = run(small_data, forces=["Wiltshire"])
    figures = json.loads(summary.figures_json.read_text())
    wiltshire = next(f for f in figures["forces"] if f["name"] == "Wiltshire")
    assert wiltshire["online_flagged"] == 45
    assert wiltshire["sources"] == ["wiltshire-correction.csv"]
    ledger = pd.read_csv(small_data / "processed" / "ledger.csv").set_index("file")
    assert ledger.loc["returns-2017.csv", "status"] == "accepted"  # other forces still used
    assert "superseded by wiltshire-correction.csv" in ledger.loc["returns-2017.csv", "detail"]
    assert [p.name for p in summary.pdfs] == ["wiltshire.pdf"]
    # As of before the correction arrived, the figures are those of the first return.
    first_seen = pd.read_csv(small_data / "processed" / "ledger.csv").set_index("file")
    before = first_seen.loc["returns-2017.csv", "first_seen"]
    earlier = run(small_data, forces=["Wiltshire"], as_of=before)
    figures = json.loads(earlier.figures_json.read_text())
    wiltshire = next(f for f in figures["forces"] if f["name"] == "Wiltshire")
    assert wiltshire["online_flagged"] == 44


def test_other_years_including_a_leap_year(run, tmp_path):
    data = copy_data_folder(TEST_DATA / "later-years", tmp_path / "later")
    summary = run(data)
    assert summary.period == "2019/20"
    figures = json.loads(summary.figures_json.read_text())
    assert figures["days"] == 366
    assert figures["national"]["per_day"] == math.floor((63 + 247 + 61) / 366 * 10) / 10
    text = pdf_text(summary.period_dir / "national.pdf")
    assert "From April 2019 to March 2020 they recorded 371 child sexual offences" in text
    assert "on average, fewer than one a day" not in text and "on average, one a day" in text
    earlier = run(data, period="2018/19")
    assert json.loads(earlier.figures_json.read_text())["national"]["like_for_like_forces"] == 0


def test_a_period_without_data_is_a_clear_error(run, small_data):
    with pytest.raises(
        RunError, match="no accepted returns for 2014/15; periods with data: 2015/16, 2016/17"
    ):
        run(small_data, period="2014/15")


def test_stewards_get_evidence_and_briefings_fail_closed(prefect_api_url, small_data, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    (small_data / "raw" / "wiltshire-resubmission.csv").write_text(
        "force,financial_year,offence_code,offences,online_flagged\nWiltshire,2016/17,ALL,,45?\n"
    )
    request = RunRequest(data_dir=small_data, out_dir=tmp_path / "out")
    state = publish_briefings(request, return_state=True)
    # Failed by name: the Prefect UI never shows a run that left returns waiting as a success.
    assert state.is_failed() and state.name == "NeedsAttention"
    assert "2 returns quarantined" in state.message
    summary = attention_result(state)  # what the run produced, all the same
    assert "wiltshire.pdf" in {p.name for p in summary.pdfs}  # every good briefing

    # The refused resubmission is not used, and Wiltshire's briefing says so.
    figures = json.loads(summary.figures_json.read_text())
    assert next(f for f in figures["forces"] if f["name"] == "Wiltshire")["online_flagged"] == 44
    text = pdf_text(summary.period_dir / "wiltshire.pdf")
    assert (
        "A later return for Wiltshire was refused by validation and is not used: "
        "wiltshire-resubmission.csv" in text
    )

    # Readable reasons, with a Data Docs page that names the failed expectation.
    ledger = pd.read_csv(small_data / "processed" / "ledger.csv").set_index("file")
    page = ledger.loc["wiltshire-resubmission.csv", "data_docs"]
    html = Path(page.removeprefix("file://")).read_text()
    assert "values must match this regular expression" in " ".join(html.split())
    report = DataFolders(small_data).quarantine_report("wiltshire-resubmission.csv").read_text()
    assert (
        "row 2, column online_flagged: expected a whole number of 0 or more, or a count the force "
        "withheld (such as <5 or *); found '45?'" in report
    )
    assert f"Validation report (Data Docs): {page}" in report
    assert (small_data / "processed" / "validation" / "data-docs" / "index.html").exists()

    # Artifacts under stable keys, for the Prefect UI (this run's: other tests share the server).
    def this_runs(key: str) -> list:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )

    with get_client(sync_client=True) as client:
        (ledger_artifact,) = this_runs("returns-ledger")
        data = ledger_artifact.data
        rows = json.loads(data) if isinstance(data, str) else data
        assert {row["file"]: row["status"] for row in rows}["wiltshire-resubmission.csv"] == (
            "quarantined"
        )
        assert any("wiltshire-resubmission.csv" in a.data for a in this_runs("validation-warnings"))


def test_home_office_context_for_the_same_period(run, tmp_path):
    import csv
    import shutil

    from .helpers import PROJECT_ROOT

    data = tmp_path / "context"
    (data / "raw").mkdir(parents=True)
    table = (
        PROJECT_ROOT / "data" / "raw" / "home-office" / "prc-pfa-2017-18-homeoffice-open-data.csv"
    )
    shutil.copy(table, data / "raw" / table.name)
    (data / "raw" / "returns-2018.csv").write_text(
        "force,financial_year,offence_code,offences,online_flagged\n"
        "Wiltshire,2016/17,ALL,,44\nWiltshire,2017/18,ALL,,61\n"
        "Kent,2016/17,ALL,,150\nKent,2017/18,ALL,,180\n"
    )
    summary = run(data)
    assert summary.period == "2017/18"
    codes = {"17B", "19D", "19E", "19G", "19H", "20B", "21", "22B", "71", "73", "88A"}
    with table.open(newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Force Name"] == "Wiltshire"]
    expected = sum(int(r["Number of Offences"]) for r in rows if r["Offence Code"] in codes)
    figures = json.loads(summary.figures_json.read_text())
    wiltshire = next(f for f in figures["forces"] if f["name"] == "Wiltshire")
    assert wiltshire["home_office_child_sexual_offences"] == expected
    text = pdf_text(summary.period_dir / "wiltshire.pdf")
    assert (
        f"For context, Home Office figures show Wiltshire Police recorded {expected:,} "
        "child sexual offences of all kinds in 2017/18"
    ) in text
    assert "That is a different measure" in text
    assert "not comparable between 2016/17 and 2017/18" in text  # the 88A series break
    assert figures["population_mid_year"] == 2017
    assert figures["home_office_sources"] == [table.name]  # traced to the table it came from


def test_stewards_are_told_of_a_quarantined_return_once_and_not_of_a_mistake(
    run, small_data, tmp_path
):
    """Through the outbox (no SMTP configured): one notice per refused return, not per run;
    none for a period the returns cannot give, asked for in a run started by hand (the
    asker is told; a scheduled run's failure is told: tests/test_user_mistakes.py)."""
    import email
    import email.policy

    from flows.pipeline import RunError

    def notices() -> list:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted((tmp_path / "outbox").rglob("*.eml"))
            if "data.stewards@example.org" in path.read_text(errors="replace")
        ]

    run(small_data)
    run(small_data)
    quarantined = [m for m in notices() if "quarantined" in m["Subject"]]
    assert len(quarantined) == 1
    assert "dorset-return-with-errors.csv" in quarantined[0]["Subject"]
    assert "row 2, column force" in quarantined[0].get_body(("plain",)).get_content()

    with pytest.raises(RunError, match="no accepted returns for 2019/20"):
        run(small_data, period="2019/20")
    assert [m["Subject"] for m in notices()] == [quarantined[0]["Subject"]]
