"""Validate returns with Great Expectations, and say in words what failed.

The suites, validation definitions and checkpoints are reviewed files in the File Data
Context `gx/` (one suite per kind of return, and one over the accepted store for checks
across returns). Each expectation carries, in its `meta`, the column a person should look
at and what was expected, so the report a steward reads is written from the suite itself.
Expectations of severity "critical" refuse a return; "warning" ones let it through and are
shown to the steward. Checkpoints write results and Data Docs under the data folder's
processed/validation/ (the context reads that place from BRIEFINGS_VALIDATION_DIR).
Importing Great Expectations costs seconds, so it is imported only when validating.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from briefings.domain.periods import Period
from briefings.domain.returns import COUNT_BOUND
from briefings.ingest import Kind
from briefings.reference import force_register
from briefings.resources import GX_PROJECT

FIRST_ONLINE_FLAG_YEAR = 2015  # the online flag became mandatory in April 2015
FIRST_HOME_OFFICE_YEAR = 2002
EXAMPLES_SHOWN = 5
CHECKPOINTS = {Kind.ONLINE_FLAG: "online_flag_return", Kind.HOME_OFFICE: "home_office_table"}
STORE_CHECKPOINT = "online_flag_store"


def current_period(today: date | None = None) -> Period:
    today = today or date.today()
    return Period(today.year if today.month >= 4 else today.year - 1)


@dataclass(frozen=True)
class Problem:
    column: str
    expected: str
    rows: tuple[str, ...]  # where: spreadsheet rows (header = 1), or labels such as "Kent 2016/17"
    found: tuple[str, ...]  # the offending values, as written in the file
    count: int = 0  # how many rows failed in all
    severity: str = "critical"
    # The expectation's meta says a steward may accept a return that fails it, once the force
    # has confirmed the figures: it judges whether figures are plausible, not whether they can
    # be read (every value is still a known force, a year, a whole count within bounds).
    steward_may_accept: bool = False

    def describe(self, file_name: str) -> str:
        where = file_name
        if self.rows:
            shown = ", ".join(self.rows[:EXAMPLES_SHOWN])
            more = max(self.count, len(self.rows)) - min(len(self.rows), EXAMPLES_SHOWN)
            noun = "row" if self.rows[0].isdigit() else ""
            plural = "s" if noun and len(self.rows) > 1 else ""
            where += f" {noun}{plural} {shown}" if noun else f": {shown}"
            where += f" and {more:,} more" if more > 0 else ""
        found = "; ".join(self.found[:EXAMPLES_SHOWN])
        return f"{where}, column {self.column}: expected {self.expected}; found {found}"


@dataclass(frozen=True)
class ValidationOutcome:
    file_name: str
    passed: bool
    checks_run: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)  # refuse the return
    warnings: tuple[Problem, ...] = field(default_factory=tuple)  # shown, not refusing
    data_docs: str | None = None  # the Data Docs page of this validation

    @property
    def steward_may_accept(self) -> bool:
        """Refused only by checks a steward may overrule (see Problem.steward_may_accept)."""
        return not self.passed and all(p.steward_may_accept for p in self.problems)

    @property
    def summary(self) -> str:
        if self.passed:
            if not self.warnings:
                return f"{self.file_name}: passed {self.checks_run} checks"
            warned = len(self.warnings)
            return (
                f"{self.file_name}: passed {self.checks_run - warned} of {self.checks_run} "
                f"checks, {warned} warning{'s' * (warned != 1)}"
            )
        first = self.problems[0].describe(self.file_name)
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ValidationOutcome:
        data = json.loads(text)
        problems = tuple(
            Problem(**{**p, "rows": tuple(p["rows"]), "found": tuple(p["found"])})
            for p in data.pop("problems")
        )
        warnings = tuple(
            Problem(**{**p, "rows": tuple(p["rows"]), "found": tuple(p["found"])})
            for p in data.pop("warnings")
        )
        return cls(**data, problems=problems, warnings=warnings)


def expectation_parameters() -> dict[str, Any]:
    """Values the suites take at run time: they change with the calendar and reference data."""
    latest = current_period().start_year
    # An online-flag return gives a whole year's counts, so only years that have ended; a
    # Home Office table gives quarters, and the current year's first quarters are real.
    ended = Period.latest_ended(date.today()).start_year
    return {
        "force_codes": [force.code for force in force_register().forces],
        "online_flag_periods": [Period(y).label for y in range(FIRST_ONLINE_FLAG_YEAR, ended + 1)],
        "home_office_periods": [Period(y).label for y in range(FIRST_HOME_OFFICE_YEAR, latest + 1)],
        # Counts are below COUNT_BOUND; Home Office adjustments are as far below zero at most.
        "max_count": COUNT_BOUND - 1,
        "min_adjustment": -(COUNT_BOUND - 1),
    }


_importing = threading.Lock()
_imported = False


def import_great_expectations() -> None:
    """Import Great Expectations, once per process (a thread may do it ahead of need).

    The import makes some 200,000 objects that live as long as the process. The cyclic
    garbage collector is paused while it runs (else it walks the growing heap five times,
    about a second) and the objects then alive are frozen out of its later passes (each
    would walk them again). Objects freed by reference counting are freed as before."""
    global _imported
    with _importing:
        if _imported:
            return
        enabled = gc.isenabled()
        gc.disable()
        try:
            import great_expectations  # noqa: F401
            from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: F401
        finally:
            if enabled:
                gc.enable()
        gc.freeze()
        _imported = True


@cache
def _context(gx_project: Path, validation_dir: Path) -> Any:
    import_great_expectations()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    validation_dir.mkdir(parents=True, exist_ok=True)
    os.environ["BRIEFINGS_VALIDATION_DIR"] = str(validation_dir)
    context = gx.get_context(mode="file", project_root_dir=str(gx_project))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def suite_fingerprint(kind_or_name: Kind | str, gx_project: Path = GX_PROJECT) -> str:
    """Changes when the suite file or its run-time parameters change: cached outcomes expire."""
    name = (
        CHECKPOINTS.get(kind_or_name, kind_or_name)
        if isinstance(kind_or_name, Kind)
        else kind_or_name
    )
    suite = (gx_project / "gx" / "expectations" / f"{name}.json").read_bytes()
    parameters = json.dumps(expectation_parameters(), sort_keys=True).encode()
    return hashlib.sha256(suite + parameters).hexdigest()[:16]


def prepare_for_validation(frame: pd.DataFrame, kind: Kind = Kind.ONLINE_FLAG) -> pd.DataFrame:
    """The return plus the derived columns its suite checks."""
    if kind is Kind.HOME_OFFICE:
        return _prepare_home_office(frame)
    register = force_register()
    codes = {
        text: getattr(register.find(text), "code", None)
        for text in frame["force"].dropna().unique()
    }
    # A negative count is refused by its own check; the checks that compare the two counts
    # leave it out, so one mistake is one message (not also '-5 flagged of 300' as more than
    # 90 per cent, or '5 flagged of -300' as more flagged than offences).
    offences = pd.to_numeric(frame["offences"], errors="coerce").where(lambda v: v >= 0)
    flagged = pd.to_numeric(frame["online_flagged"], errors="coerce").where(lambda v: v >= 0)
    return frame.assign(
        force_code=frame["force"].map(codes).astype("str"),
        offences_value=offences,
        online_flagged_value=flagged,
        online_share=(flagged / offences).where(offences > 0),
    )


def _prepare_home_office(frame: pd.DataFrame) -> pd.DataFrame:
    """Worked on each column's distinct values and integer codes, not on every row: the
    table is read as categoricals, and a million rows hold a few thousand distinct values."""
    from briefings.ingest.home_office import classify_forces

    columns = ["financial_year", "quarter", "force_name", "offence_code", "offences", "source_row"]
    force, forces = _codes(frame["force_name"])
    # Each distinct name classified once; as a categorical, GX checks and hashes it cheaply.
    kinds = pd.Categorical(classify_forces(pd.Series(forces, dtype=object))["force_kind"])
    kinds = kinds.rename_categories(kinds.categories.astype("str"))
    # Code -1 (a blank name) picks the -1 appended last: it stays blank.
    force_kind = pd.Categorical.from_codes(np.append(kinds.codes, -1)[force], dtype=kinds.dtype)
    prepared = frame[columns].assign(
        force_kind=pd.Series(force_kind, index=frame.index),
        # GX matches regexes on text: plain (Arrow) strings save it a conversion per check.
        offences=_as_text(frame["offences"]),
        offences_value=_as_numbers(frame["offences"]),
    )
    territorial = prepared["force_kind"].eq("police force area").to_numpy(dtype=bool)
    prepared["quarters_in_complete_year"] = _quarters_in_complete_year(prepared, territorial)
    return prepared


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for a blank) and the distinct values they stand for."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    codes, uniques = pd.factorize(values)
    return codes, pd.Index(uniques)


def _as_numbers(values: pd.Series) -> pd.Series:
    """Count text as float64 (NaN where it is no number), converting a categorical's
    categories rather than every row. Floats hold any text of digits without overflowing,
    and every count below COUNT_BOUND exactly."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.to_numeric(values.astype("str"), errors="coerce").astype("float64")
    numbers = pd.to_numeric(pd.Series(values.cat.categories.astype("str")), errors="coerce")
    # Code -1 (a blank) picks the NaN appended last.
    table = np.append(numbers.astype("float64").to_numpy(), np.nan)
    return pd.Series(table[values.cat.codes.to_numpy()], index=values.index, name=values.name)


