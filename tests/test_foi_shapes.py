"""FOI answers in the shapes forces send: read to the figures a person reads at a glance, with
the ledger saying what ingest did, or refused naming the file, the row or column and why.

The example files are made by tools/make_foi_shape_returns.py; smaller variants are written
here into tmp_path.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

from briefings.ingest import ReturnReadError, file_sha256, read_return
from briefings.reference import force_register
from briefings.validation import validate_return

from .helpers import TEST_DATA

FORMATS = TEST_DATA / "formats"
SHAPES = TEST_DATA / "foi-shapes"
BAD = TEST_DATA / "bad"


def figures(frame: pd.DataFrame) -> list[tuple[str, str, str, str | None, str | None]]:
    """(force, year, code, offences, online_flagged) per row, forces by their reference name."""
    register = force_register()

    def count(value: object) -> str | None:
        return None if pd.isna(value) else str(value)

    return sorted(
        (
            register.resolve(row.force).name,
            row.financial_year,
            row.offence_code,
            count(row.offences),
            count(row.online_flagged),
        )
        for row in frame.itertuples()
    )


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def semicolon_counts(tmp_path, cells: list[str]):
    rows = "".join(
        f"Wiltshire;2016/17;{code};{cell}\n"
        for code, cell in zip(["22B", "88A"], cells, strict=True)
    )
    header = "force;financial_year;offence_code;online_flagged\n"
    return write(tmp_path, "wiltshire.csv", header + rows)


def refusal(path) -> str:
    with pytest.raises(ReturnReadError) as raised:
        read_return(path)
    return str(raised.value)


# --- a total with no offence code ------------------------------------------------------------


def test_a_row_in_the_questions_words_with_no_code_is_the_forces_total():
    parsed = read_return(SHAPES / "norfolk-total-only-wide.csv")
    assert figures(parsed.frame) == [
        ("Norfolk", "2018/19", "ALL", None, "112"),
        ("Norfolk", "2019/20", "ALL", None, "139"),
    ]
    assert "row 2 read as the total for 2018/19, 2019/20: no offence code" in parsed.notes
    assert validate_return(parsed.frame, "norfolk-total-only-wide.csv").passed


@pytest.mark.parametrize(
    "description",
    ["All child sexual offences", "Total online flagged", "Child sexual offences (all)"],
)
def test_a_description_meaning_all_is_the_total(tmp_path, description):
    path = write(tmp_path, "kent.csv", f"Force,Offence,2016/17\nKent,{description},1150\n")
    assert figures(read_return(path).frame) == [("Kent", "2016/17", "ALL", None, "1150")]


def test_the_only_row_for_a_year_with_no_code_or_description_is_the_total(tmp_path):
    path = write(tmp_path, "returns.csv", "Force,2018/19,2019/20\nWiltshire,54,63\nSussex,58,61\n")
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Sussex", "2018/19", "ALL", None, "58"),
        ("Sussex", "2019/20", "ALL", None, "61"),
        ("Wiltshire", "2018/19", "ALL", None, "54"),
        ("Wiltshire", "2019/20", "ALL", None, "63"),
    ]
    assert "rows 2, 3 read as the total for 2018/19, 2019/20: no offence code" in parsed.notes


def test_a_row_naming_another_offence_without_a_code_is_still_refused(tmp_path):
    """'Something else' is not the question's wording: no code is made up for it."""
    path = write(tmp_path, "wiltshire.csv", "Force,Offence,2016/17\nWiltshire,Something else,4\n")
    frame = read_return(path).frame
    assert frame["offence_code"].isna().all()
    assert not validate_return(frame, path.name).passed


def test_a_totals_row_alone_under_a_title_is_the_forces_total(tmp_path):
    path = write(
        tmp_path,
        "response.csv",
        "Wiltshire Police FOI response 2020/0042\nOffence,2018/19,2019/20\nTotal,54,63\n",
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Wiltshire", "2018/19", "ALL", None, "54"),
        ("Wiltshire", "2019/20", "ALL", None, "63"),
    ]
    assert "row 3 read as the total for 2018/19, 2019/20: a totals row on its own" in parsed.notes


def test_a_totals_row_that_adds_up_is_left_out_as_before():
    parsed = read_return(FORMATS / "wide-years.csv")
    assert "totals row 4 left out" in parsed.notes
    assert "ALL" not in set(parsed.frame["offence_code"])


def test_a_totals_row_that_does_not_add_up_is_refused_with_both_numbers():
    message = refusal(BAD / "total-does-not-add-up.csv")
    assert message == (
        "total-does-not-add-up.csv: row 4 gives a total of 1,243 online-flagged for 2016/17, "
        "but the rows above it add up to 1,234; which is right?"
    )


