"""Great Expectations validation of a return: real GX runs, problems named by row and column."""

from pathlib import Path

import pytest

from briefings.ingest import read_return
from briefings.journal.received import RECEIVED_DATES
from briefings.validation import validate_return

from .helpers import TEST_DATA

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"


def outcome_for(tmp_path: Path, body: str):
    path = tmp_path / "return.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return validate_return(read_return(path).frame, path.name)


@pytest.mark.parametrize("name", ["returns-2017.csv", "surrey-foi-response.xlsx"])
def test_good_returns_pass(name):
    outcome = validate_return(read_return(TEST_DATA / "small" / "raw" / name).frame, name)
    assert outcome.passed, outcome.summary
    assert outcome.checks_run >= 10


def test_the_bundled_returns_pass():
    raw = Path(__file__).parent.parent / "data" / "raw"
    for path in sorted(raw.glob("*.*")):
        if path.suffix in {".csv", ".xlsx"} and path.name != RECEIVED_DATES:  # not a return
            assert validate_return(read_return(path).frame, path.name).passed


@pytest.mark.parametrize(
    ("body", "column", "row", "found"),
    [
        ("Wiltshre,2016/17,22B,10,3\n", "force", 2, "'Wiltshre' (nearest known: Wiltshire"),
        ("Kent,2016/18,22B,10,3\n", "financial_year", 2, "'2016/18'"),
        ("Kent,2016/17,22B,10,twelve\n", "online_flagged", 2, "'twelve'"),
        ("Kent,2016/17,22B,10,-3\n", "online_flagged", 2, "'-3'"),
        ("Kent,2016/17,22B,10,2.5\n", "online_flagged", 2, "'2.5'"),
        ("Kent,2016/17,22B,ten,3\n", "offences", 2, "'ten'"),
        ("Kent,2016/17,22B,5,9\n", "online_flagged", 2, "9 flagged of 5 offences"),
        ("Kent,2016/17,22B,,\n", "online_flagged", 2, "a blank"),
        ("Kent,2016/17,,10,3\n", "offence_code", 2, "a blank"),
    ],
)
def test_each_failure_names_the_row_column_and_value(tmp_path, body, column, row, found):
    outcome = outcome_for(tmp_path, "Kent,2015/16,22B,10,3\n" + body)
    assert not outcome.passed
    problem = next(p for p in outcome.problems if p.column == column)
    assert problem.rows == (str(row + 1),)  # the good row comes first
    assert any(found in value for value in problem.found), problem.found
    assert f"return.csv row {row + 1}, column {column}" in problem.describe("return.csv")


def test_duplicate_rows_for_a_force_year_and_offence_fail(tmp_path):
    outcome = outcome_for(tmp_path, "Kent,2016/17,22B,10,3\nKent,2016/17,22B,12,4\n")
    problem = next(p for p in outcome.problems if "one row per" in p.expected)
    assert problem.rows == ("2", "3")


def test_spellings_and_codes_of_forces_are_all_known(tmp_path):
    outcome = outcome_for(
        tmp_path,
        "Devon & Cornwall,2016/17,22B,10,3\n"
        '"London, City of",2016/17,22B,10,3\n'
        "Metropolitan,2016/17,22B,10,3\n"
        "Avon & Somerset,2016/17,22B,10,3\n"
        "E23000038,2016/17,22B,10,3\n",
    )
    assert outcome.passed, outcome.summary


def test_a_return_with_only_a_header_fails(tmp_path):
    outcome = outcome_for(tmp_path, "")
    assert not outcome.passed
    assert "at least one row" in outcome.summary
