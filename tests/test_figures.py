"""Figures by the domain rules: totals, like-for-like changes, the Poisson assessment."""

from fractions import Fraction

import pandas as pd
import pytest

from briefings.domain.figures import (
    Assessment,
    assess_change,
    breakdown,
    compute_period_figures,
    figures_document,
    force_year_totals,
    one_decimal,
    rate_test_p_value,
)
from briefings.domain.periods import Period
from briefings.reference import child_population, force_register


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
    [
        (44.84, 44.8),
        (44.85, 44.8),
        (Fraction(4496, 100), 44.9),
        (15.4877, 15.4),
        (-48.25, -48.2),  # toward zero: a fall is never overstated either
        (Fraction(-4496, 100), -44.9),
        (340, 340.0),
    ],
)
def test_tables_and_figures_json_cut_toward_zero_at_one_decimal(value, expected):
    assert one_decimal(value) == expected


def test_figures_json_prints_each_figure_cut_toward_zero_beside_its_exact_value():
    """A fall of 44.96 per cent is printed -44.9, with the counts it comes from, so anyone can
    recompute it; rates, ratios and averages a day likewise."""
    rows = [("Kent", "2015/16", "ALL", 2500), ("Kent", "2016/17", "ALL", 1376)]
    rows += [("Wiltshire", "2015/16", "ALL", 10), ("Wiltshire", "2016/17", "ALL", 44)]
    figures = compute_period_figures(
        returns(rows), Period.parse("2016/17"), force_register(), 5, child_population()
    )
    document = figures_document(figures, {})
    kent = next(f for f in document["forces"] if f["name"] == "Kent")
    assert kent["change_pct"] == -44.9  # -44.96: never rounded to -45.0
    assert kent["exact"]["change_pct"] == {
        "multiplier": 100,
        "numerator": -1124,
        "denominator": 2500,
    }
    assert kent["exact"]["ratio"] == {"multiplier": 1, "numerator": 1376, "denominator": 2500}
    children = kent["children"]
    assert kent["exact"]["rate_per_10000_children"] == {
        "multiplier": 10000,
        "numerator": 1376,
        "denominator": children,
    }
    assert kent["rate_per_10000_children"] == int(Fraction(10000 * 1376, children) * 10) / 10
    national = document["national"]
    assert national["exact"]["per_day"] == {"multiplier": 1, "numerator": 1420, "denominator": 365}
    assert national["per_day"] == 3.8  # 3.89 a day
    for entry in (*kent["yearly"], *national["yearly"]):
        exact = entry["exact"]["rate_per_10000_children"]
        value = Fraction(exact["multiplier"] * exact["numerator"], exact["denominator"])
        assert entry["rate_per_10000_children"] == int(value * 10) / 10


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


def test_regions_rates_and_ranks():
    frame = returns(
        [
            ("Wiltshire", "2015/16", "ALL", 10),
            ("Wiltshire", "2016/17", "ALL", 44),
            ("Dorset", "2015/16", "ALL", 30),
            ("Dorset", "2016/17", "ALL", 33),
            ("Gloucestershire", "2016/17", "ALL", 60),  # no previous year: not like-for-like
            ("Kent", "2015/16", "ALL", 200),
            ("Kent", "2016/17", "ALL", 230),
        ]
    )
    population = child_population()
    figures = compute_period_figures(
        frame, Period.parse("2016/17"), force_register(), population=population
    )
    south_west = figures.region("South West")
    assert (south_west.forces_total, south_west.forces_responding) == (5, 3)
    assert south_west.like_for_like_forces == 2
    assert (south_west.like_for_like.previous, south_west.like_for_like.current) == (40, 77)
    assert south_west.not_responding == ("Avon and Somerset", "Devon and Cornwall")
    mid_2016 = population[population["mid_year"] == 2016].set_index("force_code")["children"]
    wiltshire = figures.force("E23000038")
    assert wiltshire.children == mid_2016["E23000038"]
    assert wiltshire.rate_per_10000_children == Fraction(440000, int(mid_2016["E23000038"]))
    codes = ["E23000038", "E23000039", "E23000037"]
    assert south_west.children == sum(int(mid_2016[c]) for c in codes)
    assert [figures.force(c).rank for c in ("E23000032", "E23000037", "E23000038")] == [1, 2, 3]
    assert len(figures.regions) == 10
    assert figures.region("London").forces_responding == 0
    assert figures.region("London").rate_per_10000_children is None


