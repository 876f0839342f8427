"""Force and national figures for one period, by the domain rules (docs/comms-teams.md).

Pure pandas and arithmetic: no Prefect, no files. Exact values (fractions) are kept; every
printed figure, in sentences, tables, charts and figures.json alike, is cut toward zero at the
precision it is printed at (briefings.domain.style), and figures.json keeps the exact
numerator and denominator beside each printed ratio, percentage and rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from briefings.domain.forces import FORCES_TOTAL, Force, ForceRegister
from briefings.domain.periods import Period
from briefings.domain.returns import TOTAL_CODE, force_year_totals, withheld_force_years
from briefings.domain.style import printed

if TYPE_CHECKING:  # pandas is imported where figures are computed, not to read them
    import pandas as pd

MINIMUM_FOR_COMPARISON = 10
SIGNIFICANCE = 0.05


NATIONAL = "England and Wales"  # the national area's name, and its key in yearly figures


class Assessment(StrEnum):
    """How a change between two counts may be described."""

    ROSE = "rose"
    FELL = "fell"
    UNCHANGED = "broadly unchanged"
    TOO_FEW = "too few to compare"
    NO_COMPARISON = "no comparison"


def one_decimal(value: Fraction | float | int) -> float:
    """A figure printed to one decimal place, as figures.json holds it: cut toward zero (44.96
    is 44.9, -44.96 is -44.9), the one rounding rule of briefings.domain.style."""
    return printed(value, 1)


# Cached: a backfill tests each earlier year's changes again for every later period.
@lru_cache(maxsize=65536)
def rate_test_p_value(current: int, previous: int, current_days: int, previous_days: int) -> float:
    """Two-sided exact test that two Poisson counts share one daily rate (conditional binomial)."""
    share = current_days / (current_days + previous_days)
    from scipy.stats import binomtest  # a second to import; render workers never need it

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
    sources: tuple[str, ...]  # raw files behind its figures, breakdown included
    threshold: int
    children: int | None = None  # aged 0 to 17 in the force area at the period's mid-year
    rank: int | None = None  # 1 for the highest count among responding forces
    offences: int | None = None  # all child sexual offences in the categories returned
    breakdown: tuple[BreakdownItem, ...] = ()
    recorded_all: int | None = None  # Home Office: all recorded child sexual offences (context)
    total_sources: tuple[str, ...] = ()  # raw files its totals were first received in
    previous_withheld: bool = False  # it answered the year before with its count withheld

    @property
    def online_share(self) -> Fraction | None:
        """Share of the returned offences that were flagged online; not from withheld counts."""
        if self.suppressed or not self.offences:
            return None
        return Fraction(self.count, self.offences)

    @property
    def recorded_all_rate(self) -> Fraction | None:
        if self.recorded_all is None or not self.children:
            return None
        return Fraction(10000 * self.recorded_all, self.children)

    @property
    def rate_per_10000_children(self) -> Fraction | None:
        """Not given from a suppressed count."""
        if self.suppressed or not self.children:
            return None
        return Fraction(10000 * self.count, self.children)

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
class AreaFigures:
    """A region's or the nation's figures: totals over its responding forces, and the change
    like-for-like over those that responded for both periods."""

    forces_responding: int
    online_flagged: int  # over the forces whose counts can be printed (see withheld_forces)
    like_for_like_forces: int
    like_for_like: Change | None
    assessment: Assessment
    days: int
    previous_forces_responding: int
    forces_total: int = FORCES_TOTAL
    name: str = "England and Wales"
    children: int | None = None  # aged 0 to 17 in the responding forces' areas, mid-year
    not_responding: tuple[str, ...] = ()
    withheld_forces: int = 0  # responding forces whose count is withheld as too small
    threshold: int = 5  # counts from 1 to threshold - 1 are withheld
    sources: tuple[str, ...] = ()  # raw files the responding forces' totals came from
    # Forces that responded with their count withheld (a '<5' or '*' and no total): named,
    # never counted, and not among those that did not respond.
    forces_withholding: tuple[Force, ...] = ()
    # Responding forces with a count for both years, printable or not (None: the same as
    # like_for_like_forces). More than like_for_like_forces when a count too small to print
    # keeps a force out of the comparison.
    forces_with_both_years: int | None = None

    @property
    def per_day(self) -> Fraction:
        return Fraction(self.online_flagged, self.days)

    @property
    def compared_every_force_with_both_years(self) -> bool:
        """Whether the like-for-like change is over every force that gave both years' counts
        (else some were left out as too small to print)."""
        return self.forces_with_both_years in (None, self.like_for_like_forces)

    @property
    def rate_per_10000_children(self) -> Fraction | None:
        return Fraction(10000 * self.online_flagged, self.children) if self.children else None


# Why a year's count is not printed: three different things, never to be shown as one.
SUPPRESSED = "suppressed"  # fewer than the threshold: the count is too small to print
WITHHELD = "withheld"  # the force responded but withheld the count
NOT_GIVEN = "not given"  # no return for that year (or, for an area, no count to print)


@dataclass(frozen=True)
class YearFigures:
    period: str
    count: int | None
    rate_per_10000_children: Fraction | None
    not_printed: str | None = None  # SUPPRESSED, WITHHELD or NOT_GIVEN where count is None


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    national: AreaFigures  # the nation is the area of all 43 forces
    forces: tuple[ForceFigures, ...]  # responding forces, by name
    regions: tuple[AreaFigures, ...] = ()  # the nine English regions and Wales, by name
    # Printable count and rate per 10,000 children by year, for every period with data up to
    # this one, keyed by force code and by area name ("England and Wales", regions). None
    # where a count is withheld or missing, or no rate can be given.
    yearly: dict[str, tuple[YearFigures, ...]] = field(
        default_factory=dict, hash=False, compare=False
    )
    # The Home Office tables (raw files) the period's "all child sexual offences" came from.
    home_office_sources: tuple[str, ...] = ()

    @property
    def national_history(self) -> tuple[tuple[str, int], ...]:
        """(period, national total as that year's briefing prints it) for each period up to
        this one with a printable total."""
        yearly = self.yearly.get(NATIONAL, ())
        return tuple((year.period, year.count) for year in yearly if year.count is not None)

    @property
    def previous_period(self) -> Period:
        return self.period.previous

    def force(self, code: str) -> ForceFigures:
        return next(f for f in self.forces if f.force.code == code)

    def region(self, name: str) -> AreaFigures:
        return next(r for r in self.regions if r.name == name)

    @property
    def largest_rises(self) -> tuple[ForceFigures, ...]:
        """Forces whose count rose (by the test), largest increase first."""
        risen = [f for f in self.forces if f.assessment is Assessment.ROSE and f.change]
        return tuple(sorted(risen, key=lambda f: (-_difference(f), f.force.name))[:3])

    @property
    def largest_falls(self) -> tuple[ForceFigures, ...]:
        """Forces whose count fell (by the test), largest decrease first."""
        fallen = [f for f in self.forces if f.assessment is Assessment.FELL and f.change]
        return tuple(sorted(fallen, key=lambda f: (_difference(f), f.force.name))[:3])


def _difference(figures: ForceFigures) -> int:
    """The change in a force's count, for ordering forces that have one."""
    return figures.change.difference if figures.change else 0


@dataclass(frozen=True)
class BreakdownItem:
    offence_code: str
    description: str | None
    online_flagged: int
    withheld: bool  # too small, or withheld so that a small one cannot be worked out


def _solvable(withheld: pd.Series, threshold: int) -> bool:
    """Whether withheld counts, each known to be 1 to threshold - 1 and with a known sum (the
    printed total minus the printed items), can be told apart: one alone, or all at an end."""
    if len(withheld) == 1:
        return True
    if not all(is_small(int(n), threshold) for n in withheld):
        return False
    return int(withheld.sum()) in (len(withheld), len(withheld) * (threshold - 1))


def breakdown(
    rows: pd.DataFrame, total_withheld: bool, threshold: int
) -> tuple[BreakdownItem, ...]:
    """A force-year's online-flagged count by offence code, with disclosure control: small
    counts are withheld, and if exactly one is, the next smallest too (the printed total minus
    the others would otherwise reveal it)."""
    items = rows[rows["offence_code"] != TOTAL_CODE]
    if items.empty:
        return ()
    counts = items.groupby("offence_code", sort=True).agg(**_BY_CODE)
    return _withholding(counts, total_withheld, threshold)


# Each offence code's description (the first given) and online-flagged count.
_BY_CODE: dict[str, Any] = {
    "description": ("offence_description", "first"),
    "online_flagged": ("online_flagged", "sum"),
}


def _breakdowns(returns: pd.DataFrame, period: Period) -> dict[str, pd.DataFrame]:
    """Each force's counts by offence code for `period` (as breakdown groups them), from one
    grouping of every force's rows rather than one per force."""
    items = returns[
        (returns["financial_year"] == period.label) & (returns["offence_code"] != TOTAL_CODE)
    ]
    if items.empty:
        return {}
    counts = items.groupby(["force_code", "offence_code"], sort=True).agg(**_BY_CODE)
    return {
        str(code): group.droplevel("force_code")
        for code, group in counts.groupby(level="force_code", sort=False)
    }


def _withholding(
    counts: pd.DataFrame, total_withheld: bool, threshold: int
) -> tuple[BreakdownItem, ...]:
    import pandas as pd

    values = counts["online_flagged"].astype(int)
    small = {code for code, n in values.items() if is_small(n, threshold)}
    if total_withheld:
        small = set(counts.index)
    while small and len(small) < len(counts) and _solvable(values[list(small)], threshold):
        others = values.drop(index=list(small)).sort_values(kind="stable")
        small.add(others.index[0])
    if small and not total_withheld and _solvable(values[list(small)], threshold):
        return ()  # nothing left to withhold with them: give no breakdown at all
    return tuple(
        BreakdownItem(
            code,
            None if pd.isna(row.description) else str(row.description),
            int(row.online_flagged),
            code in small,
        )
        for code, row in counts.iterrows()
    )


def periods_with_data(returns: pd.DataFrame) -> list[Period]:
    return sorted({Period.parse(label) for label in returns["financial_year"].unique()})


def compute_period_figures(
    returns: pd.DataFrame,
    period: Period,
    register: ForceRegister,
    threshold: int = 5,
    population: pd.DataFrame | None = None,
    home_office: pd.DataFrame | None = None,
) -> PeriodFigures:
    """Figures for `period` and its comparison with the year before, from accepted returns.
    `population`: children by force and mid-year (reference.child_population); rates are
    given only where the mid-year inside the period has an estimate. `home_office`: all
    recorded child sexual offences by force and quarter (store.child_sexual_offences), used
    as context where all four quarters of the period are there."""
    totals = _Totals.of(returns)
    recorded_all = _whole_year(home_office, period)
    figures = _figures_of(
        totals,
        period,
        register,
        threshold,
        population,
        recorded_all,
        _breakdowns(returns, period),
    )
    # Each earlier year's rates are computed exactly as that year's own briefing gives them
    # (from the same totals: grouped once, not once a year).
    years = [
        _figures_of(totals, p, register, threshold, population, {}, {})
        for p in periods_with_data(returns)
        if p < period
    ] + [figures]
    return _sourced_every_year(
        replace(
            figures,
            yearly=_yearly(years),
            home_office_sources=_whole_year_sources(home_office, period, recorded_all),
        ),
        years,
    )


def _sourced_every_year(figures: PeriodFigures, years: list[PeriodFigures]) -> PeriodFigures:
    """An area's chart and table print its total for every year up to the period, from
    forces that may not have responded this year: its sources are those of every year."""

    def every_year(name: str) -> tuple[str, ...]:
        return tuple(
            sorted(
                {
                    source
                    for year in years
                    for area in (year.national, *year.regions)
                    if area.name == name
                    for source in area.sources
                }
            )
        )

    return replace(
        figures,
        national=replace(figures.national, sources=every_year(figures.national.name)),
        regions=tuple(replace(r, sources=every_year(r.name)) for r in figures.regions),
    )


@dataclass(frozen=True)
class _Totals:
    """Every force's count in every year (force_year_totals), grouped once for a period and
    all the years before it."""

    counts: dict[tuple[str, str], tuple[int, tuple[str, ...], tuple[str, ...]]]
    offences: dict[tuple[str, str], int]
    withheld: set[tuple[str, str]]
    history: dict[str, tuple[tuple[str, int], ...]]  # each force's (year, count), in order

    @classmethod
    def of(cls, returns: pd.DataFrame) -> _Totals:
        import pandas as pd

        totals = force_year_totals(returns)
        counts = {
            (row.force_code, row.financial_year): (
                int(row.online_flagged),
                row.sources,
                row.total_sources,
            )
            for row in totals.itertuples(index=False)
        }
        offences = {
            (row.force_code, row.financial_year): int(row.offences)
            for row in totals.itertuples(index=False)
            if row.offences is not None and not pd.isna(row.offences)
        }
        history: dict[str, list[tuple[str, int]]] = {}
        for (code, label), (count, *_) in sorted(counts.items()):
            history.setdefault(code, []).append((label, count))
        return cls(
            counts,
            offences,
            withheld_force_years(returns),
            {code: tuple(years) for code, years in history.items()},
        )


def _figures_of(
    totals: _Totals,
    period: Period,
    register: ForceRegister,
    threshold: int,
    population: pd.DataFrame | None,
    recorded_all: dict[str, int],
    by_code: dict[str, pd.DataFrame],
) -> PeriodFigures:
    """The period's figures from the grouped totals. Only the period's own figures print a
    breakdown and the Home Office context (`by_code`, `recorded_all`); earlier years' figures
    give their rates, for which neither is needed."""
    children = {}
    if population is not None:
        mid_year = population[population["mid_year"] == period.population_mid_year]
        children = dict(zip(mid_year["force_code"], mid_year["children"].astype(int), strict=True))
    counts = totals.counts
    withheld = {code for code, label in totals.withheld if label == period.label}
    previous = period.previous
    forces = []
    for force in sorted(register.forces, key=lambda f: f.name):
        current = counts.get((force.code, period.label))
        if current is None:
            continue
        before = counts.get((force.code, previous.label))
        history = tuple(
            (label, count)
            for label, count in totals.history.get(force.code, ())
            if Period.parse(label) <= period
        )
        # Every year the briefing prints (its chart and table go back to the first year with
        # data), not only the two compared, is traced to the files it came from.
        printed = [counts[(force.code, label)] for label, _ in history]
        sources = {source for year in printed for source in year[1]}
        total_sources = {source for year in printed for source in year[2]}
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
                total_sources=tuple(sorted(total_sources)),
                threshold=threshold,
                children=children.get(force.code),
                offences=totals.offences.get((force.code, period.label)),
                breakdown=(
                    _withholding(by_code[force.code], is_small(current[0], threshold), threshold)
                    if force.code in by_code
                    else ()
                ),
                recorded_all=recorded_all.get(force.code),
                previous_withheld=(force.code, previous.label) in totals.withheld,
            )
        )
    forces = _ranked(forces)
    previous_codes = {code for (code, label) in counts if label == previous.label}
    national = _area(
        NATIONAL,
        list(register.forces),
        forces,
        previous_codes,
        period,
        children,
        threshold,
        withheld,
    )
    regions = tuple(
        _area(
            name,
            [f for f in register.forces if f.region == name],
            [f for f in forces if f.force.region == name],
            previous_codes,
            period,
            children,
            threshold,
            withheld,
        )
        for name in register.regions
    )
    return PeriodFigures(period, national, tuple(forces), regions)


