"""Ingest takes returns in every shape they arrive, and refuses the rest with a reason."""

import contextlib

import pandas as pd
import pytest

from briefings.ingest import Kind, ReturnReadError, file_sha256, list_raw_files, read_return
from briefings.ingest.online_flag import year_header
from briefings.reference import force_register
from briefings.validation import validate_return

from .helpers import TEST_DATA

FORMATS = TEST_DATA / "formats"
BAD = TEST_DATA / "bad"
# What every online-flag file in tests/data/formats/ says (see tools/make_test_returns.py).
EXPECTED = {
    ("E23000038", "2015/16", "22B", "6"),
    ("E23000038", "2015/16", "88A", "4"),
    ("E23000038", "2016/17", "22B", "30"),
    ("E23000038", "2016/17", "88A", "1204"),
}
ONLINE_FLAG_FORMATS = sorted(p.name for p in FORMATS.iterdir() if not p.name.startswith("home"))


def canonical_tuples(frame: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    register = force_register()
    return {
        (register.resolve(row.force).code, row.financial_year, row.offence_code, row.online_flagged)
        for row in frame.itertuples()
    }


@pytest.mark.parametrize("name", ONLINE_FLAG_FORMATS)
def test_every_shape_of_online_flag_return_reads_to_the_same_figures(name):
    parsed = read_return(FORMATS / name)
    assert parsed.kind is Kind.ONLINE_FLAG
    assert canonical_tuples(parsed.frame) == EXPECTED
    assert validate_return(parsed.frame, name).passed


@pytest.mark.parametrize(
    ("name", "layout", "notes"),
    [
        ("long-utf8.csv", "long", []),
        ("long-cp1252-semicolons.csv", "long", ["separator ';'"]),
        ("wide-years.csv", "wide", ["totals row 4 left out"]),
        (
            "wiltshire-foi-wide-with-title.xlsx",
            "wide",
            [
                "header on row 4",
                "note row 9 left out",
                "force 'Wiltshire' named outside the table",
                "totals row 7 left out",
            ],
        ),
        (
            "workbook-several-sheets-merged-cells.xlsx",
            "long",
            ["figures from sheet 'Data' of 3", "header on row 3", "totals row 8 left out"],
        ),
    ],
)
def test_ingest_says_what_it_did_with_the_layout(name, layout, notes):
    parsed = read_return(FORMATS / name)
    assert parsed.layout == layout
    assert list(parsed.notes) == notes


def test_rows_are_numbered_as_in_the_spreadsheet():
    frame = read_return(FORMATS / "long-utf8.csv").frame  # a blank line after the second row
    assert frame["source_row"].tolist() == [2, 3, 5, 6]
    wide = read_return(FORMATS / "wiltshire-foi-wide-with-title.xlsx").frame
    assert sorted(set(wide["source_row"])) == [5, 6]


def test_offences_are_kept_where_given():
    frame = read_return(FORMATS / "long-cp1252-semicolons.csv").frame
    assert frame["offences"].tolist() == ["158", "40", "170", "1500"]
    assert frame["offence_description"].iloc[0].endswith("– FOI")  # Windows-1252 en dash


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2015/16", "2015/16"),
        ("2016-17", "2016/17"),
        ("2016/2017", "2016/17"),
        ("FY2016/17", "2016/17"),
        ("FY 2016-17", "2016/17"),
        ("2016/18", None),
        ("Total", None),
    ],
)
def test_year_column_headers(text, label):
    assert year_header(text) == label


@pytest.mark.parametrize(
    "spelling",
    [
        "Devon & Cornwall",
        "London, City of",
        "Metropolitan",
        "Avon & Somerset",
        "E23000038",
        "Wiltshire Police",
        "city of london",
        "DYFED POWYS",
    ],
)
def test_force_spellings(spelling):
    assert force_register().find(spelling) is not None


EXPECTED_ERRORS = pd.read_csv(
    TEST_DATA / "bad-expected-errors.csv", dtype=str, keep_default_na=False
)


def test_the_bad_corpus_has_at_least_30_files_each_with_its_error():
    assert len(EXPECTED_ERRORS) >= 30
    assert sorted(EXPECTED_ERRORS["file"]) == sorted(p.name for p in BAD.iterdir())


@pytest.mark.parametrize("case", EXPECTED_ERRORS.to_dict("records"), ids=lambda c: c["file"])
def test_each_bad_file_gets_its_specific_error(case):
    path = BAD / case["file"]
    if case["stage"] == "read":
        with pytest.raises(ReturnReadError) as raised:
            read_return(path)
        message = str(raised.value)
        assert message.startswith(f"{path.name}: ")
        assert case["error"] in message
        return
    parsed = read_return(path)
    outcome = validate_return(parsed.frame, path.name, parsed.kind)
    assert not outcome.passed
    described = [p.describe(path.name) for p in outcome.problems if p.column == case["column"]]
    assert described, outcome.summary
    rows = case["row"]
    where = f"{path.name} row{'s' * (',' in rows)} {rows}" if rows else path.name
    assert any(d.startswith(where) and case["error"] in d for d in described), described


def test_a_200_mb_file_is_refused_with_a_clear_limit(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write("force,financial_year,offence_code,offences,online_flagged\n")
        line = "Wiltshire,2016/17,22B,170,30\n" * 10_000
        for _ in range(200 * 1024 * 1024 // len(line) + 1):
            handle.write(line)
    with pytest.raises(ReturnReadError, match=r"huge.csv: 200 MB is too large for an online-flag"):
        read_return(path)


def test_reading_never_changes_a_raw_file():
    for path in [*FORMATS.iterdir(), *BAD.iterdir()]:
        before = (file_sha256(path), path.stat().st_mtime_ns)
        with contextlib.suppress(ReturnReadError):
            read_return(path)
        assert (file_sha256(path), path.stat().st_mtime_ns) == before, path.name


def test_files_at_any_depth_are_found_and_hidden_files_are_not(tmp_path):
    (tmp_path / "2017" / "june").mkdir(parents=True)
    (tmp_path / "2017" / "june" / "kent.csv").write_text("x")
    (tmp_path / ".~lock.kent.csv#").write_text("lock")
    (tmp_path / "~$kent.xlsx").write_text("excel owner file")
    assert [f.relative for f in list_raw_files(tmp_path)] == ["2017/june/kent.csv"]


def test_formulas_are_text_and_never_evaluated(tmp_path):
    path = tmp_path / "formulas.csv"
    path.write_text(
        "force,financial_year,offence_code,offence_description,online_flagged\n"
        'Wiltshire,2016/17,22B,"=HYPERLINK(""http://example.invalid"")",30\n'
        "Wiltshire,2016/17,88A,@SUM(1+1),4\n"
    )
    frame = read_return(path).frame
    assert frame["offence_description"].tolist() == [
        '=HYPERLINK("http://example.invalid")',
        "@SUM(1+1)",
    ]
    assert validate_return(frame, path.name).passed
