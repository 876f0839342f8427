"""Deliver: a publication's briefings to the subscribers who have not got this version."""

from __future__ import annotations

from pathlib import Path

from briefings.config import get_settings
from briefings.delivery.plan import DeliverySummary
from briefings.delivery.sending import deliver_publication
from briefings.delivery.settings import DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS
from briefings.services.runs import (
    LOCAL,
    Runner,
    delivery_ledger,
)


def deliver(
    period_dir: Path,
    data_dir: Path,
    outbox: Path,
    runner: Runner = LOCAL,
    transport: DeliverySettings | None = None,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
) -> DeliverySummary:
    """Send each subscriber the briefings of this publication whose current version is not
    the one they were last sent (SMTP from the environment, else .eml files in `outbox`),
    as the data folder's journal records. The caller holds the data folder's lock."""
    summary = deliver_publication(
        period_dir,
        subscriptions_file=subscriptions_file,
        ledger_path=delivery_ledger(data_dir),
        transport_settings=transport or DeliverySettings.from_settings(get_settings(), outbox),
        send=runner.send,
        load_secret=runner.secret,
        logger=runner.log,
    )
    return summary