def _yearly(years: list[PeriodFigures]) -> dict[str, tuple[YearFigures, ...]]:
    by_year = []
    for year in years:
        label = year.period.label
        entries = {
            f.force.code: YearFigures(
                label,
                None if f.suppressed else f.count,
                f.rate_per_10000_children,
                SUPPRESSED if f.suppressed else None,
            )
            for f in year.forces
        }
        entries |= {
            f.code: YearFigures(label, None, None, WITHHELD)
            for f in year.national.forces_withholding
        }
        entries |= {
            a.name: YearFigures(
                label,
                a.online_flagged if a.forces_responding > a.withheld_forces else None,
                a.rate_per_10000_children,
                None if a.forces_responding > a.withheld_forces else NOT_GIVEN,
            )
            for a in (year.national, *year.regions)
        }
        by_year.append((label, entries))
    keys = {key for _, entries in by_year for key in entries}
    return {
        key: tuple(
            entries.get(key, YearFigures(label, None, None, NOT_GIVEN))
            for label, entries in by_year
        )
        for key in keys
    }


def _whole_year(home_office: pd.DataFrame | None, period: Period) -> dict[str, int]:
    """Home Office child sexual offences per force for the period, where all four quarters
    are present."""
    if home_office is None or home_office.empty:
        return {}
    year = home_office[home_office["financial_year"] == period.label]
    by_force = year.groupby("force_code").agg(
        quarters=("quarter", "nunique"), total=("child_sexual_offences", "sum")
    )
    return {code: int(row.total) for code, row in by_force.iterrows() if row.quarters == 4}


