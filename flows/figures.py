"""Force and national figures for one period, by the domain rules of ARCHITECTURE.md.

Pure pandas and arithmetic: no Prefect, no files. Exact values (fractions) are kept for the
wording, which rounds toward zero; tables and figures.json carry one decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

import pandas as pd
from scipy.stats import binomtest

from flows.periods import Period
from flows.reference import FORCES_TOTAL, Force, ForceRegister

# Columns of the accepted returns store (data/processed/online_flag_returns.parquet).
RETURN_COLUMNS = (
    "force_code",
    "financial_year",
    "offence_code",
    "offence_description",
    "offences",
    "online_flagged",
    "source_file",
    "source_row",
)
TOTAL_CODE = "ALL"  # a force that gave only a total per year
MINIMUM_FOR_COMPARISON = 10
SIGNIFICANCE = 0.05


class Assessment(StrEnum):
    """How a change between two counts may be described."""

    ROSE = "rose"
    FELL = "fell"
    UNCHANGED = "broadly unchanged"
    TOO_FEW = "too few to compare"
    NO_COMPARISON = "no comparison"


def one_decimal(value: Fraction | float | int) -> float:
    """Half-up to one decimal place, for tables and figures.json (prose rounds toward zero)."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(str(value))
    )
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def rate_test_p_value(current: int, previous: int, current_days: int, previous_days: int) -> float:
    """Two-sided exact test that two Poisson counts share one daily rate (conditional binomial)."""
    share = current_days / (current_days + previous_days)
    return float(binomtest(current, current + previous, share).pvalue)


def assess_change(
    current: int | None, previous: int | None, current_days: int, previous_days: int
) -> Assessment:
    if current is None or previous is None:
        return Assessment.NO_COMPARISON
    if min(current, previous) < MINIMUM_FOR_COMPARISON:
        return Assessment.TOO_FEW
    if rate_test_p_value(current, previous, current_days, previous_days) >= SIGNIFICANCE:
        return Assessment.UNCHANGED
    return Assessment.ROSE if current > previous else Assessment.FELL


@dataclass(frozen=True)
class Change:
    """From `previous` to `current`, exactly."""

    current: int
    previous: int

    @property
    def difference(self) -> int:
        return self.current - self.previous

    @property
    def ratio(self) -> Fraction | None:
        return Fraction(self.current, self.previous) if self.previous else None

    @property
    def percent(self) -> Fraction | None:
        return Fraction(100 * self.difference, self.previous) if self.previous else None


def is_small(count: int | None, threshold: int) -> bool:
    """Counts from 1 to threshold-1 could identify a child; zero is a true, publishable zero."""
    return count is not None and 0 < count < threshold


@dataclass(frozen=True)
class ForceFigures:
    force: Force
    count: int
    previous: int | None
    assessment: Assessment
    history: tuple[tuple[str, int], ...]  # (period, count) for every period up to this one
    sources: tuple[str, ...]
    threshold: int

    @property
    def suppressed(self) -> bool:
        return is_small(self.count, self.threshold)

    @property
    def previous_suppressed(self) -> bool:
        return is_small(self.previous, self.threshold)

    @property
    def change(self) -> Change | None:
        """Only a change a reader may see: none where either count is suppressed."""
        if self.previous is None or self.suppressed or self.previous_suppressed:
            return None
        return Change(self.count, self.previous)


@dataclass(frozen=True)
class NationalFigures:
    forces_responding: int
    online_flagged: int
    like_for_like_forces: int
    like_for_like: Change | None
    assessment: Assessment
    days: int
    previous_forces_responding: int

    forces_total: int = FORCES_TOTAL

    @property
    def per_day(self) -> Fraction:
        return Fraction(self.online_flagged, self.days)


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    national: NationalFigures
    forces: tuple[ForceFigures, ...]  # responding forces, by name
    # (period, total over the forces responding that year) for every period up to this one
    national_history: tuple[tuple[str, int], ...] = ()

    @property
    def previous_period(self) -> Period:
        return self.period.previous

    def force(self, code: str) -> ForceFigures:
        return next(f for f in self.forces if f.force.code == code)

    @property
    def largest_rises(self) -> tuple[ForceFigures, ...]:
        """Forces whose count rose (by the test), largest increase first."""
        risen = [f for f in self.forces if f.assessment is Assessment.ROSE and f.change]
        return tuple(sorted(risen, key=lambda f: (-f.change.difference, f.force.name))[:3])


