"""Validate a return with Great Expectations, and say in words what failed.

One suite per kind of return. Each expectation carries, in its `meta`, the column a person
should look at and what was expected, so the report a steward reads is written from the
suite itself rather than from a second list. Importing Great Expectations costs seconds, so
it is imported only when validating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import pandas as pd

from flows.ingest import Kind
from flows.periods import Period
from flows.reference import force_register

FIRST_ONLINE_FLAG_YEAR = 2015  # the online flag became mandatory in April 2015
FIRST_HOME_OFFICE_YEAR = 2002
_WHOLE_NUMBER = r"^[0-9]+$"
_SIGNED_WHOLE_NUMBER = r"^-?[0-9]+$"
EXAMPLES_SHOWN = 5
EXAMPLES_KEPT = 20


def current_period(today: date | None = None) -> Period:
    today = today or date.today()
    return Period(today.year if today.month >= 4 else today.year - 1)


@dataclass(frozen=True)
class Problem:
    column: str
    expected: str
    rows: tuple[int, ...]  # spreadsheet row numbers (header = 1), the first few; () for tables
    found: tuple[str, ...]  # the offending values, as written in the file
    count: int = 0  # how many rows failed in all

    def describe(self, file_name: str) -> str:
        where = file_name
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:EXAMPLES_SHOWN])
            more = max(self.count, len(self.rows)) - min(len(self.rows), EXAMPLES_SHOWN)
            where += f" row{'s' if len(self.rows) > 1 else ''} {shown}"
            where += f" and {more:,} more" if more > 0 else ""
        found = "; ".join(self.found[:EXAMPLES_SHOWN])
        return f"{where}, column {self.column}: expected {self.expected}; found {found}"


@dataclass(frozen=True)
class ValidationOutcome:
    file_name: str
    passed: bool
    checks_run: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> str:
        if self.passed:
            return f"{self.file_name}: passed {self.checks_run} checks"
        first = self.problems[0].describe(self.file_name)
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _meta(column: str, expected: str) -> dict[str, str]:
    return {"column": column, "expected": expected}


def _periods(first_year: int) -> list[str]:
    return [Period(year).label for year in range(first_year, current_period().start_year + 1)]


def online_flag_expectations() -> list[Any]:
    import great_expectations.expectations as gxe

    codes = [force.code for force in force_register().forces]
    latest = current_period().label
    year_rule = (
        f"a financial year like 2016/17, from 2015/16 (when the online flag became mandatory) "
        f"to {latest}"
    )
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=1, meta=_meta("(table)", "at least one row of figures")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="force_code",
            meta=_meta("force", "a police force named in reference/forces.csv, or its ONS code"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="force_code", value_set=codes, meta=_meta("force", "a known ONS force code")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="financial_year", meta=_meta("financial_year", year_rule)
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="financial_year",
            value_set=_periods(FIRST_ONLINE_FLAG_YEAR),
            meta=_meta("financial_year", year_rule),
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column="financial_year", type_="str", meta=_meta("financial_year", "text")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="offence_code",
            meta=_meta("offence_code", "a Home Office offence code such as 19D, or ALL"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="online_flagged", meta=_meta("online_flagged", "a count of offences")
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="online_flagged",
            regex=_WHOLE_NUMBER,
            meta=_meta("online_flagged", "a whole number of 0 or more"),
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="offences",
            regex=_WHOLE_NUMBER,
            meta=_meta("offences", "a whole number of 0 or more, or blank"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="offences_value",
            column_B="online_flagged_value",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("online_flagged", "no more online-flagged offences than offences"),
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["force_code", "financial_year", "offence_code"],
            meta=_meta(
                "force, financial_year, offence_code", "one row per force, year and offence"
            ),
        ),
    ]


def home_office_expectations() -> list[Any]:
    import great_expectations.expectations as gxe

    year_rule = f"a financial year like 2017/18, up to {current_period().label}"
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=1, meta=_meta("(table)", "at least one row of figures")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="financial_year",
            value_set=_periods(FIRST_HOME_OFFICE_YEAR),
            meta=_meta("Financial Year", year_rule),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="financial_year", meta=_meta("Financial Year", year_rule)
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="quarter",
            value_set=["1", "2", "3", "4"],
            meta=_meta("Financial Quarter", "a quarter from 1 to 4"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="force_kind",
            meta=_meta(
                "Force Name",
                "a police force area in reference/forces.csv, or one of the non-territorial "
                "entries (Action Fraud, CIFAS, Financial Fraud Action UK, UK Finance, "
                "British Transport Police)",
            ),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="offence_code", meta=_meta("Offence Code", "an offence code")
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="offences",
            regex=_SIGNED_WHOLE_NUMBER,
            meta=_meta("Number of Offences", "a whole number (adjustments may be negative)"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="offences", meta=_meta("Number of Offences", "a whole number")
        ),
    ]


_SUITES = {Kind.ONLINE_FLAG: online_flag_expectations, Kind.HOME_OFFICE: home_office_expectations}


@cache
def _validator(kind: Kind) -> tuple[Any, Any]:
    import great_expectations as gx

    context = _context()
    source = context.data_sources.add_pandas(f"{kind.name.lower()}_returns")
    asset = source.add_dataframe_asset(kind.name.lower())
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_return")
    suite = context.suites.add(
        gx.ExpectationSuite(name=kind.name.lower(), expectations=_SUITES[kind]())
    )
    return batch_definition, suite


@cache
def _context() -> Any:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def prepare_for_validation(frame: pd.DataFrame, kind: Kind = Kind.ONLINE_FLAG) -> pd.DataFrame:
    """The return plus the columns the suite checks (resolved forces, numeric counts)."""
    if kind is Kind.HOME_OFFICE:
        from flows.ingest.home_office import classify_forces

        return pd.concat([frame, classify_forces(frame["force_name"])], axis=1)
    register = force_register()
    codes = {
        text: getattr(register.find(text), "code", None)
        for text in frame["force"].dropna().unique()
    }
    return frame.assign(
        force_code=frame["force"].map(codes).astype("str"),
        offences_value=pd.to_numeric(frame["offences"], errors="coerce"),
        online_flagged_value=pd.to_numeric(frame["online_flagged"], errors="coerce"),
    )


def validate_return(
    frame: pd.DataFrame, file_name: str, kind: Kind = Kind.ONLINE_FLAG
) -> ValidationOutcome:
    prepared = prepare_for_validation(frame, kind)
    batch_definition, suite = _validator(kind)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": prepared})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "SUMMARY",
            "unexpected_index_column_names": ["source_row"],
            "partial_unexpected_count": EXAMPLES_KEPT,
        },
    )
    problems = sorted(
        (_problem(outcome, prepared) for outcome in result.results if not outcome.success),
        key=lambda problem: (problem.rows[:1] or (0,), problem.column),
    )
    return ValidationOutcome(file_name, not problems, len(result.results), tuple(problems))


def _problem(outcome: Any, prepared: pd.DataFrame) -> Problem:
    config = outcome.expectation_config
    meta = config.meta or {}
    column = meta.get("column", config.kwargs.get("column", "?"))
    expected = meta.get("expected", config.type)
    details = outcome.result or {}
    raised = (outcome.exception_info or {}).get("exception_message")
    if raised:
        return Problem(column, expected, (), (f"a check that could not run: {raised}",))
    indexed = (
        details.get("partial_unexpected_index_list") or details.get("unexpected_index_list") or []
    )
    rows = tuple(
        dict.fromkeys(int(item["source_row"]) for item in indexed if isinstance(item, dict))
    )
    count = int(details.get("unexpected_count") or len(rows))
    if not rows:
        return Problem(column, expected, (), (str(details.get("observed_value", "nothing")),))
    by_row = prepared.set_index("source_row")
    found = tuple(_found_value(by_row.loc[[row]].iloc[0], column, config.type) for row in rows)
    return Problem(column, expected, rows, found, count)


def _found_value(row: pd.Series, column: str, expectation_type: str) -> str:
    if column == "force":
        text = row["force"]
        if pd.isna(text):
            return "a blank force"
        nearest = force_register().nearest(text)
        return f"'{text}'" + (f" (nearest known: {', '.join(nearest)})" if nearest else "")
    if expectation_type == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{row['online_flagged']} flagged of {row['offences']} offences"
    source = _SOURCE_COLUMNS.get(column, column)
    if source in row.index:
        value = row[source]
        return "a blank" if pd.isna(value) else f"'{value}'"
    return ", ".join(
        f"{c}={row[c]}" for c in ("force", "financial_year", "offence_code") if c in row.index
    )


# Home Office columns are reported under their published names.
_SOURCE_COLUMNS = {
    "Financial Year": "financial_year",
    "Financial Quarter": "quarter",
    "Force Name": "force_name",
    "Offence Code": "offence_code",
    "Number of Offences": "offences",
}
