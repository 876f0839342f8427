"""What each briefing says: one documented context object per briefing, built from figures.

Pure: the configuration (quotes, contacts, branding) and the source list come in as values.
Each template in reports/templates/ renders exactly one `BriefingContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from briefings.domain import style
from briefings.domain.editions import Edition
from briefings.domain.figures import (
    AreaFigures,
    ForceFigures,
    PeriodFigures,
    area_recorded_all,
)
from briefings.domain.periods import Period
from briefings.domain.wording import (
    RISE_OR_FALL,
    area_name,
    area_paragraph,
    area_paragraphs,
    area_rate_sentence,
    assessment_words,
    force_headline,
    force_lead,
    largest_falls_sentence,
    largest_rises_sentence,
    national_headline,
    national_paragraphs,
    rank_words,
    rate_sentence,
    recorded_all_sentence,
    region_headline,
    table_count,
    thousands,
)


@dataclass(frozen=True)
class PublishedFigure:
    """A figure quoted in public press coverage of the charity's FOI rounds."""

    scope: str  # "force" or "national"
    area: str
    period: str
    value: int
    comparison_period: str | None
    comparison_value: int | None
    source: str


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
    """reports/config/: briefing.yaml and quotes/, as comms teams edit them."""

    charity_name: str
    embargo: str | None
    small_number_threshold: int
    national: ScopeWords
    forces: dict[str, ScopeWords] = field(default_factory=dict)  # by ONS code
    regions: dict[str, ScopeWords] = field(default_factory=dict)  # by region name
    logo: str = "../branding/logo.svg"  # relative to reports/templates/

    def words_for(self, force_code: str | None = None, region: str | None = None) -> ScopeWords:
        """The most local quote and contact there is: the force's, its region's, the nation's."""
        force_words = self.forces.get(force_code) if force_code is not None else None
        region_words = self.regions.get(region) if region is not None else None
        return force_words or region_words or self.national


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
class DataTable:
    """A table with a header row; the first cell of each row heads that row. `under_chart`:
    a short table set closer, under the chart and beside the figures behind the sentences."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    under_chart: bool = False


@dataclass(frozen=True)
class ChartSpec:
    """What a chart draws: bars by year, one series or several side by side. None is a gap
    labelled `missing` (one text for every gap, or one per year: a count too small to print
    and a year with no return are different gaps). Drawing it (briefings/render/charts.py)
    waits until the PDF renders."""

    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    title: str
    missing: str | tuple[str, ...]
    decimals: int  # 0 for counts, 1 for rates

    def gap(self, year: int) -> str:
        """The label of a gap in the year at this index."""
        return self.missing if isinstance(self.missing, str) else self.missing[year]


@dataclass(frozen=True)
class Chart:
    spec: ChartSpec
    alt: str  # states every figure drawn
    caption: str
    table: DataTable  # the same numbers, for screen-reader users and for checking
    svg_data_uri: str = ""  # drawn from `spec` just before rendering; the only data URL allowed


@dataclass(frozen=True)
class BriefingContext:
    """Everything a briefing template may show, and nothing else.

    charity_name, logo, embargo (None for no embargo), period: the masthead and the running
    header and footer.
    title, subject, keywords, created (ISO date of the latest source, never the clock): the
    document title and PDF metadata.
    headline and standfirst open the page.
    paragraphs: the body, the briefing's own scope first, then the wider picture.
    quote and contact: from comms teams' configuration.
    chart, figures_table and tables: the figures behind the sentences, for readers and screen
    readers.
    notes: notes to editors (method, sources, caveats, which figures are illustrative).
    edition: which edition this is and its date (every page's footer) and, for a correction,
    what it corrects (briefings/domain/editions.py; set from the journal when rendering).
    """

    charity_name: str
    logo: str
    embargo: str | None
    period: str
    title: str
    subject: str
    keywords: tuple[str, ...]
    created: str
    headline: str
    standfirst: str
    paragraphs: tuple[str, ...]
    quote: Quote
    contact: Contact
    chart: Chart
    figures_table: tuple[TableRow, ...]
    tables: tuple[DataTable, ...]
    notes: tuple[str, ...]
    # Keyword-only, so fields added above need no default: a first edition until the journal
    # says otherwise (briefings/render/publication.py).
    edition: Edition = field(default=Edition(), kw_only=True)


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
        "Every figure is cut toward zero at the precision it is printed at, never rounded up, "
        "in sentences, tables and charts alike, so a sentence always agrees with its table: a "
        "rise of 44.96 per cent is written as 44 per cent in a sentence and 44.9 in a table, "
        "and a fall of 44.96 per cent as 44 per cent and -44.9. figures.json gives the exact "
        "numerator and denominator of every such figure.",
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
            "Rates per 10,000 children use ONS mid-year estimates of the population aged 0 "
            f"to 17 in each police force area (mid-{period.population_mid_year} for "
            f"{period.label}), summed over the forces counted."
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
        f"The figures here are from the {'returns' if len(sources) > 1 else 'return'} "
        f"received {received}."
    ]


def _illustrative_note(sources: list[Source], published: list[str]) -> list[str]:
    """Says which figures were made up: all of them when every source is a sample return;
    otherwise only those from the sample returns, named, never a real return's."""
    samples = [source.file_name for source in sources if source.illustrative]
    if not samples:
        return []
    matches = f"(source in brackets): {'; '.join(published)}"
    if len(samples) == len(sources):
        intro = (
            "Illustrative figures: this briefing was built from sample returns bundled with "
            "the briefings software. "
        )
        if not published:
            return [intro + "None of its figures is a published figure; all were made up."]
        return [
            intro + f"Only these match published figures {matches}. Every other figure was "
            "made up to fit published totals and is not police data."
        ]
    note = (
        f"Illustrative figures: the figures from {', '.join(samples)} (sample returns bundled "
        "with the briefings software) were made up to fit published totals and are not "
        "police data"
    )
    if published:
        note += f"; only these match published figures {matches}"
    return [note + ". The figures from the other returns listed are as those returns give them."]


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


def _rate_rows(name: str, rate: Fraction | None) -> list[TableRow]:
    if rate is None:
        return []
    return [TableRow(f"{name}, per 10,000 children", style.decimal(rate))]


def _change_cells(force: ForceFigures) -> list[TableRow]:
    change = force.change
    if change is None or change.percent is None or change.ratio is None:
        return [TableRow("Change", "not available")]
    return [
        TableRow("Change", f"{change.difference:+,}"),
        TableRow("Change (per cent)", style.decimal(change.percent, signed=True)),
        TableRow("Ratio to previous year", style.decimal(change.ratio)),
        TableRow(RISE_OR_FALL, assessment_words(force.assessment)),
    ]


# Every figure computed has a place in print, with its caveat: the share of the returned
# offences flagged online, the offences by type, the Home Office context, and the population
# estimates behind rates per 10,000 children.

WITHHELD = "withheld"  # one marker for every withheld count: a second would tell them apart
HOME_OFFICE_TABLE = (
    'the Home Office\'s published table "Police recorded crime open data: Police Force Area tables"'
)
# ONS estimates of children from mid-2021 are based on Census 2021, earlier ones on the 2011
# Census; those for mid-2024 build on revised mid-2022 and mid-2023 estimates that the
# reference tables do not hold (reference/PROVENANCE.md, "Vintage breaks").
CENSUS_2021_FIRST_MID_YEAR = 2021
REVISED_ESTIMATES_FIRST_MID_YEAR = 2024
REBASING_NOTE = (
    "Rates per 10,000 children for 2020/21 and earlier use ONS mid-year population estimates "
    "rolled forward from the 2011 Census, as first published; rates from 2021/22 use estimates "
    "based on Census 2021. The new census moved the estimates: for England and Wales, the "
    "estimate of children aged 0 to 17 at mid-2021 is 2.7 per cent lower than that for "
    "mid-2020, a step that comes from the census rather than a real fall, and it differs from "
    "area to area. Part of any change in a rate between 2020/21 and 2021/22 therefore reflects "
    "the change in population estimates, not in offences."
)
REVISION_NOTE = (
    "Rates for 2024/25 use ONS estimates for mid-2024, which build on revised estimates for "
    "mid-2022 and mid-2023 (about 0.4 per cent more people of all ages in England and Wales at "
    "mid-2023 than first published); rates for earlier years use the estimates as first "
    "published. A small part of any change in a rate between 2023/24 and 2024/25 comes from "
    "that revision."
)


def share_sentence(force: ForceFigures) -> str | None:
    """The share of the returned offences flagged online, in whole per cent (cut toward
    zero, as figures.json's online_share_pct is at one decimal)."""
    share = force.online_share
    if share is None or force.offences is None:
        return None
    return (
        f"Of the {style.thousands(force.offences)} child sexual offences in the same offence "
        f"categories in the force's return, {style.percent_words(100 * share)} were flagged "
        "online."
    )


def _force_detail_note(force: ForceFigures, period: Period, threshold: int) -> list[str]:
    """One note for the share flagged online, the offences by type and the Home Office
    context, each where printed."""
    parts = []
    if force.online_share is not None:
        parts.append(
            "The share flagged online is of all child sexual offences in the force's return "
            "under the same codes; forces use the flag unevenly, so shares differ by recording "
            "as well as by offending."
        )
    parts += _breakdown_note(force, threshold)
    if force.recorded_all is not None:
        parts.append(_home_office_note(period, "the force"))
    return [" ".join(parts)] if parts else []


def _breakdown_tables(
    force: ForceFigures, period: Period, offence_names: dict[str, str]
) -> tuple[DataTable, ...]:
    """The force's count by offence code, largest first, and the withheld codes together in
    one row; none where its own count is withheld."""
    if force.suppressed or not force.breakdown:
        return ()
    shown = sorted(
        (item for item in force.breakdown if not item.withheld),
        key=lambda item: (-item.online_flagged, item.offence_code),
    )
    rows = [
        (
            f"{item.description or offence_names.get(item.offence_code) or 'Offence'} "
            f"({item.offence_code})",
            style.thousands(item.online_flagged),
        )
        for item in shown
    ]
    withheld = [item.offence_code for item in force.breakdown if item.withheld]
    if withheld:
        rows.append((f"Other codes: {', '.join(withheld)}", WITHHELD))
    return (
        DataTable(
            f"By type of offence: {force.force.name}, {period.label}",
            ("Offence (Home Office code)", "With an online flag"),
            tuple(rows),
            under_chart=True,
        ),
    )


def _breakdown_note(force: ForceFigures, threshold: int) -> list[str]:
    if force.suppressed or not force.breakdown:
        return []
    if not any(item.withheld for item in force.breakdown):
        return []
    return [
        f"By type of offence, '{WITHHELD}': counts from 1 to {threshold - 1}, with further "
        "counts where needed so that none can be worked out from the total."
    ]


def _home_office_rows(period: Period, recorded_all: int | None, forces: str = "") -> list[TableRow]:
    if recorded_all is None:
        return []
    return [
        TableRow(
            f"All child sexual offences, {period.label} (Home Office{forces})",
            style.thousands(recorded_all),
        )
    ]


def _area_home_office_rows(figures: PeriodFigures, area: AreaFigures) -> list[TableRow]:
    context = area_recorded_all(figures, area)
    if context is None:
        return []
    forces = (
        ""
        if context.forces == area.forces_total
        else ", the same force"
        if context.forces == 1
        else f", the same {style.plural(context.forces, 'force')}"
    )
    return _home_office_rows(figures.period, context.recorded_all, forces)


def _home_office_note(period: Period, recorded_by: str) -> str:
    return (
        "All child sexual offences (Home Office) is a different measure: every child sexual "
        f"offence {recorded_by} recorded, online or not, in {HOME_OFFICE_TABLE}, "
        f"{period.label}, all four quarters; the count with an online flag is not an exact part "
        "of it."
    )


def _area_home_office_note(figures: PeriodFigures, area: AreaFigures) -> list[str]:
    context = area_recorded_all(figures, area)
    if context is None:
        return []
    counted = "the force" if context.forces == 1 else f"the {context.forces} forces"
    return [_home_office_note(figures.period, f"{counted} counted here")]


def _rated_periods(table: DataTable) -> set[Period]:
    """The years for which a chart's table prints a rate per 10,000 children."""
    rated = set()
    for index, column in enumerate(table.columns):
        if "per 10,000 children" not in column:
            continue
        for row in table.rows:
            try:
                float(row[index].replace(",", ""))
            except ValueError:  # "not given", "n/a"
                continue
            rated.add(Period.parse(row[0]))
    return rated


def _crosses(periods: set[Period], first_mid_year: int) -> bool:
    mid_years = {p.population_mid_year for p in periods}
    return bool(mid_years) and min(mid_years) < first_mid_year <= max(mid_years)


def _population_caveats(chart: Chart) -> tuple[Chart, list[str]]:
    """Where the rates a briefing prints by year cross a break in the population estimates:
    the chart's caption says so beside it, and the notes say why."""
    rated = _rated_periods(chart.table)
    caption, notes = chart.caption, []
    if _crosses(rated, CENSUS_2021_FIRST_MID_YEAR):
        caption += (
            " Rates from 2021/22 use population estimates based on Census 2021 and are not "
            "directly comparable with those for earlier years (see notes to editors)."
        )
        notes.append(REBASING_NOTE)
    if _crosses(rated, REVISED_ESTIMATES_FIRST_MID_YEAR):
        caption += " Rates for 2024/25 use revised population estimates (see notes to editors)."
        notes.append(REVISION_NOTE)
    return replace(chart, caption=caption), notes


def _briefing(
    settings: BriefingSettings,
    figures: PeriodFigures,
    scope: str,
    sources: list[Source],
    where: str | None = None,
    **parts: Any,
) -> BriefingContext:
    """The parts every briefing shares: branding, embargo and metadata from the data.
    `where`: who the figures are from, as the standfirst says it ('the Metropolitan Police',
    'police in the South West'); 'police in <scope>' by default."""
    period = figures.period
    title = f"{scope}: online child sexual offences, {period.label}"
    created = max((s.received for s in sources), default=period.last_day.isoformat())
    return BriefingContext(
        charity_name=settings.charity_name,
        logo=settings.logo,
        embargo=settings.embargo,
        period=period.label,
        title=title,
        subject=f"{parts['headline']}. Police recorded crime figures for {period.span}.",
        keywords=(
            "online child sexual offences",
            "police recorded crime",
            "online flag",
            scope,
            period.label,
        ),
        created=created,
        edition=Edition(1, created[:10]),
        standfirst=(
            f"Figures from {where or 'police in ' + scope} for {period.span}, obtained by "
            f"{settings.charity_name} under the Freedom of Information Act."
        ),
        **parts,
    )


def force_context(
    force: ForceFigures,
    figures: PeriodFigures,
    settings: BriefingSettings,
    sources: list[Source],
    published: tuple[PublishedFigure, ...],
    chart: Chart,
    refused: list[Source] | None = None,
    offence_names: dict[str, str] | None = None,
) -> BriefingContext:
    """`refused`: returns naming this force that validation refused (their figures unused).
    `offence_names`: the Home Office's description of each offence code, for the table of
    offences by type where the return gives none."""
    period = figures.period
    threshold = settings.small_number_threshold
    national = figures.national
    chart, population_notes = _population_caveats(chart)
    words = settings.words_for(force.force.code, force.force.region)
    lead = force_lead(force, period)
    rate = rate_sentence(force, national)
    paragraphs = [f"{lead} {rate}" if rate else lead]
    context = " ".join(
        s for s in (share_sentence(force), recorded_all_sentence(force, period)) if s
    )
    for sentence in (context, area_paragraph(figures.region(force.force.region), period)):
        if sentence:
            paragraphs.append(sentence)
    paragraphs += national_paragraphs(national, period)
    table = [
        TableRow(f"{force.force.name}, {period.label}", table_count(force.count, threshold)),
        TableRow(
            f"{force.force.name}, {period.previous.label}",
            table_count(force.previous, threshold, force.previous_withheld),
        ),
        *_change_cells(force),
        *_rate_rows(force.force.name, force.rate_per_10000_children),
        *_home_office_rows(period, force.recorded_all),
        *(
            [TableRow("Rank by number recorded", rank_words(force.rank, len(figures.forces)))]
            if force.rank and not force.suppressed
            else []
        ),
        TableRow(f"England and Wales, {period.label}", thousands(national.online_flagged)),
        TableRow("Forces responding", f"{national.forces_responding} of {national.forces_total}"),
        TableRow("Average per day, England and Wales", style.decimal(national.per_day)),
        *_rate_rows("England and Wales", national.rate_per_10000_children),
    ]
    published_matches = _published_force_matches(
        force, period.label, period.previous.label, published
    ) + _published_national_matches(figures, published)
    notes = (
        _caveats(figures, threshold, force.suppressed or force.previous_suppressed)
        + _force_detail_note(force, period, threshold)
        + population_notes
        + _source_notes(sources)
        + _refused_note(force.force.name, sources, refused or [])
        + _illustrative_note(sources, published_matches)
    )
    return _briefing(
        settings,
        figures,
        force.force.name,
        sources,
        where=force.force.spoken,
        headline=force_headline(force),
        paragraphs=tuple(paragraphs),
        quote=words.quote,
        contact=words.contact,
        chart=chart,
        figures_table=tuple(table),
        tables=_breakdown_tables(force, period, offence_names or {}),
        notes=tuple(notes),
    )


def _area_rows(area: AreaFigures, period: Period) -> list[TableRow]:
    change = area.like_for_like
    rows = [
        TableRow(
            f"Forces responding, {period.label}", f"{area.forces_responding} of {area.forces_total}"
        ),
        TableRow(f"{area.name}, {period.label}", thousands(area.online_flagged)),
        TableRow("Average per day", style.decimal(area.per_day)),
        *_rate_rows(area.name, area.rate_per_10000_children),
        TableRow(
            "Forces with figures for both years"
            if area.compared_every_force_with_both_years
            else "Forces whose counts for both years can be published",
            str(area.like_for_like_forces),
        ),
    ]
    if change is not None and change.percent is not None:
        rows += [
            TableRow(f"Like-for-like total, {period.previous.label}", thousands(change.previous)),
            TableRow(f"Like-for-like total, {period.label}", thousands(change.current)),
            TableRow("Change (per cent)", style.decimal(change.percent, signed=True)),
            TableRow(RISE_OR_FALL, assessment_words(area.assessment)),
        ]
    return rows


def _forces_table(forces: list[ForceFigures], period: Period, caption: str) -> DataTable:
    def rate(force: ForceFigures) -> str:
        value = force.rate_per_10000_children
        return style.decimal(value) if value is not None else "not given"

    return DataTable(
        caption,
        ("Force", period.previous.label, period.label, "Per 10,000 children", RISE_OR_FALL),
        tuple(
            (
                f.force.name,
                table_count(f.previous, f.threshold, f.previous_withheld),
                table_count(f.count, f.threshold),
                rate(f),
                assessment_words(f.assessment),
            )
            for f in forces
        ),
    )


def _regions_table(figures: PeriodFigures) -> DataTable:
    period = figures.period

    def change(area: AreaFigures) -> str:
        lfl = area.like_for_like
        return (
            style.decimal(lfl.percent, signed=True) if lfl and lfl.percent is not None else "none"
        )

    def rate(area: AreaFigures) -> str:
        value = area.rate_per_10000_children
        return style.decimal(value) if value is not None else "not given"

    return DataTable(
        f"Regions, {period.label}",
        (
            "Region",
            "Forces responding",
            "Recorded",
            "Per 10,000 children",
            "Like-for-like change (per cent)",
        ),
        tuple(
            (
                a.name,
                f"{a.forces_responding} of {a.forces_total}",
                thousands(a.online_flagged),
                rate(a),
                change(a),
            )
            for a in figures.regions
        ),
    )


def region_context(
    region: AreaFigures,
    figures: PeriodFigures,
    settings: BriefingSettings,
    sources: list[Source],
    published: tuple[PublishedFigure, ...],
    chart: Chart,
    refused: frozenset[str] = frozenset(),
) -> BriefingContext:
    """`refused`: forces (by name) whose only return for the period was refused."""
    period, national = figures.period, figures.national
    paragraphs = area_paragraphs(region, period)
    rate = area_rate_sentence(region, national)
    if rate:
        paragraphs[0] += f" {rate}"
    paragraphs += national_paragraphs(national, period)
    members = [f for f in figures.forces if f.force.region == region.name]
    words = settings.words_for(region=region.name)
    threshold = settings.small_number_threshold
    chart, population_notes = _population_caveats(chart)
    notes = (
        _caveats(figures, threshold, any(f.suppressed or f.previous_suppressed for f in members))
        + [_responding_note(figures, region, refused)]
        + _area_home_office_note(figures, region)
        + population_notes
        + _source_notes(sources)
        + _illustrative_note(
            sources,
            [
                match
                for force in members
                for match in _published_force_matches(
                    force, period.label, period.previous.label, published
                )
            ]
            + _published_national_matches(figures, published),
        )
    )
    return _briefing(
        settings,
        figures,
        region.name,
        sources,
        where=f"police in {area_name(region)}",
        headline=region_headline(region),
        paragraphs=tuple(paragraphs),
        quote=words.quote,
        contact=words.contact,
        chart=chart,
        figures_table=tuple(
            _area_rows(region, period)
            + _area_home_office_rows(figures, region)
            + [TableRow(f"England and Wales, {period.label}", thousands(national.online_flagged))]
            + _rate_rows("England and Wales", national.rate_per_10000_children)
        ),
        tables=(_forces_table(members, period, f"Forces in {area_name(region)}, {period.label}"),),
        notes=tuple(notes),
    )


def national_context(
    figures: PeriodFigures,
    settings: BriefingSettings,
    sources: list[Source],
    published: tuple[PublishedFigure, ...],
    chart: Chart,
    refused: frozenset[str] = frozenset(),
) -> BriefingContext:
    """`refused`: forces (by name) whose only return for the period was refused."""
    period, national = figures.period, figures.national
    paragraphs = national_paragraphs(national, period)
    for sentence in (
        largest_rises_sentence(figures.largest_rises),
        largest_falls_sentence(figures.largest_falls),
    ):
        if sentence:
            paragraphs.append(sentence)
    any_suppressed = any(f.suppressed or f.previous_suppressed for f in figures.forces)
    chart, population_notes = _population_caveats(chart)
    notes = (
        _caveats(figures, settings.small_number_threshold, any_suppressed)
        + [_responding_note(figures, national, refused)]
        + _area_home_office_note(figures, national)
        + population_notes
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
    return _briefing(
        settings,
        figures,
        "England and Wales",
        sources,
        headline=national_headline(national),
        paragraphs=tuple(paragraphs),
        quote=settings.national.quote,
        contact=settings.national.contact,
        chart=chart,
        figures_table=tuple(
            _area_rows(national, period) + _area_home_office_rows(figures, national)
        ),
        tables=(_regions_table(figures),),
        notes=tuple(notes),
    )


def _responding_note(
    figures: PeriodFigures, area: AreaFigures, refused: frozenset[str] = frozenset()
) -> str:
    """Which forces are in the figures, which withheld their count, which replied with a
    return that could not be used (refused by validation: never called not responding), and
    which did not respond."""
    responding = [
        f.force.name
        for f in figures.forces
        if area.name == "England and Wales" or f.force.region == area.name
    ]
    missing = area.not_responding
    note = (
        f"Forces responding for {figures.period.label} ({len(responding)}): "
        f"{', '.join(responding)}."
    )
    if area.forces_withholding:
        withholding = [force.name for force in area.forces_withholding]
        note += (
            f" Responded with the count withheld, so not included ({len(withholding)}): "
            f"{', '.join(withholding)}."
        )
    unusable = [name for name in missing if name in refused]
    silent = [name for name in missing if name not in refused]
    if unusable:
        note += (
            f" Replied with a return that could not be used, so not included "
            f"({len(unusable)}): {', '.join(unusable)}."
        )
    if silent:
        note += f" Not responding ({len(silent)}): {', '.join(silent)}."
    return note
