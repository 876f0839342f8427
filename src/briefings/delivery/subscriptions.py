"""Who receives which briefings: reports/config/subscriptions.yaml, edited by comms teams.

Every problem in the file is reported at once, each naming the file and the subscriber, so a
comms officer can fix them all in one edit.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import yaml

from briefings.reference import ForceRegister, UnknownForceError, force_register
from briefings.resources import REPORTS_CONFIG_DIR

DEFAULT_SUBSCRIPTIONS = REPORTS_CONFIG_DIR / "subscriptions.yaml"
BRIEFING_KINDS = ("force", "region", "national")
DEFAULT_ZIP_OVER_MB = 10.0

_SUBSCRIBER_KEYS = {"name", "email", "scope", "briefings"}
_SCOPE_KEYS = {"forces", "regions", "national"}
_STEWARD_KEYS = {"name", "email"}
_TOP_KEYS = {"subscribers", "stewards", "zip_attachments_over_mb"}

# Deliberately narrower than RFC 5322: the addresses a comms team types, nothing exotic that a
# relay might rewrite. Local part: dot-atoms; domain: at least two DNS labels.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class SubscriptionsError(ValueError):
    """A subscriptions file that cannot be used as written; lists every problem found."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


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


def check_address(address: object) -> str | None:
    """Why `address` is not a plain deliverable address, or None when it is."""
    if not isinstance(address, str) or not address.strip():
        return "an email address is required"
    text = address.strip()
    if any(ch.isspace() for ch in text) or any(ch in text for ch in '<>,;"()[]\\'):
        return f"'{address}' is not a plain email address (no names, spaces or lists)"
    display, parsed = parseaddr(text)
    if display or parsed != text or text.count("@") != 1:
        return f"'{address}' is not an email address like name@example.org"
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        return f"'{address}' has an invalid part before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return f"'{address}' has an invalid domain (expected like example.org)"
    if labels[-1].isdigit():
        return f"'{address}' has an invalid domain (expected like example.org)"
    return None


def load_subscriptions(
    path: Path = DEFAULT_SUBSCRIPTIONS, register: ForceRegister | None = None
) -> Subscriptions:
    register = register or force_register()
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SubscriptionsError(path, ["file not found"]) from None
    except yaml.YAMLError as error:
        raise SubscriptionsError(path, [f"not valid YAML ({error})"]) from None
    if not isinstance(loaded, dict):
        raise SubscriptionsError(path, ["expected keys and values at the top level"])
    problems: list[str] = []
    unknown = sorted(set(map(str, loaded)) - _TOP_KEYS)
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(unknown)}")
    subscribers = _subscribers(loaded.get("subscribers"), register, problems)
    stewards = _stewards(loaded.get("stewards"), problems)
    zip_over = loaded.get("zip_attachments_over_mb", DEFAULT_ZIP_OVER_MB)
    if isinstance(zip_over, bool) or not isinstance(zip_over, int | float) or zip_over <= 0:
        problems.append("zip_attachments_over_mb must be a number of megabytes above 0")
        zip_over = DEFAULT_ZIP_OVER_MB
    if problems:
        raise SubscriptionsError(path, problems)
    return Subscriptions(path, tuple(subscribers), tuple(stewards), int(zip_over * 1_000_000))


def _entries(value: object, what: str, problems: list[str]) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(f"'{what}' must be a list of entries, each starting with '- name:'")
        return []
    return value


def _recipient(
    entry: dict, kind: str, number: int, keys: set[str], problems: list[str]
) -> Recipient | None:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{kind} {number}: a name is required")
        return None
    label = f"{kind} '{name.strip()}'"
    extra = sorted(set(map(str, entry)) - keys)
    if extra:
        allowed = ", ".join(sorted(keys))
        problems.append(f"{label}: unknown key(s) {', '.join(extra)} (allowed: {allowed})")
    why = check_address(entry.get("email"))
    if why:
        problems.append(f"{label}: {why}")
        return None
    return Recipient(name.strip(), entry["email"].strip())


