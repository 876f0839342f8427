"""Police force areas as the domain knows them: names, codes, regions and their spellings.

Pure types only; reading the register from the shipped reference tables is
briefings.reference's job, so the domain never touches a file.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

FORCES_TOTAL = 43  # police force areas in England and Wales


@dataclass(frozen=True)
class Force:
    code: str  # ONS police force area code, e.g. E23000038
    name: str  # readable name, e.g. "Devon and Cornwall"
    region: str  # English region or "Wales", as the Home Office groups forces
    country: str
    # The force as a sentence names the one that recorded the offences, as people say it:
    # "the Metropolitan Police", "Devon and Cornwall Police", "police in Durham"
    # (reference/force-spoken-names.csv); "police in <name>" where none is given.
    spoken_name: str = ""

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def spoken(self) -> str:
        """Lower case at the start ('the Metropolitan Police', 'police in Durham'): capitalise
        it at the start of a sentence (briefings.domain.style.capitalised)."""
        return self.spoken_name or f"police in {self.name}"


def slugify(text: str) -> str:
    text = text.lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def normalise(text: str) -> str:
    """Spelling-insensitive key: case, '&'/'and', punctuation and a trailing 'police' ignored."""
    key = slugify(str(text))
    key = re.sub(r"-(police|constabulary)$", "", key)
    return key


def alias_key(text: str) -> str:
    """An alias's key: as normalise(), a leading 'the' ignored too ('the Met')."""
    return re.sub(r"^the-", "", normalise(text))


class UnknownForceError(ValueError):
    """A force name or code that matches nothing in reference/forces.csv."""


@dataclass(frozen=True)
class ForceRegister:
    forces: tuple[Force, ...]
    _by_key: dict[str, Force]
    # Short names people type ("Met", "GMP", "West Mids"; reference/force-aliases.csv), by
    # alias_key: the forces each may mean. One force: a person's words resolve to it; several
    # ("London", "Yorkshire"): they are only suggested.
    aliases: dict[str, tuple[Force, ...]] = field(default_factory=dict)

    def resolve(self, text: str) -> Force:
        """The force a person means (a name in any spelling, an ONS code, or an alias that
        means one force), or UnknownForceError suggesting the nearest."""
        force = self.find(text) or self.find_alias(text)
        if force is None:
            suggestions = self.nearest(text)
            hint = f"; nearest known: {', '.join(suggestions)}" if suggestions else ""
            raise UnknownForceError(f"unknown force '{text}'{hint}")
        return force

    def find(self, text: str | float | None) -> Force | None:
        # A blank cell read by pandas arrives as a float NaN.
        if text is None or (isinstance(text, float) and math.isnan(text)):
            return None
        return self._by_key.get(normalise(str(text)))

    def find_in_text(self, text: str) -> Force | None:
        """The force named inside a longer text ('Wiltshire Police FOI response'), if any;
        the longest spelling wins, so 'West Midlands' is not read as another force."""
        padded = f"-{slugify(str(text))}-"
        matches = [(len(key), force) for key, force in self._by_key.items() if f"-{key}-" in padded]
        return max(matches, key=lambda match: match[0])[1] if matches else None

    def find_all_in_text(self, text: str) -> list[Force]:
        """Every force named inside a text, in the order named; a spelling inside a longer
        one ('Durham' in 'County Durham') is part of that one, not another force."""
        padded = f"-{slugify(str(text))}-"
        spans = []
        for key, force in self._by_key.items():
            needle = f"-{key}-"
            start = padded.find(needle)
            while start != -1:
                spans.append((start, start + len(needle), force))
                start = padded.find(needle, start + 1)
        named: list[Force] = []
        for start, end, force in sorted(spans, key=lambda span: span[0]):
            inside = any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
            if not inside and force not in named:
                named.append(force)
        return named

    def find_alias(self, text: str) -> Force | None:
        """The force an alias means, when it means one ('GMP'; not 'London')."""
        meant = self.aliases.get(alias_key(str(text)), ())
        return meant[0] if len(meant) == 1 else None

    def nearest(self, text: str, n: int = 3) -> list[str]:
        """The forces a person most likely meant: every force an alias may mean ('London':
        Metropolitan Police, City of London), else the names and aliases spelt closest."""
        meant = self.aliases.get(alias_key(str(text)))
        if meant:
            return [force.name for force in meant]
        wanted = normalise(str(text))
        scored: list[tuple[float, str]] = []
        # Short aliases resemble too much at a loose cutoff ('Notts' is not near 'Kentt'):
        # names are suggested from half the letters alike, aliases from three quarters.
        candidates: list[tuple[str, tuple[Force, ...], float]] = [
            (normalise(force.name), (force,), 0.5) for force in self.forces
        ]
        candidates += [(key, forces, 0.75) for key, forces in self.aliases.items()]
        for key, forces, cutoff in candidates:
            score = difflib.SequenceMatcher(None, key, wanted).ratio()  # as get_close_matches
            if score >= cutoff:
                scored += [(score, force.name) for force in forces]
        ranked = [name for _, name in sorted(scored, key=lambda pair: -pair[0])]
        return list(dict.fromkeys(ranked))[:n]

    def by_code(self, code: str) -> Force:
        return self._by_key[normalise(code)]

    @property
    def regions(self) -> list[str]:
        return sorted({force.region for force in self.forces})