def test_no_rate_where_the_period_has_no_population_estimate():
    # The reference estimates end at mid-2024: 2025/26 has none.
    frame = returns([("Hampshire", "2025/26", "ALL", 247)])
    figures = compute_period_figures(
        frame, Period.parse("2025/26"), force_register(), population=child_population()
    )
    assert figures.force("E23000030").rate_per_10000_children is None
    assert figures.national.rate_per_10000_children is None


def test_no_rate_or_change_from_a_suppressed_count():
    frame = returns([("Cumbria", "2015/16", "ALL", 30), ("Cumbria", "2016/17", "ALL", 4)])
    figures = compute_period_figures(
        frame, Period.parse("2016/17"), force_register(), population=child_population()
    )
    cumbria = figures.force("E23000002")
    assert cumbria.suppressed and cumbria.change is None
    assert cumbria.rate_per_10000_children is None


def test_largest_falls_are_only_forces_whose_count_fell_by_the_test():
    frame = returns(
        [
            ("Lincolnshire", "2015/16", "ALL", 112),
            ("Lincolnshire", "2016/17", "ALL", 58),
            ("Kent", "2015/16", "ALL", 200),
            ("Kent", "2016/17", "ALL", 190),
        ]
    )
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    assert [f.force.name for f in figures.largest_falls] == ["Lincolnshire"]


@pytest.mark.parametrize(
    ("current", "previous", "assessment"),
    # Both counts must be at least 10 for a change to be called a rise or a fall.
    [(0, 30, Assessment.TOO_FEW), (20, 10, Assessment.UNCHANGED), (30, 0, Assessment.TOO_FEW)],
)
def test_edge_cases_a_fall_to_zero_exactly_double_and_from_zero(current, previous, assessment):
    frame = returns([("Kent", "2015/16", "ALL", previous), ("Kent", "2016/17", "ALL", current)])
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    kent = figures.force("E23000032")
    assert kent.assessment is assessment
    if previous == 0:
        assert kent.change.ratio is None and kent.change.percent is None


def test_exactly_one_withheld_force_nationally_is_left_out_of_every_total():
    frame = returns(
        [
            ("Wiltshire", "2015/16", "ALL", 10),
            ("Wiltshire", "2016/17", "ALL", 44),
            ("Cumbria", "2015/16", "ALL", 20),
            ("Cumbria", "2016/17", "ALL", 3),
        ]
    )
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    national = figures.national
    assert (national.forces_responding, national.withheld_forces) == (2, 1)
    assert national.online_flagged == 44  # not 47, which would reveal Cumbria's 3
    assert (national.like_for_like.previous, national.like_for_like.current) == (10, 44)
    assert dict(figures.national_history) == {"2015/16": 30, "2016/17": 44}


def test_a_region_where_every_force_is_withheld_prints_no_total_or_change():
    frame = returns([("Cumbria", "2016/17", "ALL", 3), ("Lancashire", "2016/17", "ALL", 2)])
    figures = compute_period_figures(frame, Period.parse("2016/17"), force_register())
    north_west = figures.region("North West")
    assert (north_west.forces_responding, north_west.withheld_forces) == (2, 2)
    assert north_west.online_flagged == 0 and north_west.like_for_like is None
    document = figures_document(figures, {})
    region = next(r for r in document["regions"] if r["name"] == "North West")
    assert region["forces_withheld"] == 2 and region["change_pct"] is None


def breakdown_rows(counts: dict[str, int]) -> pd.DataFrame:
    return returns([("Kent", "2016/17", code, n) for code, n in counts.items()])


