"""Charts as SVG with text kept as text, stable bytes for the same figures."""

from __future__ import annotations

import base64
import io

import matplotlib

from flows.briefing import Chart
from flows.figures import ForceFigures, PeriodFigures, is_small

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",  # chart text stays text in the PDF
        "svg.hashsalt": "briefings",  # stable element ids, so the same data gives the same bytes
        "font.family": "DejaVu Sans",
        "font.size": 9,
    }
)

BAR_COLOUR = "#1d4f91"
WITHHELD_COLOUR = "#b8c4d6"


def bar_chart_svg(
    labels: list[str], values: list[int | None], title: str, withheld_label: str
) -> bytes:
    """Bars by year; a value of None is a withheld (suppressed) count, drawn as a labelled gap."""
    figure, axes = plt.subplots(figsize=(4.2, 2.2))
    heights = [v if v is not None else 0 for v in values]
    bars = axes.bar(labels, heights, color=BAR_COLOUR, width=0.55)
    for bar, value in zip(bars, values, strict=True):
        text = f"{value:,}" if value is not None else withheld_label
        axes.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            color="#222222" if value is not None else "#555555",
        )
    axes.set_title(title, loc="left", fontsize=9)
    axes.spines[["top", "right", "left"]].set_visible(False)
    axes.set_yticks([])
    axes.set_ylim(0, max(heights + [1]) * 1.25)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    return buffer.getvalue()


def svg_data_uri(svg: bytes) -> str:
    # An <img> with a data URI, not inline <svg>, which WeasyPrint renders without warnings.
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def force_chart(force: ForceFigures) -> Chart:
    labels = [label for label, _ in force.history]
    values = [None if is_small(count, force.threshold) else count for _, count in force.history]
    withheld = f"fewer than {force.threshold}"
    name = force.force.name
    described = "; ".join(
        f"{label}: {value:,}" if value is not None else f"{label}: {withheld}"
        for label, value in zip(labels, values, strict=True)
    )
    return Chart(
        svg_data_uri=svg_data_uri(
            bar_chart_svg(labels, values, f"{name}: offences with an online flag", withheld)
        ),
        alt=f"Bar chart of child sexual offences with an online flag recorded in {name}, "
        f"by financial year: {described}.",
        caption=f"Child sexual offences with an online flag recorded in {name}, by year.",
    )


def national_chart(figures: PeriodFigures) -> Chart:
    labels = [label for label, _ in figures.national_history]
    values = [total for _, total in figures.national_history]
    described = "; ".join(f"{label}: {value:,}" for label, value in figures.national_history)
    return Chart(
        svg_data_uri=svg_data_uri(
            bar_chart_svg(labels, values, "England and Wales: offences with an online flag", "")
        ),
        alt="Bar chart of child sexual offences with an online flag recorded in England and "
        f"Wales, by financial year, over the forces that responded each year: {described}.",
        caption="Child sexual offences with an online flag, England and Wales, by year "
        "(forces responding each year).",
    )
