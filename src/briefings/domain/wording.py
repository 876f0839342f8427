"""Sentences written from the figures. Pure: no Prefect, no files.

Prose never overstates: every number in a sentence is rounded toward zero (44.8 per cent is
"44 per cent", 15.5 a day is "15 a day", 4.4 times is "four-fold"), and a change is called a
rise or a fall only when the figures' assessment says so.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from briefings.domain.figures import AreaFigures, Assessment, Change, ForceFigures
from briefings.domain.periods import Period

OFFENCES = "child sexual offences with an online flag"
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def thousands(number: int) -> str:
    return f"{number:,}"


def count_words(count: int | None, threshold: int) -> str:
    """A count as a sentence prints it: small counts withheld, one to nine in words."""
    if count is None:
        return "no figure"
    if 0 < count < threshold:
        return f"fewer than {threshold}"
    if count < 10:
        return NUMBER_WORDS[count]
    return thousands(count)


def percent_words(percent: Fraction) -> str:
    whole = abs(int(percent))  # int() truncates toward zero
    return "less than 1 per cent" if whole == 0 else f"{thousands(whole)} per cent"


def fold_words(ratio: Fraction) -> str | None:
    """'four-fold' for 4.0 to 4.99 times; None below two-fold, where a percentage reads better."""
    if ratio < 2:
        return None
    if ratio > 10:
        return "more than ten times"
    return f"{NUMBER_WORDS[int(ratio)]}-fold"


def per_day_words(rate: Fraction) -> str:
    whole = int(rate)
    return "fewer than one a day" if whole == 0 else f"{thousands(whole)} a day"


def rise_phrase(ratio: Fraction, percent: Fraction) -> str:
    fold = fold_words(ratio)
    if fold is None:
        return f"a {percent_words(percent)} rise"
    if fold.endswith("times"):
        return f"{fold} as many"
    return f"a {fold} increase"


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


def _change_headline(subject: str, assessment: Assessment, change: Change | None) -> str | None:
    """'<subject> up four-fold' and its kin; None when there is no change to headline."""
    moved = movement(change)
    if assessment is Assessment.ROSE and moved:
        fold = fold_words(moved.ratio)
        if fold and not fold.endswith("times"):
            return f"{subject} up {fold}"
        return f"{subject} up {percent_words(moved.percent)}"
    if assessment is Assessment.FELL and moved:
        return f"{subject} down {percent_words(moved.percent)}"
    if assessment is Assessment.UNCHANGED:
        return f"{subject} broadly unchanged"
    return None


def force_headline(figures: ForceFigures) -> str:
    name, change = figures.force.name, figures.change
    subject = f"Online child sexual offences recorded in {name}"
    headline = _change_headline(subject, figures.assessment, change)
    if headline:
        return headline
    count = count_words(figures.count, figures.threshold)
    return f"Police in {name} record {count} online child sexual offences"


def force_lead(figures: ForceFigures, period: Period) -> str:
    """The force's own figures: the first paragraph of its briefing."""
    name, previous = figures.force.name, period.previous
    threshold = figures.threshold
    opening = (
        f"Police in {name} recorded {count_words(figures.count, threshold)} {OFFENCES} "
        f"in {period.label}"
    )
    before = count_words(figures.previous, threshold)
    moved = movement(figures.change)
    match figures.assessment:
        case Assessment.ROSE if moved and moved.ratio > 10:
            return f"{opening}, more than ten times the {before} recorded in {previous.label}."
        case Assessment.ROSE if moved:
            return (
                f"{opening}, {rise_phrase(moved.ratio, moved.percent)} on the {before} "
                f"recorded in {previous.label}."
            )
        case Assessment.FELL if moved:
            return (
                f"{opening}, a fall of {percent_words(moved.percent)} from the {before} "
                f"recorded in {previous.label}."
            )
        case Assessment.UNCHANGED:
            return (
                f"{opening}, compared with {before} in {previous.label}. A difference of this "
                "size can arise by chance from one year to the next, so the number is best "
                "described as broadly unchanged."
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


def area_paragraphs(area: AreaFigures, period: Period) -> list[str]:
    """An area's total and its like-for-like change: the nation's, or a region's."""
    previous = period.previous
    withheld = area.withheld_forces
    who = (
        "they"
        if not withheld
        else (f"the {area.forces_responding - withheld} whose counts can be published")
    )
    if area.forces_responding == 1 and not withheld:
        who = "it"
    paragraphs = [
        f"{area.forces_responding} of the {area.forces_total} police forces in "
        f"{area_name(area)} provided figures for {period.label}. From {period.span} {who} "
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
        f"Among the {area.like_for_like_forces} forces that provided figures for {both}"
        if area.like_for_like_forces > 1
        else f"For the one force that provided figures for {both}"
    )
    among += f", the number went from {thousands(change.previous)} to {thousands(change.current)}"
    paragraphs.append(area_change(among, area))
    return paragraphs


def area_rate_sentence(area: AreaFigures, national: AreaFigures) -> str | None:
    """A region's rate per 10,000 children beside the national one, where both exist."""
    return _beside_national(area.rate_per_10000_children, national, "the areas of those forces")


def region_headline(region: AreaFigures) -> str:
    subject = f"Online child sexual offences recorded by police in {area_name(region)}"
    return _change_headline(subject, region.assessment, region.like_for_like) or (
        f"{subject}: {thousands(region.online_flagged)} in a year"
    )


def withheld_sentence(withheld: int, threshold: int = 5) -> str:
    """Forces whose counts are too small to print, said without revealing them."""
    if withheld == 1:
        return f"One other force recorded fewer than {threshold}."
    return (
        f"{count_words(withheld, threshold=0).capitalize()} other forces recorded fewer than "
        f"{threshold} each."
    )


def withholding_sentence(names: tuple[str, ...]) -> str:
    """Forces that responded but withheld their own count: named, and left out of every
    figure (their count is known only as a range)."""
    if len(names) == 1:
        return f"{names[0]} responded but withheld its count, so it is not included."
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return (
        f"{count_words(len(names), threshold=0).capitalize()} more forces responded but "
        f"withheld their counts, so they are not included: {listed}."
    )


def national_headline(national: AreaFigures) -> str:
    change = national.like_for_like
    subject = "Online child sexual offences recorded by police in England and Wales"
    return _change_headline(subject, national.assessment, change) or (
        f"{subject}: {thousands(national.online_flagged)} in a year"
    )


def _listed(forces: tuple[ForceFigures, ...]) -> str:
    # Only forces with a change are listed: both counts are printable.
    parts = [
        f"{f.force.name} ({thousands(change.previous)} to {thousands(change.current)})"
        for f in forces
        if (change := f.change)
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


def largest_rises_sentence(rises: tuple[ForceFigures, ...]) -> str | None:
    if not rises:
        return None
    noun = "increase was" if len(rises) == 1 else "increases in number were"
    return f"The largest {noun} in {_listed(rises)}."


def largest_falls_sentence(falls: tuple[ForceFigures, ...]) -> str | None:
    if not falls:
        return None
    noun = "fall was" if len(falls) == 1 else "falls in number were"
    return f"The largest {noun} in {_listed(falls)}."


def decimal_words(value: Fraction) -> str:
    """One decimal place, rounded toward zero (2.97 is '2.9')."""
    tenths = int(value * 10)
    return f"{tenths // 10:,}.{tenths % 10}"


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
        case Assessment.ROSE if moved:
            return f"{among}: {rise_phrase(moved.ratio, moved.percent)}."
        case Assessment.FELL if moved:
            return f"{among}: a fall of {percent_words(moved.percent)}."
        case Assessment.UNCHANGED:
            return f"{among}, which is broadly unchanged."
        case _:
            return f"{among}; too few offences to compare."


def area_paragraph(area: AreaFigures, period: Period) -> str | None:
    """A region's like-for-like change, in one sentence."""
    change = area.like_for_like
    if change is None:
        return None
    forces = "force" if area.like_for_like_forces == 1 else "forces"
    among = (
        f"In the {area.name} region ({area.like_for_like_forces} of its {area.forces_total} "
        f"{forces} with figures for both years), the number went from "
        f"{thousands(change.previous)} in {period.previous.label} to {thousands(change.current)}"
    )
    if area.name == "Wales":
        among = among.replace("In the Wales region", "In Wales")
    return area_change(among, area)


def recorded_all_sentence(force: ForceFigures, period: Period) -> str | None:
    """Home Office context, labelled as the different measure it is."""
    if force.recorded_all is None:
        return None
    rate = force.recorded_all_rate
    per_children = f" ({decimal_words(rate)} for every 10,000 children)" if rate else ""
    return (
        f"For context, Home Office figures show police in {force.force.name} recorded "
        f"{thousands(force.recorded_all)} child sexual offences of all kinds in {period.label}"
        f"{per_children}. That is a different measure: it counts every such offence, "
        "whether or not the internet played a part, and comes from the Home Office's recorded "
        "crime tables rather than the force's return."
    )


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
