"""Validate a return with Great Expectations, and say in words what failed.

The suite is the contract for an online-flag return. Each expectation carries, in its
`meta`, the column a person should look at and what was expected, so the report a
steward reads is written from the suite itself rather than from a second list.
Importing Great Expectations costs seconds, so it is imported only when validating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from flows.periods import Period
from flows.reference import force_register

if TYPE_CHECKING:
    import great_expectations as gx

SUITE_NAME = "online_flag_return"
# Every financial year a return could name, in canonical spelling (validated as a set).
_KNOWN_PERIODS = [Period(year).label for year in range(2000, 2100)]
_WHOLE_NUMBER = r"^[0-9]+$"
_EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    column: str
    expected: str
    rows: tuple[int, ...]  # spreadsheet row numbers (header = 1); empty for table-level checks
    found: tuple[str, ...]  # the offending values, as written in the file

    def describe(self, file_name: str) -> str:
        where = f"{file_name}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:_EXAMPLES_SHOWN])
            more = f" and {len(self.rows) - _EXAMPLES_SHOWN} more" if len(self.rows) > 5 else ""
            where += f" row{'s' if len(self.rows) > 1 else ''} {shown}{more}"
        found = "; ".join(self.found[:_EXAMPLES_SHOWN])
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


def _expectations() -> list[Any]:
    import great_expectations.expectations as gxe

    codes = [force.code for force in force_register().forces]

    def meta(column: str, expected: str) -> dict[str, str]:
        return {"column": column, "expected": expected}

    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=1, meta=meta("(table)", "at least one row of figures")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="force_code",
            meta=meta("force", "a police force named in reference/forces.csv, or its ONS code"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="force_code", value_set=codes, meta=meta("force", "a known ONS force code")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="financial_year", meta=meta("financial_year", "a financial year like 2016/17")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="financial_year",
            value_set=_KNOWN_PERIODS,
            meta=meta("financial_year", "a financial year like 2016/17"),
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column="financial_year", type_="str", meta=meta("financial_year", "text")
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="offence_code",
            meta=meta("offence_code", "a Home Office offence code such as 19D, or ALL"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="online_flagged", meta=meta("online_flagged", "a count of offences")
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="online_flagged",
            regex=_WHOLE_NUMBER,
            meta=meta("online_flagged", "a whole number of 0 or more"),
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="offences",
            regex=_WHOLE_NUMBER,
            meta=meta("offences", "a whole number of 0 or more, or blank"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="offences_value",
            column_B="online_flagged_value",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=meta("online_flagged", "no more online-flagged offences than offences"),
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["force_code", "financial_year", "offence_code"],
            meta=meta("force, financial_year, offence_code", "one row per force, year and offence"),
        ),
    ]


@cache
def _batch_definition() -> tuple[gx.core.batch_definition.BatchDefinition, Any]:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_pandas("police_returns")
    asset = source.add_dataframe_asset("online_flag_return")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_return")
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=_expectations()))
    return batch_definition, suite


def prepare_for_validation(frame: pd.DataFrame) -> pd.DataFrame:
    """The return plus the columns the suite checks: the resolved force code and numeric counts."""
    register = force_register()
    codes = frame["force"].map(lambda text: getattr(register.find(text), "code", None))
    return frame.assign(
        force_code=codes.astype("str"),
        offences_value=pd.to_numeric(frame["offences"], errors="coerce"),
        online_flagged_value=pd.to_numeric(frame["online_flagged"], errors="coerce"),
    )


def validate_return(frame: pd.DataFrame, file_name: str) -> ValidationOutcome:
    prepared = prepare_for_validation(frame)
    batch_definition, suite = _batch_definition()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": prepared})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": ["source_row"],
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
    indexed = details.get("unexpected_index_list") or []
    rows = tuple(int(item["source_row"]) for item in indexed if isinstance(item, dict))
    if not rows:
        return Problem(column, expected, (), (str(details.get("observed_value", "nothing")),))
    by_row = prepared.set_index("source_row")
    found = tuple(_found_value(by_row.loc[row], column, config.type) for row in rows)
    return Problem(column, expected, rows, found)


def _found_value(row: pd.Series, column: str, expectation_type: str) -> str:
    if column == "force":
        text = row["force"]
        if pd.isna(text):
            return "a blank force"
        nearest = force_register().nearest(text)
        return f"'{text}'" + (f" (nearest known: {', '.join(nearest)})" if nearest else "")
    if expectation_type == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{row['online_flagged']} flagged of {row['offences']} offences"
    if column in row.index:
        value = row[column]
        return "a blank" if pd.isna(value) else f"'{value}'"
    return ", ".join(f"{c}={row[c]}" for c in ("force", "financial_year", "offence_code"))
