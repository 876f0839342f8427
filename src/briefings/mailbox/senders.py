"""Which force sent a reply: from the sender's domain (reference/force-email-domains.csv),
else from the force its letterhead names; refused, with the reason, when unsure."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from briefings.reference import Force, ForceRegister
from briefings.resources import REFERENCE_DIR

DOMAINS_FILE = "force-email-domains.csv"
# The top of a letter: where the force's name is printed, before the body quotes anyone.
LETTERHEAD_LINES = 12


@dataclass(frozen=True)
class Sender:
    force: Force | None
    how: str  # how the force was known ('sender domain wiltshire.police.uk'), or why not

    @property
    def refused(self) -> bool:
        return self.force is None


@cache
def force_domains(reference_dir: Path = REFERENCE_DIR) -> dict[str, str]:
    """Email domain -> ONS code of the force that sends from it."""
    with (reference_dir / DOMAINS_FILE).open(encoding="utf-8") as handle:
        return {row["domain"].strip().lower(): row["pfa_code"] for row in csv.DictReader(handle)}


def domain_force(domain: str, domains: Mapping[str, str]) -> str | None:
    """The force whose domain this is, or a subdomain of (mail.wiltshire.police.uk)."""
    domain = domain.lower().strip(".")
    for known, code in domains.items():
        if domain == known or domain.endswith("." + known):
            return code
    return None


def letterhead(text: str, lines: int = LETTERHEAD_LINES) -> str:
    """The first lines of a letter or body, without quoted lines ('> ...' of our request)."""
    kept = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(">")
    ]
    return "\n".join(kept[:lines])


def identify_sender(
    sender_domain: str,
    places: Sequence[tuple[str, str]],
    register: ForceRegister,
    domains: Mapping[str, str],
) -> Sender:
    """The force that sent a reply. `places` are (where, text) pairs whose text names the
    sender (the subject, the letterhead of the body and of each letter). A force's domain is
    taken unless the letters name only other forces; without one, exactly one force named is
    taken; two forces named, or none, is refused."""
    named: dict[str, list[str]] = {}
    forces: dict[str, Force] = {}
    for where, text in places:
        for force in register.find_all_in_text(text):
            forces[force.code] = force
            if where not in named.setdefault(force.code, []):
                named[force.code].append(where)
    code = domain_force(sender_domain, domains) if sender_domain else None
    if code is not None:
        force = register.by_code(code)
        if named and code not in named:
            others = ", ".join(forces[c].name for c in named)
            return Sender(
                None,
                f"the sender's domain {sender_domain} is {force.name}'s, but the reply names "
                f"only {others}: whose figures are these?",
            )
        return Sender(force, f"sender domain {sender_domain}")
    domain_said = (
        f"the sender's domain {sender_domain} is not a force's in reference/{DOMAINS_FILE}"
        if sender_domain
        else "the reply has no sender address"
    )
    if len(named) == 1:
        only = next(iter(named))
        return Sender(forces[only], f"named in {', '.join(named[only])}")
    if not named:
        return Sender(None, f"{domain_said}, and the reply names no force")
    listed = ", ".join(f"{forces[c].name} ({', '.join(named[c])})" for c in named)
    return Sender(None, f"{domain_said}, and the reply names {len(named)} forces: {listed}")
