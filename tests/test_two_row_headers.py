"""Headers split over two rows (a year over its measures, a measure over its years, a label
merged across the columns it spans) are read as one header of '<upper> <lower>' names, the
ledger saying which two rows; where the two rows do not combine cleanly, the return is refused
naming the rows and the columns. One-row headers are read as before.

The example files in tests/data/formats/ are made by tools/make_two_row_header_returns.py;
smaller variants are written here into tmp_path.
"""

from __future__ import annotations

import openpyxl
import pytest

from briefings.ingest import read_return

from .test_foi_shapes import FORMATS, figures, refusal, write

WILTSHIRE = [
    ("Wiltshire", "2015/16", "22B", "158", "6"),
    ("Wiltshire", "2015/16", "88A", "40", "4"),
    ("Wiltshire", "2016/17", "22B", "170", "30"),
    ("Wiltshire", "2016/17", "88A", "1500", "1204"),
]


def workbook(tmp_path, rows: list[list[object]], merged: list[str], name: str = "kent.xlsx"):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for span in merged:
        book.active.merge_cells(span)
    path = tmp_path / name
    book.save(path)
    return path


# --- read to the figures a person reads -------------------------------------------------------


def test_years_over_their_measures_in_a_csv_are_read_by_the_measures_words():
    """'2015/16' over the blank to its right, 'All offences' and 'Online flagged' under them,
    in another order in 2016/17: the order never decides which count is which."""
    parsed = read_return(FORMATS / "wide-two-row-header.csv")
    assert figures(parsed.frame) == WILTSHIRE
    assert parsed.layout == "wide"
    assert list(parsed.notes) == ["header read from two rows, 1 and 2"]
    assert sorted(set(parsed.frame["source_row"])) == [3, 4]


def test_years_merged_across_their_measures_in_a_workbook():
    """A merged title, years merged across their measures, 'Force' merged down over both
    header rows, a 'Total' group (no year: not read), the force merged down its rows."""
    parsed = read_return(FORMATS / "workbook-grouped-two-row-header.xlsx")
    assert figures(parsed.frame) == WILTSHIRE
    assert list(parsed.notes) == ["header read from two rows, 2 and 3"]
    assert sorted(set(parsed.frame["source_row"])) == [4, 5]


def test_a_two_row_header_reads_as_the_same_header_on_one_row(tmp_path):
    one_row = write(
        tmp_path,
        "one.csv",
        "Force,Offence code,2015/16 All offences,2015/16 Online flagged\nKent,22B,158,6\n",
    )
    two_rows = write(
        tmp_path,
        "two.csv",
        "Force,Offence code,2015/16,\n,,All offences,Online flagged\nKent,22B,158,6\n",
    )
    read = figures(read_return(two_rows).frame)
    assert read == figures(read_return(one_row).frame) == [("Kent", "2015/16", "22B", "158", "6")]


def test_a_measure_over_its_years(tmp_path):
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence code,Online flagged,,All offences,\n"
        ",,2015/16,2016/17,2015/16,2016/17\n"
        "Kent,22B,6,30,158,170\n",
    )
    assert figures(read_return(path).frame) == [
        ("Kent", "2015/16", "22B", "158", "6"),
        ("Kent", "2016/17", "22B", "170", "30"),
    ]


def test_financial_year_merged_over_the_years(tmp_path):
    """'Financial year' says only that the labels under it are years; 'Force' and 'Offence'
    merged down over both rows."""
    path = workbook(
        tmp_path,
        [
            ["Force", "Offence", "Financial year", None],
            [None, None, "2015/16", "2016/17"],
            ["Kent", "Sexual offences against children under 18 with a cyber flag", 112, 139],
        ],
        ["A1:A2", "B1:B2", "C1:D1"],
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Kent", "2015/16", "ALL", None, "112"),
        ("Kent", "2016/17", "ALL", None, "139"),
    ]
    assert "header read from two rows, 1 and 2" in parsed.notes


