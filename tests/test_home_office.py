"""The real Home Office 2017/18 table, ingested exactly as published."""

import csv
from collections import defaultdict

import pandas as pd
import pytest

from briefings.ingest import Kind, read_return
from briefings.ingest.home_office import child_offence_codes, child_sexual_offences, summed_offences
from briefings.validation import validate_return

from .helpers import PROJECT_ROOT, TEST_DATA

REAL_TABLE = (
    PROJECT_ROOT / "data" / "raw" / "home-office" / "prc-pfa-2017-18-homeoffice-open-data.csv"
)


@pytest.fixture(scope="module")
def offences():
    parsed = read_return(REAL_TABLE)
    assert parsed.kind is Kind.HOME_OFFICE
    assert validate_return(parsed.frame, REAL_TABLE.name, parsed.kind).passed
    return summed_offences(parsed.frame, REAL_TABLE.name)


def raw_rows():
    """The published file read with nothing but the csv module, independently of ingest."""
    with REAL_TABLE.open(newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)


def test_every_row_is_read(offences):
    assert sum(1 for _ in raw_rows()) == 23068
    assert offences["rows_summed"].sum() == 23068


def test_totals_by_force_match_the_raw_sums(offences):
    raw = defaultdict(int)
    for row in raw_rows():
        raw[row["Force Name"]] += int(row["Number of Offences"].strip())  # '-00' is int 0
    ours = offences.groupby("force_name")["offences"].sum().to_dict()
    assert ours == dict(raw)
    assert len(ours) == 48


def test_wiltshire_child_sexual_offences_match_an_independent_sum(offences):
    codes = {"17B", "19D", "19E", "19G", "19H", "20B", "21", "22B", "71", "73", "88A"}
    assert set(child_offence_codes()) == codes
    by_quarter = defaultdict(int)
    for row in raw_rows():
        if row["Force Name"] == "Wiltshire" and row["Offence Code"] in codes:
            by_quarter[int(row["Financial Quarter"])] += int(row["Number of Offences"])
    derived = child_sexual_offences(offences)
    wiltshire = derived[derived["force_code"] == "E23000038"].set_index("quarter")
    assert wiltshire["child_sexual_offences"].to_dict() == dict(by_quarter)
    assert sum(by_quarter.values()) == wiltshire["child_sexual_offences"].sum() > 0
    # The reference table's own derivation (reference/PROVENANCE.md) agrees.
    reference = pd.read_csv(
        PROJECT_ROOT / "reference" / "prc-2017-18-child-sexual-offences-by-force.csv"
    )
    mine = reference[
        (reference["force_name"] == "Wiltshire") & reference["offence_code"].isin(codes)
    ]
    assert len(mine) == len(codes)
    assert mine["annual_total"].sum() == sum(by_quarter.values())


def test_homicide_rows_are_summed_not_deduplicated(offences):
    homicide = offences[
        (offences["force_name"] == "Wiltshire") & (offences["offence_code"] == "1/4.1/4.10/4.2")
    ]
    assert set(homicide["rows_summed"]) == {4}
    raw = sum(
        int(r["Number of Offences"])
        for r in raw_rows()
        if r["Force Name"] == "Wiltshire" and r["Offence Code"] == "1/4.1/4.10/4.2"
    )
    assert homicide["offences"].sum() == raw


def test_negative_adjustments_are_kept(offences):
    raw_negatives = sum(1 for r in raw_rows() if int(r["Number of Offences"]) < 0)
    assert raw_negatives > 0
    assert (offences["offences"] < 0).sum() > 0


def test_non_territorial_entries_are_kept_and_marked(offences):
    marked = offences.groupby("force_name")["police_force_area"].first()
    for name in (
        "Action Fraud",
        "CIFAS",
        "UK Finance",
        "British Transport Police",
        "Financial Fraud Action UK",
    ):
        assert not marked[name]
    assert marked["Wiltshire"] and marked.sum() == 43
    assert offences.loc[~offences["police_force_area"], "force_code"].isna().all()


def test_the_workbook_form_reads_the_same_as_the_csv(offences):
    parsed = read_return(TEST_DATA / "formats" / "home-office-extract-2017-18.xlsx")
    assert parsed.kind is Kind.HOME_OFFICE
    summed = summed_offences(parsed.frame, "extract.xlsx")
    for force in ("Wiltshire", "Action Fraud", "Dorset"):
        assert (
            summed[summed["force_name"] == force]["offences"].sum()
            == offences[offences["force_name"] == force]["offences"].sum()
        )


def test_a_table_with_part_of_a_year_says_so_when_read(tmp_path):
    """An outsider found a table of 2019/20's first three quarters accepted as 'OK' with no
    word that the year is incomplete (nothing is printed from it until the fourth quarter
    is in): reading it says so, and `briefings validate` prints it."""
    from .helpers import briefings

    assert read_return(REAL_TABLE).notes == ()  # all four quarters of 2017/18
    lines = REAL_TABLE.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    header = next(i for i, line in enumerate(lines) if line.startswith("Financial Year"))
    quarter = lines[header].rstrip("\r\n").split(",").index("Financial Quarter")
    kept = [line for line in lines[header + 1 :] if line.split(",")[quarter] != "4"]
    part = tmp_path / "prc-pfa-2017-18-q1-q3.csv"
    part.write_text("".join(lines[: header + 1] + kept), encoding="utf-8")
    note = (
        "2017/18: quarters 1, 2 and 3 only; a force's 2017/18 figure is used only once all "
        "four of its quarters are in"
    )
    assert read_return(part).notes == (note,)
    result = briefings("validate", str(part))
    assert result.returncode == 0, result.stdout + result.stderr
    assert note in result.stdout
