"""House style and prose: one rounding rule (cut toward zero), articles, plurals, folds,
force names as people say them, and headlines that say whose change they give."""

import csv
import re
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from briefings.domain import style
from briefings.domain.figures import AreaFigures, Assessment, Change, ForceFigures, one_decimal
from briefings.domain.periods import Period
from briefings.domain.wording import (
    area_paragraph,
    area_paragraphs,
    area_rate_sentence,
    assessment_words,
    count_words,
    decimal_words,
    fold_words,
    force_headline,
    force_lead,
    largest_rises_sentence,
    national_headline,
    national_paragraphs,
    ordinal,
    per_day_words,
    percent_change,
    percent_words,
    rank_words,
    rate_sentence,
    recorded_all_sentence,
    region_headline,
    table_count,
    thousands,
    withheld_sentence,
)
from briefings.reference import force_register
from briefings.resources import REFERENCE_DIR

# --- one rounding rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "words"),
    [
        (Fraction(448, 10), "44 per cent"),
        (Fraction(4499, 100), "44 per cent"),
        (Fraction(-482, 10), "48 per cent"),  # a fall: magnitude toward zero
        (Fraction(340), "340 per cent"),
        (Fraction(1, 2), "less than 1 per cent"),
        (Fraction(123456, 100), "1,234 per cent"),
    ],
)
def test_percentages_round_toward_zero(percent, words):
    assert percent_words(percent) == words


@pytest.mark.parametrize(
    ("value", "places", "signed", "text"),
    [
        (Fraction(4496, 100), 1, True, "+44.9"),  # the sentence says 44 per cent
        (Fraction(-4496, 100), 1, True, "-44.9"),  # a fall of 44.9 per cent: "a 44 per cent fall"
        (Fraction(327, 100), 1, False, "3.2"),
        (Fraction(5653, 365), 1, False, "15.4"),  # 15.487 a day: "15 a day"
        (Fraction(123456, 10), 1, False, "12,345.6"),
        (Fraction(-1, 100), 1, True, "0.0"),  # cut to zero: no sign
        (Fraction(5653), 0, False, "5,653"),
        (4.4, 1, False, "4.4"),  # a float is the decimal it prints as
    ],
)
def test_tables_print_figures_cut_toward_zero(value, places, signed, text):
    assert style.decimal(value, places, signed=signed) == text


@given(
    st.fractions(min_value=-100000, max_value=100000, max_denominator=100000),
)
def test_a_sentence_never_contradicts_its_table(value):
    """Whatever the exact value, the sentence's whole number is the table's figure without
    its decimal, and figures.json holds the table's figure."""
    table = style.decimal(value, 1, signed=True)
    sentence = percent_words(value)
    whole = table.lstrip("+-").split(".")[0]
    if sentence.startswith("less than"):
        assert whole == "0"
    else:
        assert sentence == f"{whole} per cent"
    assert one_decimal(value) == float(table.replace(",", ""))
    assert abs(Fraction(str(one_decimal(value)))) <= abs(value)  # never overstated


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        (Fraction(5653, 365), "15 a day"),
        (Fraction(3903, 366), "10 a day"),
        (Fraction(300, 365), "fewer than one a day"),
        (Fraction(36600, 366), "100 a day"),
        (Fraction(1200, 365), "three a day"),
    ],
)
def test_per_day_rates_round_toward_zero(rate, words):
    assert per_day_words(rate) == words


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (Fraction(297, 100), "2.9"),
        (Fraction(47), "47.0"),
        (Fraction(123456, 10), "12,345.6"),
        (Fraction(1, 100), "0.0"),
    ],
)
def test_decimals_in_sentences_round_toward_zero(value, words):
    assert decimal_words(value) == words


# --- numbers in words, articles, plurals ------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "words", "table"),
    [
        (0, "no", "0"),
        (3, "fewer than 5", "fewer than 5"),
        (4, "fewer than 5", "fewer than 5"),
        (5, "five", "5"),
        (9, "nine", "9"),
        (10, "10", "10"),
        (5653, "5,653", "5,653"),
        (None, "no figure", "no figure"),
    ],
)
def test_counts_in_sentences_and_tables(count, words, table):
    """One to nine in words in prose; tables always in figures."""
    assert count_words(count, threshold=5) == words
    assert table_count(count, threshold=5) == table


