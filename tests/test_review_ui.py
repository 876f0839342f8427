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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import TEST_DATA

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(`make system-packages` installs it)",
)
WILTSHIRE = "E23000038"


@pytest.fixture(scope="module")
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


@dataclass(frozen=True)
class RefusedRound:
    """The small round published again after Wiltshire resent 2016/17, refused."""

    copy: Any  # conftest.Publication: data, out, outbox
    request: Any
    resent: Path
    first: Any  # the publish run's state


@pytest.fixture(scope="module")
def refused_round(published_small, stewards_deployments, tmp_path_factory) -> RefusedRound:
    """Wiltshire resends 2016/17 with 9 online-flagged of 5 grooming offences: refused by a
    check a steward may overrule once the force confirms the figures. One briefing is
    published (what is refused does not depend on which briefings a run renders)."""
    from flows.pipeline import RunRequest, publish_briefings

    copy = published_small[0].copy_to(tmp_path_factory.mktemp("refused-round"))
    resent = copy.data / "raw" / "wiltshire-2016-17-resent.csv"
    shutil.copyfile(TEST_DATA / "bad" / "flagged-above-offences.csv", resent)
    request = RunRequest(data_dir=copy.data, out_dir=copy.out, forces=["Wiltshire"], deliver=False)
    return RefusedRound(copy, request, resent, publish_briefings(request, return_state=True))


@needs_chromium
@pytest.mark.from_published
def test_a_steward_accepts_a_refused_return_in_the_prefect_ui(
    prefect_server, refused_round, stewards_deployments, tmp_path
):
    from playwright.sync_api import expect, sync_playwright
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    from flows.pipeline import attention_result, publish_briefings
    from flows.stewards import (
        ACCEPT_IT,
        KEEP_IT_REFUSED,
        review_return,
        review_tag,
        tell_stewards_of_run,
    )

    shots = Path(os.environ.get("BRIEFINGS_SCREENSHOTS_DIR") or tmp_path)
    copy, request, resent, first = (
        refused_round.copy,
        refused_round.request,
        refused_round.resent,
        refused_round.first,
    )
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
            # This run's: other tests' runs on the shared server need attention too.
            tell_runs = [
                run
                for run in client.read_flow_runs(
                    deployment_filter=DeploymentFilter(
                        id=DeploymentFilterId(any_=[stewards_deployments["tell-stewards"]])
                    )
                )
                if run.parameters == {"flow_run": told}
            ]
        time.sleep(0.5)
    [tell] = tell_runs
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
        page.set_viewport_size({"width": 1400, "height": 1250})  # the runs below the chart
        page.screenshot(path=str(shots / "ui-runs.png"))
        page.set_viewport_size({"width": 1400, "height": 900})

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


@needs_chromium
@pytest.mark.from_published
def test_data_docs_show_offline_with_the_problems_in_words(refused_round, tmp_path):
    """The Data Docs of the refused return and of the checks across returns, opened in the
    browser with every request outside the machine refused: styled (Bootstrap's layout and
    colours, from the copies beside the pages), nothing asked of the internet; the refused
    return's page says what failed in the quarantine report's words; the checks across
    returns, which raised only a warning, say 'Passed with warnings' and name the force; the
    index names the return of each validation and fills its table without bootstrap-table;
    values GX lists together are kept apart."""
    from playwright.sync_api import expect, sync_playwright

    site = refused_round.copy.data / "processed" / "validation" / "data-docs"
    index = site / "index.html"
    refused = refused_round.resent.name
    outside: list[str] = []

    def only_this_machine(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")) or re.match(
            r"https?://(127\.0\.0\.1|localhost)[:/]", url
        ):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route("**/*", only_this_machine)
        page.goto(index.as_uri(), wait_until="load")
        rows = page.locator("table tbody tr")
        expect(rows.filter(has_text=refused)).to_have_count(1)
        store = rows.filter(has_text="accepted returns").first  # the latest
        expect(store.locator(".fa-exclamation-triangle")).to_have_count(1)  # a warning sign

        rows.filter(has_text=refused).click()  # each row leads to its page
        words = page.locator(".briefings-in-words.alert-danger")
        expect(words).to_contain_text(
            f"{refused} row 3, column online_flagged: expected no more online-flagged "
            "offences than offences; found 9 flagged of 5 offences"
        )
        # Bootstrap's styles applied: the alert's colours and the page's layout.
        assert words.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(248, 215, 218)"
        padding = page.locator(".container-fluid").first.evaluate(
            "e => getComputedStyle(e).paddingLeft"
        )
        assert padding == "48px"  # pl-5
        expect(page.get_by_text("Status:").locator("..")).to_contain_text("Failed")
        # The row that broke the check of two columns: 5 offences, 9 flagged, not "59".
        expect(page.get_by_role("cell", name="5, 9", exact=True)).to_have_count(1)
        shots = Path(os.environ.get("BRIEFINGS_SCREENSHOTS_DIR") or tmp_path)
        page.screenshot(path=str(shots / "data-docs-refused.png"))

        page.goto(index.as_uri(), wait_until="load")
        page.locator("table tbody tr", has_text="accepted returns").first.click()
        expect(page.get_by_text("Status:").locator("..")).to_contain_text("Passed with warnings")
        warning = page.locator(".briefings-in-words.alert-warning")
        expect(warning).to_contain_text("found Kent 2016/17: 1,150 against 120 in 2015/16")
        assert warning.evaluate("e => getComputedStyle(e).backgroundColor") == (
            "rgb(255, 243, 205)"
        )
        browser.close()
    assert outside == []
    pages = [index, *site.glob("validations/**/*.html")]
    assert len(pages) >= 3
    for html_page in pages:
        text = html_page.read_text()
        assert not re.search(r"<(link|script)[^>]+(href|src)=[\"']https?://", text), html_page


