"""What a delivery would do, without Prefect: used by dry runs and the CLI's preview."""

from __future__ import annotations

from pathlib import Path

from briefings.delivery.ledger import DEFAULT_LEDGER, read_history
from briefings.delivery.manifest import load_manifest
from briefings.delivery.plan import DeliverySummary, MessageOutcome, PlannedMessage, plan_deliveries
from briefings.delivery.settings import DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, load_subscriptions


def preview_delivery(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    settings: DeliverySettings | None = None,
) -> DeliverySummary:
    """Who would get what (and which are corrections); sends nothing, writes nothing."""
    settings = settings or DeliverySettings.from_env()
    publication = load_manifest(period_dir)
    subscriptions = load_subscriptions(subscriptions_file)
    history = read_history(ledger_path, settings.channel, publication.period_slug)
    plan = plan_deliveries(publication, subscriptions, history)
    return DeliverySummary(
        period=publication.period,
        channel=settings.channel,
        destination=settings.destination,
        dry_run=True,
        messages=tuple(outcome(m, "planned", attempts=_earlier_attempts(m)) for m in plan.messages),
        already_delivered=plan.already_delivered,
        unmatched=plan.unmatched,
        held=plan.unknown,
    )


def outcome(
    planned: PlannedMessage,
    status: str,
    message_id: str | None = None,
    attempts: int = 0,
    error: str = "",
) -> MessageOutcome:
    changes = "; ".join(
        f"{item.briefing.pdf}: " + "; ".join(c.describe() for c in item.changes)
        for item in planned.items
        if item.changes
    )
    return MessageOutcome(
        recipient=planned.recipient.name,
        email=planned.recipient.email,
        pdfs=tuple(item.briefing.pdf for item in planned.items),
        kind=planned.kind,
        status=status,
        message_id=message_id,
        attempts=attempts,
        detail=error or changes,
    )


def _earlier_attempts(planned: PlannedMessage) -> int:
    """Attempts already made at these versions (a retry of an undelivered message), or 0."""
    return max((i.earlier_attempt.attempts for i in planned.items if i.earlier_attempt), default=0)
