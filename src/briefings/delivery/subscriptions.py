"""Who receives which briefings: reports/config/subscriptions.yaml, edited by comms teams.

Every problem in the file is reported at once, each naming the file and the subscriber, so a
comms officer can fix them all in one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from briefings.config.errors import SubscriptionsError as SubscriptionsError  # callers catch it
from briefings.config.files import SubscriptionsFile, read_subscriptions
from briefings.config.text import check_address as check_address
from briefings.reference import ForceRegister, force_register
from briefings.resources import REPORTS_CONFIG_DIR

DEFAULT_SUBSCRIPTIONS = REPORTS_CONFIG_DIR / "subscriptions.yaml"


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str  # as written, checked by check_address


@dataclass(frozen=True)
class Subscriber(Recipient):
    force_codes: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    national: bool = False
    briefings: frozenset[str] = frozenset()  # kinds received: force, region, national
    force_regions: frozenset[str] = frozenset()  # regions of force_codes

    def wants(self, scope: str, code: str | None, region: str | None) -> bool:
        """Whether a briefing of this kind and area falls in the subscriber's scope.

        A national scope covers every force and region; a region covers its forces; a force
        subscriber asking for region briefings gets their force's region. Anyone asking for the
        national briefing gets it."""
        if scope not in self.briefings:
            return False
        if scope == "national":
            return True
        if self.national:
            return True
        if scope == "force":
            return code in self.force_codes or region in self.regions
        return region in self.regions or region in self.force_regions


@dataclass(frozen=True)
class Subscriptions:
    path: Path
    subscribers: tuple[Subscriber, ...]
    stewards: tuple[Recipient, ...]
    zip_over_bytes: int


def load_subscriptions(
    path: Path = DEFAULT_SUBSCRIPTIONS, register: ForceRegister | None = None
) -> Subscriptions:
    """subscriptions.yaml checked whole (briefings.config.files): every problem is listed."""
    register = register or force_register()
    return subscriptions_from(read_subscriptions(path, register), path, register)


def subscriptions_from(
    model: SubscriptionsFile, path: Path, register: ForceRegister | None = None
) -> Subscriptions:
    """The checked file as delivery plans with it."""
    register = register or force_register()
    subscribers = tuple(
        Subscriber(
            entry.name,
            entry.email,
            frozenset(entry.scope.forces),
            frozenset(entry.scope.regions),
            entry.scope.national,
            entry.briefings,
            frozenset(register.by_code(code).region for code in entry.scope.forces),
        )
        for entry in model.subscribers
    )
    stewards = tuple(Recipient(entry.name, entry.email) for entry in model.stewards)
    return Subscriptions(path, subscribers, stewards, model.zip_over_bytes)
