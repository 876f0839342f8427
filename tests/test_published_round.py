"""A round built from a real published FOI round, in the shapes forces send, gives the figures
a person works out by hand.

The counts are those the NSPCC's 2017 release printed for five forces with both years
(reference/nspcc-online-child-sex-offences-press-figures.csv): online-flagged child sexual
offences in 2015/16 and 2016/17. Each force's answer takes a shape real answers take: one
total per year with no offence code; a pivot table by offence code with blank cells; a
breakdown with a withheld cell and the force's own total; all offences and online flagged
side by side for each year; the canonical long layout.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from pathlib import Path

from briefings import services
from briefings.domain.figures import figures_document, periods_with_data
from briefings.reference import force_register
from briefings.store import DataFolders, Status, load_accepted_returns

from .helpers import PROJECT_ROOT

PUBLISHED = PROJECT_ROOT / "reference" / "nspcc-online-child-sex-offences-press-figures.csv"

ANSWERS = {
    # One total per year, worded as the question was, no offence code.
    "wiltshire-foi-reply.csv": (
        "Force,Offence,2015/16,2016/17\n"
        "Wiltshire,Sexual offences against children under 18 with a cyber flag,10,44\n"
    ),
    # A pivot table: blank where nothing was recorded, and its grand total.
    "cleveland-pivot.csv": (
        "Force,Offence code,Offence,2015/16,2016/17\n"
        "Cleveland,19D,Rape of a female child under 16,,31\n"
        "Cleveland,22B,Sexual activity involving child under 16,40,76\n"
        "Cleveland,88A,Sexual grooming,15,\n"
        "Cleveland,71,Abuse of children through sexual exploitation,,38\n"
        "Grand Total,,,55,145\n"
    ),
    # A breakdown with a small count withheld, and the force's own total for each year.
    "northumbria-disclosure.csv": (
        "Force,Offence code,2015/16,2016/17\n"
        "Northumbria,22B,61,201\n"
        "Northumbria,88A,35,120\n"
        "Northumbria,71,<5,<5\n"
        "Total,,98,323\n"
    ),
    # All offences and online flagged side by side for each year.
    "lincolnshire-response.csv": (
        "Offence,2015/16 all offences,2015/16 online flagged,"
        "2016/17 all offences,2016/17 online flagged\n"
        "All child sexual offences,1204,112,1187,58\n"
    ),
    # The canonical long layout.
    "northamptonshire.csv": (
        "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
        "Northamptonshire,2015/16,ALL,All child sexual offences,,59\n"
        "Northamptonshire,2016/17,ALL,All child sexual offences,,72\n"
    ),
}


def published_counts() -> dict[str, tuple[int, int]]:
    """Each force's (2015/16, 2016/17) as the release printed them, for the five forces."""
    wanted = {"Wiltshire", "Cleveland", "Northumbria", "Lincolnshire", "Northamptonshire"}
    counts = {}
    with PUBLISHED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row["scope"], row["financial_year"], row["comparison_year"]) != (
                "force",
                "2016/17",
                "2015/16",
            ) or row["area"] not in wanted:
                continue
            current = int(row["online_flagged_child_sexual_offences"])
            counts[row["area"]] = (int(row["comparison_value"]), current)
    assert set(counts) == wanted
    return counts


def test_a_published_round_in_the_shapes_forces_send_gives_the_figures_worked_out_by_hand(
    tmp_path: Path,
):
    data = tmp_path / "data"
    raw = data / "raw"
    raw.mkdir(parents=True)
    for name, text in ANSWERS.items():  # Lincolnshire's answer names its force in its name
        (raw / name).write_text(text, encoding="utf-8")
    result = services.ingest(data, now=datetime(2017, 5, 20, tzinfo=UTC), notify=False)
    refused = {e.file: e.detail for e in result.ledger if e.status != Status.ACCEPTED}
    assert refused == {}

    register = force_register()
    rows = load_accepted_returns(DataFolders(data))
    assert [p.label for p in periods_with_data(rows)] == ["2015/16", "2016/17"]
    figures = services.period_figures(DataFolders(data), "2016/17", threshold=5)
    expected = published_counts()
    read = {f.force.name: (f.previous, f.count) for f in figures.forces if f.force.name in expected}
    assert read == expected
    assert {f.force.code for f in figures.forces} == {
        register.resolve(name).code for name in expected
    }

    # By hand: five forces responded for both years, none withheld as a whole.
    previous = sum(before for before, _ in expected.values())
    current = sum(now for _, now in expected.values())
    assert (previous, current) == (334, 642)
    national = figures.national
    assert (national.forces_responding, national.like_for_like_forces) == (5, 5)
    change = national.like_for_like
    assert change is not None and (change.previous, change.current) == (334, 642)
    assert change.percent == Fraction(100 * (642 - 334), 334)  # 92.21...
    printed = figures_document(figures, {})["national"]
    assert (printed["like_for_like_previous"], printed["like_for_like_current"]) == (334, 642)
    exact = Decimal(current - previous) / Decimal(previous) * 100
    assert printed["change_pct"] == float(exact.quantize(Decimal("0.1"), rounding=ROUND_DOWN))
