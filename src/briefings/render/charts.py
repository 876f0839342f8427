"""Charts as SVG with text kept as text, stable bytes for the same figures.

The SVG is written here, not by a plotting library: a few bars and labels, laid out on a fixed
grid, so drawing costs next to nothing beside the PDF around it and the same figures always
give the same bytes (no ids, no dates). Text is centred on its point or starts at it, so no
text is measured; the legend alone is laid out from an estimate of its labels' widths.

Every chart comes with alt text stating each figure drawn and a table of the same numbers.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from fractions import Fraction
from xml.sax.saxutils import escape

from briefings.domain import style
from briefings.domain.briefing import BriefingContext, Chart, ChartSpec, DataTable
from briefings.domain.figures import (
    SUPPRESSED,
    WITHHELD,
    AreaFigures,
    ForceFigures,
    PeriodFigures,
    YearFigures,
    one_decimal,
)

# Dark to light, so the series read in order even in greyscale; the legend names them.
SERIES_COLOURS = ("#1d4f91", "#6f9bd1", "#9a9a9a")
NOT_GIVEN = "not given"
PER_10000 = "per 10,000 children"

# The grid, in points (the SVG's user units): 4.2 by 2.6 inches with a legend, 2.2 without.
WIDTH = 302.4
LEFT, RIGHT = 10.0, 292.0  # the bottom axis
TITLE_Y = 17.5  # the title's baseline
TOP = 24.0  # the plot's top, at 1.25 times the tallest value: room for its label
BASELINE = {False: 132.5, True: 143.5}  # the axis, without and with a legend
HEIGHT = {False: 158.4, True: 187.2}
YEAR_BELOW = 14.0  # the years' baseline under the axis
LEGEND_BELOW = 26.0  # the legend's baseline under the axis
LEGEND_LINE = 10.0  # a second row of legend, should its labels not fit in one
TITLE_SIZE = YEAR_SIZE = 9
LEGEND_SIZE = 7
DESCENT = 0.236  # DejaVu Sans's, in ems: a value label's lowest point sits 2pt above its bar
KEY, KEY_GAP, ENTRY_GAP = 7.0, 4.0, 7.0  # a legend entry: its colour square, gap, then label


def draw(spec: ChartSpec) -> bytes:
    """Bars by year, one per series side by side; None is drawn as a labelled gap."""
    grouped = len(spec.series) > 1
    baseline = BASELINE[grouped]
    legend, legend_rows = _legend(spec, baseline + LEGEND_BELOW) if grouped else ([], 1)
    height = HEIGHT[grouped] + (legend_rows - 1) * LEGEND_LINE
    tallest = max([0.1, *(v for _, values in spec.series for v in values if v is not None)])
    scale = (baseline - TOP) / (tallest * 1.25)
    # A year's bars take `group` of the distance between years; the axis runs 5 per cent of
    # the span of all bars beyond them on each side.
    group = 0.8 if grouped else 0.55
    span = max(len(spec.labels) - 1, 0) + group
    unit = (RIGHT - LEFT) / (span * 1.1)
    centres = [LEFT + (0.05 * span + group / 2 + year) * unit for year in range(len(spec.labels))]
    step = group * unit / len(spec.series)
    width = step * (0.92 if grouped else 1)
    label_size = 7 if grouped else 9
    bars, labels = [], []
    for index, (_, series) in enumerate(spec.series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        offset = (index - (len(spec.series) - 1) / 2) * step
        for year, value in enumerate(series):
            centre = centres[year] + offset
            top = baseline - (value or 0) * scale
            if value:
                bars.append(
                    f'<rect x="{_n(centre - width / 2)}" y="{_n(top)}" width="{_n(width)}" '
                    f'height="{_n(baseline - top)}" fill="{colour}"/>'
                )
            text = style.decimal(value, spec.decimals) if value is not None else spec.gap(year)
            labels.append(
                _text(
                    centre,
                    top - 2 - DESCENT * label_size,
                    text,
                    label_size,
                    "#222222" if value is not None else "#555555",
                    "middle",
                )
            )
    axis = [
        f'<path d="M{_n(LEFT)} {_n(baseline)}H{_n(RIGHT)}'
        + "".join(f"M{_n(x)} {_n(baseline)}v3.5" for x in centres)
        + '" stroke="#000000" stroke-width="0.8" fill="none"/>'
    ]
    years = [
        _text(x, baseline + YEAR_BELOW, label, YEAR_SIZE, None, "middle")
        for x, label in zip(centres, spec.labels, strict=True)
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(WIDTH)}pt" height="{_n(height)}pt" '
        f'viewBox="0 0 {_n(WIDTH)} {_n(height)}" role="img" font-family="DejaVu Sans">',
        f"<title>{escape(spec.title)}</title>",
        _text(LEFT, TITLE_Y, spec.title, TITLE_SIZE),
        *bars,
        *labels,
        *axis,
        *years,
        *legend,
        "</svg>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")


def _legend(spec: ChartSpec, y: float) -> tuple[list[str], int]:
    """Each series' colour and name, left to right under the axis, in as many rows as the
    labels' estimated widths need (one, for every force and region): elements and rows."""
    elements, x, rows = [], LEFT, 1
    for index, (name, _) in enumerate(spec.series):
        entry = KEY + KEY_GAP + legend_label_width(name)
        if x > LEFT and x + entry > WIDTH:
            x, y, rows = LEFT, y + LEGEND_LINE, rows + 1
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        elements.append(
            f'<rect x="{_n(x)}" y="{_n(y - 0.7 * KEY)}" width="{_n(KEY)}" '
            f'height="{_n(0.7 * KEY)}" fill="{colour}"/>'
        )
        elements.append(_text(x + KEY + KEY_GAP, y, name, LEGEND_SIZE))
        x += entry + ENTRY_GAP
    return elements, rows


