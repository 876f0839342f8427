"""What each briefing says: one documented context object per briefing, built from figures.

Pure: the configuration (quotes, contacts, branding) and the source list come in as values.
Each template in reports/templates/ renders exactly one `BriefingContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.figures import ForceFigures, PeriodFigures, one_decimal
from flows.reference import PublishedFigure
from flows.wording import (
    area_paragraph,
    count_words,
    force_headline,
    force_lead,
    largest_falls_sentence,
    largest_rises_sentence,
    national_headline,
    national_paragraphs,
    rank_words,
    rate_sentence,
    recorded_all_sentence,
    thousands,
)


@dataclass(frozen=True)
class Quote:
    text: str
    attribution: str  # a role, never an invented person


@dataclass(frozen=True)
class Contact:
    label: str
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class ScopeWords:
    """What comms teams write for one scope (a force, or national): reports/config/quotes.yaml."""

    quote: Quote
    contact: Contact


@dataclass(frozen=True)
class BriefingSettings:
    """reports/config/briefing.yaml, as comms teams edit it."""

    charity_name: str
    embargo: str | None
    small_number_threshold: int
    national: ScopeWords
    forces: dict[str, ScopeWords] = field(default_factory=dict)  # by force name or code

    def words_for(self, force_name: str, force_code: str) -> ScopeWords:
        """A force's own quote and contact, falling back to the national ones."""
        return self.forces.get(force_name) or self.forces.get(force_code) or self.national


@dataclass(frozen=True)
class Source:
    file_name: str
    received: str  # ISO date the file was first seen in data/raw/
    illustrative: bool


@dataclass(frozen=True)
class TableRow:
    measure: str
    value: str


@dataclass(frozen=True)
class Chart:
    svg_data_uri: str
    alt: str  # states every figure drawn
    caption: str


@dataclass(frozen=True)
class BriefingContext:
    """Everything a briefing template may show, and nothing else.

    charity_name, embargo (None for no embargo), period: shown in the running header.
    title: the document title; headline and standfirst open the page.
    paragraphs: the body, the briefing's own scope first, then the wider picture.
    quote and contact: from comms teams' configuration.
    chart and figures_table: the figures behind the sentences, for readers and screen readers.
    notes: notes to editors (method, sources, caveats, which figures are illustrative).
    """

    charity_name: str
    embargo: str | None
    period: str
    title: str
    headline: str
    standfirst: str
    paragraphs: tuple[str, ...]
    quote: Quote
    contact: Contact
    chart: Chart
    figures_table: tuple[TableRow, ...]
    notes: tuple[str, ...]


def _caveats(figures: PeriodFigures, threshold: int, any_suppressed: bool) -> list[str]:
    period = figures.period
    notes = [
        "Police forces in England and Wales have been required since April 2015 to flag any "
        "recorded crime in which the internet played a part (the online or cyber flag). "
        "Figures for years before 2015/16 are not comparable and are not used.",
        "Rises in flagged offences partly reflect better recording and more consistent use of "
        "the flag by police, not only more offending.",
        "A change is described as a rise or a fall only when both years' counts are at least 10 "
        "and the difference is larger than chance variation from year to year would explain "
        "(an exact test on the two counts, allowing for the number of days in each year, at "
        "the 5 per cent level). Otherwise it is described as broadly unchanged, or as too few "
        "to compare.",
        "In sentences, numbers are rounded down (for example 44.8 per cent is written as 44 per "
        "cent); the table gives them to one decimal place.",
    ]
    if period.start_year == 2017:
        notes.append(
            "From April 2017 sexual communication with a child is counted within sexual "
            "grooming (Home Office code 88A), so grooming figures, and totals that include "
            "them, are not comparable between 2016/17 and 2017/18."
        )
    elif period.start_year > 2017:
        notes.append(
            "Since April 2017 sexual communication with a child is counted within sexual "
            "grooming (Home Office code 88A); figures from before then are not comparable."
        )
    if figures.national.rate_per_10000_children is not None:
        notes.append(
            f"Rates per 10,000 children use ONS mid-{period.population_mid_year} estimates of "
            "the population aged 0 to 17 in each police force area, summed over the forces "
            "that provided figures."
        )
    if any_suppressed:
        notes.append(
            f"Counts from 1 to {threshold - 1} are shown as 'fewer than {threshold}' so that no "
            "child can be identified. Changes involving them are not given, and they are left "
            "out of regional and national totals, which would otherwise reveal them."
        )
    return notes


