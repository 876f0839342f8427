"""Police force areas as the domain knows them: names, codes, regions and their spellings.

Pure types only; reading the register from the shipped reference tables is
briefings.reference's job, so the domain never touches a file.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

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


class UnknownForceError(ValueError):
    """A force name or code that matches nothing in reference/forces.csv."""


@dataclass(frozen=True)
class ForceRegister:
    forces: tuple[Force, ...]
    _by_key: dict[str, Force]

    def resolve(self, text: str) -> Force:
        force = self.find(text)
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

    def nearest(self, text: str, n: int = 3) -> list[str]:
        names = [force.name for force in self.forces]
        by_key = {normalise(name): name for name in names}
        close = difflib.get_close_matches(normalise(str(text)), list(by_key), n=n, cutoff=0.5)
        return [by_key[key] for key in close]

    def by_code(self, code: str) -> Force:
        return self._by_key[normalise(code)]

    @property
    def regions(self) -> list[str]:
        return sorted({force.region for force in self.forces})
