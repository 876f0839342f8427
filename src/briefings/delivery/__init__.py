"""Delivery of briefings to comms teams by email, and notices to data stewards.

Nothing here knows Prefect: the deliver flow and its tasks live in flows/delivery.py.
"""

from briefings.delivery.compose import quarantine_notice
from briefings.delivery.ledger import DEFAULT_LEDGER, DeliveryBusyError, DeliveryLedger
from briefings.delivery.manifest import ManifestError, Publication, load_manifest
from briefings.delivery.plan import DeliverySummary, MessageOutcome
from briefings.delivery.service import preview_delivery
from briefings.delivery.settings import DEFAULT_OUTBOX_DIR, DeliverySettings, DeliverySettingsError
from briefings.delivery.subscriptions import (
    DEFAULT_SUBSCRIPTIONS,
    Subscriptions,
    SubscriptionsError,
    load_subscriptions,
)

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
]