def test_thousands_use_commas():
    assert thousands(1234567) == "1,234,567"


@pytest.mark.parametrize(
    ("phrase", "article"),
    [
        ("88 per cent rise", "an"),
        ("8 per cent rise", "an"),
        ("11 per cent fall", "an"),
        ("18 per cent rise", "an"),
        ("80 per cent rise", "an"),
        ("800 per cent rise", "an"),
        ("8,000", "an"),
        ("11,500", "an"),
        ("18,000,000", "an"),
        ("8.5", "an"),
        ("eight-fold increase", "an"),
        ("eleven", "an"),
        ("increase", "an"),
        ("1 per cent rise", "a"),
        ("100 per cent rise", "a"),
        ("1,100", "a"),
        ("44 per cent rise", "a"),
        ("110 per cent rise", "a"),
        ("0.5", "a"),
        ("four-fold increase", "a"),
        ("one", "a"),
        ("rise", "a"),
    ],
)
def test_an_before_a_vowel_sound(phrase, article):
    assert style.article(phrase) == article
    assert style.with_article(phrase) == f"{article} {phrase}"


@pytest.mark.parametrize(
    ("percent", "rise", "words"),
    [
        (Fraction(88), True, "an 88 per cent rise"),
        (Fraction(-1150, 100), False, "an 11 per cent fall"),
        (Fraction(18), True, "an 18 per cent rise"),
        (Fraction(44), True, "a 44 per cent rise"),
        (Fraction(1, 2), True, "a rise of less than 1 per cent"),
    ],
)
def test_percent_changes_take_the_right_article(percent, rise, words):
    assert percent_change(percent, rise) == words


@pytest.mark.parametrize(
    ("count", "singular", "words", "text"),
    [
        (1, "PDF", False, "1 PDF"),
        (2, "PDF", False, "2 PDFs"),
        (1, "problem", False, "1 problem"),
        (0, "return", False, "0 returns"),
        (1, "force", True, "one force"),
        (5, "force", True, "five forces"),
        (12, "force", True, "12 forces"),
    ],
)
def test_plurals(count, singular, words, text):
    assert style.plural(count, singular, words=words) == text


def test_irregular_plurals_are_given_whole():
    assert style.plural(1, "child", "children") == "1 child"
    assert style.plural(3, "child", "children") == "3 children"


@pytest.mark.parametrize(
    ("part", "total", "words"),
    [
        (4, 4, "all four of its forces"),
        (1, 5, "one of its five forces"),
        (2, 5, "two of its five forces"),
        (39, 43, "39 of its 43 forces"),
        (1, 1, "its only force"),
    ],
)
def test_how_many_of_a_group(part, total, words):
    assert style.all_or_some(part, total, "force") == words


# --- folds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (Fraction(2), "doubled"),
        (Fraction(29, 10), "more than doubled"),  # never "three-fold" for 2.9 times
        (Fraction(3), "three-fold"),
        (Fraction(44, 10), "more than four-fold"),
        (Fraction(199, 100), None),
        (Fraction(10), "ten-fold"),
        (Fraction(101, 10), "more than ten-fold"),
        (Fraction(15), "15-fold"),
        (Fraction(152, 10), "more than 15-fold"),
        (Fraction(1, 2), None),
    ],
)
def test_folds_round_toward_zero(ratio, words):
    assert fold_words(ratio) == words


# --- force names as people say them ------------------------------------------------------------


def _force(name: str, count: int, previous: int | None, assessment: Assessment) -> ForceFigures:
    force = force_register().resolve(name)
    return ForceFigures(force, count, previous, assessment, (), (), threshold=5)


PERIOD = Period.parse("2016/17")