def _whole_year_sources(
    home_office: pd.DataFrame | None, period: Period, totals: dict[str, int]
) -> tuple[str, ...]:
    """The Home Office tables behind _whole_year's `totals`: a later table that restates a
    year is the one its figures come from."""
    if home_office is None or not totals or "source_file" not in home_office.columns:
        return ()
    used = home_office[
        (home_office["financial_year"] == period.label) & home_office["force_code"].isin(totals)
    ]
    return tuple(sorted(set(used["source_file"].astype(str))))


def _ranked(forces: list[ForceFigures]) -> list[ForceFigures]:
    """Rank 1 is the highest count; equal counts share a rank."""
    counts = sorted((f.count for f in forces), reverse=True)
    return [replace(f, rank=counts.index(f.count) + 1) for f in forces]


def _area(
    name: str,
    members: list[Force],
    responding: list[ForceFigures],
    previous_codes: set[str],
    period: Period,
    children: dict[str, int],
    threshold: int,
    withholding: set[str],  # codes of members that withheld their count
) -> AreaFigures:
    # Disclosure control: a total that included a withheld count would reveal it (the total
    # minus the printed counts). So totals and changes are over the forces whose counts can
    # be printed, and the withheld forces are named as such ("fewer than 5 in each").
    published = [f for f in responding if not f.suppressed]
    # A force's change exists only where both its counts can be printed.
    both = [change for f in published if (change := f.change) is not None]
    like_for_like = (
        Change(sum(c.current for c in both), sum(c.previous for c in both)) if both else None
    )
    populations = [children[f.force.code] for f in published if f.force.code in children]
    responding_codes = {f.force.code for f in responding}
    return AreaFigures(
        forces_responding=len(responding),
        online_flagged=sum(f.count for f in published),
        withheld_forces=len(responding) - len(published),
        threshold=threshold,
        sources=tuple(sorted({source for f in responding for source in f.total_sources})),
        like_for_like_forces=len(both),
        forces_with_both_years=len([f for f in responding if f.force.code in previous_codes]),
        like_for_like=like_for_like,
        assessment=assess_change(
            like_for_like.current if like_for_like else None,
            like_for_like.previous if like_for_like else None,
            period.days,
            period.previous.days,
        ),
        days=period.days,
        previous_forces_responding=len({f.code for f in members} & previous_codes),
        forces_total=len(members),
        name=name,
        children=sum(populations) if published and len(populations) == len(published) else None,
        not_responding=tuple(
            sorted(
                f.name
                for f in members
                if f.code not in responding_codes and f.code not in withholding
            )
        ),
        forces_withholding=tuple(
            sorted((f for f in members if f.code in withholding), key=lambda f: f.name)
        ),
    )


