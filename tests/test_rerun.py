"""A rerun with nothing new gives the last publication of the same request again, without
reading a table (services/receipts.py); anything a publication depends on that changed, by a
byte, publishes afresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PROJECT_ROOT

RETURN = "force,financial_year,offence_code,offences,online_flagged\nWiltshire,2017/18,ALL,,57\n"


@pytest.fixture
def published(published_small, tmp_path, monkeypatch):
    """The session's publication of the small round, copied here, and a request for it."""
    from briefings.services import RunRequest

    for name in [n for n in os.environ if n.startswith("BRIEFINGS_SMTP")]:
        monkeypatch.delenv(name)
    copy = published_small[0].copy_to(tmp_path)
    return copy, RunRequest(data_dir=copy.data, out_dir=copy.out, deliver=False)


def task_runs(state) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    return sorted(run.name.rsplit("-", 1)[0] for run in runs)


def artifact_keys(state) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    return sorted(artifact.key for artifact in found)


def copied_artifacts(state, first_state) -> list[str]:
    """The keys under which the run of `state` created an artifact whose previous version
    there was made by the run of `first_state`: a copy of what the key already showed. A key
    another run wrote to meanwhile (another pytest worker's, on the shared server) showed
    something else, and is not one."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    run, first = state.state_details.flow_run_id, first_state.state_details.flow_run_id
    copied = []
    with get_client(sync_client=True) as client:
        for key in artifact_keys(state):
            versions = sorted(
                client.read_artifacts(
                    artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
                ),
                key=lambda artifact: artifact.created,
            )
            ours = [i for i, artifact in enumerate(versions) if artifact.flow_run_id == run]
            if ours and ours[0] > 0 and versions[ours[0] - 1].flow_run_id == first:
                copied.append(key)
    return copied


def test_a_rerun_with_nothing_new_says_and_gives_what_a_full_run_would(published, monkeypatch):
    """The same summary, files and ledger as a full run; one task run that found nothing new
    (not one per step); only the briefings table as an artifact (the others' latest versions
    already show the same)."""
    from briefings.services import publishing
    from flows.pipeline import publish_briefings

    copy, request = published
    first_state = publish_briefings(request, return_state=True)  # new paths: a full run
    first = first_state.result()
    files = {p: p.read_bytes() for p in copy.out.rglob("*") if p.is_file()}

    def not_again(*args, **kwargs):
        raise AssertionError("published afresh although nothing changed")

    monkeypatch.setattr(publishing, "_publish_afresh", not_again)
    state = publish_briefings(request, return_state=True)
    again = state.result()
    assert again.rendered == [] and again.pdfs == first.pdfs
    assert (again.period, again.period_dir, again.figures_json, again.manifest) == (
        first.period,
        first.period_dir,
        first.figures_json,
        first.manifest,
    )
    assert again.ledger == first.ledger and again.warnings == first.warnings
    assert again.needs_attention == first.needs_attention == []
    assert {p: p.read_bytes() for p in copy.out.rglob("*") if p.is_file()} == files
    assert task_runs(state) == ["ingest returns"]
    # Every run's own briefings table; no copy of the others (which show the same).
    assert "briefings-2016-17" in artifact_keys(state)
    # (Not the briefings table either, if another pytest worker's run wrote a version of it
    # between the two runs: the rerun's then follows that one, not the first run's.)
    assert set(copied_artifacts(state, first_state)) <= {"briefings-2016-17"}
    assert len(task_runs(first_state)) == 3  # ingest, validate, compute figures


def test_anything_changed_publishes_afresh(published):
    """A new return, a PDF removed, a byte of the store or the journal, a setting, another
    version of the code, a request for every briefing: each is a full run. So is the run
    after one that left something waiting."""
    from dataclasses import replace

    import briefings.cache as cache
    from briefings.journal import Journal
    from briefings.services import receipts
    from briefings.store import DataFolders, Status
    from flows.pipeline import publish_briefings

    copy, request = published
    folders = DataFolders(copy.data)
    summary = publish_briefings(request)
    assert receipts.unchanged(folders, request) is not None

    def changed(how) -> bool:
        """Whether `how` (undone afterwards) makes the rerun a full run."""
        undo = how()
        try:
            return receipts.unchanged(folders, request) is None
        finally:
            undo()

    def add_return():
        path = copy.data / "raw" / "wiltshire-late.csv"
        path.write_text(RETURN)
        return path.unlink

    def remove_pdf():
        pdf = summary.period_dir / "wiltshire.pdf"
        kept = pdf.read_bytes()
        pdf.unlink()
        return lambda: pdf.write_bytes(kept)

    def touch_raw():
        raw = next(p for p in (copy.data / "raw").rglob("*.csv"))
        stat = raw.stat()
        os.utime(raw, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
        return lambda: os.utime(raw, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    def garble_store():
        table = folders.accepted_returns
        kept = table.read_bytes()
        table.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
        return lambda: table.write_bytes(kept)

    def journal_note():
        path = folders.journal
        kept = path.read_bytes()
        Journal.of(copy.data).set_meta("a steward's note", "read it")
        return lambda: (
            path.write_bytes(kept),
            path.with_name(path.name + "-wal").unlink(missing_ok=True),
        )

    def patched(name: str, value: object, module: object = None):
        def how():
            context = pytest.MonkeyPatch()
            if module is None:
                context.setenv(name, str(value))
            else:
                context.setattr(module, name, value)
            return context.undo

        how.__name__ = name
        return how

    for how in (
        add_return,
        remove_pdf,
        touch_raw,
        garble_store,
        journal_note,
        patched("BRIEFINGS_PARALLEL_FROM", 99),
        patched("code_fingerprint", lambda: "another version", cache),
    ):
        assert changed(how), how.__name__
        assert receipts.unchanged(folders, request) is not None, how.__name__
    assert receipts.unchanged(folders, request.model_copy(update={"force_render": True})) is None
    assert receipts.unchanged(folders, request.model_copy(update={"period": "2015/16"})) is None

    # What is not read (Data Docs, a period's cached figures, the store's lock) changes nothing.
    for path in (
        folders.validation / "data-docs" / "extra.html",
        folders.cache / "figures" / "another.pickle",
        folders.processed / ".lock",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not an input")
    assert receipts.unchanged(folders, request) is not None

    # Nothing is kept while something waits (a raw file still being written, a refused
    # return whose stewards were not told): the next run does the work.
    receipt = receipts.unchanged(folders, request)
    ledger = receipt.ingested.ledger
    arriving = replace(ledger[0], status=Status.INCOMPLETE)
    untold = replace(ledger[0], status=Status.QUARANTINED)
    for ingested in (
        replace(receipt.ingested, ledger=[arriving, *ledger[1:]]),
        replace(receipt.ingested, needs_attention=[untold]),
    ):
        receipts.keep(folders, request, ingested, receipt.figures, receipt.publication)
        assert receipts.unchanged(folders, request) is None
    receipts.keep(folders, request, receipt.ingested, receipt.figures, receipt.publication)
    assert receipts.unchanged(folders, request) == receipt


def test_a_new_return_then_another_period_leaves_both_publications_to_rerun(published):
    """The run after new returns checks the tables they rewrote and records that they passed;
    that record is no input of a publication, so the first period's rerun stays quick."""
    from briefings.services import receipts
    from briefings.store import DataFolders
    from flows.pipeline import publish_briefings

    copy, request = published
    (copy.data / "raw" / "wiltshire-late.csv").write_text(RETURN)
    first = request.model_copy(update={"period": "2016/17"})
    second = request.model_copy(update={"period": "2015/16"})
    for each in (first, second):
        publish_briefings(each)
    folders = DataFolders(copy.data)
    assert receipts.unchanged(folders, first) is not None
    assert receipts.unchanged(folders, second) is not None