def _source_notes(sources: list[Source]) -> list[str]:
    listed = "; ".join(f"{s.file_name} (received {s.received})" for s in sources)
    return [f"Sources: Freedom of Information returns from police forces: {listed}."]


def _refused_note(name: str, sources: list[Source], refused: list[Source]) -> list[str]:
    """Fail closed, and say so: a refused return's figures are not used."""
    later = [r for r in refused if r.received >= max(s.received for s in sources)]
    if not later:
        return []
    files = "; ".join(f"{r.file_name} (received {r.received})" for r in later)
    received = ", ".join(sorted({s.received for s in sources}))
    return [
        f"A later return for {name} was refused by validation and is not used: {files}. "
        f"The figures here are from the return(s) received {received}."
    ]


def _illustrative_note(sources: list[Source], published: list[str]) -> list[str]:
    if not any(source.illustrative for source in sources):
        return []
    intro = (
        "Illustrative figures: this briefing was built from sample returns bundled with the "
        "briefings software. "
    )
    if not published:
        return [intro + "None of its figures is a published figure; all were made up."]
    return [
        intro + "Only these match published figures (source in brackets): "
        f"{'; '.join(published)}. Every other figure was made up to fit published totals and "
        "is not police data."
    ]


def _published_force_matches(
    force: ForceFigures, period: str, previous: str, published: tuple[PublishedFigure, ...]
) -> list[str]:
    """The force's counts that equal a published figure for the same force and year."""
    name = force.force.name
    quoted: set[tuple[str, int, str]] = set()
    for figure in published:
        if figure.scope != "force" or figure.area != name:
            continue
        quoted.add((figure.period, figure.value, figure.source))
        if figure.comparison_period and figure.comparison_value is not None:
            quoted.add((figure.comparison_period, figure.comparison_value, figure.source))
    matches = []
    for year, count in ((period, force.count), (previous, force.previous)):
        sources = sorted(source for (p, value, source) in quoted if p == year and value == count)
        if count is not None and sources:
            matches.append(f"{name} {year}: {thousands(count)} ({', '.join(sources)})")
    return matches


def _published_national_matches(
    figures: PeriodFigures, published: tuple[PublishedFigure, ...]
) -> list[str]:
    change = figures.national.like_for_like
    if change is None:
        return []
    matches = []
    for figure in published:
        if (
            figure.scope == "national"
            and figure.period == figures.period.label
            and figure.value == change.current
            and figure.comparison_value == change.previous
        ):
            matches.append(
                f"England and Wales like-for-like totals {thousands(change.previous)} "
                f"({figures.previous_period.label}) and {thousands(change.current)} "
                f"({figures.period.label}) ({figure.source})"
            )
    return matches


def _rate_rows(name: str, rate) -> list[TableRow]:
    if rate is None:
        return []
    return [TableRow(f"{name}, per 10,000 children", f"{one_decimal(rate):.1f}")]


def _change_cells(force: ForceFigures) -> list[TableRow]:
    change = force.change
    if change is None or change.percent is None:
        return [TableRow("Change", "not available")]
    return [
        TableRow("Change", f"{change.difference:+,}"),
        TableRow("Change (per cent)", f"{one_decimal(change.percent):+.1f}"),
        TableRow("Ratio to previous year", f"{one_decimal(change.ratio):.1f}"),
        TableRow("Assessment", force.assessment.value),
    ]