def figures_document(figures: PeriodFigures, pdf_names: dict[str, str]) -> dict[str, Any]:
    """figures.json: every figure as printed, each force with the raw files it came from."""
    national = _area_document(figures.national, figures.yearly)
    national["pdf"] = pdf_names.get("national")
    regions = [_area_document(region, figures.yearly) for region in figures.regions]
    areas = zip((figures.national, *figures.regions), (national, *regions), strict=True)
    for area, document in areas:
        document |= _area_recorded_all_document(area_recorded_all(figures, area))
    return {
        "period": figures.period.label,
        "previous_period": figures.previous_period.label,
        "days": figures.national.days,
        "population_mid_year": figures.period.population_mid_year,
        "home_office_sources": list(figures.home_office_sources),
        "national": national,
        "regions": regions,
        "forces": [
            _force_document(f, pdf_names.get(f.force.code), figures.yearly) for f in figures.forces
        ],
    }


def _area_recorded_all_document(context: AreaRecordedAll | None) -> dict[str, Any]:
    """An area's Home Office context as printed: null where any counted force lacks it."""
    rate = context.rate if context else None
    return {
        "home_office_child_sexual_offences": context.recorded_all if context else None,
        "home_office_forces": context.forces if context else None,
        "home_office_rate_per_10000_children": one_decimal(rate) if rate is not None else None,
    }