@pytest.mark.parametrize(
    ("counts", "withheld"),
    [
        ({"19D": 3, "22B": 40, "88A": 12}, {"19D", "88A"}),  # one small: the next smallest too
        ({"19D": 1, "21": 1, "22B": 40, "88A": 12}, {"19D", "21", "88A"}),  # 1 + 1 would tell
        ({"19D": 2, "21": 3, "22B": 40}, {"19D", "21"}),  # 5 from two cells: not solvable
        ({"19D": 30, "22B": 40}, set()),
    ],
)
def test_breakdowns_withhold_small_counts_and_any_that_would_reveal_them(counts, withheld):
    items = breakdown(breakdown_rows(counts), total_withheld=False, threshold=5)
    assert {item.offence_code for item in items if item.withheld} == withheld


def test_share_flagged_online_and_home_office_context():
    frame = breakdown_rows({"22B": 30, "88A": 14}).assign(offences=pd.array([170, 52], "Int64"))
    context = pd.DataFrame(
        {
            "force_code": "E23000032",
            "financial_year": "2016/17",
            "quarter": [1, 2, 3, 4],
            "child_sexual_offences": [100, 110, 120, 130],
            "source_file": "home-office/prc-pfa-2016-17.csv",
        }
    )
    figures = compute_period_figures(
        frame,
        Period.parse("2016/17"),
        force_register(),
        population=child_population(),
        home_office=context,
    )
    kent = figures.force("E23000032")
    assert kent.offences == 222 and kent.online_share == Fraction(44, 222)
    assert kent.recorded_all == 460
    document = figures_document(figures, {})["forces"][0]
    assert document["online_share_pct"] == 19.8
    assert document["home_office_child_sexual_offences"] == 460
    assert figures.home_office_sources == ("home-office/prc-pfa-2016-17.csv",)
    assert figures_document(figures, {})["home_office_sources"] == [
        "home-office/prc-pfa-2016-17.csv"
    ]
    # Three quarters only: no context rather than a part-year figure.
    partial = compute_period_figures(
        frame, Period.parse("2016/17"), force_register(), home_office=context.iloc[:3]
    )
    assert partial.force("E23000032").recorded_all is None
    assert partial.home_office_sources == ()  # nothing used, nothing named


def test_the_made_up_note_names_only_the_sample_returns_when_real_ones_are_used_too():
    """A real correction beside the bundled sample returns is never called made up."""
    from briefings.domain.briefing import Source, _illustrative_note

    sample = Source("foi-2017-compiled.csv", "2017-05-01", illustrative=True)
    real = Source("wiltshire-correction.csv", "2017-06-02", illustrative=False)
    assert _illustrative_note([real], []) == []
    (only_samples,) = _illustrative_note([sample], [])
    assert only_samples.endswith("None of its figures is a published figure; all were made up.")
    (mixed,) = _illustrative_note([sample, real], ["Wiltshire 2016/17: 44 (NSPCC)"])
    assert mixed == (
        "Illustrative figures: the figures from foi-2017-compiled.csv (sample returns bundled "
        "with the briefings software) were made up to fit published totals and are not police "
        "data; only these match published figures (source in brackets): Wiltshire 2016/17: 44 "
        "(NSPCC). The figures from the other returns listed are as those returns give them."
    )
    assert "Every other figure" not in mixed