def test_a_sum_row_over_incomplete_rows_is_used_as_the_forces_total(tmp_path):
    """A withheld cell leaves the breakdown incomplete: the force's own total is its count,
    and the withheld row, known only as a range, is left out (the ledger says so)."""
    path = write(
        tmp_path,
        "wiltshire.csv",
        "Force,Offence code,2016/17\nWiltshire,22B,30\nWiltshire,88A,<5\nSum:,,33\n",
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Wiltshire", "2016/17", "22B", None, "30"),
        ("Wiltshire", "2016/17", "ALL", None, "33"),
    ]
    assert "row 4 read as the total for 2016/17: the rows above it are incomplete" in parsed.notes
    assert (
        "row 3 (88A, 2016/17) withheld as '<5': the force's own total for 2016/17 is its count"
        in parsed.notes
    )


# --- blank cells in a wide table ------------------------------------------------------------


def test_blank_cells_in_a_pivot_table_are_none_recorded():
    parsed = read_return(SHAPES / "pivot-blank-cells.csv")
    assert figures(parsed.frame) == [
        ("Kent", "2015/16", "19D", None, "0"),
        ("Kent", "2015/16", "22B", None, "7"),
        ("Kent", "2015/16", "88A", None, "12"),
        ("Kent", "2016/17", "19D", None, "3"),
        ("Kent", "2016/17", "22B", None, "0"),
        ("Kent", "2016/17", "88A", None, "20"),
        ("Surrey", "2015/16", "22B", None, "0"),
        ("Surrey", "2016/17", "22B", None, "5"),
    ]
    assert list(parsed.notes) == ["3 blank cells read as 0", "totals row 6 left out"]
    assert validate_return(parsed.frame, "pivot-blank-cells.csv").passed


def test_a_row_with_no_counts_at_all_is_not_read_as_zeros(tmp_path):
    path = write(
        tmp_path,
        "kent.csv",
        "Force,Offence code,2015/16,2016/17\nKent,22B,7,\nKent,88A,,\nKent,19D,2,4\n",
    )
    parsed = read_return(path)
    assert figures(parsed.frame) == [
        ("Kent", "2015/16", "19D", None, "2"),
        ("Kent", "2015/16", "22B", None, "7"),
        ("Kent", "2015/16", "88A", None, None),
        ("Kent", "2016/17", "19D", None, "4"),
        ("Kent", "2016/17", "22B", None, "0"),
        ("Kent", "2016/17", "88A", None, None),
    ]
    assert "1 blank cell read as 0" in parsed.notes
    assert not validate_return(parsed.frame, path.name).passed


def test_a_year_column_blank_in_every_row_was_not_answered(tmp_path):
    """A whole column left blank is a year the force did not answer for, not zeros."""
    path = write(
        tmp_path, "kent.csv", "Force,Offence code,2015/16,2016/17\nKent,22B,7,\nKent,88A,3,\n"
    )
    parsed = read_return(path)
    assert (
        parsed.frame.loc[parsed.frame["financial_year"] == "2016/17", "online_flagged"].isna().all()
    )
    assert not any("blank" in note for note in parsed.notes)


def test_blanks_in_a_long_table_stay_blank(tmp_path):
    """Only a wide table of counts is a pivot; a blank in a long row is a missing answer."""
    parsed = read_return(TEST_DATA / "bad" / "blank-count.csv")
    assert parsed.frame["online_flagged"].isna().sum() == 1
    assert not any("blank" in note for note in parsed.notes)


# --- two measures per year --------------------------------------------------------------------


def test_two_measures_per_year_are_told_apart_by_their_words():
    parsed = read_return(FORMATS / "wide-two-measures-per-year.csv")
    assert figures(parsed.frame) == [
        ("Wiltshire", "2015/16", "22B", "158", "6"),
        ("Wiltshire", "2015/16", "88A", "40", "4"),
        ("Wiltshire", "2016/17", "22B", "170", "30"),
        ("Wiltshire", "2016/17", "88A", "1500", "1204"),
    ]
    assert "columns F ('2015/16 % flagged'), I ('2016/17 % flagged') not read" in parsed.notes


def test_measure_words_may_come_before_the_year(tmp_path):
    path = write(
        tmp_path,
        "wiltshire.csv",
        "Force,Offence code,Online flagged 2016/17,All offences 2016/17\nWiltshire,22B,30,170\n",
    )
    assert figures(read_return(path).frame) == [("Wiltshire", "2016/17", "22B", "170", "30")]


