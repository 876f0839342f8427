"""Write the format examples whose header is split over two rows, beside make_test_returns.py:
the Wiltshire dataset every file in tests/data/formats/ encodes, with each year's label over
its measures' labels, as FOI answers often lay them out:

- formats/wide-two-row-header.csv: the years in the upper row, each over the blank cell to
  its right; the measures in the lower row, in a different order in each year;
- formats/workbook-grouped-two-row-header.xlsx: a title merged across the table, the years
  merged across their measures, 'Force', 'Offence code' and 'Offence' merged down over both
  header rows, a 'Total' group over both measures (not a year, so not read), and the force
  merged down over its rows.

Made-up figures. make_test_returns.py calls formats(); run alone, this script writes only
these two files.

    uv run python tools/make_two_row_header_returns.py
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font

FORMATS = Path(__file__).resolve().parent.parent / "tests" / "data" / "formats"

DESCRIPTIONS = {"22B": "Sexual activity involving child under 16", "88A": "Sexual grooming"}
# code -> (2015/16 offences, online flagged), (2016/17 offences, online flagged)
FIGURES = {"22B": ((158, 6), (170, 30)), "88A": ((40, 4), (1500, 1204))}


def formats(folder: Path = FORMATS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wide-two-row-header.csv").write_bytes(_csv_two_rows())
    _workbook_two_rows_merged(folder / "workbook-grouped-two-row-header.xlsx")


def _csv_two_rows() -> bytes:
    rows = [
        ["Force", "Offence code", "Offence", "2015/16", "", "2016/17", ""],
        ["", "", "", "All offences", "Online flagged", "Online flagged", "All offences"],
    ]
    for code, ((offences_15, flagged_15), (offences_16, flagged_16)) in FIGURES.items():
        rows.append(
            ["Wiltshire", code, DESCRIPTIONS[code]]
            + [f"{offences_15:,}", f"{flagged_15:,}", f"{flagged_16:,}", f"{offences_16:,}"]
        )
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _workbook_two_rows_merged(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "FOI 2017-0789"
    sheet.append(["Wiltshire Police: online-flagged child sexual offences, 2015/16 and 2016/17"])
    sheet["A1"].font = Font(bold=True)
    sheet.merge_cells("A1:I1")
    sheet.append(["Force", "Offence code", "Offence", "2015/16", None, "2016/17", None, "Total"])
    measures = ["Online flagged", "All offences"] * 3
    sheet.append([None, None, None, *measures])
    for column in "ABC":
        sheet.merge_cells(f"{column}2:{column}3")
    for span in ("D2:E2", "F2:G2", "H2:I2"):
        sheet.merge_cells(span)
        sheet[span.split(":")[0]].alignment = Alignment(horizontal="center")
    for code, ((offences_15, flagged_15), (offences_16, flagged_16)) in FIGURES.items():
        sheet.append(
            ["Wiltshire", code, DESCRIPTIONS[code], flagged_15, offences_15]
            + [flagged_16, offences_16, flagged_15 + flagged_16, offences_15 + offences_16]
        )
    sheet["A5"].value = None  # the force typed once and merged down over its rows
    sheet.merge_cells("A4:A5")
    book.save(path)


if __name__ == "__main__":
    formats()