def legend_label_width(name: str) -> float:
    """A legend label's width, estimated from its length and never less than DejaVu Sans
    draws it (short names of capitals and wide letters included: a test measures every name
    a legend can hold)."""
    return LEGEND_SIZE * (0.56 * len(name) + 0.8)


def _text(
    x: float,
    y: float,
    text: str,
    size: float,
    colour: str | None = None,
    anchor: str = "start",
) -> str:
    fill = f' fill="{colour}"' if colour else ""
    middle = ' text-anchor="middle"' if anchor == "middle" else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}"{middle}{fill}>{escape(text)}</text>'
    )


def _n(value: float) -> str:
    """A coordinate as the SVG gives it: two decimals at most, the same for the same value."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def drawn(context: BriefingContext) -> BriefingContext:
    """The context with its chart drawn, ready to render."""
    chart = replace(context.chart, svg_data_uri=svg_data_uri(draw(context.chart.spec)))
    return replace(context, chart=chart)


def svg_data_uri(svg: bytes) -> str:
    # An <img> with a data URI, not inline <svg>, which WeasyPrint renders without warnings.
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _rate(value: Fraction | None) -> float | None:
    return one_decimal(value) if value is not None else None


def _rate_text(value: float | None) -> str:
    """A rate as the chart's table prints it: cut toward zero, like every printed figure."""
    return style.decimal(value) if value is not None else NOT_GIVEN


def _count_text(value: int | None, missing: str) -> str:
    return f"{value:,}" if value is not None else missing


