"""Reference tables that ship with the project (see reference/PROVENANCE.md).

They never move with --data-dir: a data folder holding only raw/ is a complete input.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from briefings.resources import REFERENCE_DIR

FORCES_TOTAL = 43  # police force areas in England and Wales

# Names the reference tables spell for filing ("London, City of") rather than for reading.
_READABLE_NAMES = {"E23000034": "City of London"}


@dataclass(frozen=True)
class Force:
    code: str  # ONS police force area code, e.g. E23000038
    name: str  # readable name, e.g. "Devon and Cornwall"
    region: str  # English region or "Wales", as the Home Office groups forces
    country: str

    @property
    def slug(self) -> str:
        return slugify(self.name)


def slugify(text: str) -> str:
    text = text.lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _normalise(text: str) -> str:
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

    def find(self, text: str) -> Force | None:
        if text is None or (isinstance(text, float) and pd.isna(text)):
            return None
        return self._by_key.get(_normalise(text))

    def find_in_text(self, text: str) -> Force | None:
        """The force named inside a longer text ('Wiltshire Police FOI response'), if any;
        the longest spelling wins, so 'West Midlands' is not read as another force."""
        padded = f"-{slugify(str(text))}-"
        matches = [(len(key), force) for key, force in self._by_key.items() if f"-{key}-" in padded]
        return max(matches, key=lambda match: match[0])[1] if matches else None

    def nearest(self, text: str, n: int = 3) -> list[str]:
        names = [force.name for force in self.forces]
        by_key = {_normalise(name): name for name in names}
        close = difflib.get_close_matches(_normalise(str(text)), list(by_key), n=n, cutoff=0.5)
        return [by_key[key] for key in close]

    def by_code(self, code: str) -> Force:
        return self._by_key[_normalise(code)]

    @property
    def regions(self) -> list[str]:
        return sorted({force.region for force in self.forces})


@cache
def force_register(reference_dir: Path = REFERENCE_DIR) -> ForceRegister:
    table = pd.read_csv(reference_dir / "forces.csv", dtype=str)
    forces = []
    by_key: dict[str, Force] = {}
    for row in table.itertuples(index=False):
        force = Force(
            code=row.pfa_code,
            name=_READABLE_NAMES.get(row.pfa_code, row.prc_force_name),
            region=row.region_name_home_office,
            country=row.country,
        )
        forces.append(force)
        spellings = {
            row.pfa_code,
            row.pfa_name_ons,
            row.prc_force_name,
            row.home_office_uof_force_name,
            row.police_uk_force_id,
            force.name,
        }
        for spelling in spellings:
            by_key[_normalise(spelling)] = force
    return ForceRegister(tuple(forces), by_key)


@cache
def child_population(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Children aged 0 to 17 by force area and mid-year: mid_year, force_code, children."""
    table = pd.read_csv(reference_dir / "pfa-population-children-mid2015-2017.csv")
    return pd.DataFrame(
        {
            "mid_year": table["mid_year"].str.removeprefix("mid-").astype(int),
            "force_code": table["pfa_code"],
            "children": table["population_0_17"].astype(int),
        }
    )


@cache
def illustrative_returns(reference_dir: Path = REFERENCE_DIR) -> dict[str, str]:
    """sha256 -> file name of the sample returns bundled with the project (made-up figures)."""
    table = pd.read_csv(reference_dir / "illustrative-returns.csv", dtype=str)
    return dict(zip(table["sha256"], table["file_name"], strict=True))


@dataclass(frozen=True)
class PublishedFigure:
    """A figure quoted in public press coverage of the charity's FOI rounds."""

    scope: str  # "force" or "national"
    area: str
    period: str
    value: int
    comparison_period: str | None
    comparison_value: int | None
    source: str


@cache
def published_figures(reference_dir: Path = REFERENCE_DIR) -> tuple[PublishedFigure, ...]:
    table = pd.read_csv(
        reference_dir / "nspcc-online-child-sex-offences-press-figures.csv", dtype=str
    )
    figures = []
    for row in table.itertuples(index=False):
        if pd.isna(row.online_flagged_child_sexual_offences):
            continue
        comparison = row.comparison_value
        figures.append(
            PublishedFigure(
                scope=row.scope,
                area=row.area,
                period=row.financial_year,
                value=int(row.online_flagged_child_sexual_offences),
                comparison_period=None if pd.isna(row.comparison_year) else row.comparison_year,
                comparison_value=None if pd.isna(comparison) else int(comparison),
                source=row.foi_round,
            )
        )
    return tuple(figures)
