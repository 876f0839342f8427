"""Figures by the domain rules: totals, like-for-like changes, the Poisson assessment."""

import pandas as pd
import pytest

from flows.figures import (
    Assessment,
    assess_change,
    compute_period_figures,
    figures_document,
    force_year_totals,
    one_decimal,
    rate_test_p_value,
)
from flows.periods import Period
from flows.reference import force_register


def returns(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    register = force_register()
    return pd.DataFrame(
        [
            {
                "force_code": register.resolve(force).code,
                "financial_year": year,
                "offence_code": code,
                "offence_description": None,
                "offences": pd.NA,
                "online_flagged": count,
                "source_file": f"{force.lower()}.csv",
                "source_row": index + 2,
            }
            for index, (force, year, code, count) in enumerate(rows)
        ]
    ).astype({"offences": "Int64", "online_flagged": "Int64"})


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (44, 10, Assessment.ROSE),
        (58, 112, Assessment.FELL),
        (72, 59, Assessment.UNCHANGED),
        (5653, 3903, Assessment.ROSE),
        (12, 9, Assessment.TOO_FEW),  # one count under 10
        (9, 30, Assessment.TOO_FEW),
        (100, None, Assessment.NO_COMPARISON),
        (None, 100, Assessment.NO_COMPARISON),
    ],
)
def test_changes_are_assessed_with_an_exact_test(current, previous, expected):
    assert assess_change(current, previous, 365, 366) is expected


def test_the_exact_test_allows_for_the_days_in_each_year():
    # 366 against 365 offences is exactly one a day in both years: no change at all.
    assert rate_test_p_value(365, 366, 365, 366) == pytest.approx(1.0)
    assert rate_test_p_value(20, 40, 365, 365) < 0.05


@pytest.mark.parametrize(
    ("value", "expected"),
    [(44.84, 44.8), (44.85, 44.9), (15.4877, 15.5), (-48.25, -48.3), (340, 340.0)],
)
def test_tables_round_half_up_to_one_decimal(value, expected):
    assert one_decimal(value) == expected


def test_a_force_total_is_its_all_row_or_the_sum_of_its_offence_codes():
    frame = returns(
        [
            ("Kent", "2016/17", "ALL", 100),
            ("Kent", "2016/17", "19D", 40),
            ("Wiltshire", "2016/17", "22B", 30),
            ("Wiltshire", "2016/17", "88A", 14),
        ]
    )
    totals = force_year_totals(frame).set_index("force_code")["online_flagged"]
    assert totals.to_dict() == {"E23000032": 100, "E23000038": 44}


def test_national_change_is_like_for_like_over_forces_with_both_years():
    frame = returns(
        [
            ("Wiltshire", "2015/16", "ALL", 10),
            ("Wiltshire", "2016/17", "ALL", 44),
            ("Kent", "2015/16", "ALL", 200),
            ("Kent", "2016/17", "ALL", 230),
            ("Durham", "2016/17", "ALL", 190),  # no previous year: counted, not compared
        ]
    )
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    national = figures.national
    assert national.forces_responding == 3
    assert national.online_flagged == 464
    assert national.like_for_like_forces == 2
    assert (national.like_for_like.previous, national.like_for_like.current) == (210, 274)
    assert float(national.per_day) == pytest.approx(464 / 365)
    assert figures.force("E23000008").assessment is Assessment.NO_COMPARISON


def test_per_day_uses_366_days_in_a_leap_year():
    frame = returns([("Hampshire", "2019/20", "ALL", 366), ("Hampshire", "2018/19", "ALL", 300)])
    figures = compute_period_figures(frame, Period.parse("2019/20"), force_register())
    assert figures.national.per_day == 1


def test_figures_json_prints_suppressed_counts_and_what_derives_from_them_as_null():
    frame = returns(
        [
            ("Cumbria", "2015/16", "ALL", 3),
            ("Cumbria", "2016/17", "ALL", 12),
            ("Wiltshire", "2015/16", "ALL", 10),
            ("Wiltshire", "2016/17", "ALL", 44),
            ("Durham", "2016/17", "ALL", 190),
        ]
    )
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    document = figures_document(figures, {})
    by_name = {force["name"]: force for force in document["forces"]}
    cumbria = by_name["Cumbria"]
    assert cumbria["online_flagged"] == 12
    assert cumbria["previous_online_flagged"] is None and cumbria["previous_suppressed"] is True
    assert cumbria["change_pct"] is None and cumbria["ratio"] is None
    assert by_name["Durham"]["previous_online_flagged"] is None
    assert by_name["Durham"]["suppressed"] is False
    wiltshire = by_name["Wiltshire"]
    assert (wiltshire["change_pct"], wiltshire["ratio"], wiltshire["change"]) == (340.0, 4.4, 34)
    assert wiltshire["sources"] == ["wiltshire.csv"]


def test_largest_rises_are_only_forces_whose_count_rose_by_the_test():
    frame = returns(
        [
            ("Wiltshire", "2015/16", "ALL", 10),
            ("Wiltshire", "2016/17", "ALL", 44),
            ("Kent", "2015/16", "ALL", 200),
            ("Kent", "2016/17", "ALL", 215),  # not a tested rise
            ("Essex", "2015/16", "ALL", 100),
            ("Essex", "2016/17", "ALL", 180),
        ]
    )
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    assert [f.force.name for f in figures.largest_rises] == ["Essex", "Wiltshire"]
