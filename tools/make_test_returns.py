"""Write the real-shaped test returns: tests/data/formats/ (every shape ingest must take) and
tests/data/bad/ (files it must refuse, with the error each must give, in expected-errors.csv).

Made-up figures, all encoding the same small dataset so a test can compare every format
with one expected answer:

    Wiltshire 2015/16: 22B 6 (of 158 offences), 88A 4 (of 40)
    Wiltshire 2016/17: 22B 30 (of 170), 88A 1,204 (of 1,500)

    uv run python tools/make_test_returns.py
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
from make_foi_shape_returns import bad_files as foi_bad_files
from make_foi_shape_returns import formats as foi_formats
from make_foi_shape_returns import shapes as foi_shapes
from make_two_row_header_returns import formats as two_row_header_formats
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parent.parent / "tests" / "data"
FORMATS = ROOT / "formats"
BAD = ROOT / "bad"

DESCRIPTIONS = {"22B": "Sexual activity involving child under 16", "88A": "Sexual grooming"}
FIGURES = [  # (year, code, offences, online_flagged)
    ("2015/16", "22B", 158, 6),
    ("2015/16", "88A", 40, 4),
    ("2016/17", "22B", 170, 30),
    ("2016/17", "88A", 1500, 1204),
]
LONG_HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged"


def long_rows(force: str = "Wiltshire", thousands: bool = True) -> list[list[str]]:
    return [
        [
            force,
            year,
            code,
            DESCRIPTIONS[code],
            f"{offences:,}" if thousands else str(offences),
            f"{flagged:,}" if thousands else str(flagged),
        ]
        for year, code, offences, flagged in FIGURES
    ]


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    sep: str = ",",
    encoding: str = "utf-8",
    blank_line_after: int | None = None,
) -> None:
    out = io.StringIO()
    import csv

    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    for index, row in enumerate(rows):
        writer.writerow(row)
        if blank_line_after == index:
            out.write("\r\n")
    path.write_bytes(out.getvalue().encode(encoding))


def formats() -> None:
    shutil.rmtree(FORMATS, ignore_errors=True)
    FORMATS.mkdir(parents=True)
    header = LONG_HEADER.split(",")
    write_csv(FORMATS / "long-utf8.csv", header, long_rows(), blank_line_after=1)
    write_csv(FORMATS / "long-utf8-bom.csv", header, long_rows(), encoding="utf-8-sig")
    # Windows-1252, semicolons, an en dash in a description, unquoted thousands separators.
    rows = [[*r[:3], r[3] + " – FOI", *r[4:]] for r in long_rows(force="Wiltshire Police")]
    write_csv(FORMATS / "long-cp1252-semicolons.csv", header, rows, sep=";", encoding="cp1252")
    write_csv(
        FORMATS / "long-other-header-words.csv",
        ["Police force", "FY", "HO code", "Offence", "Number of offences", "Cyber-flagged"],
        long_rows(force="E23000038"),
    )
    # Wide: one column of online-flagged counts per year, spelt three ways.
    for name, years in {
        "wide-years.csv": ("2015/16", "2016-17"),
        "wide-four-digit-years.csv": ("2015/2016", "2016/2017"),
    }.items():
        write_csv(
            FORMATS / name,
            ["Force", "Offence code", "Offence", *years, "Total"],
            [
                ["Wiltshire", "22B", DESCRIPTIONS["22B"], "6", "30", "36"],
                ["Wiltshire", "88A", DESCRIPTIONS["88A"], "4", "1,204", "1,208"],
                ["Total", "", "", "10", "1,234", "1,244"],
            ],
        )
    wide_without_force_column(FORMATS / "wiltshire-foi-wide-with-title.xlsx")
    workbook_with_sheets(FORMATS / "workbook-several-sheets-merged-cells.xlsx")
    workbook_with_hidden_parts(FORMATS / "workbook-hidden-sheet-rows-columns.xlsx")
    foi_formats(FORMATS)  # two measures a year; '.' between thousands
    two_row_header_formats(FORMATS)  # a header over two rows, in a CSV and a workbook
    foi_shapes()  # shapes with figures of their own, in tests/data/foi-shapes/
    # Home Office open data: a real extract of the 2017/18 sheet, as a workbook.
    real = Path(__file__).resolve().parent.parent / "data" / "raw" / "home-office"
    table = pd.read_csv(real / "prc-pfa-2017-18-homeoffice-open-data.csv", dtype=str)
    extract = table[table["Force Name"].isin(["Wiltshire", "Action Fraud", "Dorset"])]
    extract.to_excel(
        FORMATS / "home-office-extract-2017-18.xlsx", index=False, sheet_name="2017-18"
    )


def wide_without_force_column(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Response"
    sheet.append(["Wiltshire Police: Freedom of Information response 2017/0123"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(["Online-flagged child sexual offences by financial year"])
    sheet.append([])
    sheet.append(["Offence", "FY2015/16", "FY2016/17"])
    sheet.append(["22B - Sexual activity involving child under 16", 6, 30])
    sheet.append(["88A - Sexual grooming", 4, "1204"])  # a number stored as text
    sheet.append(["Grand total", 10, 1234])
    sheet.append([])
    sheet.append(["Note: figures are a snapshot of the crime recording system on 12 May 2017."])
    book.save(path)


def workbook_with_hidden_parts(path: Path) -> None:
    """What the force released, beside what it did not: a hidden working sheet with more
    rows, a hidden draft column of online-flagged counts placed first, a hidden draft row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Response"
    sheet.append(["Force", "Financial year", "Offence code", "Offence", "Online flagged"])
    sheet.cell(1, 6).value = "Online flagged"
    drafts = iter([7, 5, 31, 1190])
    for year, code, _, flagged in FIGURES:
        if (year, code) == ("2016/17", "88A"):
            sheet.append(["Wiltshire", year, code, DESCRIPTIONS[code], 1300, 1300])
            sheet.row_dimensions[sheet.max_row].hidden = True
        sheet.append(["Wiltshire", year, code, DESCRIPTIONS[code], next(drafts), flagged])
    sheet.column_dimensions["E"].hidden = True
    working = book.create_sheet("working - do not release")
    working.sheet_state = "hidden"
    working.append(["Force", "Financial year", "Offence code", "Online flagged"])
    for year in ("2014/15", "2015/16", "2016/17"):
        for code in DESCRIPTIONS:
            working.append(["Wiltshire", year, code, 99])
    book.save(path)