def test_a_title_then_a_year_over_online_flagged(tmp_path):
    path = write(
        tmp_path,
        "response.csv",
        "Wiltshire Police FOI response 2017/0123\n"
        "Offence code,Description,2016/17\n"
        ",,Online flagged\n"
        "22B,Sexual activity involving child under 16,30\n",
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [("Wiltshire", "2016/17", "22B", None, "30")]
    assert list(parsed.notes) == [
        "header read from two rows, 2 and 3",
        "force 'Wiltshire' named outside the table",
    ]


def test_offence_over_code_and_description(tmp_path):
    """'Offence' continues over the blank beside it, and joins 'Code' and 'Description'."""
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence,,2016/17,\n"
        ",Code,Description,All offences,Online flagged\n"
        "Kent,22B,Sexual activity involving child under 16,170,30\n",
    )
    frame = read_return(path).frame
    assert figures(frame) == [("Kent", "2016/17", "22B", "170", "30")]
    assert frame["offence_description"].tolist() == ["Sexual activity involving child under 16"]


def test_a_header_merged_down_over_two_rows_is_one_header(tmp_path):
    path = workbook(
        tmp_path,
        [["Force", "Offence code", "2016/17"], [None, None, None], ["Kent", "22B", 30]],
        ["A1:A2", "B1:B2", "C1:C2"],
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [("Kent", "2016/17", "22B", None, "30")]
    assert "header read from two rows, 1 and 2" in parsed.notes


# --- refused by name ---------------------------------------------------------------------------


def test_two_measures_a_two_row_header_does_not_tell_apart_are_refused(tmp_path):
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence code,2015/16,,2016/17,\n"
        ",,Online flagged,Cyber flagged,All offences,Online flagged\n"
        "Kent,22B,6,7,170,30\n",
    )
    assert refusal(path) == (
        "kent.csv: the header over rows 1 and 2: columns C ('2015/16' over 'Online flagged') "
        "and D ('2015/16' over 'Cyber flagged') both hold 2015/16 online-flagged counts; which "
        "one was released?"
    )


def test_a_year_over_another_year_is_refused(tmp_path):
    """'2015/16' continues over the blank beside it, onto a column labelled '2016/17'."""
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence code,2015/16,\n,,Online flagged,2016/17\nKent,22B,6,30\n",
    )
    assert refusal(path) == (
        "kent.csv: rows 1 and 2, column D: '2015/16' over '2016/17' names two years; which "
        "year are its counts for?"
    )


def test_a_measure_beyond_a_merged_year_is_refused_not_given_that_year(tmp_path):
    """'2015/16' is merged across D and E only: the 'Online flagged' under F, beyond the
    merge, is no year's, however close."""
    path = workbook(
        tmp_path,
        [
            ["Force", "Offence code", None, "2015/16", None, None],
            [None, None, None, "All offences", "Online flagged", "Online flagged"],
            ["Kent", "22B", None, 158, 6, 30],
        ],
        ["D1:E1"],
    )
    assert refusal(path) == (
        "kent.xlsx: rows 1 and 2 have a column for each financial year (2015/16) and also "
        "'Online flagged', which gives no year; please send counts either one column per year "
        "or with a financial year column"
    )


def test_all_offences_over_the_years_is_never_read_as_online_flagged(tmp_path):
    """On its own the lower row reads as online-flagged counts for each year; the label over
    them says they are all offences, so the return is refused, naming the columns."""
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence code,All offences,\n,,2015/16,2016/17\nKent,22B,158,170\n",
    )
    assert refusal(path) == (
        "kent.csv: the header over rows 1 and 2: column C ('All offences' over '2015/16') gives "
        "all offences for 2015/16, but no column gives its online-flagged count"
    )


# --- one-row headers as before ---------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Online child sexual offences",  # words of a measure, but over 'Force'
        "Online-flagged offences, 2015/16 to 2016/17",  # words of a measure and a year
    ],
)
def test_a_title_merged_across_the_header_is_not_part_of_it(tmp_path, title):
    path = workbook(
        tmp_path,
        [[title], ["Force", "Offence code", "2015/16", "2016/17"], ["Kent", "22B", 6, 30]],
        ["A1:D1"],
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Kent", "2015/16", "22B", None, "6"),
        ("Kent", "2016/17", "22B", None, "30"),
    ]
    assert list(parsed.notes) == ["header on row 2"]


def test_a_section_heading_under_the_header_is_not_a_second_header_row(tmp_path):
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence,2016/17\n,Online flagged offences,\nKent,Sexual grooming,30\n",
    )
    parsed = read_return(path)
    assert not any("two rows" in note for note in parsed.notes)
    assert "Online flagged offences" in set(parsed.frame["offence_description"])
