"""Prose never overstates: every number in a sentence rounds toward zero."""

import re
from fractions import Fraction

import pytest

from briefings.domain.figures import AreaFigures, Assessment, Change, ForceFigures
from briefings.domain.periods import Period
from briefings.domain.wording import (
    area_paragraph,
    count_words,
    decimal_words,
    fold_words,
    force_headline,
    force_lead,
    national_paragraphs,
    ordinal,
    per_day_words,
    percent_words,
    rank_words,
    rate_sentence,
    thousands,
    withheld_sentence,
)
from briefings.reference import force_register


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
    ("ratio", "words"),
    [
        (Fraction(44, 10), "four-fold"),
        (Fraction(29, 10), "two-fold"),  # never "three-fold" for 2.9 times
        (Fraction(2), "two-fold"),
        (Fraction(199, 100), None),
        (Fraction(10), "ten-fold"),
        (Fraction(101, 10), "more than ten times"),
        (Fraction(1, 2), None),
    ],
)
def test_folds_round_toward_zero(ratio, words):
    assert fold_words(ratio) == words


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        (Fraction(5653, 365), "15 a day"),
        (Fraction(3903, 366), "10 a day"),
        (Fraction(300, 365), "fewer than one a day"),
        (Fraction(36600, 366), "100 a day"),
    ],
)
def test_per_day_rates_round_toward_zero(rate, words):
    assert per_day_words(rate) == words


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (0, "no"),
        (3, "fewer than 5"),
        (4, "fewer than 5"),
        (5, "five"),
        (9, "nine"),
        (10, "10"),
        (5653, "5,653"),
        (None, "no figure"),
    ],
)
def test_counts_in_sentences(count, words):
    assert count_words(count, threshold=5) == words


def test_thousands_use_commas():
    assert thousands(1234567) == "1,234,567"


def _force(name: str, count: int, previous: int | None, assessment: Assessment) -> ForceFigures:
    force = force_register().resolve(name)
    return ForceFigures(force, count, previous, assessment, (), (), threshold=5)


PERIOD = Period.parse("2016/17")


@pytest.mark.parametrize(
    ("force", "headline", "lead_contains"),
    [
        (
            _force("Wiltshire", 44, 10, Assessment.ROSE),
            "Online child sexual offences recorded in Wiltshire up four-fold",
            "recorded 44 child sexual offences with an online flag in 2016/17, "
            "a four-fold increase on the 10 recorded in 2015/16.",
        ),
        (
            _force("Cleveland", 145, 100, Assessment.ROSE),
            "Online child sexual offences recorded in Cleveland up 45 per cent",
            "a 45 per cent rise on the 100 recorded in 2015/16",
        ),
        (
            _force("Lincolnshire", 58, 112, Assessment.FELL),
            "Online child sexual offences recorded in Lincolnshire down 48 per cent",
            "a fall of 48 per cent from the 112 recorded in 2015/16",
        ),
        (
            _force("Northamptonshire", 72, 59, Assessment.UNCHANGED),
            "Online child sexual offences recorded in Northamptonshire broadly unchanged",
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
            _force("Kent", 250, 20, Assessment.ROSE),
            "Online child sexual offences recorded in Kent up 1,150 per cent",
            "more than ten times the 20 recorded in 2015/16",
        ),
    ],
)
def test_force_sentences_follow_the_assessment(force, headline, lead_contains):
    assert force_headline(force) == headline
    assert lead_contains in force_lead(force, PERIOD)


def test_no_sentence_calls_an_untested_change_a_rise():
    lead = force_lead(_force("Northamptonshire", 72, 59, Assessment.UNCHANGED), PERIOD)
    words = set(re.findall(r"[a-z]+", lead.lower()))
    assert not words & {"rise", "rose", "increase", "fall", "fell", "significant", "significantly"}


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


def _area(name, previous, current, assessment, forces=2, total=5):
    change = Change(current, previous) if previous is not None else None
    return AreaFigures(3, current, forces, change, assessment, 365, 3, total, name)


@pytest.mark.parametrize(
    ("area", "sentence"),
    [
        (
            _area("South West", 220, 312, Assessment.ROSE),
            "In the South West region (2 of its 5 forces with figures for both years), the number "
            "went from 220 in 2015/16 to 312: a 41 per cent rise.",
        ),
        (
            _area("Wales", 296, 190, Assessment.FELL, forces=4, total=4),
            "In Wales (4 of its 4 forces with figures for both years), the number went from 296 in "
            "2015/16 to 190: a fall of 35 per cent.",
        ),
        (
            _area("London", 20, 22, Assessment.UNCHANGED, forces=1),
            "In the London region (1 of its 5 force with figures for both years), the number went "
            "from 20 in 2015/16 to 22, which is broadly unchanged.",
        ),
        (_area("North East", None, 22, Assessment.NO_COMPARISON), None),
    ],
)
def test_regional_sentences(area, sentence):
    assert area_paragraph(area, PERIOD) == sentence


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
