"""Only what a force released is read (hidden sheets, rows and columns are skipped and named),
and counts are bounded: a count too large to be one is refused by name, never a crash."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from briefings.domain.returns import COUNT_BOUND
from briefings.ingest import ReturnReadError, read_return
from briefings.store.layout import DataFolders
from flows.pipeline import RunRequest, publish_briefings

from .helpers import TEST_DATA, briefings, tree_digest

HEADER = ["Force", "Financial year", "Offence code", "Online flagged"]


def counts(path: Path) -> dict[tuple[str, str], str]:
    frame = read_return(path).frame
    return {(row.force, row.financial_year): row.online_flagged for row in frame.itertuples()}


def notes(path: Path) -> str:
    return "; ".join(read_return(path).notes)


# --- hidden sheets, rows and columns ---------------------------------------------------------


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_with_more_rows_is_not_read(tmp_path, state):
    book = Workbook()
    released = book.active
    released.title = "Response"
    released.append(HEADER)
    released.append(["Wiltshire", "2016/17", "ALL", 44])
    working = book.create_sheet("working - do not release")
    working.sheet_state = state
    working.append(HEADER)
    for year, count in (("2015/16", 12), ("2016/17", 99), ("2017/18", 7)):
        working.append(["Wiltshire", year, "ALL", count])
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)

    assert counts(path) == {("Wiltshire", "2016/17"): "44"}
    assert "hidden sheet 'working - do not release' not read" in notes(path)


def test_of_several_visible_sheets_the_one_whose_header_matches_is_used_and_named(tmp_path):
    book = Workbook()
    cover = book.active
    cover.title = "Cover"
    cover.append(["Freedom of Information request 2017/0456"])
    cover.append(["Please see the sheet 'Figures'."])
    figures = book.create_sheet("Figures")
    figures.append(HEADER)
    figures.append(["Kent", "2016/17", "ALL", 120])
    working = book.create_sheet("Working")
    working.sheet_state = "hidden"
    working.append(HEADER)
    working.append(["Kent", "2016/17", "ALL", 121])
    working.append(["Kent", "2015/16", "ALL", 80])
    path = tmp_path / "kent.xlsx"
    book.save(path)

    assert counts(path) == {("Kent", "2016/17"): "120"}
    said = notes(path)
    assert "figures from sheet 'Figures' of 2" in said
    assert "hidden sheet 'Working' not read" in said


def test_a_workbook_whose_only_table_is_in_a_hidden_sheet_is_refused_naming_the_sheet(tmp_path):
    """What a steward asks the force about: the figures are in a sheet it did not release."""
    book = Workbook()
    cover = book.active
    cover.title = "Cover"
    cover.append(["Freedom of Information request 2017/0456"])
    data = book.create_sheet("Data")
    data.sheet_state = "hidden"
    data.append(HEADER)
    data.append(["Kent", "2016/17", "ALL", 121])
    path = tmp_path / "kent.xlsx"
    book.save(path)

    with pytest.raises(ReturnReadError) as refused:
        read_return(path)
    assert "the likeliest, row 1 of sheet 'Cover'" in str(refused.value)
    assert (
        "the workbook also has a hidden sheet 'Data' not read (hidden sheets are not released: "
        "ask the force to send the figures in a sheet it shows)"
    ) in str(refused.value)
    assert "121" not in str(refused.value)  # nothing of the hidden sheet is read


def test_a_hidden_duplicate_column_placed_first_is_not_read(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Force", "Financial year", "Offence code", "Online flagged", "Online flagged"])
    sheet.append(["Wiltshire", "2015/16", "ALL", 99, 10])
    sheet.append(["Wiltshire", "2016/17", "ALL", 98, 44])
    sheet.column_dimensions["D"].hidden = True
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)

    assert counts(path) == {("Wiltshire", "2015/16"): "10", ("Wiltshire", "2016/17"): "44"}
    assert "hidden column D not read" in notes(path)


def test_hidden_rows_are_not_read_and_are_named(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["Wiltshire", "2015/16", "ALL", 10])
    sheet.append(["Wiltshire", "2016/17", "ALL", 99])  # a draft, hidden
    sheet.append(["Wiltshire", "2016/17", "ALL", 44])
    sheet.append(["Kent", "2016/17", "ALL", 5])  # hidden too
    sheet.row_dimensions[3].hidden = True
    sheet.row_dimensions[5].hidden = True
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)

    assert counts(path) == {("Wiltshire", "2015/16"): "10", ("Wiltshire", "2016/17"): "44"}
    assert "hidden rows 3, 5 not read" in notes(path)
    # Spreadsheet rows keep their numbers, so a problem names the row a person sees.
    assert read_return(path).frame["source_row"].tolist() == [2, 4]


def test_hidden_columns_and_rows_without_values_are_not_mentioned(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["Wiltshire", "2016/17", "ALL", 44])
    sheet.column_dimensions.group("F", "K", hidden=True)  # empty, hidden for looks
    sheet.row_dimensions[9].hidden = True
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)

    assert counts(path) == {("Wiltshire", "2016/17"): "44"}
    assert "hidden" not in notes(path)


def test_a_merged_title_over_a_hidden_column_leaves_the_column_unread(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Wiltshire Police: online-flagged offences"])
    sheet.merge_cells("A1:E1")
    sheet.append(["Force", "Financial year", "Offence code", "Online flagged", "Online flagged"])
    sheet.append(["Wiltshire", "2016/17", "ALL", 98, 44])
    sheet.column_dimensions["D"].hidden = True
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)

    assert counts(path) == {("Wiltshire", "2016/17"): "44"}


def test_a_workbook_whose_every_sheet_is_hidden_is_refused(tmp_path):
    from briefings.ingest import ReturnReadError

    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["Wiltshire", "2016/17", "ALL", 44])
    saved = tmp_path / "saved.xlsx"
    book.save(saved)
    # openpyxl will not save a workbook with no visible sheet: hide it in the saved file.
    path = tmp_path / "wiltshire.xlsx"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w") as target:
        for part in source.infolist():
            data = source.read(part)
            if part.filename == "xl/workbook.xml":
                data = data.replace(b'state="visible"', b'state="hidden"')
            target.writestr(part, data)

    with pytest.raises(ReturnReadError, match="wiltshire.xlsx: every sheet is hidden"):
        read_return(path)


def test_the_committed_example_names_everything_it_did_not_read():
    # Its figures are every format's Wiltshire figures (tests/test_ingest.py).
    parsed = read_return(TEST_DATA / "formats" / "workbook-hidden-sheet-rows-columns.xlsx")
    assert parsed.notes == (
        "hidden sheet 'working - do not release' not read",
        "hidden column E not read",
        "hidden row 5 not read",
    )


# --- counts within a stated bound ------------------------------------------------------------

HUGE = "99999999999999999999"
ONLINE_HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
HOME_OFFICE_HEADER = (
    "Financial Year,Financial Quarter,Force Name,Offence Description,Offence Group,"
    "Offence Subgroup,Offence Code,Number of Offences\n"
)


def home_office_table(count: str) -> str:
    rows = [
        f"2017/18,{q},Wiltshire,Rape of a female child under 16,Sexual offences,Rape,19D,"
        f"{count if q == 1 else 3}\n"
        for q in (1, 2, 3, 4)
    ]
    return HOME_OFFICE_HEADER + "".join(rows)


TOO_LARGE = {
    "offences": (
        "kent-offences.csv",
        ONLINE_HEADER + f"Kent,2016/17,ALL,,{HUGE},5\n",
        "row 2, column offences",
    ),
    "online_flagged": (
        "kent-flagged.csv",
        ONLINE_HEADER + f"Kent,2016/17,ALL,,,{HUGE}\n",
        "row 2, column online_flagged",
    ),
    "home office": (
        "home-office-huge.csv",
        home_office_table(HUGE),
        "row 2, column Number of Offences",
    ),
    "home office negative": (
        "home-office-huge-negative.csv",
        home_office_table(f"-{HUGE}"),
        "row 2, column Number of Offences",
    ),
}


def test_the_bound_is_far_above_any_count_and_stated_to_stewards():
    assert COUNT_BOUND == 10_000_000
    stewards = (Path(__file__).parents[1] / "docs" / "stewards.md").read_text()
    assert f"{COUNT_BOUND:,}" in stewards
    for suite in ("online_flag_return", "home_office_table"):
        text = (Path(__file__).parents[1] / "gx" / "expectations" / f"{suite}.json").read_text()
        expected = [e["meta"]["expected"] for e in json.loads(text)["expectations"]]
        assert any(f"below {COUNT_BOUND:,}" in words for words in expected), suite


@pytest.mark.parametrize("case", TOO_LARGE, ids=str)
def test_a_count_too_large_is_refused_by_validate_naming_row_column_and_bound(tmp_path, case):
    name, text, where = TOO_LARGE[case]
    path = tmp_path / name
    path.write_text(text)
    result = briefings("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"REFUSED {name}" in result.stdout
    assert f"{name} {where}: expected " in result.stdout
    assert f"below {COUNT_BOUND:,}" in result.stdout
    assert HUGE in result.stdout


def test_a_count_just_below_the_bound_passes(tmp_path):
    path = tmp_path / "kent.csv"
    path.write_text(ONLINE_HEADER + f"Kent,2016/17,ALL,,{COUNT_BOUND - 1},5\n")
    result = briefings("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    path.write_text(ONLINE_HEADER + f"Kent,2016/17,ALL,,{COUNT_BOUND},5\n")
    assert briefings("validate", str(path)).returncode == 1


def test_a_huge_number_in_a_workbook_is_refused_by_name(tmp_path):
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["Wiltshire", "2016/17", "ALL", int(HUGE)])  # a double in Excel: 1e20
    book.active.append(["Wiltshire", "2015/16", "ALL", 1e300])
    path = tmp_path / "wiltshire.xlsx"
    book.save(path)
    assert counts(path)[("Wiltshire", "2016/17")] == "100000000000000000000"
    result = briefings("validate", str(path))
    assert result.returncode == 1
    assert "wiltshire.xlsx rows 2, 3, column online_flagged: expected a count below" in (
        result.stdout
    )


def test_a_run_quarantines_the_files_with_huge_counts_and_publishes_the_rest(
    prefect_api_url, small_data, tmp_path
):
    (small_data / "raw" / "dorset-return-with-errors.csv").unlink()
    for name, text, _ in TOO_LARGE.values():
        (small_data / "raw" / name).write_text(text)
    raw_before = tree_digest(small_data / "raw")

    summary = publish_briefings(RunRequest(data_dir=small_data, out_dir=tmp_path / "out"))

    assert {e.staged.file for e in summary.quarantined} == {n for n, _, _ in TOO_LARGE.values()}
    ledger = pd.read_csv(small_data / "processed" / "ledger.csv").set_index("file")
    assert ledger.loc["returns-2017.csv", "status"] == "accepted"
    for name, _, where in TOO_LARGE.values():
        assert ledger.loc[name, "status"] == "quarantined"
        report = DataFolders(small_data).quarantine_report(name).read_text()
        assert where in report and f"below {COUNT_BOUND:,}" in report
    figures = json.loads(summary.figures_json.read_text())
    assert figures["national"]["forces_responding"] == 5
    assert "kent.pdf" in {p.name for p in summary.pdfs}
    assert tree_digest(small_data / "raw") == raw_before


def test_the_committed_examples_are_refused_by_name():
    for name in ("count-too-large.csv", "home-office-count-too-large.csv"):
        result = briefings("validate", str(TEST_DATA / "bad" / name))
        assert result.returncode == 1
        assert f"below {COUNT_BOUND:,}" in result.stdout