def test_a_year_without_a_count_says_why_in_the_chart_and_its_table():
    """Too small to print, withheld by the force, and no return at all are three different
    things: a year the force never returned is never shown as 'fewer than 5'."""
    from briefings.render.charts import force_chart

    frame = returns(
        [
            ("Cumbria", "2015/16", "ALL", 4),
            ("Cumbria", "2016/17", "ALL", 30),
            ("Dorset", "2015/16", "ALL", pd.NA),
            ("Dorset", "2016/17", "ALL", 31),
            ("Wiltshire", "2016/17", "ALL", 44),
        ]
    )
    figures = compute_period_figures(
        frame, Period.parse("2016/17"), force_register(), population=child_population()
    )
    said = {}
    for code in ("E23000002", "E23000039", "E23000038"):  # Cumbria, Dorset, Wiltshire
        chart = force_chart(figures.force(code), figures)
        said[code] = chart.table.rows[0][:2]
    assert said == {
        "E23000002": ("2015/16", "fewer than 5"),
        "E23000039": ("2015/16", "withheld by the force"),
        "E23000038": ("2015/16", "not given"),
    }
    yearly = {
        force["name"]: force["yearly"][0] for force in figures_document(figures, {})["forces"]
    }
    assert yearly["Wiltshire"]["online_flagged_not_printed"] == "not given"
    assert yearly["Dorset"]["online_flagged_not_printed"] == "withheld"
    assert yearly["Cumbria"]["online_flagged_not_printed"] == "suppressed"


def test_every_year_a_briefing_prints_is_traced_to_its_files():
    """An outsider found a 2019/20 briefing printing 2015/16 to 2017/18 from the bundled
    sample returns while its sources (and so its note that the figures are made up) named
    only the new return: the sources must cover every year the chart and table print."""
    frame = returns(
        [
            ("Kent", "2015/16", "ALL", 112),
            ("Kent", "2016/17", "ALL", 180),
            ("Kent", "2017/18", "ALL", 209),
            ("Wiltshire", "2016/17", "ALL", 44),  # responded once, years ago
        ]
    )
    names = iter(["kent-2016.csv", "kent-2017.csv", "kent-2018.csv", "wiltshire-2017.csv"])
    frame["source_file"] = [next(names) for _ in range(len(frame))]
    figures = compute_period_figures(frame, Period.parse("2017/18"), force_register())
    kent = figures.force("E23000032")
    assert [year for year, _ in kent.history] == ["2015/16", "2016/17", "2017/18"]
    assert kent.sources == ("kent-2016.csv", "kent-2017.csv", "kent-2018.csv")
    assert kent.total_sources == kent.sources
    # The nation's chart prints 2016/17's total, Wiltshire's 44 in it.
    national = figures.national
    assert [year.period for year in figures.yearly["England and Wales"]] == [
        "2015/16",
        "2016/17",
        "2017/18",
    ]
    assert national.sources == (
        "kent-2016.csv",
        "kent-2017.csv",
        "kent-2018.csv",
        "wiltshire-2017.csv",
    )
    assert figures.region("South East").sources == kent.sources
    document = figures_document(figures, {})
    assert document["national"]["sources"] == list(national.sources)
    assert next(f for f in document["forces"] if f["name"] == "Kent")["sources"] == list(
        kent.sources
    )


def test_a_year_the_force_withheld_is_said_to_be_withheld_not_missing():
    """An outsider found Cumbria's 2019/20 briefing saying 'No figure for 2018/19 was
    provided' and 'no figure' in its table, where Cumbria had answered '<5' for 2018/19 (its
    chart's table said 'withheld by the force')."""
    from briefings.domain.wording import force_lead, table_count

    frame = returns([("Cumbria", "2018/19", "ALL", None), ("Cumbria", "2019/20", "ALL", 81)])
    figures = compute_period_figures(frame, Period.parse("2019/20"), force_register())
    cumbria = figures.force("E23000002")
    assert cumbria.previous is None and cumbria.previous_withheld
    assert force_lead(cumbria, figures.period) == (
        "Police in Cumbria recorded 81 child sexual offences with an online flag in 2019/20. "
        "The force withheld its count for 2018/19, so no comparison is made."
    )
    assert table_count(cumbria.previous, 5, cumbria.previous_withheld) == "withheld by the force"
    # A force that sent nothing for the year before: no figure was provided.
    frame = returns([("Cumbria", "2019/20", "ALL", 81)])
    alone = compute_period_figures(frame, Period.parse("2019/20"), force_register())
    assert not alone.force("E23000002").previous_withheld
    assert force_lead(alone.force("E23000002"), alone.period).endswith(
        "No figure for 2018/19 was provided, so no comparison is made."
    )
