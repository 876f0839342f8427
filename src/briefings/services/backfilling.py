"""Backfill: every period in a range that has accepted returns, published in turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from briefings.domain.figures import periods_with_data
from briefings.domain.periods import (
    Period,
    periods_between,
)
from briefings.services.ingesting import (
    ingest,
)
from briefings.services.publishing import (
    publish,
)
from briefings.services.runs import (
    LOCAL,
    IngestResult,
    RequestError,
    RunError,
    Runner,
    RunRequest,
    RunSummary,
)
from briefings.store import (
    DataFolders,
    load_accepted_returns,
)


@dataclass(frozen=True)
class BackfillResult:
    ingested: IngestResult
    published: list[RunSummary]
    skipped: list[str]  # periods without accepted returns
    failed: dict[str, str]  # period -> why it was not published


def backfill(
    data_dir: Path,
    out_dir: Path,
    first: Period,
    last: Period,
    *,
    deliver: bool = True,
    runner: Runner = LOCAL,
    ingest_returns: Callable[[Path], IngestResult] | None = None,
    publish_period: Callable[[RunRequest], RunSummary] | None = None,
    announce: Callable[[str], None] = lambda line: None,
    before_publishing: Callable[[IngestResult], None] = lambda ingested: None,
) -> BackfillResult:
    """Publish every period from `first` to `last` that has accepted returns; the others are
    skipped. `ingest_returns` and `publish_period` ingest and publish one period (default:
    ingest() and publish() with this runner; the flows pass themselves)."""
    from briefings.config import ConfigurationError

    publish_one = publish_period or (lambda request: publish(request, runner))
    runner.expect_rendering()  # briefings follow: render workers start while ingest runs
    ingested = (ingest_returns or (lambda folder: ingest(folder, runner=runner)))(data_dir)
    before_publishing(ingested)
    folders = DataFolders(data_dir)
    returns = load_accepted_returns(folders) if folders.accepted_returns.exists() else None
    available = set(periods_with_data(returns)) if returns is not None else set()
    available = {period for period in available if period.has_ended(date.today())}
    wanted = periods_between(first, last)
    todo = [period for period in wanted if period in available]
    if not todo:
        listed = ", ".join(p.label for p in sorted(available)) or "none"
        raise RequestError(
            f"no accepted returns from {first.label} to {last.label}; periods with data: {listed}"
        )
    published, skipped, failed = [], [], {}
    for period in wanted:
        if period not in available:
            skipped.append(period.label)
            announce(f"Skipped {period.label}: no accepted returns")
            continue
        place = todo.index(period)
        announce(f"Publishing {period.label} ({place + 1} of {len(todo)})")
        following = todo[place + 1].label if place + 1 < len(todo) else None
        request = RunRequest(
            data_dir=data_dir,
            out_dir=out_dir,
            period=period.label,
            deliver=deliver,
            next_period=following,  # its briefings render while this period's finish
        )
        try:
            published.append(publish_one(request))
        except (RunError, ConfigurationError, FileNotFoundError) as error:
            failed[period.label] = str(error)
    return BackfillResult(ingested, published, skipped, failed)