def _as_text(values: pd.Series) -> pd.Series:
    """values.astype("str"), converting a categorical's categories rather than every row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("str")
    text = values.cat.categories.astype("str").array
    return pd.Series(
        text.take(values.cat.codes.to_numpy(), allow_fill=True),
        index=values.index,
        name=values.name,
    )


def _quarters_in_complete_year(frame: pd.DataFrame, territorial: np.ndarray) -> pd.Series:
    """For police force area rows (`territorial`) in a complete year (one the table has a
    fourth quarter of), how many distinct quarters the force has when that is not four; null
    otherwise. Worked on integer codes, so a million rows cost a few vectorised passes."""
    force, forces = _codes(frame["force_name"])
    year, years = _codes(frame["financial_year"])
    quarter, quarters = _codes(frame["quarter"])
    n_years, n_quarters = max(len(years), 1), max(len(quarters), 1)
    # Lookup tables get one extra slot, False, which code -1 (a blank) picks.
    is_fourth = np.append([str(q) == "4" for q in quarters], False).astype(bool)
    complete = np.zeros(n_years + 1, dtype=bool)
    complete[year[is_fourth[quarter]]] = True
    complete[-1] = False
    in_scope = territorial & complete[year] & (force >= 0)
    force_year = force.astype(np.int64) * n_years + year
    counted = in_scope & (quarter >= 0)
    pairs = pd.unique(force_year[counted] * n_quarters + quarter[counted])
    counts = np.bincount(pairs // n_quarters, minlength=len(forces) * n_years)
    short = in_scope.copy()
    short[in_scope] = counts[force_year[in_scope]] != 4
    values = np.zeros(len(frame), dtype=np.int64)
    values[short] = counts[force_year[short]]
    return pd.Series(pd.arrays.IntegerArray(values, ~short), index=frame.index)


def validate_return(
    frame: pd.DataFrame,
    file_name: str,
    kind: Kind = Kind.ONLINE_FLAG,
    validation_dir: Path | None = None,
    gx_project: Path = GX_PROJECT,
) -> ValidationOutcome:
    """Run the kind's suite on one return. A return that fails or raises a warning is
    validated again by its checkpoint, which writes its results and Data Docs page under
    validation_dir for the steward; one that passes cleanly is recorded in the ledger only
    (a Data Docs page costs about a second to build, more than the validation itself).
    Without validation_dir (checking a file before it is ingested) no Data Docs are built."""
    prepared = prepare_for_validation(frame, kind)
    return _validate_prepared(prepared, file_name, kind, validation_dir, gx_project)


def _validate_prepared(
    prepared: pd.DataFrame,
    file_name: str,
    kind: Kind,
    validation_dir: Path | None,
    gx_project: Path,
    flagged: bool = False,
) -> ValidationOutcome:
    """validate_return on a prepared return. `flagged`: it is already known to fail or warn
    (rows of its own broke a check in a batch), so the first run, without docs, is skipped:
    its only use would be to find that out."""
    name = CHECKPOINTS[kind]
    if validation_dir is not None and (kind == Kind.HOME_OFFICE or flagged):
        # Published tables always carry negative adjustments (warnings): one pass, with docs.
        return run_suite(name, prepared, file_name, validation_dir, gx_project)
    outcome = run_suite(name, prepared, file_name, _scratch(), gx_project, build_docs=False)
    if validation_dir is None or (outcome.passed and not outcome.warnings):
        return outcome
    return run_suite(name, prepared, file_name, validation_dir, gx_project)


def validate_returns(
    frames: Mapping[str, pd.DataFrame],
    kind: Kind,
    validation_dir: Path | None = None,
    gx_project: Path = GX_PROJECT,
) -> dict[str, ValidationOutcome]:
    """validate_return for each file (keyed by file name), outcome for outcome, in fewer
    Great Expectations runs: GX costs about 0.25 s a run whatever the size of the return.

    Online-flag returns that can share a run are validated together, once, concatenated
    (see _batch). A return none of whose rows broke a check there, and whose table-level
    checks are the same alone as together, passes cleanly: its outcome comes from the shared
    run. Every other return is validated on its own, exactly as validate_return does, so its
    problems, example rows and Data Docs page are the ones a steward gets today. Home Office
    tables (a few large files) are validated one by one."""
    if kind is Kind.HOME_OFFICE:
        return {
            name: validate_return(frame, name, kind, validation_dir, gx_project)
            for name, frame in frames.items()
        }
    prepared = _prepared_each(frames)
    verdicts, checks_run = _batch_verdicts(prepared, CHECKPOINTS[kind], gx_project)
    outcomes = {}
    for name in frames:
        verdict = verdicts.get(name, _UNSURE)
        if verdict == _CLEAN:
            outcomes[name] = ValidationOutcome(name, True, checks_run)
        else:
            flagged = verdict == _FLAGGED
            outcomes[name] = _validate_prepared(
                prepared[name], name, kind, validation_dir, gx_project, flagged
            )
    return outcomes


def prepared_together(frames: Sequence[pd.DataFrame]) -> pd.DataFrame | None:
    """prepare_for_validation of these online-flag returns' rows joined in order, in one pass,
    when that gives each return's rows exactly what preparing it alone does; else None. Every
    column is worked row by row, so it does when every return has the same columns and types
    and no count can take another type in one return than in all (every count whole, not
    negative and exact as a float)."""
    if not frames:
        return None
    first = frames[0].dtypes
    if not {"force", "offences", "online_flagged"} <= set(first.index) or not all(
        frame.dtypes.equals(first) for frame in frames[1:]
    ):
        return None
    rows = pd.concat(frames, ignore_index=True)
    for column in ("offences", "online_flagged"):
        values = pd.to_numeric(rows[column], errors="coerce")
        if values.dtype != np.dtype("int64") or (
            not values.empty and (values.min() < 0 or values.max() > 2**53)
        ):
            return None
    return prepare_for_validation(rows)


def _prepared_each(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """prepare_for_validation of each online-flag return (keyed by file name): prepared
    together and cut apart where prepared_together can, else one by one (an empty return
    always alone)."""
    together = prepared_together(list(frames.values()))
    if together is None:
        return {name: prepare_for_validation(frame) for name, frame in frames.items()}
    prepared, start = {}, 0
    for name, frame in frames.items():
        stop = start + len(frame)
        prepared[name] = (
            together.iloc[start:stop].set_axis(frame.index)
            if len(frame)
            else prepare_for_validation(frame)
        )
        start = stop
    return prepared


_CLEAN, _FLAGGED, _UNSURE = "clean", "flagged", "unsure"
# How a batch's result for each kind of expectation speaks for the files in it.
# Row by row: a row breaks the check in the batch exactly when it breaks it in its own file.
_ROW_WISE = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list",
    "expect_column_values_to_be_between",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
    "expect_column_values_to_be_of_type",  # row by row only on object columns (else below)
    "expect_column_values_to_be_in_type_list",
}
# Uniqueness across rows: a row breaks it in its own file only if another row of that
# same file shares its values (the same force, year and offence in two files is no fault).
_UNIQUE_IN_FILE = {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"}
# Decided by the columns and their types alone, which every file in a batch shares.
_SAME_FOR_EACH_FILE = {
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
    "expect_column_to_exist",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
}
# Columns whose int64 and float64 forms may share a batch (as float64) when only these
# expectations look at them: they compare values, and every count in a batch is < 2**53.
_NUMERIC_VALUE_CHECKS = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
}
_BATCH_RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


def _batch_verdicts(
    prepared: Mapping[str, pd.DataFrame], name: str, gx_project: Path
) -> tuple[dict[str, str], int]:
    """One GX run (validation definition, no Data Docs) over the returns that can share it:
    for each of them, _CLEAN (no check broken, so its outcome is a clean pass), _FLAGGED (a
    row of its own broke a check: it fails or warns) or _UNSURE; and how many checks ran."""
    suite = json.loads((gx_project / "gx" / "expectations" / f"{name}.json").read_text())
    members, batch = _batch(prepared, suite["expectations"])
    if len(members) < 2:
        return {}, 0
    owners = np.repeat(np.arange(len(members)), [len(prepared[m]) for m in members])
    shown = html_safe(batch)
    suite_result = _run_gx(name, shown, _scratch(), gx_project, False, _BATCH_RESULT_FORMAT)[0]
    flagged: set[int] = set()
    unsure: set[int] = set()
    everyone = set(range(len(members)))
    for result in suite_result.results:
        config = result.expectation_config
        kwargs = config.kwargs or {}
        details = result.result or {}
        positions = details.get("unexpected_index_list")
        if _raised(result):
            unsure = everyone
        elif positions is not None and config.type in _UNIQUE_IN_FILE | _ROW_WISE:
            rows = np.asarray(positions, dtype=np.int64)
            if config.type in _UNIQUE_IN_FILE:
                columns = kwargs.get("column_list") or [kwargs["column"]]
                keys = shown.loc[rows, columns].assign(_file=owners[rows])
                rows = rows[keys.duplicated(keep=False).to_numpy()]
            # With `mostly`, a file with a broken row may still pass: validated alone to see.
            partly = kwargs.get("mostly", 1) < 1
            (unsure if partly else flagged).update(owners[rows].tolist())
        elif config.type in _SAME_FOR_EACH_FILE or _row_count_holds_for_each(config.type, kwargs):
            if not result.success:
                unsure = everyone
        else:  # a kind of check this batching does not know: every file on its own
            unsure = everyone
    verdicts = {
        member: _UNSURE if i in unsure else _FLAGGED if i in flagged else _CLEAN
        for i, member in enumerate(members)
    }
    return verdicts, len(suite_result.results)


def _raised(result: Any) -> bool:
    """Whether a check could not run: GX gives one exception_info, or one per failed metric."""
    info = result.exception_info or {}
    return info.get("raised_exception") is True or ("raised_exception" not in info and any(info))


def _row_count_holds_for_each(expectation_type: str, kwargs: dict) -> bool:
    """A row count check the batch passes only if each file does: at least one row, no
    upper limit (files with no rows are never batched)."""
    return (
        expectation_type == "expect_table_row_count_to_be_between"
        and kwargs.get("max_value") is None
        and (kwargs.get("min_value") or 0) <= 1
    )


def _batch(
    prepared: Mapping[str, pd.DataFrame], expectations: list[dict]
) -> tuple[list[str], pd.DataFrame]:
    """The returns that can be validated together, and their rows concatenated (positions
    0..n-1, in file order). They have rows, the same columns and the same column types; a
    column that is int64 in some and float64 in others joins as float64 only if the suite
    just compares its values (_NUMERIC_VALUE_CHECKS) and its integers are exact as floats."""
    from collections import Counter

    candidates = {name: frame for name, frame in prepared.items() if len(frame)}
    if not candidates:
        return [], pd.DataFrame()
    layout = Counter(tuple(f.columns) for f in candidates.values()).most_common(1)[0][0]
    candidates = {n: f for n, f in candidates.items() if tuple(f.columns) == layout}
    checked_otherwise = {
        column
        for e in expectations
        if e["type"] not in _NUMERIC_VALUE_CHECKS
        for key in ("column", "column_A", "column_B", "column_list")
        for column in np.atleast_1d(e["kwargs"].get(key, [])).tolist()
        if isinstance(column, str)
    }
    numeric = {np.dtype("int64"), np.dtype("float64")}
    widened = []
    for column in layout:
        dtypes = Counter(f[column].dtype for f in candidates.values())
        if len(dtypes) == 1:
            continue
        if column not in checked_otherwise and set(dtypes) <= numeric:
            widened.append(column)
            exact = {
                n: f
                for n, f in candidates.items()
                if f[column].dtype != "int64" or f[column].abs().max() <= 2**53
            }
            candidates = exact
        else:
            usual = dtypes.most_common(1)[0][0]
            candidates = {n: f for n, f in candidates.items() if f[column].dtype == usual}
    members = list(candidates)
    frames = [candidates[m] for m in members]
    if widened:  # (astype copies every frame, even with nothing to change)
        frames = [frame.astype({c: "float64" for c in widened}) for frame in frames]
    batch = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return members, batch


@cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="briefings-validation-"))


def validate_store(
    checks: pd.DataFrame, validation_dir: Path, gx_project: Path = GX_PROJECT
) -> ValidationOutcome:
    """Checks across returns (see briefings.store.crosschecks), all warnings."""
    return run_suite(STORE_CHECKPOINT, checks, "accepted returns", validation_dir, gx_project)


def run_suite(
    name: str,
    prepared: pd.DataFrame,
    file_name: str,
    validation_dir: Path,
    gx_project: Path,
    build_docs: bool = True,
) -> ValidationOutcome:
    """Run a checkpoint (or, without docs, its validation definition) on a prepared frame."""
    shown = html_safe(prepared)
    suite_result, url = _run_gx(name, shown, validation_dir, gx_project, build_docs)
    problems = [
        _problem(outcome, prepared) for outcome in suite_result.results if not outcome.success
    ]
    critical = sorted((p for p in problems if p.severity == "critical"), key=_order)
    warnings = sorted((p for p in problems if p.severity != "critical"), key=_order)
    if build_docs and url:
        _readable_docs(url, validation_dir, file_name, critical, warnings)
    return ValidationOutcome(
        file_name, not critical, len(suite_result.results), tuple(critical), tuple(warnings), url
    )


def _readable_docs(
    url: str, validation_dir: Path, file_name: str, critical: list[Problem], warnings: list[Problem]
) -> None:
    """The page as a steward reads it (briefings.validation.data_docs): the problems in the
    words of the quarantine report, a validation with only warnings shown as such, and the
    styles and scripts the pages load copied beside them."""
    from urllib.parse import unquote, urlparse

    from briefings.validation.data_docs import annotate_page, install_assets, mark_index

    page = Path(unquote(urlparse(url).path))
    site = validation_dir.resolve() / "data-docs"
    install_assets(site)
    if page.exists():
        annotate_page(
            page,
            file_name,
            [problem.describe(file_name) for problem in critical],
            [problem.describe(file_name) for problem in warnings],
            warnings_only=bool(warnings) and not critical,
        )
    mark_index(site)


def _run_gx(
    name: str,
    shown: pd.DataFrame,
    validation_dir: Path,
    gx_project: Path,
    build_docs: bool,
    result_format: dict | None = None,
) -> tuple[Any, str | None]:
    """The suite result of a checkpoint run (with its Data Docs page's address), or without
    docs of its validation definition (with the checkpoint's result format unless given)."""
    context = _context(gx_project, validation_dir.resolve())
    checkpoint = context.checkpoints.get(name)
    if result_format is None and "source_row" in shown.columns:
        named = (checkpoint.result_format or {}).get("unexpected_index_column_names")
        if not named:
            # GX then names unexpected rows by the frame's index: make it the spreadsheet
            # row. (Looking a million rows' source_row up column by column costs 0.2 s.)
            shown = shown.set_axis(pd.Index(shown["source_row"].to_numpy()), axis=0)
    if build_docs:
        result = checkpoint.run(
            batch_parameters={"dataframe": shown},
            expectation_parameters=expectation_parameters(),
        )
        (identifier, suite_result), *_ = result.run_results.items()
        urls = context.get_docs_sites_urls(resource_identifier=identifier)
        return suite_result, urls[0]["site_url"] if urls else None
    definition = context.validation_definitions.get(name)
    suite_result = definition.run(
        batch_parameters={"dataframe": shown},
        expectation_parameters=expectation_parameters(),
        result_format=result_format or checkpoint.result_format,
    )
    return suite_result, None


def html_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with <, > and & in text escaped. Data Docs put unexpected values into their
    HTML as they are, so a cell like '<script>' in a return would become markup in a
    steward's browser; escaped, it shows as written. Problems are still described from the
    original values."""
    import html

    columns = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            if categories.astype(str).str.contains(r"[<>&]").any():
                columns[column] = values.cat.rename_categories(
                    [html.escape(str(c), quote=False) for c in categories]
                )
        elif (
            values.dtype == "str"
            and _may_hold_markup(values)
            and values.str.contains(r"[<>&]", na=False).any()
        ):
            columns[column] = values.map(
                lambda text: text if pd.isna(text) else html.escape(text, quote=False)
            ).astype("str")
    return frame.assign(**columns) if columns else frame


def _may_hold_markup(values: pd.Series) -> bool:
    """False only if no value of this text column holds <, > or &: a search of the bytes of
    its Arrow buffers (a few milliseconds for a million rows, where a regular expression
    takes 40 to 100). Bytes outside the values (a sliced buffer) can only give a false
    alarm, which the exact search then clears. Text not stored by Arrow: True."""
    to_arrow = getattr(values.array, "__arrow_array__", None)
    if to_arrow is None:
        return True
    arrow = to_arrow()
    for chunk in getattr(arrow, "chunks", [arrow]):
        data = chunk.buffers()[-1]
        text = data.to_pybytes() if data is not None else b""
        if b"<" in text or b">" in text or b"&" in text:
            return True
    return False


def _order(problem: Problem) -> tuple:
    first = problem.rows[0] if problem.rows else ""
    return (int(first) if first.isdigit() else 0, first, problem.column)


def _problem(outcome: Any, prepared: pd.DataFrame) -> Problem:
    config = outcome.expectation_config
    meta = config.meta or {}
    column = meta.get("column", config.kwargs.get("column", "?"))
    expected = meta.get("expected", config.type)
    severity = getattr(config.severity, "value", str(config.severity or "critical"))
    details = outcome.result or {}
    raised = (outcome.exception_info or {}).get("exception_message")
    if raised:  # a check that could not run judged nothing: no steward can overrule it
        return Problem(
            column, expected, (), (f"a check that could not run: {raised}",), 0, severity
        )
    overrulable = meta.get("steward_may_accept") is True
    indexed = details.get("partial_unexpected_index_list") or []
    key = "label" if "label" in prepared.columns else "source_row"
    # Rows are named by unexpected_index_column_names (dicts) or, without them, by the
    # frame's index, which _run_gx makes the source_row.
    rows = tuple(
        dict.fromkeys(
            str(item[key]) if isinstance(item, dict) else str(item)
            for item in indexed
            if isinstance(item, dict) or key == "source_row"
        )
    )
    count = int(details.get("unexpected_count") or len(rows))
    if not rows:
        return Problem(
            column,
            expected,
            (),
            (str(details.get("observed_value", "nothing")),),
            0,
            severity,
            overrulable,
        )
    # Look up only the example rows: the frame may have a million.
    wanted = [int(row) for row in rows] if key == "source_row" else list(rows)
    examples = _rows_with(prepared, key, wanted)
    by_key = {str(value): examples.iloc[i] for i, value in enumerate(examples[key])}
    checked = config.kwargs.get("column")
    found = tuple(_found_value(by_key[row], column, config.type, checked) for row in rows)
    return Problem(column, expected, rows, found, count, severity, overrulable)


def _rows_with(frame: pd.DataFrame, key: str, wanted: list) -> pd.DataFrame:
    """The first row for each of a few `wanted` values of column `key`. Spreadsheet rows
    (source_row) are in order, so found by binary search rather than a pass over them all."""
    values = frame[key]
    if values.dtype.kind in "iu" and values.is_monotonic_increasing:
        positions = values.searchsorted(wanted)
        candidates = frame.iloc[positions[positions < len(frame)]]
        return candidates[candidates[key].isin(wanted)].drop_duplicates(subset=key)
    return frame[values.isin(wanted)].drop_duplicates(subset=key)


# Home Office columns are reported under their published names.
_SOURCE_COLUMNS = {
    "Financial Year": "financial_year",
    "Financial Quarter": "quarter",
    "Force Name": "force_name",
    "Offence Code": "offence_code",
    "Number of Offences": "offences",
}


def _found_value(
    row: pd.Series, column: str, expectation_type: str, checked: str | None = None
) -> str:
    if "label" in row.index and "fold_change" in row.index:  # the store checks
        return str(row["description"])
    if column == "force":
        text = row["force"]
        if pd.isna(text):
            return "a blank force"
        nearest = force_register().nearest(text)
        return f"'{text}'" + (f" (nearest known: {', '.join(nearest)})" if nearest else "")
    if expectation_type == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{row['online_flagged']} flagged of {row['offences']} offences"
    if expectation_type == "expect_column_values_to_be_between" and checked == "online_share":
        return f"{row['online_flagged']} flagged of {row['offences']} offences"
    if (
        "quarters_in_complete_year" in row.index
        and column == "Financial Quarter"
        and not pd.isna(row["quarters_in_complete_year"])
    ):
        return f"{row['force_name']} with {row['quarters_in_complete_year']} of 4 quarters"
    source = _SOURCE_COLUMNS.get(column, column)
    if source in row.index:
        value = row[source]
        return "a blank" if pd.isna(value) else f"'{value}'"
    return ", ".join(
        f"{c}={row[c]}" for c in ("force", "financial_year", "offence_code") if c in row.index
    )