def test_two_columns_for_a_year_with_no_measure_words_are_refused():
    assert refusal(BAD / "two-columns-for-one-year.csv") == (
        "two-columns-for-one-year.csv: columns D ('2016/17') and E ('2016/17') both hold "
        "2016/17 and their headers do not say which is the online-flagged count"
    )


def test_two_columns_of_one_measure_for_a_year_are_refused(tmp_path):
    path = write(
        tmp_path,
        "wiltshire.csv",
        "Force,Offence code,2016/17 online flagged,2016/17 cyber flagged\nWiltshire,22B,30,31\n",
    )
    assert refusal(path) == (
        "wiltshire.csv: columns C ('2016/17 online flagged') and D ('2016/17 cyber flagged') "
        "both hold 2016/17 online-flagged counts; which one was released?"
    )


def test_a_year_with_only_all_offences_is_refused(tmp_path):
    path = write(
        tmp_path, "wiltshire.csv", "Force,Offence code,2016/17 all offences\nWiltshire,22B,170\n"
    )
    assert refusal(path) == (
        "wiltshire.csv: column C ('2016/17 all offences') gives all offences for 2016/17, "
        "but no column gives its online-flagged count"
    )


# --- numbers in the file's own convention -------------------------------------------------------


def test_dots_between_thousands_are_read_as_the_files_convention():
    parsed = read_return(FORMATS / "long-semicolons-dot-thousands.csv")
    assert figures(parsed.frame)[-1] == ("Wiltshire", "2016/17", "88A", "1500", "1204")
    assert "'.' read as the thousands separator" in parsed.notes


@pytest.mark.parametrize(
    ("cells", "read"),
    [
        (["1.000", "12.345"], ["1000", "12345"]),
        (["1.250", "7"], ["1250", "7"]),
        (["1,000", "12,345"], ["1000", "12345"]),
        (["12.0", "3"], ["12", "3"]),  # a decimal point, as before
        (["2.5", "3"], ["2.5", "3"]),  # not whole: validation names it, as before
        (["1.234,0", "5"], ["1234", "5"]),  # '.' thousands and ',' decimals
    ],
)
def test_one_number_convention_per_file(tmp_path, cells, read):
    path = semicolon_counts(tmp_path, cells)
    assert read_return(path).frame["online_flagged"].tolist() == read


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            ["1.000", "1,500"],
            "row 3, column online_flagged: '1,500' has ',' between thousands, but row 2, column "
            "online_flagged: '1.000' has '.'",
        ),
        (
            ["1.000", "12.5"],
            "row 3, column online_flagged: '12.5' has '.' as a decimal point, but row 2, column "
            "online_flagged: '1.000' has '.' between thousands",
        ),
    ],
)
def test_two_number_conventions_in_one_file_are_refused_naming_a_cell(tmp_path, cells, message):
    path = semicolon_counts(tmp_path, cells)
    assert refusal(path) == f"wiltshire.csv: {message}; one file, one convention"


def test_the_bad_file_of_mixed_separators_is_refused_naming_the_cell():
    assert refusal(BAD / "mixed-thousands-separators.csv") == (
        "mixed-thousands-separators.csv: row 3, column offences: '1,500' has ',' between "
        "thousands, but row 2, column offences: '1.000' has '.'; one file, one convention"
    )


# --- two forces named -----------------------------------------------------------------------


def test_a_title_naming_two_forces_is_refused_listing_both():
    assert refusal(BAD / "two-forces-named.csv") == (
        "two-forces-named.csv: names two forces (Avon and Somerset, Devon and Cornwall) in "
        "row 1 and has no force column; whose figures are these?"
    )


def test_a_file_name_naming_two_forces_is_refused_listing_both(tmp_path):
    path = write(tmp_path, "kent-and-essex-foi.csv", "Offence code,2016/17\n22B,30\n")
    assert refusal(path) == (
        "kent-and-essex-foi.csv: names two forces (Kent, Essex) in the file name and has no "
        "force column; whose figures are these?"
    )


def test_one_force_named_in_several_places_is_that_force(tmp_path):
    path = write(
        tmp_path,
        "west-midlands-police-foi.csv",
        "West Midlands Police FOI response\nOffence code,2016/17\n22B,30\n",
    )
    assert figures(read_return(path).frame) == [("West Midlands", "2016/17", "22B", None, "30")]


def test_the_example_files_are_never_changed():
    for path in [*SHAPES.iterdir(), *FORMATS.iterdir(), *BAD.iterdir()]:
        before = file_sha256(path)
        with contextlib.suppress(ReturnReadError):
            read_return(path)
        assert file_sha256(path) == before, path.name
