"""Rendering ahead: while one period's briefings render in the local pool, a backfill's next
period's are prepared and queued behind them (briefings.render.engines.LocalPool.render_ahead),
so the workers do not wait between the two periods' flow runs. The next period's run prepares
its own briefings and uses one rendered ahead only where the PDF name and inputs hash are its
own: its PDFs are the bytes it would have rendered itself."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from briefings import services
from briefings.render.engines import LocalPool, local_pool
from briefings.render.pdf import load_settings
from briefings.render.publication import PreparedBriefing, render_prepared
from briefings.services import RunRequest
from briefings.services.publishing import briefings_ahead
from briefings.store import DataFolders

from .helpers import TEST_DATA, briefings, copy_data_folder

IN_A_POOL = {"BRIEFINGS_RENDER_WORKERS": "2", "BRIEFINGS_PARALLEL_FROM": "2"}
ONE_AT_A_TIME = {"BRIEFINGS_RENDER_WORKERS": "1"}
BACKFILL = ("backfill", "--from", "2018/19", "--to", "2019/20")


def backfilled(root: Path, env: dict[str, str | None]) -> Path:
    data = copy_data_folder(TEST_DATA / "later-years", root / "data")
    out = root / "out"
    result = briefings(*BACKFILL, "--data-dir", str(data), "--out-dir", str(out), env=env)
    assert result.returncode == 0, result.stderr
    return out


def pdfs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.pdf"))}


@dataclass(frozen=True)
class Backfills:
    pooled: Path  # the output folder of a backfill rendered in a pool of two workers
    alone: Path  # and of the same backfill rendered one briefing at a time
    ahead: int  # briefings the pooled backfill took from those rendered ahead


@pytest.fixture(scope="module")
def backfills(prefect_api_url, tmp_path_factory) -> Backfills:
    root = tmp_path_factory.mktemp("backfills")
    before = local_pool(2).claimed
    pooled = backfilled(root / "pool", IN_A_POOL)
    ahead = local_pool(2).claimed - before
    return Backfills(pooled, backfilled(root / "alone", ONE_AT_A_TIME), ahead)


def test_a_backfill_renders_the_next_period_ahead_into_the_same_bytes(backfills):
    # Every 2019/20 briefing was rendered ahead, while 2018/19's were rendering...
    assert backfills.ahead == len(list((backfills.pooled / "2019-20").glob("*.pdf"))) > 2
    # ...into the bytes each would be given rendered on its own, one at a time.
    assert pdfs(backfills.pooled) == pdfs(backfills.alone)
    assert len(pdfs(backfills.pooled)) == 2 * backfills.ahead


@pytest.fixture(scope="module")
def next_period(backfills) -> list[PreparedBriefing]:
    """2019/20's briefings, prepared as the run before it prepares them to render ahead."""
    out = backfills.alone
    data = out.parent / "data"
    ledger = services.ingest(data).ledger  # nothing new: the ledger as the backfill left it
    request = RunRequest(
        data_dir=data, out_dir=out, period="2018/19", next_period="2019/20", force_render=True
    )
    prepared = briefings_ahead(request, DataFolders(data), load_settings(), None, ledger, "outbox")
    assert len(prepared) > 3
    return prepared


def test_only_a_briefing_with_the_same_inputs_is_taken_from_those_rendered_ahead(
    next_period, tmp_path
):
    first, *others = next_period
    # What the next run prepares itself differs from what was prepared ahead (a return came
    # in between, say): a different headline, so a different inputs hash.
    changed = replace(
        first,
        context=replace(first.context, headline="A different headline"),
        inputs_hash="0" * 64,
    )
    pool = LocalPool(2)
    try:
        pool.render_ahead(next_period, after=0)
        assert pool.keep_ahead([changed, *others]) == 1  # the first: not claimed, so dropped
        rendered = pool.render([changed, *others], tmp_path / "pool")
        assert pool.claimed == len(others)  # not the first: its inputs are not the same
    finally:
        pool.shutdown()
    for item in [changed, *others]:
        render_prepared(item, tmp_path / "alone")
    assert [p.read_bytes() for p in rendered] == [
        (tmp_path / "alone" / p.name).read_bytes() for p in rendered
    ]
    # The test could tell: the briefing rendered ahead is not the one the run rendered.
    render_prepared(first, tmp_path / "first")
    assert (tmp_path / "first" / first.briefing.pdf_name).read_bytes() != rendered[0].read_bytes()


def test_briefings_rendered_ahead_and_not_claimed_are_dropped_when_others_are(
    next_period, tmp_path
):
    pool = LocalPool(2)
    try:
        pool.render_ahead(next_period[:2], after=0)
        pool.render_ahead(next_period[2:4], after=0)  # the run after that, instead
        pool.render(next_period[:4], tmp_path)
        assert pool.claimed == 2  # the last two only
    finally:
        pool.shutdown()


def test_a_briefing_that_failed_ahead_is_rendered_again_by_the_run_that_needs_it(
    next_period, tmp_path
):
    first = next_period[0]
    failed: Future[bytes] = Future()
    failed.set_exception(RuntimeError("a worker's font cache was briefly unreadable"))
    pool = LocalPool(2)
    try:
        pool._ahead[(first.briefing.pdf_name, first.inputs_hash)] = failed  # as if ahead
        (rendered,) = pool.render([first], tmp_path / "pool")
        assert pool.claimed == 1
    finally:
        pool.shutdown()
    render_prepared(first, tmp_path / "alone")
    assert rendered.read_bytes() == (tmp_path / "alone" / first.briefing.pdf_name).read_bytes()