def test_every_force_has_a_spoken_name_from_its_own_name():
    """All 43 forces: the reference gives each its spoken name, derived by one rule from the
    name the force goes by (police.uk): '<X> Police' as it is, the Metropolitan Police Service
    as 'the Metropolitan Police', a constabulary (whose names have changed over the years) as
    'police in <area>'."""
    register = force_register()
    with (REFERENCE_DIR / "force-spoken-names.csv").open(newline="") as handle:
        rows = {row["pfa_code"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {force.code for force in register.forces}
    assert len(register.forces) == 43
    for force in register.forces:
        row = rows[force.code]
        assert row["force_name"] == force.name
        own = row["police_uk_name"].replace(" & ", " and ")
        if own == "Metropolitan Police Service":
            expected = "the Metropolitan Police"
        elif own.endswith(" Constabulary"):
            expected = f"police in {force.name}"
        else:
            assert own.endswith(" Police"), own
            expected = own
        assert force.spoken == expected, force.name


@pytest.mark.parametrize("force", force_register().forces, ids=lambda force: force.slug)
def test_every_force_reads_as_people_say_it(force):
    figures = ForceFigures(force, 44, 10, Assessment.ROSE, (), (), threshold=5)
    lead = force_lead(figures, PERIOD)
    headline = force_headline(figures)
    text = f"{headline}. {lead}"
    assert not re.search(r"[Pp]olice in [\w ,&-]*Police\b", text), text
    assert not re.search(r"recorded in (?!\d{4}/\d\d)", text), text  # only "in 2015/16"
    assert lead.startswith(style.capitalised(force.spoken) + " recorded 44 ")
    assert headline.startswith(f"Online child sexual offences recorded by {force.spoken} ")


def test_the_metropolitan_police_is_named_as_people_say_it():
    met = _force("Metropolitan Police", 1500, 1000, Assessment.ROSE)
    assert force_headline(met) == (
        "Online child sexual offences recorded by the Metropolitan Police up 50 per cent"
    )
    assert force_lead(met, PERIOD).startswith("The Metropolitan Police recorded 1,500 ")
    met = replace_count(met, recorded_all=4000)
    assert "show the Metropolitan Police recorded 4,000" in recorded_all_sentence(met, PERIOD)
    listed = largest_rises_sentence((met, _force("Devon and Cornwall", 120, 40, Assessment.ROSE)))
    assert listed == (
        "The largest increases in number were recorded by the Metropolitan Police (1,000 to "
        "1,500) and Devon and Cornwall Police (40 to 120)."
    )


def replace_count(figures: ForceFigures, **changes) -> ForceFigures:
    from dataclasses import replace

    return replace(figures, **changes)


@pytest.mark.parametrize(
    ("force", "headline", "lead_contains"),
    [
        (
            _force("Wiltshire", 44, 10, Assessment.ROSE),
            "Online child sexual offences recorded by Wiltshire Police up more than four-fold",
            "Wiltshire Police recorded 44 child sexual offences with an online flag in 2016/17, "
            "more than four times the 10 recorded in 2015/16.",
        ),
        (
            _force("Cleveland", 145, 100, Assessment.ROSE),
            "Online child sexual offences recorded by Cleveland Police up 45 per cent",
            "a 45 per cent rise on the 100 recorded in 2015/16",
        ),
        (
            _force("Gwent", 188, 100, Assessment.ROSE),
            "Online child sexual offences recorded by Gwent Police up 88 per cent",
            "an 88 per cent rise on the 100 recorded in 2015/16",
        ),
        (
            _force("Kent", 40, 20, Assessment.ROSE),
            "Online child sexual offences recorded by Kent Police double",
            "double the 20 recorded in 2015/16",
        ),
        (
            _force("Essex", 50, 20, Assessment.ROSE),
            "Online child sexual offences recorded by Essex Police more than double",
            "more than double the 20 recorded in 2015/16",
        ),
        (
            _force("Sussex", 60, 20, Assessment.ROSE),
            "Online child sexual offences recorded by Sussex Police up three-fold",
            "three times the 20 recorded in 2015/16",
        ),
        (
            _force("Lincolnshire", 58, 112, Assessment.FELL),
            "Online child sexual offences recorded by Lincolnshire Police down 48 per cent",
            "a 48 per cent fall from the 112 recorded in 2015/16",
        ),
        (
            _force("Surrey", 89, 100, Assessment.FELL),
            "Online child sexual offences recorded by Surrey Police down 11 per cent",
            "an 11 per cent fall from the 100 recorded in 2015/16",
        ),
        (
            _force("Northamptonshire", 72, 59, Assessment.UNCHANGED),
            "Online child sexual offences recorded by Northamptonshire Police broadly unchanged",
            "compared with 59 in 2015/16",
        ),
        (
            _force("Cumbria", 12, 3, Assessment.TOO_FEW),
            "Police in Cumbria record 12 online child sexual offences",
            "compared with fewer than 5 in 2015/16. These numbers are too small",
        ),
        (
            _force("Durham", 190, None, Assessment.NO_COMPARISON),
            "Police in Durham record 190 online child sexual offences",
            "No figure for 2015/16 was provided",
        ),
        (
            _force("Dorset", 8, None, Assessment.NO_COMPARISON),
            "Dorset Police record eight online child sexual offences",
            "Dorset Police recorded eight child sexual offences",
        ),
        (
            # 15 times as many: fifteen-fold, never "up 1,400 per cent"
            _force("Kent", 300, 20, Assessment.ROSE),
            "Online child sexual offences recorded by Kent Police up 15-fold",
            "15 times the 20 recorded in 2015/16",
        ),
        (
            _force("Kent", 250, 20, Assessment.ROSE),
            "Online child sexual offences recorded by Kent Police up more than 12-fold",
            "more than 12 times the 20 recorded in 2015/16",
        ),
    ],
)
def test_force_sentences_follow_the_assessment(force, headline, lead_contains):
    assert force_headline(force) == headline
    assert lead_contains in force_lead(force, PERIOD)
    assert "per cent" not in headline or force.change.ratio < 2


def test_no_sentence_calls_an_untested_change_a_rise():
    lead = force_lead(_force("Northamptonshire", 72, 59, Assessment.UNCHANGED), PERIOD)
    words = set(re.findall(r"[a-z]+", lead.lower()))
    assert not words & {"rise", "rose", "increase", "fall", "fell", "significant", "significantly"}


@pytest.mark.parametrize(
    ("assessment", "words"),
    [
        (Assessment.ROSE, "rise"),
        (Assessment.FELL, "fall"),
        (Assessment.UNCHANGED, "broadly unchanged"),
        (Assessment.TOO_FEW, "too few to compare"),
        (Assessment.NO_COMPARISON, "no comparison"),
    ],
)
def test_tables_say_the_assessment_in_words(assessment, words):
    assert assessment_words(assessment) == words


# --- areas -------------------------------------------------------------------------------------


def _area(name, previous, current, assessment, forces=2, total=5, responding=3):
    change = Change(current, previous) if previous is not None else None
    return AreaFigures(responding, current, forces, change, assessment, 365, 3, total, name)


@pytest.mark.parametrize(
    ("area", "sentence"),
    [
        (
            _area("South West", 220, 312, Assessment.ROSE),
            "In the South West region (two of its five forces with figures for both years), the "
            "number went from 220 in 2015/16 to 312: a 41 per cent rise.",
        ),
        (
            _area("Wales", 296, 190, Assessment.FELL, forces=4, total=4),
            "In Wales (all four of its forces with figures for both years), the number went from "
            "296 in 2015/16 to 190: a 35 per cent fall.",
        ),
        (
            _area("London", 20, 22, Assessment.UNCHANGED, forces=1, total=2),
            "In the London region (one of its two forces with figures for both years), the "
            "number went from 20 in 2015/16 to 22, which is broadly unchanged.",
        ),
        (
            _area("North West", 100, 188, Assessment.ROSE),
            "In the North West region (two of its five forces with figures for both years), the "
            "number went from 100 in 2015/16 to 188: an 88 per cent rise.",
        ),
        (
            _area("East Midlands", 100, 200, Assessment.ROSE),
            "In the East Midlands region (two of its five forces with figures for both years), "
            "the number went from 100 in 2015/16 to 200: it doubled.",
        ),
        (
            _area("South East", 10, 44, Assessment.ROSE),
            "In the South East region (two of its five forces with figures for both years), the "
            "number went from 10 in 2015/16 to 44: more than four times as many.",
        ),
        (_area("North East", None, 22, Assessment.NO_COMPARISON), None),
    ],
)
def test_regional_sentences(area, sentence):
    assert area_paragraph(area, PERIOD) == sentence


def test_forces_responding_are_counted_in_words_to_nine():
    wales = _area("Wales", 296, 335, Assessment.UNCHANGED, forces=4, total=4, responding=4)
    first = area_paragraphs(wales, PERIOD)[0]
    assert first.startswith("All four police forces in Wales provided figures for 2016/17.")
    london = _area("London", 20, 22, Assessment.UNCHANGED, forces=1, total=2, responding=1)
    paragraphs = area_paragraphs(london, PERIOD)
    assert paragraphs[0].startswith("One of the two police forces in London provided figures")
    assert " it recorded 22 " in paragraphs[0]
    assert paragraphs[1].startswith("For the one force that provided figures for both")
    south_west = _area("South West", 220, 312, Assessment.ROSE, forces=3, total=5)
    assert (
        "Among the three forces that provided figures for both"
        in (area_paragraphs(south_west, PERIOD)[1])
    )


def test_an_area_change_from_one_force_is_never_headlined_as_the_areas():
    """An outsider found 'England and Wales up four-fold' computed from the one force that
    responded for both years."""
    one = AreaFigures(12, 900, 1, Change(44, 10), Assessment.ROSE, 365, 1)
    assert national_headline(one) == (
        "Online child sexual offences recorded by police in England and Wales up more than "
        "four-fold in the one force that provided figures for both years"
    )
    some = _area("South West", 220, 312, Assessment.ROSE, forces=3, total=5, responding=4)
    assert region_headline(some) == (
        "Online child sexual offences recorded by police in the South West up 41 per cent in "
        "the three forces that provided figures for both years"
    )
    every = AreaFigures(39, 5653, 39, Change(5653, 3903), Assessment.ROSE, 365, 39)
    assert national_headline(every) == (
        "Online child sexual offences recorded by police in England and Wales up 44 per cent"
    )
    withheld = AreaFigures(
        39, 5650, 38, Change(5650, 3900), Assessment.ROSE, 365, 39, withheld_forces=1
    )
    assert national_headline(withheld).endswith(
        "in the 38 forces that provided figures for both years"
    )
    # An outsider found the North West headlined 'up 17 per cent' over four of its five
    # forces, Cumbria having responded with its count withheld ('<5', no total).
    cumbria = next(f for f in force_register().forces if f.name == "Cumbria")
    north_west = _area("North West", 869, 1020, Assessment.ROSE, forces=4, total=5, responding=4)
    assert region_headline(north_west).endswith("up 17 per cent")  # Cumbria did not respond
    north_west = replace(north_west, forces_withholding=(cumbria,))
    assert region_headline(north_west) == (
        "Online child sexual offences recorded by police in the North West up 17 per cent in "
        "the four forces that provided figures for both years"
    )
    # London: the Metropolitan Police alone, the City of London not responding.
    london = AreaFigures(1, 797, 1, Change(797, 709), Assessment.ROSE, 365, 1, 2, "London")
    assert region_headline(london) == (
        "Online child sexual offences recorded by police in London up 12 per cent in the one "
        "force that provided figures for both years"
    )
    half = _area("North East", 100, 150, Assessment.ROSE, forces=2, total=4, responding=2)
    assert region_headline(half).endswith("in the two forces that provided figures for both years")
    most = _area("North East", 100, 150, Assessment.ROSE, forces=3, total=4, responding=3)
    assert region_headline(most) == (
        "Online child sexual offences recorded by police in the North East up 50 per cent"
    )
    none = AreaFigures(3, 120, 0, None, Assessment.NO_COMPARISON, 365, 0)
    assert national_headline(none) == (
        "Online child sexual offences recorded by police in England and Wales: 120 in a year"
    )


def test_a_regions_rate_names_one_force_area_as_one():
    national = AreaFigures(39, 6649, 39, None, Assessment.ROSE, 365, 39, children=12_000_000)
    london = AreaFigures(1, 797, 1, None, Assessment.ROSE, 365, 1, 2, "London", children=2_000_000)
    assert "living in the area of that force," in area_rate_sentence(london, national)
    both = replace_count(london, forces_responding=2, children=2_050_000)
    assert "living in the areas of those forces," in area_rate_sentence(both, national)


def test_rate_sentence_needs_both_rates():
    force = ForceFigures(
        force_register().resolve("Wiltshire"),
        44,
        10,
        Assessment.ROSE,
        (),
        (),
        threshold=5,
        children=150000,
    )
    national = AreaFigures(
        39, 5653, 39, Change(5653, 3903), Assessment.ROSE, 365, 39, children=12000000
    )
    assert rate_sentence(force, national) == (
        "That is 2.9 for every 10,000 children living in the force area, against 4.7 across "
        "the forces in England and Wales that provided figures."
    )
    assert rate_sentence(force, AreaFigures(39, 5653, 39, None, Assessment.ROSE, 365, 39)) is None


def test_withheld_forces_are_said_without_their_counts():
    national = AreaFigures(
        39, 5650, 38, Change(5650, 3900), Assessment.ROSE, 365, 39, withheld_forces=1
    )
    first = national_paragraphs(national, PERIOD)[0]
    assert (
        "From April 2016 to March 2017 the 38 whose counts can be published recorded 5,650" in first
    )
    assert first.endswith("One other force recorded fewer than 5.")
    assert withheld_sentence(3) == "Three other forces recorded fewer than 5 each."
    two = AreaFigures(3, 50, 2, Change(50, 40), Assessment.UNCHANGED, 365, 3, withheld_forces=1)
    first = national_paragraphs(two, PERIOD)[0]
    assert "the two whose counts can be published recorded 50" in first


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (39, "39th"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinals(number, words):
    assert ordinal(number) == words
    assert rank_words(number, 200) == f"{words} of 200"


def test_a_force_left_out_of_a_comparison_as_too_small_is_not_said_to_have_given_no_figures():
    # 40 forces gave both years' counts; one was too small to print, so 39 are compared.
    withheld = AreaFigures(
        40,
        5650,
        39,
        Change(5650, 3900),
        Assessment.ROSE,
        365,
        40,
        withheld_forces=1,
        forces_with_both_years=40,
    )
    assert national_headline(withheld).endswith(
        "in the 39 forces whose counts for both years can be published"
    )
    assert national_paragraphs(withheld, Period.parse("2016/17"))[1].startswith(
        "Among the 39 forces whose counts for both 2015/16 and 2016/17 can be published, the "
        "number went from 3,900 to 5,650"
    )
    london = AreaFigures(
        2,
        797,
        1,
        Change(797, 709),
        Assessment.ROSE,
        365,
        2,
        2,
        "London",
        withheld_forces=1,
        forces_with_both_years=2,
    )
    assert region_headline(london).endswith(
        "up 12 per cent in the one force whose counts for both years can be published"
    )
    assert area_paragraph(london, Period.parse("2016/17")).startswith(
        "In the London region (one of its two forces whose counts for both years can be "
        "published), the number went from 709"
    )
    # Every force that gave both years compared: said as before.
    every = replace(withheld, like_for_like_forces=40, withheld_forces=0)
    assert "40 forces that provided figures for both years" in national_headline(
        replace(every, forces_responding=41)
    )


def test_both_forces_of_a_two_force_region_are_both():
    london = AreaFigures(
        2,
        797,
        2,
        Change(797, 709),
        Assessment.ROSE,
        365,
        2,
        2,
        "London",
        forces_with_both_years=2,
    )
    assert area_paragraphs(london, Period.parse("2016/17"))[0].startswith(
        "Both police forces in London provided figures for 2016/17."
    )
