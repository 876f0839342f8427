"""Properties over random returns and random numbers (hypothesis)."""

from fractions import Fraction

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from briefings.domain.figures import compute_period_figures, figures_document
from briefings.domain.periods import Period
from briefings.domain.wording import decimal_words, fold_words, per_day_words, percent_words
from briefings.reference import force_register

WORD_NUMBERS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
fractions = st.fractions(min_value=Fraction(1, 1000), max_value=100000, max_denominator=10000)


@given(fractions)
def test_percent_words_never_exceed_the_exact_value(value):
    words = percent_words(value)
    if words.startswith("less than"):
        assert abs(value) < 1
    else:
        assert int(words.split()[0].replace(",", "")) <= abs(value)


@given(fractions)
def test_fold_words_never_exceed_the_exact_ratio(ratio):
    words = fold_words(ratio)
    if words is None:
        assert ratio < 2
        return
    more = words.startswith("more than ")
    said = words.removeprefix("more than ")
    folds = 2 if said == "doubled" else said.removesuffix("-fold")
    k = WORD_NUMBERS.get(folds) or int(str(folds).replace(",", ""))
    assert (ratio > k) if more else (ratio == k)  # exactly k, or more: never overstated
    assert ratio < k + 1


@given(fractions)
def test_per_day_and_decimal_words_never_exceed_the_exact_value(value):
    words = per_day_words(value)
    if not words.startswith("fewer than"):
        first = words.split()[0]
        number = {"one": 1, **WORD_NUMBERS}.get(first) or int(first.replace(",", ""))
        assert number <= value < number + 1
    assert Fraction(decimal_words(value).replace(",", "")) <= value


codes = [force.code for force in force_register().forces]
returns_strategy = st.dictionaries(
    keys=st.tuples(st.sampled_from(codes), st.sampled_from(["2015/16", "2016/17"])),
    values=st.integers(min_value=0, max_value=3000),
    min_size=1,
    max_size=60,
)


def frame_of(counts: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "force_code": code,
                "financial_year": year,
                "offence_code": "ALL",
                "offence_description": None,
                "offences": pd.NA,
                "online_flagged": count,
                "source_file": f"{code}.csv",
                "source_row": 2,
            }
            for (code, year), count in counts.items()
        ]
    ).astype({"offences": "Int64", "online_flagged": "Int64"})


@settings(max_examples=60, deadline=None)
@given(returns_strategy)
def test_national_totals_and_like_for_like_follow_the_rules(counts):
    period = Period.parse("2016/17")
    if not any(year == "2016/17" for _, year in counts):
        return
    figures = compute_period_figures(frame_of(counts), period, force_register())
    current = {code: n for (code, year), n in counts.items() if year == "2016/17"}
    previous = {code: n for (code, year), n in counts.items() if year == "2015/16"}
    printable = {code for code, n in current.items() if not 0 < n < 5}
    national = figures.national
    assert national.forces_responding == len(current)
    assert national.withheld_forces == len(current) - len(printable)
    assert national.online_flagged == sum(current[c] for c in printable)
    both = {c for c in printable & set(previous) if not 0 < previous[c] < 5}
    assert national.like_for_like_forces == len(both)
    if both:
        assert national.like_for_like.current == sum(current[c] for c in both)
        assert national.like_for_like.previous == sum(previous[c] for c in both)
    assert sum(r.online_flagged for r in figures.regions) == national.online_flagged

    # No withheld count can be recovered: every printed total is a sum of printed counts.
    document = figures_document(figures, {})
    printed = {f["code"]: f for f in document["forces"]}
    for area in [document["national"], *document["regions"]]:
        members = [
            f for f in printed.values() if area["name"] in ("England and Wales", f["region"])
        ]
        assert area["online_flagged"] == sum(f["online_flagged"] or 0 for f in members)
        paired = [
            f
            for f in members
            if f["online_flagged"] is not None and f["previous_online_flagged"] is not None
        ]
        if area["like_for_like_current"] is not None:
            assert area["like_for_like_current"] == sum(f["online_flagged"] for f in paired)
            assert area["like_for_like_previous"] == sum(
                f["previous_online_flagged"] for f in paired
            )
    for code, force in printed.items():
        assert force["suppressed"] == (0 < current[code] < 5)
        assert (force["online_flagged"] is None) == force["suppressed"]
        if force["suppressed"] or force["previous_suppressed"]:
            assert (
                force["change_pct"] is None and force["ratio"] is None and force["change"] is None
            )
        if force["suppressed"]:
            assert force["rate_per_10000_children"] is None
    history = dict(figures.national_history)
    assert history.get("2016/17", 0) == national.online_flagged


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["17B", "19D", "19E", "21", "22B", "71", "73", "88A"]),
        st.integers(min_value=0, max_value=60),
        min_size=1,
    )
)
def test_no_withheld_breakdown_item_can_be_worked_out(counts):
    from briefings.domain.figures import breakdown, is_small

    rows = pd.DataFrame(
        [
            {
                "force_code": "E23000032",
                "financial_year": "2016/17",
                "offence_code": code,
                "offence_description": None,
                "offences": pd.NA,
                "online_flagged": n,
                "source_file": "x.csv",
                "source_row": 2,
            }
            for code, n in counts.items()
        ]
    ).astype({"offences": "Int64", "online_flagged": "Int64"})
    total_withheld = is_small(sum(counts.values()), 5)
    items = breakdown(rows, total_withheld=total_withheld, threshold=5)
    withheld = [item for item in items if item.withheld]
    assert all(item.withheld for item in items if is_small(item.online_flagged, 5))
    if withheld and not total_withheld:  # the total is printed: it must not isolate any item
        assert len(withheld) >= 2  # the total minus the printed items never isolates one
        values = [item.online_flagged for item in withheld]
        if all(is_small(v, 5) for v in values):
            assert sum(values) not in (len(values), 4 * len(values))