def _exact(multiplier: int, numerator: int, denominator: int | None) -> dict[str, int] | None:
    """A printed figure's exact value, multiplier x numerator / denominator, beside it in
    figures.json so anyone can recompute it and check the cut toward zero."""
    if not denominator:
        return None
    return {"multiplier": multiplier, "numerator": numerator, "denominator": denominator}


def _fraction(value: Fraction | None) -> dict[str, int] | None:
    """An exact value known only as a fraction (in lowest terms)."""
    return None if value is None else _exact(1, value.numerator, value.denominator)


def _present(exact: dict[str, dict[str, int] | None]) -> dict[str, dict[str, int]]:
    return {name: value for name, value in exact.items() if value is not None}


def _area_exact(area: AreaFigures) -> dict[str, dict[str, int]]:
    lfl = area.like_for_like
    return _present(
        {
            "change_pct": _exact(100, lfl.difference, lfl.previous) if lfl else None,
            "rate_per_10000_children": _exact(10000, area.online_flagged, area.children),
            "per_day": _exact(1, area.online_flagged, area.days),
        }
    )


def _force_exact(figures: ForceFigures) -> dict[str, dict[str, int]]:
    change = figures.change
    shown = not figures.suppressed
    return _present(
        {
            "change_pct": _exact(100, change.difference, change.previous) if change else None,
            "ratio": _exact(1, change.current, change.previous) if change else None,
            "rate_per_10000_children": (
                _exact(10000, figures.count, figures.children) if shown else None
            ),
            "online_share_pct": (
                _exact(100, figures.count, figures.offences)
                if figures.online_share is not None
                else None
            ),
            "home_office_rate_per_10000_children": (
                _exact(10000, figures.recorded_all, figures.children)
                if figures.recorded_all and figures.recorded_all_rate  # as printed beside it
                else None
            ),
        }
    )