def force_context(
    force: ForceFigures,
    figures: PeriodFigures,
    settings: BriefingSettings,
    sources: list[Source],
    published: tuple[PublishedFigure, ...],
    chart: Chart,
    refused: list[Source] | None = None,
) -> BriefingContext:
    """`refused`: returns naming this force that validation refused (their figures unused)."""
    period = figures.period
    threshold = settings.small_number_threshold
    national = figures.national
    words = settings.words_for(force.force.name, force.force.code)
    lead = force_lead(force, period)
    rate = rate_sentence(force, national)
    paragraphs = [f"{lead} {rate}" if rate else lead]
    for sentence in (
        recorded_all_sentence(force, period),
        area_paragraph(figures.region(force.force.region), period),
    ):
        if sentence:
            paragraphs.append(sentence)
    paragraphs += national_paragraphs(national, period)
    table = [
        TableRow(f"{force.force.name}, {period.label}", count_words(force.count, threshold)),
        TableRow(
            f"{force.force.name}, {period.previous.label}",
            count_words(force.previous, threshold),
        ),
        *_change_cells(force),
        *_rate_rows(force.force.name, force.rate_per_10000_children),
        *([TableRow(f"All child sexual offences, {period.label} (Home Office)",
                    thousands(force.recorded_all))] if force.recorded_all is not None else []),
        *([TableRow("Rank by number recorded", rank_words(force.rank, len(figures.forces)))]
          if force.rank and not force.suppressed else []),
        TableRow(f"England and Wales, {period.label}", thousands(national.online_flagged)),
        TableRow("Forces responding", f"{national.forces_responding} of {national.forces_total}"),
        TableRow("Average per day, England and Wales", f"{one_decimal(national.per_day):.1f}"),
        *_rate_rows("England and Wales", national.rate_per_10000_children),
    ]  # fmt: skip
    published_matches = _published_force_matches(
        force, period.label, period.previous.label, published
    ) + _published_national_matches(figures, published)
    notes = (
        _caveats(figures, threshold, force.suppressed or force.previous_suppressed)
        + _source_notes(sources)
        + _refused_note(force.force.name, sources, refused or [])
        + _illustrative_note(sources, published_matches)
    )
    return BriefingContext(
        charity_name=settings.charity_name,
        embargo=settings.embargo,
        period=period.label,
        title=f"{force.force.name}: online child sexual offences, {period.label}",
        headline=force_headline(force),
        standfirst=(
            f"Figures from police in {force.force.name} for {period.span}, obtained by "
            f"{settings.charity_name} under the Freedom of Information Act."
        ),
        paragraphs=tuple(paragraphs),
        quote=words.quote,
        contact=words.contact,
        chart=chart,
        figures_table=tuple(table),
        notes=tuple(notes),
    )


def national_context(
    figures: PeriodFigures,
    settings: BriefingSettings,
    sources: list[Source],
    published: tuple[PublishedFigure, ...],
    chart: Chart,
) -> BriefingContext:
    period, national = figures.period, figures.national
    paragraphs = national_paragraphs(national, period)
    for sentence in (
        largest_rises_sentence(figures.largest_rises),
        largest_falls_sentence(figures.largest_falls),
    ):
        if sentence:
            paragraphs.append(sentence)
    change = national.like_for_like
    table = [
        TableRow(
            f"Forces responding, {period.label}",
            f"{national.forces_responding} of {national.forces_total}",
        ),
        TableRow(f"England and Wales, {period.label}", thousands(national.online_flagged)),
        TableRow("Average per day", f"{one_decimal(national.per_day):.1f}"),
        *_rate_rows("England and Wales", national.rate_per_10000_children),
        TableRow("Forces with figures for both years", str(national.like_for_like_forces)),
    ]
    if change is not None and change.percent is not None:
        table += [
            TableRow(f"Like-for-like total, {period.previous.label}", thousands(change.previous)),
            TableRow(f"Like-for-like total, {period.label}", thousands(change.current)),
            TableRow("Change (per cent)", f"{one_decimal(change.percent):+.1f}"),
            TableRow("Assessment", national.assessment.value),
        ]
    any_suppressed = any(f.suppressed or f.previous_suppressed for f in figures.forces)
    notes = (
        _caveats(figures, settings.small_number_threshold, any_suppressed)
        + [_responding_note(figures)]
        + _source_notes(sources)
        + _illustrative_note(
            sources,
            _published_national_matches(figures, published)
            + [
                match
                for force in figures.largest_rises + figures.largest_falls
                for match in _published_force_matches(
                    force, period.label, period.previous.label, published
                )
            ],
        )
    )
    return BriefingContext(
        charity_name=settings.charity_name,
        embargo=settings.embargo,
        period=period.label,
        title=f"England and Wales: online child sexual offences, {period.label}",
        headline=national_headline(national),
        standfirst=(
            f"Figures from police forces in England and Wales for {period.span}, obtained by "
            f"{settings.charity_name} under the Freedom of Information Act."
        ),
        paragraphs=tuple(paragraphs),
        quote=settings.national.quote,
        contact=settings.national.contact,
        chart=chart,
        figures_table=tuple(table),
        notes=tuple(notes),
    )


def _responding_note(figures: PeriodFigures) -> str:
    responding = [f.force.name for f in figures.forces]
    missing = figures.national.not_responding
    note = (
        f"Forces responding for {figures.period.label} ({len(responding)}): "
        f"{', '.join(responding)}."
    )
    if missing:
        note += f" Not responding ({len(missing)}): {', '.join(missing)}."
    return note
