"""Sentences written from the figures, in house style (briefings.domain.style). Pure.

Prose never overstates: every number in a sentence is cut toward zero at the precision it is
printed at, as tables and figures.json are, so a sentence never contradicts its table (44.96
per cent is "44 per cent" beside 44.9; 15.49 a day is "15 a day" beside 15.4; 4.4 times is
"more than four times"). A change is called a rise or a fall only when the figures'
assessment says so. Forces are named as people say them ("the Metropolitan Police",
"police in Durham"); a region's or the nation's change is headlined as the area's only when
every force counted in its total is in the comparison.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from briefings.domain import style
from briefings.domain.figures import AreaFigures, Assessment, Change, ForceFigures
from briefings.domain.forces import Force
from briefings.domain.periods import Period
from briefings.domain.style import (
    capitalised,
    fold_adjective,
    folds,
    number_words,
    times_words,
    with_article,
)
from briefings.domain.style import percent_words as percent_words
from briefings.domain.style import thousands as thousands

OFFENCES = "child sexual offences with an online flag"
NUMBER_WORDS = style.NUMBER_WORDS


def count_words(count: int | None, threshold: int) -> str:
    """A count as a sentence prints it: small counts withheld, one to nine in words."""
    if count is None:
        return "no figure"
    if 0 < count < threshold:
        return f"fewer than {threshold}"
    return number_words(count)


def table_count(count: int | None, threshold: int, withheld: bool = False) -> str:
    """A count as a table prints it: always in figures (5, 0), small counts withheld; no
    count is 'withheld by the force' where the force answered with its count withheld (as
    the chart's table says), else 'no figure'."""
    if count is None:
        return "withheld by the force" if withheld else "no figure"
    if 0 < count < threshold:
        return f"fewer than {threshold}"
    return thousands(count)


def fold_words(ratio: Fraction) -> str | None:
    """A rise of two-fold or more in words, never more than it is: 'doubled' (exactly 2),
    'more than doubled' (2.01 to 2.99), 'three-fold' (exactly 3), 'more than four-fold'
    (4.4), 'more than 15-fold' (15.2). None below two-fold, where a percentage reads better."""
    if ratio < 2:
        return None
    k, exact = folds(ratio)
    if k == 2:
        return "doubled" if exact else "more than doubled"
    return fold_adjective(k) if exact else f"more than {fold_adjective(k)}"


def per_day_words(rate: Fraction) -> str:
    """'15 a day' for 15.49, 'three a day', 'fewer than one a day'."""
    whole = style.whole(rate)
    return "fewer than one a day" if whole == 0 else f"{number_words(whole)} a day"


def decimal_words(value: Fraction) -> str:
    """One decimal place, cut toward zero (2.97 is '2.9'), as tables print it too."""
    return style.decimal(value, 1)


class Movement(NamedTuple):
    """How far a count moved, as a ratio and a percentage."""

    ratio: Fraction
    percent: Fraction


def movement(change: Change | None) -> Movement | None:
    """A change's ratio and percentage; None without a change or from a count of zero. A rise
    or a fall is only assessed between counts of at least 10, so each has a movement."""
    if change is None or change.ratio is None or change.percent is None:
        return None
    return Movement(change.ratio, change.percent)


def percent_change(percent: Fraction, rise: bool) -> str:
    """'an 88 per cent rise', 'a 44 per cent rise', 'an 11 per cent fall', 'a rise of less
    than 1 per cent'."""
    noun = "rise" if rise else "fall"
    words = percent_words(percent)
    if words.startswith("less than"):
        return f"a {noun} of {words}"
    return with_article(f"{words} {noun}")


def _rise_headline(moved: Movement) -> str:
    """'up 44 per cent', 'double', 'more than double', 'up three-fold', 'up more than
    four-fold', 'up more than 15-fold'."""
    if moved.ratio < 2:
        return f"up {percent_words(moved.percent)}"
    k, exact = folds(moved.ratio)
    if k == 2:
        return "double" if exact else "more than double"
    return f"up {fold_adjective(k)}" if exact else f"up more than {fold_adjective(k)}"


def _times(moved: Movement) -> str:
    """'double', 'more than double', 'four times', 'more than 15 times' (ratio of 2 or more)."""
    k, exact = folds(moved.ratio)
    said = "double" if k == 2 else times_words(k)
    return said if exact else f"more than {said}"


def _change_headline(subject: str, assessment: Assessment, change: Change | None) -> str | None:
    """'<subject> up 44 per cent' and its kin; None when there is no change to headline."""
    moved = movement(change)
    if assessment is Assessment.ROSE and moved:
        return f"{subject} {_rise_headline(moved)}"
    if assessment is Assessment.FELL and moved:
        return f"{subject} down {percent_words(moved.percent)}"
    if assessment is Assessment.UNCHANGED:
        return f"{subject} broadly unchanged"
    return None


def force_headline(figures: ForceFigures) -> str:
    spoken, change = figures.force.spoken, figures.change
    subject = f"Online child sexual offences recorded by {spoken}"
    headline = _change_headline(subject, figures.assessment, change)
    if headline:
        return headline
    count = count_words(figures.count, figures.threshold)
    return f"{capitalised(spoken)} record {count} online child sexual offences"


def force_lead(figures: ForceFigures, period: Period) -> str:
    """The force's own figures: the first paragraph of its briefing."""
    previous = period.previous
    threshold = figures.threshold
    opening = (
        f"{capitalised(figures.force.spoken)} recorded {count_words(figures.count, threshold)} "
        f"{OFFENCES} in {period.label}"
    )
    before = count_words(figures.previous, threshold)
    moved = movement(figures.change)
    match figures.assessment:
        case Assessment.ROSE if moved and moved.ratio >= 2:
            return f"{opening}, {_times(moved)} the {before} recorded in {previous.label}."
        case Assessment.ROSE if moved:
            return (
                f"{opening}, {percent_change(moved.percent, rise=True)} on the {before} "
                f"recorded in {previous.label}."
            )
        case Assessment.FELL if moved:
            return (
                f"{opening}, {percent_change(moved.percent, rise=False)} from the {before} "
                f"recorded in {previous.label}."
            )
        case Assessment.UNCHANGED:
            return (
                f"{opening}, compared with {before} in {previous.label}. A difference of this "
                "size can arise by chance from one year to the next, so the number is best "
                "described as broadly unchanged."
            )
        case Assessment.NO_COMPARISON if figures.previous_withheld:
            return (
                f"{opening}. The force withheld its count for {previous.label}, so no comparison "
                "is made."
            )
        case Assessment.NO_COMPARISON:
            return (
                f"{opening}. No figure for {previous.label} was provided, so no comparison is made."
            )
        case _:
            return (
                f"{opening}, compared with {before} in {previous.label}. These numbers are too "
                "small to say whether offending or recording has changed."
            )


def area_name(area: AreaFigures) -> str:
    """'the South West', 'London', 'Wales', 'England and Wales': as a sentence names it."""
    bare = {"England and Wales", "London", "Wales", "Yorkshire and the Humber"}
    return area.name if area.name in bare else f"the {area.name}"


def national_paragraphs(national: AreaFigures, period: Period) -> list[str]:
    return area_paragraphs(national, period)


def _forces_provided(area: AreaFigures, period: Period) -> str:
    """'39 of the 43 police forces in England and Wales provided figures for 2016/17', 'All
    five police forces in the South West ...', 'One of the two police forces in London ...'."""
    responding, total = area.forces_responding, area.forces_total
    where = f"police {'force' if total == 1 else 'forces'} in {area_name(area)}"
    if responding == total:
        how_many = {1: "The only", 2: "Both"}.get(total, f"All {number_words(total)}")
    else:
        how_many = f"{capitalised(number_words(responding))} of the {number_words(total)}"
    return f"{how_many} {where} provided figures for {period.label}"


def area_paragraphs(area: AreaFigures, period: Period) -> list[str]:
    """An area's total and its like-for-like change: the nation's, or a region's."""
    previous = period.previous
    withheld = area.withheld_forces
    published = area.forces_responding - withheld
    if not withheld:
        who = "it" if area.forces_responding == 1 else "they"
    elif published == 1:
        who = "the one whose count can be published"
    else:
        who = f"the {number_words(published)} whose counts can be published"
    paragraphs = [
        f"{_forces_provided(area, period)}. From {period.span} {who} "
        f"recorded {thousands(area.online_flagged)} {OFFENCES}: on average, "
        f"{per_day_words(area.per_day)}."
        + (f" {withheld_sentence(withheld, area.threshold)}" if withheld else "")
        + (f" {withholding_sentence(area.forces_withholding)}" if area.forces_withholding else "")
    ]
    change = area.like_for_like
    if change is None:
        paragraphs.append(f"No force provided figures for {previous.label} to compare with.")
        return paragraphs
    both = f"both {previous.label} and {period.label}"
    among = (
        f"Among the {number_words(area.like_for_like_forces)} forces {compared_forces(area, both)}"
        if area.like_for_like_forces > 1
        else f"For the one force {compared_forces(area, both)}"
    )
    among += f", the number went from {thousands(change.previous)} to {thousands(change.current)}"
    paragraphs.append(area_change(among, area))
    return paragraphs


def area_rate_sentence(area: AreaFigures, national: AreaFigures) -> str | None:
    """A region's rate per 10,000 children beside the national one, where both exist."""
    counted = area.forces_responding - area.withheld_forces
    living_in = "the area of that force" if counted == 1 else "the areas of those forces"
    return _beside_national(area.rate_per_10000_children, national, living_in)


def _area_headline(subject: str, area: AreaFigures) -> str:
    """The area's change, said to be the area's only when it is over every force that
    responded (a force that withheld its own count responded too) and over more than half of
    the area's forces; otherwise it names the forces it is over ('... up four-fold in the one
    force that provided figures for both years'). Its total where there is no change."""
    headline = _change_headline(subject, area.assessment, area.like_for_like)
    if headline is None:
        return f"{subject}: {thousands(area.online_flagged)} in a year"
    compared = area.like_for_like_forces
    responded = area.forces_responding + len(area.forces_withholding)
    if compared < responded or 2 * compared <= area.forces_total:
        forces = "the one force" if compared == 1 else f"the {number_words(compared)} forces"
        headline += f" in {forces} {compared_forces(area, 'both years')}"
    return headline


def compared_forces(area: AreaFigures, years: str) -> str:
    """Which forces a like-for-like change is over: 'that provided figures for both years',
    or, where a count too small to print kept a force that provided both out, 'whose counts
    for both years can be published' (it did provide them)."""
    if area.compared_every_force_with_both_years:
        return f"that provided figures for {years}"
    return f"whose counts for {years} can be published"


def region_headline(region: AreaFigures) -> str:
    subject = f"Online child sexual offences recorded by police in {area_name(region)}"
    return _area_headline(subject, region)


def withheld_sentence(withheld: int, threshold: int = 5) -> str:
    """Forces whose counts are too small to print, said without revealing them."""
    if withheld == 1:
        return f"One other force recorded fewer than {threshold}."
    return (
        f"{capitalised(number_words(withheld))} other forces recorded fewer than {threshold} each."
    )


def withholding_sentence(forces: tuple[Force, ...]) -> str:
    """Forces that responded but withheld their own count (known only as a range): named,
    and left out of every figure."""
    if len(forces) == 1:
        return (
            f"{capitalised(forces[0].spoken)} responded but withheld the count, so the force "
            "is not included in these figures."
        )
    named = [force.spoken for force in forces]
    listed = ", ".join(named[:-1]) + f" and {named[-1]}"
    return (
        f"{capitalised(number_words(len(forces)))} other forces responded but withheld their "
        f"counts, so they are not included in these figures: {listed}."
    )


def national_headline(national: AreaFigures) -> str:
    subject = "Online child sexual offences recorded by police in England and Wales"
    return _area_headline(subject, national)


def _listed(forces: tuple[ForceFigures, ...]) -> str:
    # Only forces with a change are listed: both counts are printable.
    parts = [
        f"{f.force.spoken} ({thousands(change.previous)} to {thousands(change.current)})"
        for f in forces
        if (change := f.change)
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


def largest_rises_sentence(rises: tuple[ForceFigures, ...]) -> str | None:
    if not rises:
        return None
    noun = "increase was" if len(rises) == 1 else "increases in number were"
    return f"The largest {noun} recorded by {_listed(rises)}."


def largest_falls_sentence(falls: tuple[ForceFigures, ...]) -> str | None:
    if not falls:
        return None
    noun = "fall was" if len(falls) == 1 else "falls in number were"
    return f"The largest {noun} recorded by {_listed(falls)}."


def rate_sentence(force: ForceFigures, national: AreaFigures) -> str | None:
    """The force's rate per 10,000 children beside the national one, where both exist."""
    return _beside_national(force.rate_per_10000_children, national, "the force area")


def _beside_national(rate: Fraction | None, national: AreaFigures, living_in: str) -> str | None:
    national_rate = national.rate_per_10000_children
    if rate is None or national_rate is None:
        return None
    return (
        f"That is {decimal_words(rate)} for every 10,000 children living in {living_in}, "
        f"against {decimal_words(national_rate)} across the forces in England and Wales that "
        "provided figures."
    )


def area_change(among: str, area: AreaFigures) -> str:
    """'<among>: a 44 per cent rise.' and its kin, by the area's assessment."""
    moved = movement(area.like_for_like)
    match area.assessment:
        case Assessment.ROSE if moved and moved.ratio >= 2:
            k, exact = folds(moved.ratio)
            if k == 2:
                return f"{among}: it {'doubled' if exact else 'more than doubled'}."
            return f"{among}: {_times(moved)} as many."
        case Assessment.ROSE if moved:
            return f"{among}: {percent_change(moved.percent, rise=True)}."
        case Assessment.FELL if moved:
            return f"{among}: {percent_change(moved.percent, rise=False)}."
        case Assessment.UNCHANGED:
            return f"{among}, which is broadly unchanged."
        case _:
            return f"{among}; too few offences to compare."


def area_paragraph(area: AreaFigures, period: Period) -> str | None:
    """A region's like-for-like change, in one sentence."""
    change = area.like_for_like
    if change is None:
        return None
    where = "In Wales" if area.name == "Wales" else f"In the {area.name} region"
    compared = style.all_or_some(area.like_for_like_forces, area.forces_total, "force")
    which = (
        "with figures for both years"
        if area.compared_every_force_with_both_years
        else "whose counts for both years can be published"
    )
    among = (
        f"{where} ({compared} {which}), the number went from "
        f"{thousands(change.previous)} in {period.previous.label} to {thousands(change.current)}"
    )
    return area_change(among, area)


def recorded_all_sentence(force: ForceFigures, period: Period) -> str | None:
    """Home Office context, labelled as the different measure it is."""
    if force.recorded_all is None:
        return None
    rate = force.recorded_all_rate
    per_children = f" ({decimal_words(rate)} for every 10,000 children)" if rate else ""
    return (
        f"For context, Home Office figures show {force.force.spoken} recorded "
        f"{thousands(force.recorded_all)} child sexual offences of all kinds in {period.label}"
        f"{per_children}. That is a different measure: it counts every such offence, "
        "whether or not the internet played a part, and comes from the Home Office's recorded "
        "crime tables rather than the force's return."
    )


def assessment_words(assessment: Assessment) -> str:
    """How a table gives the assessment, under 'Rise or fall': 'rise', 'fall', 'broadly
    unchanged', 'too few to compare', 'no comparison'."""
    return {
        Assessment.ROSE: "rise",
        Assessment.FELL: "fall",
        Assessment.UNCHANGED: "broadly unchanged",
        Assessment.TOO_FEW: "too few to compare",
        Assessment.NO_COMPARISON: "no comparison",
    }[assessment]


RISE_OR_FALL = "Rise or fall"  # the table heading over assessment_words


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 101st."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number:,}{suffix}"


def rank_words(rank: int, of: int) -> str:
    """'1st of 39': equal counts share a rank."""
    return f"{ordinal(rank)} of {of}"