def _yearly_document(yearly: tuple[YearFigures, ...]) -> list[dict[str, Any]]:
    """Each year's count and rate as the charts and their tables print them, the rate's exact
    value beside it."""
    return [
        {
            "period": year.period,
            "online_flagged": year.count,
            **({"online_flagged_not_printed": year.not_printed} if year.not_printed else {}),
            "rate_per_10000_children": (
                one_decimal(year.rate_per_10000_children)
                if year.rate_per_10000_children is not None
                else None
            ),
            "exact": _present({"rate_per_10000_children": _fraction(year.rate_per_10000_children)}),
        }
        for year in yearly
    ]


def _area_document(area: AreaFigures, yearly: dict[str, tuple[YearFigures, ...]]) -> dict[str, Any]:
    lfl = area.like_for_like
    rate = area.rate_per_10000_children
    return {
        "name": area.name,
        "forces_total": area.forces_total,
        "forces_responding": area.forces_responding,
        "online_flagged": area.online_flagged,
        "like_for_like_forces": area.like_for_like_forces,
        "forces_with_both_years": area.forces_with_both_years,
        "like_for_like_current": lfl.current if lfl else None,
        "like_for_like_previous": lfl.previous if lfl else None,
        "change_pct": one_decimal(lfl.percent) if lfl and lfl.percent is not None else None,
        "change_assessment": area.assessment.value,
        "previous_forces_responding": area.previous_forces_responding,
        "children": area.children,
        "rate_per_10000_children": one_decimal(rate) if rate is not None else None,
        "forces_not_responding": list(area.not_responding),
        "forces_count_withheld_by_force": [f.name for f in area.forces_withholding],
        "forces_withheld": area.withheld_forces,
        "per_day": one_decimal(area.per_day),
        # Each printed percentage, rate and average exactly: multiplier x numerator / denominator
        "exact": _area_exact(area),
        "yearly": _yearly_document(yearly.get(area.name, ())),
        "sources": list(area.sources),
    }


