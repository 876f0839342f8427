"""Write the bundled, illustrative online-flag returns in data/raw/, and the received dates
of every bundled return beside them (data/raw/received-dates.csv).

Two rounds. The 2017 round (2015/16 and 2016/17) is anchored on published figures
(reference/nspcc-online-child-sex-offences-press-figures.csv): national like-for-like totals
3,903 (2015/16) and 5,653 (2016/17) over the same 39 forces, and the force counts quoted in
the 2016 and 2017 press coverage. The 2018 round (2017/18, the year of the bundled Home
Office table) has one published force figure, Sussex's 38, quoted in the 2019 coverage;
its other counts grow each force's 2016/17 count by a made-up factor. Every figure that is
not published is made up, deterministically. A round whose files are all there already is
left as it is (the committed files are never rewritten: a workbook's bytes change with the
day it is written).

    uv run python tools/make_sample_returns.py data/raw [--round 2017] [--round 2018]
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import pandas as pd

from briefings.ingest import file_sha256
from briefings.journal.received import RECEIVED_DATES
from briefings.reference import child_population, force_register
from briefings.resources import DEFAULT_DATA_DIR, REFERENCE_DIR

PERIODS = ("2015/16", "2016/17")
# When each bundled file was received (UTC), written to raw/received-dates.csv.
RECEIVED = {
    "wiltshire-police-foi-response-2017.xlsx": "2017-04-24T14:32:00+00:00",
    "northumbria-foi-2017.csv": "2017-05-03T09:15:00+00:00",
    "wales-dyfed-powys-gwent-foi-2017.xlsx": "2017-05-11T16:05:00+00:00",
    "foi-2017-online-flag-returns-compiled.csv": "2017-05-26T11:40:00+00:00",
    # The 2018 round, after 2017/18 ended and before the Home Office table was published.
    "foi-2018-online-flag-returns-compiled.csv": "2018-05-21T10:20:00+00:00",
    # Published 19 July 2018, 09:30 in London.
    "home-office/prc-pfa-2017-18-homeoffice-open-data.csv": "2018-07-19T08:30:00+00:00",
}
NATIONAL_TOTALS = {"2015/16": 3903, "2016/17": 5653}

# Published counts (press-quoted NSPCC FOI figures); Humberside 2015/16 is "about 125" (+80%).
PUBLISHED = {
    "Wiltshire": (10, 44),
    "Cleveland": (55, 145),
    "Northumbria": (98, 323),
    "Northamptonshire": (59, 72),
    "Lincolnshire": (112, 58),
    "Avon and Somerset": (68, None),
    "Dyfed-Powys": (116, None),
    "North Wales": (95, None),
    "Gwent": (59, None),
    "South Wales": (26, None),
    "Thames Valley": (None, 183),
    "Humberside": (125, 226),
    "Durham": (None, 190),
}
# Published totals of all recorded child sexual offences (no online flag), used for `offences`.
ALL_OFFENCES = {
    "Wiltshire": (556, 570),
    "Northumbria": (1482, 1965),
    "Thames Valley": (2448, 2440),
    "Avon and Somerset": (1040, 1483),
    "Devon and Cornwall": (1498, 1885),
}
# Illustrative: four forces that sent no return in this round.
NOT_RESPONDING = {"City of London", "Bedfordshire", "Warwickshire", "Dorset"}

# Share of online-flagged offences by Home Office code (illustrative).
CODE_WEIGHTS = {
    "22B": ("Sexual activity involving child under 16", 0.30),
    "88A": ("Sexual grooming", 0.20),
    "71": ("Abuse of children through sexual exploitation", 0.12),
    "21": ("Sexual activity involving a child under 13", 0.09),
    "19D": ("Rape of a female child under 16", 0.08),
    "20B": ("Sexual assault on a female child under 13", 0.06),
    "19E": ("Rape of a female child under 13", 0.04),
    "17B": ("Sexual assault on a male child under 13", 0.04),
    "73": ("Abuse of position of trust of a sexual nature", 0.04),
    "19G": ("Rape of a male child under 16", 0.02),
    "19H": ("Rape of a male child under 13", 0.01),
}


def force_totals(rng: random.Random) -> dict[str, dict[str, int]]:
    register = force_register()
    population = child_population()
    children = population[population["mid_year"] == 2016].set_index("force_code")["children"]
    responding = [f for f in register.forces if f.name not in NOT_RESPONDING]
    totals: dict[str, dict[str, int]] = {f.name: {} for f in responding}
    for index, period in enumerate(PERIODS):
        fixed = {n: v[index] for n, v in PUBLISHED.items() if v[index] is not None}
        free = [f for f in responding if f.name not in fixed]
        remaining = NATIONAL_TOTALS[period] - sum(fixed.values())
        weights = {f.name: children[f.code] * rng.uniform(0.6, 1.4) for f in free}
        scale = remaining / sum(weights.values())
        counts = {name: max(12, int(w * scale)) for name, w in weights.items()}
        # Put the rounding remainder on the largest force so the total is exact.
        largest = max(counts, key=counts.get)
        counts[largest] += remaining - sum(counts.values())
        for name, value in {**fixed, **counts}.items():
            totals[name][period] = value
    return totals


def split_by_code(total: int, rng: random.Random) -> dict[str, int]:
    weights = {code: w * rng.uniform(0.7, 1.3) for code, (_, w) in CODE_WEIGHTS.items()}
    scale = total / sum(weights.values())
    split = {code: int(w * scale) for code, w in weights.items()}
    split["22B"] += total - sum(split.values())
    return split


def long_rows(
    name: str, totals: dict[str, int], rng: random.Random, force_label: str, with_offences: bool
) -> list[dict]:
    rows = []
    for index, period in enumerate(PERIODS):
        by_code = split_by_code(totals[period], rng)
        all_offences = ALL_OFFENCES.get(name, (None, None))[index]
        if with_offences and all_offences is None:
            all_offences = int(totals[period] / rng.uniform(0.07, 0.14))
        offence_split = split_by_code(all_offences, rng) if with_offences else {}
        for code, flagged in by_code.items():
            offences = max(offence_split.get(code, 0), flagged) if with_offences else None
            rows.append(
                {
                    "force": force_label,
                    "financial_year": period,
                    "offence_code": code,
                    "offence_description": CODE_WEIGHTS[code][0],
                    "offences": offences,
                    "online_flagged": flagged,
                }
            )
    return rows


def main(raw_dir: Path) -> None:
    rng = random.Random(20170601)
    totals = force_totals(rng)
    raw_dir.mkdir(parents=True, exist_ok=True)
    register = force_register()

    own_files = {"Wiltshire", "Northumbria", "Dyfed-Powys", "Gwent"}
    compiled = []
    for name, force_totals_ in totals.items():
        if name in own_files:
            continue
        compiled += long_rows(name, force_totals_, rng, name, with_offences=rng.random() < 0.5)
    pd.DataFrame(compiled).astype({"offences": "Int64"}).to_csv(
        raw_dir / "foi-2017-online-flag-returns-compiled.csv", index=False
    )

    # Wiltshire answered with a workbook, giving all offences and the flagged subset.
    wiltshire = pd.DataFrame(
        long_rows("Wiltshire", totals["Wiltshire"], rng, "Wiltshire", with_offences=True)
    )
    wiltshire.to_excel(
        raw_dir / "wiltshire-police-foi-response-2017.xlsx", index=False, sheet_name="FOI response"
    )

    # Northumbria identified itself by ONS code, without descriptions or all-offence counts.
    northumbria = pd.DataFrame(
        long_rows(
            "Northumbria",
            totals["Northumbria"],
            rng,
            register.resolve("Northumbria").code,
            with_offences=False,
        )
    )
    northumbria.drop(columns=["offence_description"]).to_csv(
        raw_dir / "northumbria-foi-2017.csv", index=False
    )

    # Two Welsh forces gave only a total per year (offence code ALL).
    welsh = [
        {
            "force": name,
            "financial_year": period,
            "offence_code": "ALL",
            "offence_description": "All child sexual offences with an online flag",
            "offences": None,
            "online_flagged": totals[name][period],
        }
        for name in ("Dyfed-Powys", "Gwent")
        for period in PERIODS
    ]
    pd.DataFrame(welsh).to_excel(
        raw_dir / "wales-dyfed-powys-gwent-foi-2017.xlsx", index=False, sheet_name="Returns"
    )


# The 2018 round: 2017/18 only, so the 2017 round's figures for earlier years stand.
ROUND_2018 = "foi-2018-online-flag-returns-compiled.csv"
PERIOD_2018 = "2017/18"
# Published 2017/18 counts: Sussex "58 crimes in 18/19 up from 38 in 17/18" (NSPCC FOI 2019).
PUBLISHED_2018 = {"Sussex": 38}
# From April 2017 sexual grooming (88A) includes sexual communication with a child.
CODE_WEIGHTS_2018 = {
    code: (description, 0.32 if code == "88A" else weight)
    for code, (description, weight) in CODE_WEIGHTS.items()
}
FILES_2017 = (
    "foi-2017-online-flag-returns-compiled.csv",
    "wiltshire-police-foi-response-2017.xlsx",
    "northumbria-foi-2017.csv",
    "wales-dyfed-powys-gwent-foi-2017.xlsx",
)


def home_office_2017_18() -> dict[tuple[str, str], int]:
    """(force name, offence code) -> all recorded offences in 2017/18, from the real Home
    Office table (reference/prc-2017-18-child-sexual-offences-by-force.csv)."""
    register = force_register()
    path = REFERENCE_DIR / "prc-2017-18-child-sexual-offences-by-force.csv"
    table = pd.read_csv(path, dtype={"offence_code": str})
    return {
        (force.name, row.offence_code): int(row.annual_total)
        for row in table.itertuples(index=False)
        if (force := register.find(row.force_name)) is not None  # not British Transport Police
    }


def main_2018(raw_dir: Path) -> None:
    """2017/18 for the 39 forces of the 2017 round, one compiled file in the long layout.
    All offences, which every force gives, are made up a little below the Home Office's count
    for the same force and code, so the two measures a briefing prints do not contradict each
    other."""
    before = force_totals(random.Random(20170601))  # the 2017 round's counts, as written
    recorded = home_office_2017_18()
    rng = random.Random(20180521)
    rows = []
    for name in sorted(before):
        total = PUBLISHED_2018.get(name) or int(before[name]["2016/17"] * rng.uniform(1.05, 1.4))
        weights = {c: w * rng.uniform(0.7, 1.3) for c, (_, w) in CODE_WEIGHTS_2018.items()}
        scale = total / sum(weights.values())
        by_code = {code: int(w * scale) for code, w in weights.items()}
        by_code["22B"] += total - sum(by_code.values())
        # Every force gives all offences beside the flagged ones in this round.
        below = rng.uniform(0.85, 0.98)
        for code, flagged in by_code.items():
            # Never all of them flagged: validation questions more than 90 per cent.
            offences = max(int(recorded[(name, code)] * below), math.ceil(flagged * 1.25))
            rows.append(
                {
                    "force": name,
                    "financial_year": PERIOD_2018,
                    "offence_code": code,
                    "offence_description": CODE_WEIGHTS_2018[code][0],
                    "offences": offences,
                    "online_flagged": flagged,
                }
            )
    pd.DataFrame(rows).to_csv(raw_dir / ROUND_2018, index=False)


ROUNDS = {"2017": (FILES_2017, main), "2018": ((ROUND_2018,), main_2018)}


def write_manifest(raw_dir: Path, manifest: Path) -> None:
    """List the sample files by content hash, so briefings built from them say so."""
    rows = [
        {
            "file_name": f.name,
            "sha256": file_sha256(f),
            "note": "illustrative sample return made by tools/make_sample_returns.py",
        }
        for f in sorted(raw_dir.iterdir())
        if f.suffix in {".csv", ".xlsx"} and f.name != RECEIVED_DATES
    ]
    pd.DataFrame(rows).to_csv(manifest, index=False)


def write_received_dates(raw_dir: Path) -> None:
    """raw/received-dates.csv: when each bundled return was received, by content, so a fresh
    clone dates them the same on any day. Illustrative dates for the sample returns: the 2017
    round's before the press release of 1 June 2017, the 2018 round's after 2017/18 ended;
    the Home Office table on its publication day."""
    rows = [
        {"file": name, "sha256": file_sha256(raw_dir / name), "received": received}
        for name, received in RECEIVED.items()
        if (raw_dir / name).exists()
    ]
    pd.DataFrame(rows, columns=["file", "sha256", "received"]).to_csv(
        raw_dir / RECEIVED_DATES, index=False
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", nargs="?", default="data/raw", type=Path)
    parser.add_argument("--round", action="append", choices=sorted(ROUNDS), dest="rounds")
    arguments = parser.parse_args()
    target = arguments.raw_dir
    target.mkdir(parents=True, exist_ok=True)
    for name in arguments.rounds or sorted(ROUNDS):
        files, write = ROUNDS[name]
        if all((target / file).exists() for file in files):
            print(f"round {name}: kept {', '.join(files)}")
            continue
        write(target)
        print(f"round {name}: wrote {', '.join(files)}")
    if target.resolve() == (DEFAULT_DATA_DIR / "raw").resolve():
        write_manifest(target, REFERENCE_DIR / "illustrative-returns.csv")
    write_received_dates(target)
