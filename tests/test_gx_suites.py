"""The reviewed GX suites in gx/, run from a copy of the File Data Context in a temporary
folder: each expectation fires on data built to break it, and the real data passes."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from briefings.ingest import Kind, read_return
from briefings.journal.received import RECEIVED_DATES
from briefings.store import store_checks
from briefings.validation import prepare_for_validation, run_suite, validate_return

from .helpers import PROJECT_ROOT, TEST_DATA

REAL_TABLE = (
    PROJECT_ROOT / "data" / "raw" / "home-office" / "prc-pfa-2017-18-homeoffice-open-data.csv"
)


@pytest.fixture(scope="module")
def gx_project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("gx-project")
    shutil.copytree(PROJECT_ROOT / "gx", project / "gx")
    return project


@pytest.fixture(scope="module")
def validation_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("validation")


def suite(name: str) -> list[dict]:
    return json.loads((PROJECT_ROOT / "gx" / "expectations" / f"{name}.json").read_text())[
        "expectations"
    ]


def failing(name, frame, gx_project, validation_dir) -> set[tuple[str, str]]:
    outcome = run_suite(name, frame, "case", validation_dir, gx_project, build_docs=False)
    return {(p.column, p.expected) for p in (*outcome.problems, *outcome.warnings)}


def key(expectation: dict) -> tuple[str, str]:
    return expectation["meta"]["column"], expectation["meta"]["expected"]


ONLINE = prepare_for_validation(read_return(TEST_DATA / "formats" / "long-utf8.csv").frame)
ONLINE_BREAKS = {
    "expect_table_row_count_to_be_between": lambda f: f.iloc[0:0],
    "expect_table_columns_to_match_set": lambda f: f.drop(columns=["offence_description"]),
    ("expect_column_values_to_not_be_null", "force_code"): lambda f: f.assign(
        force_code=pd.Series([None, "E23000038", "E23000038", "E23000038"], dtype="str")
    ),
    ("expect_column_values_to_be_of_type", "force"): lambda f: f.assign(force=range(len(f))),
    ("expect_column_values_to_not_be_null", "financial_year"): lambda f: f.assign(
        financial_year=pd.Series([None, "2015/16", "2016/17", "2016/17"], dtype="str")
    ),
    ("expect_column_values_to_be_in_set", "financial_year"): lambda f: f.assign(
        financial_year=pd.Series(["2014/15", "2015/16", "2016/17", "2016/17"], dtype="str")
    ),
    ("expect_column_values_to_be_of_type", "financial_year"): lambda f: f.assign(
        financial_year=[2015, 2015, 2016, 2016]
    ),
    ("expect_column_values_to_not_be_null", "offence_code"): lambda f: f.assign(
        offence_code=pd.Series([None, "88A", "22B", "88A"], dtype="str")
    ),
    ("expect_column_values_to_not_be_null", "online_flagged"): lambda f: f.assign(
        online_flagged=pd.Series([None, "4", "30", "1204"], dtype="str")
    ),
    ("expect_column_values_to_match_regex", "online_flagged"): lambda f: f.assign(
        online_flagged=pd.Series(["x", "4", "30", "1204"], dtype="str")
    ),
    ("expect_column_values_to_match_regex", "offences"): lambda f: f.assign(
        offences=pd.Series(["-1", "40", "170", "1500"], dtype="str")
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": lambda f: f.assign(
        offences_value=[1.0, 40, 170, 1500]
    ),
    "expect_compound_columns_to_be_unique": lambda f: pd.concat(
        [f, f.iloc[[0]]], ignore_index=True
    ),
    "expect_column_values_to_be_between": lambda f: f.assign(online_share=[0.95, 0.1, 0.1, 0.1]),
    ("expect_column_values_to_be_between", "offences_value"): lambda f: f.assign(
        offences_value=[1e20, 40, 170, 1500]
    ),
    ("expect_column_values_to_be_between", "online_flagged_value"): lambda f: f.assign(
        online_flagged_value=[1e20, 4, 30, 1204]
    ),
}


def _break_for(breaks: dict, expectation: dict):
    column = expectation["kwargs"].get("column")
    return breaks.get((expectation["type"], column)) or breaks[expectation["type"]]


@pytest.mark.parametrize(
    "expectation",
    suite("online_flag_return"),
    ids=lambda e: f"{e['type']}-{e['kwargs'].get('column', '')}",
)
def test_each_online_flag_expectation_fires_on_data_built_to_break_it(
    expectation, gx_project, validation_dir
):
    assert failing("online_flag_return", ONLINE, gx_project, validation_dir) == set()
    broken = _break_for(ONLINE_BREAKS, expectation)(ONLINE.copy())
    assert key(expectation) in failing("online_flag_return", broken, gx_project, validation_dir)


@pytest.fixture(scope="module")
def office():
    parsed = read_return(TEST_DATA / "formats" / "home-office-extract-2017-18.xlsx")
    return prepare_for_validation(parsed.frame, Kind.HOME_OFFICE).reset_index(drop=True)


def _set(frame, column, value, dtype="str"):
    values = frame[column].astype(object).tolist()
    values[0] = value
    return frame.assign(**{column: pd.Series(values, dtype=dtype)})


OFFICE_BREAKS = {
    "expect_table_row_count_to_be_between": lambda f: f.iloc[0:0],
    ("expect_column_values_to_not_be_null", "financial_year"): lambda f: _set(
        f, "financial_year", None
    ),
    ("expect_column_values_to_be_in_set", "financial_year"): lambda f: _set(
        f, "financial_year", "2040/41"
    ),
    ("expect_column_values_to_be_in_set", "quarter"): lambda f: _set(f, "quarter", "5"),
    ("expect_column_values_to_not_be_null", "force_kind"): lambda f: _set(f, "force_kind", None),
    ("expect_column_values_to_not_be_null", "offence_code"): lambda f: _set(
        f, "offence_code", None
    ),
    ("expect_column_values_to_not_be_null", "offences"): lambda f: _set(f, "offences", None),
    ("expect_column_values_to_match_regex", "offences"): lambda f: _set(f, "offences", "1.5"),
    ("expect_column_values_to_be_in_set", "quarters_in_complete_year"): lambda f: _set(
        f, "quarters_in_complete_year", 3, "Int64"
    ),
    ("expect_column_values_to_not_match_regex", "offences"): lambda f: _set(f, "offences", "-4"),
    ("expect_column_values_to_be_between", "offences_value"): lambda f: _set(
        f, "offences_value", -1e20, "float64"
    ),
}


@pytest.mark.parametrize(
    "expectation",
    suite("home_office_table"),
    ids=lambda e: f"{e['type']}-{e['kwargs'].get('column', '')}",
)
def test_each_home_office_expectation_fires_on_data_built_to_break_it(
    expectation, office, gx_project, validation_dir
):
    clean = office[~office["offences"].astype(str).str.startswith("-")].reset_index(drop=True)
    assert failing("home_office_table", clean, gx_project, validation_dir) == set()
    broken = _break_for(OFFICE_BREAKS, expectation)(clean.copy())
    assert key(expectation) in failing("home_office_table", broken, gx_project, validation_dir)


def test_a_territorial_force_missing_a_quarter_of_a_complete_year_is_refused(office, tmp_path):
    parsed = read_return(TEST_DATA / "formats" / "home-office-extract-2017-18.xlsx")
    frame = parsed.frame[
        ~((parsed.frame["force_name"] == "Dorset") & (parsed.frame["quarter"] == "2"))
    ]
    outcome = validate_return(frame, "extract.xlsx", Kind.HOME_OFFICE)
    assert not outcome.passed
    assert "Dorset with 3 of 4 quarters" in outcome.summary


def store_rows(rows):
    return pd.DataFrame(
        [
            dict(
                force_code=c,
                financial_year=y,
                offence_code="ALL",
                online_flagged=n,
                source_file=f,
                first_seen=s,
            )
            for c, y, n, f, s in rows
        ]
    )


STORE_BASE = [
    ("E23000038", "2015/16", 30, "a.csv", "2017-01-01"),
    ("E23000038", "2016/17", 44, "a.csv", "2017-01-01"),
]
STORE_BREAKS = {
    "expect_column_values_to_be_between": STORE_BASE[:1]
    + [("E23000038", "2016/17", 440, "a.csv", "2017-01-01")],
    "expect_column_values_to_not_be_null": STORE_BASE
    + [("E23000032", "2015/16", 50, "a.csv", "2017-01-01")],
    "expect_column_values_to_be_null": STORE_BASE
    + [("E23000038", "2016/17", 45, "b.csv", "2017-02-01")],
}


@pytest.mark.parametrize("expectation", suite("online_flag_store"), ids=lambda e: e["type"])
def test_each_check_across_returns_fires_and_is_a_warning(expectation, gx_project, validation_dir):
    assert expectation["severity"] == "warning"
    assert (
        failing(
            "online_flag_store", store_checks(store_rows(STORE_BASE)), gx_project, validation_dir
        )
        == set()
    )
    checks = store_checks(store_rows(STORE_BREAKS[expectation["type"]]))
    outcome = run_suite(
        "online_flag_store", checks, "store", validation_dir, gx_project, build_docs=False
    )
    assert outcome.passed and key(expectation) in {(w.column, w.expected) for w in outcome.warnings}


def test_the_bundled_returns_and_the_real_home_office_table_pass(gx_project, validation_dir):
    raw = PROJECT_ROOT / "data" / "raw"
    returns = [p for p in [*raw.glob("*.csv"), *raw.glob("*.xlsx")] if p.name != RECEIVED_DATES]
    for path in [*returns, REAL_TABLE]:
        parsed = read_return(path)
        outcome = validate_return(parsed.frame, path.name, parsed.kind, validation_dir, gx_project)
        assert outcome.passed, outcome.summary
        if outcome.warnings:  # a page for the steward to read
            assert outcome.data_docs and Path(outcome.data_docs.removeprefix("file://")).exists()
        else:  # passed cleanly: the ledger says so; no page to build
            assert outcome.data_docs is None
    # The real table has genuine negative adjustments: reported as warnings, not refused.
    assert any("no negative adjustment" in w.expected for w in outcome.warnings)


def test_data_docs_name_the_failed_expectation(gx_project, validation_dir):
    parsed = read_return(TEST_DATA / "bad" / "formula-count.csv")
    outcome = validate_return(
        parsed.frame, "formula-count.csv", parsed.kind, validation_dir, gx_project
    )
    html = Path(outcome.data_docs.removeprefix("file://")).read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert (
        "values must match this regular expression: ^(?:[0-9]+|withheld)$ . "
        "1 unexpected values found"
    ) in text
    assert "=SUM(E2:E3)" in html  # the offending value


def test_markup_in_a_return_is_shown_as_text_in_data_docs(gx_project, validation_dir, tmp_path):
    path = tmp_path / "hostile.csv"
    path.write_text(
        "force,financial_year,offence_code,offences,online_flagged\n"
        'Wiltshire,2016/17,22B,10,"<script>alert(1)</script>"\n'
    )
    parsed = read_return(path)
    outcome = validate_return(parsed.frame, path.name, parsed.kind, validation_dir, gx_project)
    assert "'<script>alert(1)</script>'" in outcome.summary  # described as written
    html = Path(outcome.data_docs.removeprefix("file://")).read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_home_office_rows_are_named_by_their_spreadsheet_row(gx_project, validation_dir):
    """GX names unexpected rows by the frame's index, which validation makes the source row
    (no per-row lookup of a source_row column: that cost 0.2 s a million rows)."""
    parsed = read_return(TEST_DATA / "formats" / "home-office-extract-2017-18.xlsx")
    frame = parsed.frame.copy()
    broken = [5, 40, *range(100, 130)]  # more rows than the 20 GX lists
    text = frame["offences"].astype(object)
    text.iloc[broken] = "1.5"
    frame["offences"] = text.astype("category")
    outcome = validate_return(frame, "extract.xlsx", Kind.HOME_OFFICE, validation_dir, gx_project)
    problem = next(p for p in outcome.problems if "whole number" in p.expected)
    expected_rows = [str(frame["source_row"].iloc[i]) for i in broken]
    assert problem.rows == tuple(expected_rows[:20]) and problem.count == len(broken)
    assert problem.found[:2] == ("'1.5'", "'1.5'")
    assert outcome.data_docs and Path(outcome.data_docs.removeprefix("file://")).exists()


def values(series) -> list:
    return [None if pd.isna(v) else v for v in series]


def _home_office_frame(seed: int, rows: int = 400) -> pd.DataFrame:
    """Rows as read_return gives them (categoricals of str), drawn at random."""
    import random

    chosen = random.Random(seed)
    columns = {
        "financial_year": ["2016/17", "2017/18", "2017/18", None],
        "quarter": ["1", "2", "3", "4", "4", "5", None],
        "force_name": [
            "Dorset",
            "Kent",
            "Action Fraud",
            "British Transport Police",
            "Atlantis",
            None,
        ],
        "offence_code": ["8P", "20A", None],
        "offences": ["3", "-2", "0", "x<y", None],
    }
    frame = pd.DataFrame(
        {column: [chosen.choice(pool) for _ in range(rows)] for column, pool in columns.items()}
    ).assign(source_row=range(2, rows + 2))
    return frame.astype(
        {c: pd.CategoricalDtype(pd.Index(frame[c].dropna().unique(), dtype="str")) for c in columns}
    )


@pytest.mark.parametrize("seed", range(6))
def test_home_office_preparation_equals_the_plain_pandas_reading(seed):
    """Worked on categories and codes, the derived columns are what row-by-row pandas gives."""
    from briefings.ingest.home_office import classify_forces

    frame = _home_office_frame(seed)
    as_text = frame.astype({c: "str" for c in frame.columns if c != "source_row"})
    for given in (frame, as_text):
        prepared = prepare_for_validation(given, Kind.HOME_OFFICE)
        kinds = classify_forces(frame["force_name"].astype(object))["force_kind"]
        assert values(prepared["force_kind"]) == values(kinds)
        pd.testing.assert_series_equal(prepared["offences"], frame["offences"].astype("str"))
        # Police force areas in years with a fourth quarter: distinct quarters when not four.
        plain = frame.astype(object).assign(kind=kinds)
        complete = set(plain.loc[plain["quarter"] == "4", "financial_year"].dropna())
        scope = (plain["kind"] == "police force area") & plain["financial_year"].isin(complete)
        quarters = plain[scope].groupby(["force_name", "financial_year"])["quarter"].nunique()
        expected = [
            quarters[(row.force_name, row.financial_year)] if in_scope else 4
            for row, in_scope in zip(plain.itertuples(), scope, strict=True)
        ]
        got = prepared["quarters_in_complete_year"]
        assert got.dtype == "Int64"
        assert values(got) == [None if n == 4 else n for n in expected]
        assert any(n != 4 for n in expected)


def test_markup_is_escaped_however_the_text_is_stored():
    from briefings.validation import html_safe

    plain = pd.Series(["1", "<b>2</b>", None, "A & B"], dtype="str")
    categorical = plain.astype("category")
    from_categories = prepare_for_validation(
        pd.DataFrame(
            {
                c: categorical
                for c in ["financial_year", "quarter", "force_name", "offence_code", "offences"]
            }
        ).assign(source_row=range(2, 6)),
        Kind.HOME_OFFICE,
    )["offences"]
    sliced = pd.Series(["<b>", "plain", "text", "x>y"], dtype="str").iloc[1:3]  # same buffer
    for text, escaped in [
        (plain, ["1", "&lt;b&gt;2&lt;/b&gt;", None, "A &amp; B"]),
        (categorical, ["1", "&lt;b&gt;2&lt;/b&gt;", None, "A &amp; B"]),
        (from_categories, ["1", "&lt;b&gt;2&lt;/b&gt;", None, "A &amp; B"]),
        (sliced, ["plain", "text"]),  # markup outside the slice: a false alarm, cleared
    ]:
        assert values(html_safe(pd.DataFrame({"text": text}))["text"]) == escaped


def test_data_docs_views_compile_gx_templates_once_per_process(gx_project, tmp_path, monkeypatch):
    """The site's views (gx/plugins/briefings_data_docs.py) keep compiled templates between
    builds through Jinja's bytecode cache. Fails loudly if GX stops building pages with
    these views, or its views stop loading templates through their `env`."""
    import jinja2

    from briefings.validation import _context

    validation_dir = tmp_path / "validation"
    context = _context(gx_project, validation_dir.resolve())
    import briefings_data_docs  # on the import path once GX opened the context

    site = context.variables.data_docs_sites["local_site"]
    builder = context._init_site_builder_for_data_docs_site_creation("local_site", site)
    for section in ("validations", "expectations"):  # a checkpoint builds both pages
        assert isinstance(
            builder.site_section_builders[section].view_class,
            briefings_data_docs.CachedJinjaPageView,
        )
    assert isinstance(
        builder.site_index_builder.view_class, briefings_data_docs.CachedJinjaIndexPageView
    )
    assert isinstance(briefings_data_docs.CachedJinjaPageView().env, jinja2.Environment)

    parsed = read_return(TEST_DATA / "bad" / "formula-count.csv")
    first = validate_return(parsed.frame, "a.csv", parsed.kind, validation_dir, gx_project)
    assert briefings_data_docs.TEMPLATES.compiled  # the first build filled the cache
    compiled = []
    compile_template = jinja2.Environment.compile

    def counted(self, *args, **kwargs):
        compiled.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return compile_template(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    second = validate_return(parsed.frame, "b.csv", parsed.kind, validation_dir, gx_project)
    assert compiled == []
    pages = [Path(o.data_docs.removeprefix("file://")).read_text() for o in (first, second)]

    def steady(html: str) -> str:  # without the run's time, ids and file name
        html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "", html)
        html = re.sub(r"\b[ab]\.csv\b", "", html)
        return re.sub(r"\d{8}T\d{6}\.\d+Z|\d{4}-\d\d-\d\d[ T][\d:.]+(\+00:00|Z)?", "", html)

    assert steady(pages[0]) == steady(pages[1])
    assert "=SUM(E2:E3)" in pages[1]