def _force_document(
    figures: ForceFigures, pdf: str | None, yearly: dict[str, tuple[YearFigures, ...]]
) -> dict[str, Any]:
    change = figures.change
    rate = figures.rate_per_10000_children
    share = figures.online_share
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
        "rank": figures.rank,
        "children": figures.children,
        "rate_per_10000_children": one_decimal(rate) if rate is not None else None,
        "offences": None if figures.suppressed else figures.offences,
        "online_share_pct": one_decimal(100 * share) if share is not None else None,
        "breakdown": [
            {
                "offence_code": item.offence_code,
                "description": item.description,
                "online_flagged": None if item.withheld else item.online_flagged,
                "suppressed": item.withheld,
            }
            for item in figures.breakdown
        ],
        "home_office_child_sexual_offences": figures.recorded_all,
        "home_office_rate_per_10000_children": (
            one_decimal(figures.recorded_all_rate) if figures.recorded_all_rate else None
        ),
        # Each printed percentage, ratio and rate exactly: multiplier x numerator / denominator
        "exact": _force_exact(figures),
        "suppressed": figures.suppressed,
        "previous_suppressed": figures.previous_suppressed,
        "pdf": pdf,
        "yearly": _yearly_document(yearly.get(figures.force.code, ())),
        "sources": list(figures.sources),
    }


@dataclass(frozen=True)
class AreaRecordedAll:
    """Home Office context for a region or the nation: all recorded child sexual offences
    summed over the forces whose online-flagged counts make up the area's total."""

    recorded_all: int
    forces: int
    children: int | None  # aged 0 to 17 in those forces' areas, where every one has an estimate

    @property
    def rate(self) -> Fraction | None:
        return Fraction(10000 * self.recorded_all, self.children) if self.children else None


def area_recorded_all(figures: PeriodFigures, area: AreaFigures) -> AreaRecordedAll | None:
    """None unless every force counted in the area's total has a whole year in the Home
    Office tables: never a partial total."""
    counted = [
        f
        for f in figures.forces
        if (area.name == NATIONAL or f.force.region == area.name) and not f.suppressed
    ]
    totals = [f.recorded_all for f in counted]
    if not counted or any(total is None for total in totals):
        return None
    children = [f.children for f in counted]
    return AreaRecordedAll(
        recorded_all=sum(total for total in totals if total is not None),
        forces=len(counted),
        children=None
        if any(c is None for c in children)
        else sum(c for c in children if c is not None),
    )
