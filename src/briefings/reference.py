"""Reference tables that ship with the project (see reference/PROVENANCE.md).

They never move with --data-dir: a data folder holding only raw/ is a complete input.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from briefings.domain.briefing import PublishedFigure
from briefings.domain.forces import (
    FORCES_TOTAL,
    Force,
    ForceRegister,
    UnknownForceError,
    alias_key,
    normalise,
    slugify,
)
from briefings.resources import REFERENCE_DIR

if TYPE_CHECKING:  # each table is read with pandas when first asked for, not on import
    import pandas as pd

# The force types live in the domain; they are named here too, beside the tables they are read from.
__all__ = [
    "FORCES_TOTAL",
    "Force",
    "ForceRegister",
    "PublishedFigure",
    "UnknownForceError",
    "child_population",
    "force_register",
    "illustrative_returns",
    "offence_descriptions",
    "published_figures",
    "slugify",
]

# Names the reference tables spell for filing ("London, City of") rather than for reading.
_READABLE_NAMES = {"E23000034": "City of London"}


@cache
def force_register(reference_dir: Path = REFERENCE_DIR) -> ForceRegister:
    spoken = _spoken_names(reference_dir)
    forces = []
    by_key: dict[str, Force] = {}
    for row in _text_rows(reference_dir / "forces.csv"):
        force = Force(
            code=row["pfa_code"],
            name=_READABLE_NAMES.get(row["pfa_code"], row["prc_force_name"]),
            region=row["region_name_home_office"],
            country=row["country"],
            spoken_name=spoken.get(row["pfa_code"], ""),
        )
        forces.append(force)
        spellings = {
            row["pfa_code"],
            row["pfa_name_ons"],
            row["prc_force_name"],
            row["home_office_uof_force_name"],
            row["police_uk_force_id"],
            force.name,
        }
        for spelling in spellings:
            by_key[normalise(spelling)] = force
    return ForceRegister(tuple(forces), by_key, _aliases(reference_dir, by_key))


def _aliases(reference_dir: Path, by_key: dict[str, Force]) -> dict[str, tuple[Force, ...]]:
    """alias_key -> the forces it may mean (reference/force-aliases.csv). An alias that is
    already a force's spelling is that force's, whatever the table says."""
    by_code = {force.code: force for force in by_key.values()}
    aliases: dict[str, tuple[Force, ...]] = {}
    for row in _text_rows(reference_dir / "force-aliases.csv"):
        alias, code = row["alias"], row["pfa_code"]
        key = alias_key(alias)
        if key in by_key or not key:
            continue
        aliases[key] = tuple(dict.fromkeys([*aliases.get(key, ()), by_code[code]]))
    return aliases


def _spoken_names(reference_dir: Path) -> dict[str, str]:
    """ONS code -> the force as a sentence names it (reference/force-spoken-names.csv)."""
    return {
        row["pfa_code"]: row["spoken"]
        for row in _text_rows(reference_dir / "force-spoken-names.csv")
    }


# What pandas reads as a missing value: never a force's name, code or alias.
_MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


def _text_rows(path: Path) -> list[dict[str, str]]:
    """A table of names as text, row by row, read without pandas (the forces' names are
    wanted by runs that read no table). Every cell is filled: a missing value in these
    tables is a mistake in them, refused by name rather than read as a name."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    columns = reader.fieldnames or []
    for number, row in enumerate(rows, start=2):
        if None in row:
            raise ValueError(f"{path}: row {number} has more cells than the header names")
        missing = [column for column in columns if row[column] in _MISSING]
        if missing:
            raise ValueError(f"{path}: row {number} has no value for {', '.join(missing)}")
    return rows


# ONS mid-year estimates of children by force area, one file per vintage family: mid-2015 to
# mid-2020 are rolled forward from the 2011 Census, mid-2021 on are based on Census 2021
# (reference/PROVENANCE.md, "Vintage breaks").
POPULATION_FILES = (
    "pfa-population-children-mid2015-2017.csv",
    "pfa-population-children-mid2018-2024.csv",
)


@cache
def child_population(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Children aged 0 to 17 by force area and mid-year: mid_year, force_code, children."""
    import pandas as pd

    table = pd.concat(
        [pd.read_csv(reference_dir / name) for name in POPULATION_FILES], ignore_index=True
    )
    population = pd.DataFrame(
        {
            "mid_year": table["mid_year"].str.removeprefix("mid-").astype(int),
            "force_code": table["pfa_code"],
            "children": table["population_0_17"].astype(int),
        }
    )
    repeated = population.duplicated(["mid_year", "force_code"])
    if repeated.any():  # two files giving one force's year would make its rate ambiguous
        first = population[repeated].iloc[0]
        raise ValueError(
            f"{reference_dir}: children in {first.force_code} at mid-{first.mid_year} "
            "are given more than once"
        )
    return population


@cache
def offence_descriptions(reference_dir: Path = REFERENCE_DIR) -> dict[str, str]:
    """Home Office offence code -> its description in the recorded crime tables (the child
    sexual offence codes: 19D, 88A, ...)."""
    import pandas as pd

    table = pd.read_csv(reference_dir / "hocr-child-sexual-offence-codes.csv", dtype=str)
    return {
        code: description
        for code, description in zip(
            table["offence_code"], table["offence_description_prc_open_data"], strict=True
        )
        if re.fullmatch(r"\d{1,3}[A-Z]?", code)
    }


@cache
def illustrative_returns(reference_dir: Path = REFERENCE_DIR) -> dict[str, str]:
    """sha256 -> file name of the sample returns bundled with the project (made-up figures)."""
    import pandas as pd

    table = pd.read_csv(reference_dir / "illustrative-returns.csv", dtype=str)
    return dict(zip(table["sha256"], table["file_name"], strict=True))


@cache
def published_figures(reference_dir: Path = REFERENCE_DIR) -> tuple[PublishedFigure, ...]:
    import pandas as pd

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
