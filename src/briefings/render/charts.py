"""Charts as SVG with text kept as text, stable bytes for the same figures.

Every chart comes with alt text stating each figure drawn and a table of the same numbers.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from fractions import Fraction
from functools import cache

from briefings.domain import style
from briefings.domain.briefing import BriefingContext, Chart, ChartSpec, DataTable
from briefings.domain.figures import AreaFigures, ForceFigures, PeriodFigures, one_decimal


@cache
def _figure_class():
    """matplotlib's Figure, set up once; imported on first drawing, not with this module (it
    costs a second, and a run with nothing to render draws nothing). No pyplot: figures are
    plain objects, closed by going out of scope."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",  # chart text stays text in the PDF
            "svg.hashsalt": "briefings",  # stable element ids: the same data, the same bytes
            "font.family": "DejaVu Sans",
            "font.size": 9,
        }
    )
    return Figure


# Dark to light, so the series read in order even in greyscale; the legend names them.
SERIES_COLOURS = ("#1d4f91", "#6f9bd1", "#9a9a9a")
NOT_GIVEN = "not given"
PER_10000 = "per 10,000 children"


def _svg(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def draw(spec: ChartSpec) -> bytes:
    """Bars by year, one per series side by side; None is drawn as a labelled gap."""
    grouped = len(spec.series) > 1
    figure = _figure_class()(figsize=(4.2, 2.6 if grouped else 2.2))
    axes = figure.subplots()
    width = (0.8 if grouped else 0.55) / len(spec.series)
    tallest = 0.0
    for index, (name, values) in enumerate(spec.series):
        offsets = [
            x + (index - (len(spec.series) - 1) / 2) * width for x in range(len(spec.labels))
        ]
        heights = [v if v is not None else 0 for v in values]
        tallest = max([tallest, *heights])
        bars = axes.bar(
            offsets,
            heights,
            width=width * (0.92 if grouped else 1),
            label=name,
            color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
        )
        for bar, value in zip(bars, values, strict=True):
            text = style.decimal(value, spec.decimals) if value is not None else spec.missing
            _label(axes, bar, text, value is None, 7 if grouped else 9)
    axes.set_xticks(range(len(spec.labels)), spec.labels)
    axes.set_title(spec.title, loc="left", fontsize=9)
    if grouped:
        axes.legend(
            loc="upper left",
            bbox_to_anchor=(0, -0.12),
            ncols=len(spec.series),
            frameon=False,
            fontsize=7,
            handlelength=1,
            columnspacing=1,
        )
    _plain_axes(axes, max(tallest, 0.1))
    return _svg(figure)


def warm() -> None:
    """matplotlib imported and set up, and its font loaded, before the first chart."""
    figure = _figure_class()(figsize=(1, 1))
    figure.text(0, 0, "0")
    figure.savefig(io.BytesIO(), format="svg", metadata={"Date": None})


def drawn(context: BriefingContext) -> BriefingContext:
    """The context with its chart drawn, ready to render."""
    chart = replace(context.chart, svg_data_uri=svg_data_uri(draw(context.chart.spec)))
    return replace(context, chart=chart)


def _label(axes, bar, text: str, missing: bool, size: float = 9) -> None:
    axes.annotate(
        text,
        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=size,
        color="#555555" if missing else "#222222",
    )


def _plain_axes(axes, tallest: float) -> None:
    axes.spines[["top", "right", "left"]].set_visible(False)
    axes.set_yticks([])
    axes.set_ylim(0, tallest * 1.25)


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


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def yearly_chart(
    figures: PeriodFigures, keys: list[tuple[str, str]], subject: str, missing_count: str
) -> Chart:
    """The first (key, name)'s numbers by year against the others' rates per 10,000 children;
    its counts alone where it has no rate in any year."""
    yearly = figures.yearly
    own = yearly.get(keys[0][0], ())
    labels = [year.period for year in own]
    counts = [year.count for year in own]
    series = [
        (name, [_rate(year.rate_per_10000_children) for year in yearly.get(key, ())])
        for key, name in keys
    ]
    names = [name for name, _ in series]
    if all(value is None for value in series[0][1]):
        return _counts_chart(labels, counts, keys[0][1], missing_count)
    described = "; ".join(
        f"{label}: " + ", ".join(f"{name} {_rate_text(values[i])}" for name, values in series)
        for i, label in enumerate(labels)
    )
    columns = ("Year", f"{names[0]}, number recorded", *(f"{n}, {PER_10000}" for n in names))
    rows = tuple(
        (label, _count_text(counts[i], missing_count), *(_rate_text(v[i]) for _, v in series))
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
        f"fewer than {force.threshold}",
    )


def region_chart(region: AreaFigures, figures: PeriodFigures) -> Chart:
    return yearly_chart(
        figures,
        [(region.name, region.name), ("England and Wales", "England and Wales")],
        f"{region.name} against England and Wales",
        NOT_GIVEN,
    )


def national_chart(figures: PeriodFigures) -> Chart:
    """The nation's counts by year (forces responding each year), with rates in the table."""
    chart = _counts_chart(
        [year.period for year in figures.yearly.get("England and Wales", ())],
        [year.count for year in figures.yearly.get("England and Wales", ())],
        "England and Wales",
        NOT_GIVEN,
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


def _counts_chart(labels: list[str], values: list[int | None], name: str, missing: str) -> Chart:
    """Counts by year, where no rate per 10,000 children can be given."""
    described = "; ".join(
        f"{label}: {_count_text(value, missing)}"
        for label, value in zip(labels, values, strict=True)
    )
    return Chart(
        spec=ChartSpec(
            tuple(labels),
            ((name, tuple(values)),),
            f"{name}: offences with an online flag",
            missing,
            0,
        ),
        alt=f"Bar chart of child sexual offences with an online flag recorded in {name}, "
        f"by financial year: {described}.",
        caption=f"Child sexual offences with an online flag recorded in {name}, by year.",
        table=DataTable(
            f"Figures in the chart: {name}",
            ("Year", f"{name}, number recorded"),
            tuple(
                (label, _count_text(value, missing))
                for label, value in zip(labels, values, strict=True)
            ),
        ),
    )