def workbook_with_sheets(path: Path) -> None:
    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "Cover"
    cover.append(["Freedom of Information request 2017/0456"])
    cover.append(["Please see the Data sheet."])
    data = book.create_sheet("Data")
    data.append(["Online child sexual offences"])
    data.merge_cells("A1:F1")
    data.append(["Source: force crime recording system"])
    data.append(["Force", "Financial year", "Offence code", "Offence", "Offences", "Online flag"])
    for year, code, offences, flagged in FIGURES:
        data.append(["Wiltshire", year, code, DESCRIPTIONS[code], str(offences), flagged])
    # The force name is typed once and merged down over its rows, as FOI officers do.
    for row in range(5, 8):
        data.cell(row, 1).value = None
    data.merge_cells("A4:A7")
    data.append(["Total", "", "", "", "1868", 1244])
    notes = book.create_sheet("Notes")
    notes.append(["Counts of fewer than 5 are not suppressed in this response."])
    book.save(path)


def bad_files() -> list[tuple[str, str, str, str, str]]:
    """(file, stage, error text, row, column) for every file written to tests/data/bad/."""
    shutil.rmtree(BAD, ignore_errors=True)
    BAD.mkdir(parents=True)
    expected = []

    def text(name: str, content: str, stage: str, message: str, row: str = "", column: str = ""):
        (BAD / name).write_text(content, encoding="utf-8")
        expected.append((name, stage, message, row, column))

    def raw(name: str, content: bytes, message: str):
        (BAD / name).write_bytes(content)
        expected.append((name, "read", message, "", ""))

    head = "force,financial_year,offence_code,offences,online_flagged\n"
    good = "Wiltshire,2016/17,22B,170,30\n"
    raw("empty.csv", b"", "the file is empty")
    raw("whitespace-only.csv", b"  \r\n\r\n ", "the file is empty")
    raw("binary-junk.csv", bytes(range(256)) * 64, "binary data, not a CSV text table")
    whole = (FORMATS / "workbook-several-sheets-merged-cells.xlsx").read_bytes()
    raw("workbook-named-csv.csv", whole, "an Excel workbook named .csv")
    raw("truncated.xlsx", whole[: len(whole) // 2], "damaged or truncated Excel workbook")
    raw("password-protected.xlsx", _encrypted(whole), "password-protected workbook")
    raw("old-excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "old-style Excel .xls")
    raw("text-named-xlsx.xlsx", (head + good).encode(), "not an Excel workbook")
    raw("notes.txt", b"Figures to follow.", "not a police return (expected .csv or .xlsx")
    raw("no-header.csv", b"1,2,3\n4,5,6\n", "no header row with the return's columns")
    raw(
        "missing-count-column.csv",
        b"force,financial_year,offence_code\nWiltshire,2016/17,22B\n",
        "no header row with the return's columns",
    )
    raw(
        "unbalanced-quotes.csv",
        (head + 'Wiltshire,"2016/17,22B,170,30\n').encode(),
        "not a readable CSV table",
    )
    book = openpyxl.Workbook()
    book.active.append(["Response to request 2017/789"])
    book.active.append(["Offence", "2015/16", "2016/17"])
    book.active.append(["22B", 6, 30])
    buffer = io.BytesIO()
    book.save(buffer)
    raw("response-2017-789.xlsx", buffer.getvalue(), "no force column, and no force named")
    book = openpyxl.Workbook()
    book.active.append(["Figures will follow under separate cover."])
    buffer = io.BytesIO()
    book.save(buffer)
    raw("notes-only-workbook.xlsx", buffer.getvalue(), "no header row with the return's columns")
    raw(
        "home-office-missing-column.csv",
        b"Financial Year,Financial Quarter,Force Name,Offence Description,Offence Group,"
        b"Offence Subgroup,Number of Offences\n2017/18,1,Wiltshire,Rape,Sexual offences,Rape,4\n",
        "lacks column(s) offence_code",
    )

    text("header-only.csv", head, "validate", "at least one row of figures", "", "(table)")
    text(
        "unknown-force.csv",
        head + "Wessex,2016/17,22B,170,30\n",
        "validate",
        "'Wessex' (nearest known:",
        "2",
        "force",
    )
    text(
        "blank-force.csv",
        head + good + ",2016/17,88A,40,4\n",
        "validate",
        "a blank force",
        "3",
        "force",
    )
    for name, year in {
        "malformed-year.csv": "2016/18",
        "unknown-year.csv": "last year",
        "year-before-online-flag.csv": "2014/15",
        "future-year.csv": "2031/32",
    }.items():
        text(
            name,
            head + good + f"Wiltshire,{year},88A,40,4\n",
            "validate",
            f"'{year}'",
            "3",
            "financial_year",
        )
    for name, value in {
        "negative-count.csv": "-3",
        "fractional-count.csv": "2.5",
        "formula-count.csv": "=SUM(E2:E3)",
        "text-count.csv": "twelve",
    }.items():
        text(
            name,
            head + good + f'Wiltshire,2016/17,88A,40,"{value}"\n',
            "validate",
            f"'{value}'",
            "3",
            "online_flagged",
        )
    text(
        "blank-count.csv",
        head + good + "Wiltshire,2016/17,88A,40,\n",
        "validate",
        "a blank",
        "3",
        "online_flagged",
    )
    text(
        "count-too-large.csv",
        head + good + "Wiltshire,2016/17,88A,40,99999999999999999999\n",
        "validate",
        "a count below 10,000,000",
        "3",
        "online_flagged",
    )
    text(
        "negative-offences.csv",
        head + good + "Wiltshire,2016/17,88A,-10,4\n",
        "validate",
        "'-10'",
        "3",
        "offences",
    )
    text(
        "flagged-above-offences.csv",
        head + good + "Wiltshire,2016/17,88A,5,9\n",
        "validate",
        "9 flagged of 5 offences",
        "3",
        "online_flagged",
    )
    text(
        "duplicated-rows.csv",
        head + good + "Wiltshire,2016/17,22B,170,31\n",
        "validate",
        "one row per force, year and offence",
        "2, 3",
        "force, financial_year, offence_code",
    )
    text(
        "unknown-offence.csv",
        "force,financial_year,offence,online_flagged\nWiltshire,2016/17,Something else,4\n",
        "validate",
        "a blank",
        "2",
        "offence_code",
    )
    office = (
        "Financial Year,Financial Quarter,Force Name,Offence Description,Offence Group,"
        "Offence Subgroup,Offence Code,Number of Offences\n"
    )
    row = "2017/18,{q},{force},Rape of a female child under 16,Sexual offences,Rape,19D,{n}\n"
    text(
        "home-office-bad-quarter.csv",
        office
        + row.format(q=1, force="Wiltshire", n=" 4 ")
        + row.format(q=5, force="Wiltshire", n=" 2 "),
        "validate",
        "'5'",
        "3",
        "Financial Quarter",
    )
    text(
        "home-office-text-count.csv",
        office + row.format(q=1, force="Wiltshire", n="abc"),
        "validate",
        "'abc'",
        "2",
        "Number of Offences",
    )
    text(
        "home-office-unknown-force.csv",
        office + row.format(q=1, force="Gotham", n="3"),
        "validate",
        "'Gotham'",
        "2",
        "Force Name",
    )
    text(
        "home-office-count-too-large.csv",
        office + row.format(q=1, force="Wiltshire", n="99999999999999999999"),
        "validate",
        "a count below 10,000,000",
        "2",
        "Number of Offences",
    )
    expected += foi_bad_files(BAD)  # totals, measures, separators, forces
    return expected


def _encrypted(workbook: bytes) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(workbook)).encrypt("Passw0rd", out)
    return out.getvalue()


if __name__ == "__main__":
    formats()
    rows = bad_files()
    pd.DataFrame(rows, columns=["file", "stage", "error", "row", "column"]).to_csv(
        ROOT / "bad-expected-errors.csv", index=False
    )
    print(f"{len(list(FORMATS.iterdir()))} format files, {len(rows)} bad files")
