"""Write the test returns in the shapes real FOI answers take, beside make_test_returns.py:

- tests/data/formats/: more spellings of the one small Wiltshire dataset every format encodes
  (two measures per year; counts written with '.' as the thousands separator);
- tests/data/foi-shapes/: shapes that read to figures of their own (a force's total with no
  offence code; a pivot table with blank cells), asserted in tests/test_foi_shapes.py;
- tests/data/bad/: shapes that must be refused, with the error each must give.

Made-up figures. make_test_returns.py calls these; run alone, this script writes only its own
files and prints the lines of tests/data/bad-expected-errors.csv they need.

    uv run python tools/make_foi_shape_returns.py
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tests" / "data"
FORMATS = ROOT / "formats"
SHAPES = ROOT / "foi-shapes"
BAD = ROOT / "bad"


def _csv(rows: list[list[str]], sep: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def formats(folder: Path = FORMATS) -> None:
    """The Wiltshire dataset of make_test_returns.py in two more shapes."""
    # Online-flagged before all offences, as some forces order them: the columns are told
    # apart by their words, never by their order; a per cent column is never a count.
    (folder / "wide-two-measures-per-year.csv").write_bytes(
        _csv(
            [
                [
                    "Force",
                    "Offence code",
                    "Offence",
                    "2015/16 online flagged",
                    "2015/16 all offences",
                    "2015/16 % flagged",
                    "2016/17 Online/cyber flagged",
                    "2016/17 All offences",
                    "2016/17 % flagged",
                ],
                ["Wiltshire", "22B", "Sexual activity involving child under 16"]
                + ["6", "158", "3.8", "30", "170", "17.6"],
                [
                    "Wiltshire",
                    "88A",
                    "Sexual grooming",
                    "4",
                    "40",
                    "10.0",
                    "1,204",
                    "1,500",
                    "80.3",
                ],
            ]
        )
    )
    # A continental export: semicolons, '.' between thousands (1.500 is fifteen hundred).
    (folder / "long-semicolons-dot-thousands.csv").write_bytes(
        _csv(
            [
                ["force", "financial_year", "offence_code", "offences", "online_flagged"],
                ["Wiltshire", "2015/16", "22B", "158", "6"],
                ["Wiltshire", "2015/16", "88A", "40", "4"],
                ["Wiltshire", "2016/17", "22B", "170", "30"],
                ["Wiltshire", "2016/17", "88A", "1.500", "1.204"],
            ],
            sep=";",
        )
    )


def shapes(folder: Path = SHAPES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # The commonest answer: one row per force, the question's own words, no offence code.
    (folder / "norfolk-total-only-wide.csv").write_bytes(
        _csv(
            [
                ["Force", "Offence", "2018/19", "2019/20"],
                ["Norfolk", "Sexual offences against children under 18 with a cyber flag"]
                + ["112", "139"],
            ]
        )
    )
    # A pivot table: blank where nothing was recorded, a grand total checked against the rows.
    (folder / "pivot-blank-cells.csv").write_bytes(
        _csv(
            [
                ["Force", "Offence code", "Offence", "2015/16", "2016/17"],
                ["Kent", "19D", "Rape of a female child under 16", "", "3"],
                ["Kent", "22B", "Sexual activity involving child under 16", "7", ""],
                ["Kent", "88A", "Sexual grooming", "12", "20"],
                ["Surrey", "22B", "Sexual activity involving child under 16", "", "5"],
                ["Grand Total", "", "", "19", "28"],
            ]
        )
    )

    # A small count withheld and no total: the force responded with its count withheld.
    (folder / "withheld-count-no-total.csv").write_bytes(
        _csv(
            [
                ["Force", "Offence code", "2015/16", "2016/17"],
                ["Dorset", "22B", "20", "31"],
                ["Dorset", "88A", "9", "*"],
            ]
        )
    )


def bad_files(folder: Path = BAD) -> list[tuple[str, str, str, str, str]]:
    """(file, stage, error text, row, column) for each file written."""
    files = {
        "total-does-not-add-up.csv": (
            _csv(
                [
                    ["Force", "Offence code", "Offence", "2015/16", "2016/17"],
                    ["Wiltshire", "22B", "Sexual activity involving child under 16", "6", "30"],
                    ["Wiltshire", "88A", "Sexual grooming", "4", "1,204"],
                    ["Total", "", "", "10", "1,243"],
                ]
            ),
            "row 4 gives a total of 1,243 online-flagged for 2016/17",
        ),
        "two-columns-for-one-year.csv": (
            _csv(
                [
                    ["Force", "Offence code", "2015/16", "2016/17", "2016/17"],
                    ["Wiltshire", "22B", "6", "170", "30"],
                ]
            ),
            "columns D ('2016/17') and E ('2016/17') both hold 2016/17",
        ),
        "mixed-thousands-separators.csv": (
            _csv(
                [
                    ["force", "financial_year", "offence_code", "offences", "online_flagged"],
                    ["Wiltshire", "2016/17", "22B", "1.000", "30"],
                    ["Wiltshire", "2016/17", "88A", "1,500", "1,204"],
                ],
                sep=";",
            ),
            "row 3, column offences: '1,500' has ',' between thousands, but row 2",
        ),
        "two-forces-named.csv": (
            _csv(
                [
                    [
                        "FOI response from Avon and Somerset Police; copy to Devon and "
                        "Cornwall Police"
                    ],
                    ["Offence code", "2015/16", "2016/17"],
                    ["22B", "6", "30"],
                ]
            ),
            "names two forces (Avon and Somerset, Devon and Cornwall)",
        ),
    }
    expected = []
    for name, (content, message) in files.items():
        (folder / name).write_bytes(content)
        expected.append((name, "read", message, "", ""))
    return expected


if __name__ == "__main__":
    formats()
    shapes()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(bad_files())
    print(out.getvalue(), end="")
