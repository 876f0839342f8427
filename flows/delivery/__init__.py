"""Delivery of briefings to comms teams by email (issue 8), and notices to data stewards.

Pure modules (subscriptions, manifest, plan, compose) know nothing of Prefect; the Prefect
entry points live in flows.delivery.tasks and are loaded on first use, so importing this
package (for a dry run, or to check a subscriptions file) stays fast.
"""

from flows.delivery.compose import quarantine_notice
from flows.delivery.ledger import DEFAULT_LEDGER, DeliveryBusyError, DeliveryLedger
from flows.delivery.manifest import ManifestError, Publication, load_manifest
from flows.delivery.plan import DeliverySummary, MessageOutcome
from flows.delivery.service import preview_delivery
from flows.delivery.settings import DEFAULT_OUTBOX_DIR, DeliverySettings, DeliverySettingsError
from flows.delivery.subscriptions import (
    DEFAULT_SUBSCRIPTIONS,
    Subscriptions,
    SubscriptionsError,
    load_subscriptions,
)

_PREFECT_ENTRY_POINTS = {
    "deliver_briefings",
    "deliver_publication",
    "notify_stewards",
    "steward_failure_hook",
}


def __getattr__(name: str):
    if name in _PREFECT_ENTRY_POINTS:
        from flows.delivery import tasks

        return getattr(tasks, name)
    raise AttributeError(name)


__all__ = [
    "DEFAULT_LEDGER",
    "DEFAULT_OUTBOX_DIR",
    "DEFAULT_SUBSCRIPTIONS",
    "DeliveryBusyError",
    "DeliveryLedger",
    "DeliverySettings",
    "DeliverySettingsError",
    "DeliverySummary",
    "ManifestError",
    "MessageOutcome",
    "Publication",
    "Subscriptions",
    "SubscriptionsError",
    "load_manifest",
    "load_subscriptions",
    "preview_delivery",
    "quarantine_notice",
    *sorted(_PREFECT_ENTRY_POINTS),
]