def force_year_totals(returns: pd.DataFrame) -> pd.DataFrame:
    """One row per force and year: the online-flagged count and the files it came from.

    Where a force gave a total (offence code ALL) it is the count, even if it also gave a
    breakdown; otherwise the count is the sum over offence codes.
    """
    columns = ["force_code", "financial_year", "online_flagged", "sources"]
    if returns.empty:
        return pd.DataFrame(columns=columns)
    has_total = returns.groupby(["force_code", "financial_year"])["offence_code"].transform(
        lambda codes: (codes == TOTAL_CODE).any()
    )
    counted = returns[~has_total | (returns["offence_code"] == TOTAL_CODE)]
    totals = counted.groupby(["force_code", "financial_year"], as_index=False).agg(
        online_flagged=("online_flagged", "sum"),
        sources=("source_file", lambda files: tuple(sorted(set(files)))),
    )
    totals["online_flagged"] = totals["online_flagged"].astype(int)
    return totals[columns]


def periods_with_data(returns: pd.DataFrame) -> list[Period]:
    return sorted({Period.parse(label) for label in returns["financial_year"].unique()})


def compute_period_figures(
    returns: pd.DataFrame, period: Period, register: ForceRegister, threshold: int = 5
) -> PeriodFigures:
    """Figures for `period` and its comparison with the year before, from accepted returns."""
    totals = force_year_totals(returns)
    counts = {
        (row.force_code, row.financial_year): (int(row.online_flagged), row.sources)
        for row in totals.itertuples(index=False)
    }
    previous = period.previous
    forces = []
    for force in sorted(register.forces, key=lambda f: f.name):
        current = counts.get((force.code, period.label))
        if current is None:
            continue
        before = counts.get((force.code, previous.label))
        history = tuple(
            (label, count)
            for (code, label), (count, _) in sorted(counts.items())
            if code == force.code and Period.parse(label) <= period
        )
        sources = set(current[1]) | set(before[1] if before else ())
        forces.append(
            ForceFigures(
                force=force,
                count=current[0],
                previous=before[0] if before else None,
                assessment=assess_change(
                    current[0], before[0] if before else None, period.days, previous.days
                ),
                history=history,
                sources=tuple(sorted(sources)),
                threshold=threshold,
            )
        )
    both = [f for f in forces if f.previous is not None]
    like_for_like = (
        Change(sum(f.count for f in both), sum(f.previous for f in both)) if both else None
    )
    national = NationalFigures(
        forces_responding=len(forces),
        online_flagged=sum(f.count for f in forces),
        like_for_like_forces=len(both),
        like_for_like=like_for_like,
        assessment=assess_change(
            like_for_like.current if like_for_like else None,
            like_for_like.previous if like_for_like else None,
            period.days,
            previous.days,
        ),
        days=period.days,
        previous_forces_responding=len({c for (c, label) in counts if label == previous.label}),
    )
    history = totals[totals["financial_year"].map(Period.parse) <= period]
    national_history = tuple(
        (label, int(total))
        for label, total in history.groupby("financial_year")["online_flagged"].sum().items()
    )
    return PeriodFigures(period, national, tuple(forces), national_history)


def figures_document(figures: PeriodFigures, pdf_names: dict[str, str]) -> dict:
    """figures.json: every figure as printed, each force with the raw files it came from."""
    national = figures.national
    lfl = national.like_for_like
    return {
        "period": figures.period.label,
        "previous_period": figures.previous_period.label,
        "days": national.days,
        "national": {
            "forces_total": national.forces_total,
            "forces_responding": national.forces_responding,
            "online_flagged": national.online_flagged,
            "like_for_like_forces": national.like_for_like_forces,
            "like_for_like_current": lfl.current if lfl else None,
            "like_for_like_previous": lfl.previous if lfl else None,
            "change_pct": one_decimal(lfl.percent) if lfl and lfl.percent is not None else None,
            "change_assessment": national.assessment.value,
            "per_day": one_decimal(national.per_day),
            "previous_forces_responding": national.previous_forces_responding,
            "pdf": pdf_names.get("national"),
        },
        "forces": [_force_document(f, pdf_names.get(f.force.code)) for f in figures.forces],
    }


def _force_document(figures: ForceFigures, pdf: str | None) -> dict:
    change = figures.change
    return {
        "code": figures.force.code,
        "name": figures.force.name,
        "region": figures.force.region,
        "online_flagged": None if figures.suppressed else figures.count,
        "previous_online_flagged": None if figures.previous_suppressed else figures.previous,
        "change": change.difference if change else None,
        "change_pct": one_decimal(change.percent)
        if change and change.percent is not None
        else None,
        "ratio": one_decimal(change.ratio) if change and change.ratio is not None else None,
        "change_assessment": figures.assessment.value,
        "suppressed": figures.suppressed,
        "previous_suppressed": figures.previous_suppressed,
        "pdf": pdf,
        "sources": list(figures.sources),
    }
