"""What a steward sees in the Prefect UI, in a real browser (Playwright driving Debian's
Chromium) against the test run's Prefect server: a run that left a refused return waiting
ends NeedsAttention, shown as a failure, never as a success; the refused return's review run
waits with a form; answering "accept" with a reason makes the next publish run use it.

Screenshots go to the test's folder, or to BRIEFINGS_SCREENSHOTS_DIR (docs/ for the pictures
in docs/stewards.md: `BRIEFINGS_SCREENSHOTS_DIR=docs pytest tests/test_review_ui.py`)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from .helpers import TEST_DATA

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(`make system-packages` installs it)",
    ),
    pytest.mark.from_published,
]
WILTSHIRE = "E23000038"


@pytest.fixture
def stewards_deployments(prefect_api_url):
    """The review-return and tell-stewards deployments of prefect.yaml on the test server,
    with tell-stewards' Automation (as `briefings serve` registers them); nothing polls for
    their runs: the test runs them, as a worker would."""
    from prefect.client.orchestration import get_client

    from briefings.operations import served_deployments, spec_named

    specs = [spec_named("review-return"), spec_named("tell-stewards")]
    ids = {deployment.name: deployment.apply() for deployment in served_deployments(specs)}
    yield ids
    with get_client(sync_client=True) as client:
        for deployment_id in ids.values():
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
            client.delete_deployment(deployment_id)


def run_name_of(state) -> str:
    """The name of the run a state belongs to."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def run_as_a_worker_would(flow_run_id, flow):
    """Run a deployment's flow run here, as a worker would (a suspended run returns)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import Pause
    from prefect.flow_engine import run_flow

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    with contextlib.suppress(Pause):  # suspended: it waits for a steward, holding no process
        run_flow(flow, flow_run=flow_run, parameters=flow_run.parameters)
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def test_a_steward_accepts_a_refused_return_in_the_prefect_ui(
    prefect_server, prefect_api_url, published_small, stewards_deployments, tmp_path
):
    from playwright.sync_api import expect, sync_playwright
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    from flows.pipeline import RunRequest, attention_result, publish_briefings
    from flows.stewards import (
        ACCEPT_IT,
        KEEP_IT_REFUSED,
        review_return,
        review_tag,
        tell_stewards_of_run,
    )

    shots = Path(os.environ.get("BRIEFINGS_SCREENSHOTS_DIR") or tmp_path)
    copy = published_small[0].copy_to(tmp_path)
    # Wiltshire resends 2016/17 with 9 online-flagged of 5 grooming offences: refused by a
    # check a steward may overrule once the force confirms the figures.
    resent = copy.data / "raw" / "wiltshire-2016-17-resent.csv"
    shutil.copyfile(TEST_DATA / "bad" / "flagged-above-offences.csv", resent)
    request = RunRequest(data_dir=copy.data, out_dir=copy.out, forces=["Wiltshire"], deliver=False)
    first = publish_briefings(request, return_state=True)
    assert first.is_failed() and first.name == "NeedsAttention", first
    assert "wiltshire-2016-17-resent.csv" in first.message
    summary = attention_result(first)  # it published without the refused return
    figures = json.loads(summary.figures_json.read_text())
    assert next(f for f in figures["forces"] if f["code"] == WILTSHIRE)["online_flagged"] == 44

    from briefings.ingest import file_sha256

    with get_client(sync_client=True) as client:
        [review] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[review_tag(file_sha256(resent))])
            )
        )
    review = run_as_a_worker_would(review.id, review_return)
    assert review.state.name == "Suspended", review.state

    # The Automation: the publish run's NeedsAttention starts tell-stewards, which tells the
    # stewards what waits and where to decide it.
    told = f"prefect.flow-run.{first.state_details.flow_run_id}"
    tell_runs = []
    deadline = time.monotonic() + 30
    while not tell_runs and time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            tell_runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(
                    id=DeploymentFilterId(any_=[stewards_deployments["tell-stewards"]])
                )
            )
        time.sleep(0.5)
    [tell] = tell_runs
    assert tell.parameters == {"flow_run": told}
    assert run_as_a_worker_would(tell.id, tell_stewards_of_run).state.is_completed()
    notices = sorted((copy.outbox / "stewards").glob("*.eml"), key=lambda p: p.stat().st_mtime)
    notice = email.message_from_bytes(notices[-1].read_bytes(), policy=email.policy.default)
    assert notice["Subject"] == f"Briefings: run '{run_name_of(first)}' needs attention"
    assert "1 return quarantined: wiltshire-2016-17-resent.csv" in notice.get_content()

    ui = prefect_server.api.removesuffix("/api")
    reason = "Wiltshire confirmed 9 online-flagged of 5 grooming offences (linked crimes)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{ui}/runs", wait_until="networkidle")
        # The publish run is shown as a failure by name, never as a plain success.
        badge = page.locator(".state-badge", has_text="NeedsAttention").first
        expect(badge).to_be_visible(timeout=20_000)
        expect(badge).to_have_class(re.compile(r"\bstate--failed\b"))
        expect(page.locator(".state-badge", has_text="Suspended").first).to_be_visible()
        page.screenshot(path=str(shots / "ui-runs.png"))

        page.goto(f"{ui}/runs/flow-run/{review.id}", wait_until="networkidle")
        page.get_by_role("button", name="Resume").first.click()
        form = page.get_by_role("dialog")
        expect(form.get_by_text("Review of")).to_be_visible()
        expect(form.get_by_text("found 9 flagged of 5 offences")).to_be_visible()

        def field(label: str):
            return form.locator(".schema-form-property", has_text=label)

        # The decision offers accepting: only checks a steward may overrule refused it.
        field("Decision").locator(".p-select-button__control").press(" ")
        expect(page.get_by_role("option")).to_have_text([ACCEPT_IT, KEEP_IT_REFUSED])
        page.get_by_role("option", name=ACCEPT_IT).click()
        field("Reason").locator("textarea, input").fill(reason)
        field("Your name").locator("textarea, input").fill("A Steward")
        page.screenshot(path=str(shots / "ui-review.png"))
        form.get_by_role("button", name="Submit").click()
        expect(form).to_be_hidden()
        browser.close()

    with get_client(sync_client=True) as client:
        for _ in range(50):  # resumed: the server schedules it to run again
            if not client.read_flow_run(review.id).state.is_paused():
                break
            time.sleep(0.2)
    review = run_as_a_worker_would(review.id, review_return)
    assert review.state.is_completed(), review.state
    assert "accepted by A Steward" in review.state.message

    second = publish_briefings(request, return_state=True)
    assert second.is_completed(), second  # nothing waits for a person now
    summary = second.result()
    entry = next(e for e in summary.ledger if e.file == resent.name)
    assert entry.status == "accepted"
    assert entry.detail.startswith("accepted by A Steward on ") and reason in entry.detail
    figures = json.loads(summary.figures_json.read_text())
    # 22B 30 and 88A 9: the accepted return replaces returns-2017.csv's 30 and 14.
    assert next(f for f in figures["forces"] if f["code"] == WILTSHIRE)["online_flagged"] == 39