def test_a_data_docs_page_as_gx_renders_it_loads_nothing_from_outside(tmp_path):
    """The rewriting behind the offline pages, without a browser: every stylesheet and
    script from a CDN gone, the copies beside the pages loaded instead (the way up to the
    site taken from the page's link to the index), GX's logo local, values kept apart; and
    the plain-English problems and 'Passed with warnings' added to a page with only
    warnings, which the index then marks and names."""
    from briefings.validation.data_docs import (
        ASSET_FILES,
        annotate_page,
        install_assets,
        mark_index,
        offline_page,
    )

    rendered = (
        "<html><head>"
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/b.css"/>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<link rel="shortcut icon" href="../../../static/images/favicon.ico"/></head><body>'
        '<a href="../../../../index.html"><img src="https://great-expectations-web-assets.s3.'
        'us-east-2.amazonaws.com/logo-long.png?d=1"></a>'
        '<div class="col-md-10 col-lg-10 col-xs-12 pl-md-4 pr-md-3">'
        '<span class="h6" >Status:</span> <i class="fas fa-times text-danger" aria-hidden="true">'
        "</i> Failed"
        '<div class="show-scrollbars"><span>10.0</span><span>25</span></div></div>'
        "<footer><p>newsletter</p></footer></body></html>"
    )
    page = offline_page(rendered)
    assert "https://" not in page and "<footer>" not in page
    for name in ASSET_FILES:
        assert f"../../../../static/briefings/{name}" in page
    assert 'src="../../../../static/images/logo-long.png"' in page
    assert "<span>10.0</span>, <span>25</span>" in page

    site = tmp_path / "data-docs"
    install_assets(site)
    assert sorted(p.name for p in (site / "static" / "briefings").iterdir() if p.is_file()) == (
        sorted([*ASSET_FILES, ".version"])
    )
    html_page = site / "validations" / "online_flag_store" / "x" / "y" / "store.html"
    html_page.parent.mkdir(parents=True)
    html_page.write_text(page)
    (site / "index.html").write_text(
        "columns: [{'field': 'run_name', 'title': 'Run Name'}], data: [{'validation_success': "
        "'<i class=\"fas fa-times text-danger ge-failed-icon\" ></i>', 'run_name': '__none__', "
        "'_table_row_link_path': 'validations/online_flag_store/x/y/store.html', "
        "'_validation_success_text': 'Failed', 'asset_name': 'online_flag_store'}]"
    )
    annotate_page(html_page, "accepted returns", [], ["Kent 2016/17: 1,150 against 120 <5"], True)
    mark_index(site)
    annotated = html_page.read_text()
    assert "Passed with warnings" in annotated and "Failed" not in annotated
    assert "Kent 2016/17: 1,150 against 120 &lt;5" in annotated  # escaped, never markup
    index = (site / "index.html").read_text()
    assert "'run_name': 'accepted returns'" in index and "'title': 'Return'" in index
    assert "fa-exclamation-triangle text-warning" in index and "fa-times" not in index