def _check_duplicates(people: list[Recipient], what: str, problems: list[str]) -> None:
    seen_names: dict[str, str] = {}
    seen_addresses: dict[str, str] = {}
    for person in people:
        name_key = " ".join(person.name.lower().split())
        if name_key in seen_names:
            problems.append(f"{what} '{person.name}': duplicate name (listed twice)")
        seen_names.setdefault(name_key, person.name)
        address_key = person.email.lower()
        if address_key in seen_addresses:
            first = seen_addresses[address_key]
            problems.append(
                f"{what} '{person.name}': duplicate address {person.email} "
                f"(already used by '{first}')"
            )
        seen_addresses.setdefault(address_key, person.name)


def _subscribers(value: object, register: ForceRegister, problems: list[str]) -> list[Subscriber]:
    subscribers = []
    for number, entry in enumerate(_entries(value, "subscribers", problems), start=1):
        recipient = _recipient(entry, "subscriber", number, _SUBSCRIBER_KEYS, problems)
        if recipient is None:
            continue
        label = f"subscriber '{recipient.name}'"
        before = len(problems)
        scope = _scope(entry.get("scope"), register, label, problems)
        kinds = _kinds(entry.get("briefings"), label, problems)
        if len(problems) == before:
            codes, regions, national = scope
            force_regions = frozenset(register.by_code(code).region for code in codes)
            subscribers.append(
                Subscriber(
                    recipient.name, recipient.email, codes, regions, national, kinds, force_regions
                )
            )
    _check_duplicates(subscribers, "subscriber", problems)
    return subscribers


def _scope(
    scope: object, register: ForceRegister, label: str, problems: list[str]
) -> tuple[frozenset[str], frozenset[str], bool]:
    if not isinstance(scope, dict) or not scope:
        problems.append(f"{label}: an empty scope (give forces, regions or national: true)")
        return frozenset(), frozenset(), False
    extra = sorted(set(map(str, scope)) - _SCOPE_KEYS)
    if extra:
        problems.append(
            f"{label}: unknown scope key(s) {', '.join(extra)} (allowed: forces, regions, national)"
        )
    codes, regions = set(), set()
    for text in _names(scope.get("forces"), f"{label}: forces", problems):
        try:
            codes.add(register.resolve(text).code)
        except UnknownForceError as error:
            problems.append(f"{label}: {error}")
    by_key = {region.lower(): region for region in register.regions}
    for text in _names(scope.get("regions"), f"{label}: regions", problems):
        region = by_key.get(" ".join(text.lower().split()))
        if region:
            regions.add(region)
            continue
        close = difflib.get_close_matches(text.lower(), list(by_key), n=3, cutoff=0.5)
        hint = f"; nearest known: {', '.join(by_key[c] for c in close)}" if close else ""
        problems.append(f"{label}: unknown region '{text}'{hint}")
    national = scope.get("national", False)
    if not isinstance(national, bool):
        problems.append(f"{label}: national must be true or false")
        national = False
    if not codes and not regions and not national and not extra:
        problems.append(f"{label}: an empty scope (give forces, regions or national: true)")
    return frozenset(codes), frozenset(regions), national


def _names(value: object, where: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        problems.append(f"{where} must be a list of names")
        return []
    return [str(v).strip() for v in value]


def _kinds(value: object, label: str, problems: list[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    allowed = ", ".join(BRIEFING_KINDS)
    if not isinstance(value, list) or not value:
        problems.append(f"{label}: 'briefings' must list what they receive ({allowed})")
        return frozenset()
    kinds = {str(v).strip().lower() for v in value}
    unknown = sorted(kinds - set(BRIEFING_KINDS))
    if unknown:
        problems.append(
            f"{label}: unknown briefing kind(s) {', '.join(unknown)} (allowed: {allowed})"
        )
    return frozenset(kinds & set(BRIEFING_KINDS))


def _stewards(value: object, problems: list[str]) -> list[Recipient]:
    stewards = []
    for number, entry in enumerate(_entries(value, "stewards", problems), start=1):
        recipient = _recipient(entry, "steward", number, _STEWARD_KEYS, problems)
        if recipient is not None:
            stewards.append(recipient)
    _check_duplicates(stewards, "steward", problems)
    return stewards