def _not_printed(year: YearFigures, threshold: int | None) -> str:
    """Why a year has no count, in the words of the chart and its table."""
    if year.not_printed == SUPPRESSED and threshold is not None:
        return f"fewer than {threshold}"
    if year.not_printed == WITHHELD:
        return "withheld by the force"
    return NOT_GIVEN


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def yearly_chart(
    figures: PeriodFigures,
    keys: list[tuple[str, str]],
    subject: str,
    threshold: int | None = None,
) -> Chart:
    """The first (key, name)'s numbers by year against the others' rates per 10,000 children;
    its counts alone where it has no rate in any year. `threshold`: a force's, below which its
    count is not printed."""
    yearly = figures.yearly
    own = yearly.get(keys[0][0], ())
    labels = [year.period for year in own]
    counts = [year.count for year in own]
    gaps = [_not_printed(year, threshold) for year in own]
    series = [
        (name, [_rate(year.rate_per_10000_children) for year in yearly.get(key, ())])
        for key, name in keys
    ]
    names = [name for name, _ in series]
    if all(value is None for value in series[0][1]):
        return _counts_chart(labels, counts, keys[0][1], gaps)
    described = "; ".join(
        f"{label}: " + ", ".join(f"{name} {_rate_text(values[i])}" for name, values in series)
        for i, label in enumerate(labels)
    )
    columns = ("Year", f"{names[0]}, number recorded", *(f"{n}, {PER_10000}" for n in names))
    rows = tuple(
        (label, _count_text(counts[i], gaps[i]), *(_rate_text(v[i]) for _, v in series))
        for i, label in enumerate(labels)
    )
    return Chart(
        spec=ChartSpec(
            tuple(labels),
            tuple((name, tuple(values)) for name, values in series),
            f"Offences with an online flag {PER_10000}",
            "n/a",
            1,
        ),
        alt=f"Bar chart of child sexual offences with an online flag {PER_10000}, by financial "
        f"year, for {_joined(names)}: {described}. Bars marked n/a have no rate.",
        caption=f"Child sexual offences with an online flag {PER_10000} aged 0 to 17, by year: "
        f"{subject}.",
        table=DataTable(f"Figures in the chart: {subject}", columns, rows),
    )


def force_chart(force: ForceFigures, figures: PeriodFigures) -> Chart:
    """The force's rate by year against its region's and the nation's."""
    name, region = force.force.name, force.force.region
    return yearly_chart(
        figures,
        [(force.force.code, name), (region, region), ("England and Wales", "England and Wales")],
        f"{name} against {region} and England and Wales",
        force.threshold,
    )


def region_chart(region: AreaFigures, figures: PeriodFigures) -> Chart:
    return yearly_chart(
        figures,
        [(region.name, region.name), ("England and Wales", "England and Wales")],
        f"{region.name} against England and Wales",
    )


def national_chart(figures: PeriodFigures) -> Chart:
    """The nation's counts by year (forces responding each year), with rates in the table."""
    national = figures.yearly.get("England and Wales", ())
    chart = _counts_chart(
        [year.period for year in national],
        [year.count for year in national],
        "England and Wales",
        [_not_printed(year, None) for year in national],
    )
    rates = [
        _rate_text(_rate(year.rate_per_10000_children))
        for year in figures.yearly.get("England and Wales", ())
    ]
    table = chart.table
    return replace(
        chart,
        alt=chart.alt.replace(
            ", by financial year:", ", by financial year, over the forces that responded each year:"
        ),
        table=replace(
            table,
            columns=(*table.columns, f"England and Wales, {PER_10000}"),
            rows=tuple((*row, rate) for row, rate in zip(table.rows, rates, strict=True)),
        ),
    )


def _counts_chart(labels: list[str], values: list[int | None], name: str, gaps: list[str]) -> Chart:
    """Counts by year, where no rate per 10,000 children can be given; `gaps` says why each
    year without a count has none."""
    texts = [_count_text(value, gap) for value, gap in zip(values, gaps, strict=True)]
    described = "; ".join(f"{label}: {text}" for label, text in zip(labels, texts, strict=True))
    return Chart(
        spec=ChartSpec(
            tuple(labels),
            ((name, tuple(values)),),
            f"{name}: offences with an online flag",
            tuple(gaps),
            0,
        ),
        alt=f"Bar chart of child sexual offences with an online flag recorded in {name}, "
        f"by financial year: {described}.",
        caption=f"Child sexual offences with an online flag recorded in {name}, by year.",
        table=DataTable(
            f"Figures in the chart: {name}",
            ("Year", f"{name}, number recorded"),
            tuple(zip(labels, texts, strict=True)),
        ),
    )