def test_the_forces_are_read_without_pandas_as_pandas_reads_them(tmp_path):
    """The force register (all a rerun needs of the reference tables) is read with the csv
    module, giving what pandas gave; a table with a cell missing is refused by name."""
    import shutil

    import pandas as pd

    from briefings.reference import REFERENCE_DIR, _text_rows, force_register

    for name in ("forces.csv", "force-aliases.csv", "force-spoken-names.csv"):
        table = pd.read_csv(REFERENCE_DIR / name, dtype=str)
        assert _text_rows(REFERENCE_DIR / name) == table.to_dict(orient="records")
    copy = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, copy)
    forces = (copy / "forces.csv").read_text().splitlines()
    forces[3] = ",".join(["", *forces[3].split(",")[1:]])
    (copy / "forces.csv").write_text("\n".join(forces) + "\n")
    with pytest.raises(ValueError, match=r"forces.csv: row 4 has no value for pfa_code"):
        force_register(copy)
    assert len(force_register().forces) == 43


def test_flow_parameters_are_kept_as_prefect_keeps_them():
    """The publish and ingest flows encode their parameters without FastAPI, as Prefect's own
    encoder does (the API keeps the same JSON)."""
    from prefect import Flow

    from flows.pipeline import RunRequest, ingest_new_returns, publish_briefings

    request = RunRequest(
        data_dir=Path("/data"),
        out_dir=Path("out"),
        period="2016/17",
        forces=["Kent", "E23000038"],
        as_of="2017-06-01",
    )
    for flow, parameters in (
        (publish_briefings, {"request": request}),
        (publish_briefings, {"request": RunRequest(data_dir=Path("d"), out_dir=Path("o"))}),
        (ingest_new_returns, {"data_dir": Path("/data"), "rebuild": True}),
        (publish_briefings, {"request": {"nested": (1, 2)}}),  # left to Prefect
    ):
        assert flow.serialize_parameters(parameters) == Flow.serialize_parameters(flow, parameters)


@pytest.mark.integration
def test_a_rerun_with_nothing_new_imports_no_table_or_rendering_library(published, prefect_api_url):
    """In a fresh process, as a scheduled run (which delivers): no pandas, pyarrow, Great
    Expectations, Jinja2 or WeasyPrint."""
    copy, request = published
    request = request.model_copy(update={"deliver": True})
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from flows.pipeline import RunRequest, publish_briefings\n"
        f"request = RunRequest.model_validate_json({request.model_dump_json()!r})\n"
        "summary = publish_briefings(request)\n"
        "heavy = ['pandas', 'pyarrow', 'great_expectations', 'jinja2', 'weasyprint', 'fastapi']\n"
        "print(json.dumps({'rendered': len(summary.rendered),\n"
        "                  'imported': [m for m in heavy if m in sys.modules]}))\n"
    )
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for _ in range(2)  # the first, on new paths, publishes afresh
    ]
    last = json.loads(runs[-1].stdout.strip().splitlines()[-1])
    assert last == {"rendered": 0, "imported": []}, runs[-1].stderr[-2000:]
