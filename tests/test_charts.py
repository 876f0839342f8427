"""The chart's SVG: what it draws, in the same bytes for the same figures, text as escaped
text, a legend that fits for every force and region, and labels a PDF keeps as text."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from functools import cache

from briefings.domain.briefing import ChartSpec
from briefings.reference import force_register
from briefings.render import charts
from briefings.resources import BRANDING_DIR

SVG = "{http://www.w3.org/2000/svg}"
YEARS = ("2015/16", "2016/17", "2017/18")
RATES = "Offences with an online flag per 10,000 children"


def three_series(names=("Dyfed-Powys", "Wales", "England and Wales")) -> ChartSpec:
    values = ((None, 2.86, 3.2), (2.3, 3.25, None), (3.2, 4.7, 5.69))
    return ChartSpec(YEARS, tuple(zip(names, values, strict=True)), RATES, "n/a", 1)


def counts() -> ChartSpec:
    return ChartSpec(YEARS, (("England and Wales", (3903, 5653, 6828)),), "Counts", "not given", 0)


def texts(svg: bytes) -> list[tuple[str, ET.Element]]:
    root = ET.fromstring(svg)
    return [(element.text or "", element) for element in root.iter(f"{SVG}text")]


def test_the_same_figures_give_the_same_bytes_with_no_ids_or_dates():
    first = charts.draw(three_series())
    assert charts.draw(three_series()) == first
    assert b" id=" not in first and not re.search(rb"\d{4}-\d\d-\d\d", first)
    assert charts.draw(counts()) != first


def test_bars_labels_years_title_and_legend_as_today():
    """Each value printed as the house style cuts it, a gap labelled 'n/a' for None (no bar),
    years under the axis, the title at the top left, a legend of every series, the series'
    colours; only the bottom axis is drawn."""
    svg = charts.draw(three_series())
    root = ET.fromstring(svg)
    found = [text for text, _ in texts(svg)]
    assert found[0] == RATES
    assert found[1:10] == ["n/a", "2.8", "3.2", "2.3", "3.2", "n/a", "3.2", "4.7", "5.6"]
    assert found[10:13] == list(YEARS)
    assert found[13:] == ["Dyfed-Powys", "Wales", "England and Wales"]
    missing = [element for text, element in texts(svg) if text == "n/a"]
    assert {element.get("fill") for element in missing} == {"#555555"}
    bars = [r for r in root.iter(f"{SVG}rect") if float(r.get("y")) < 150]
    legend = [r for r in root.iter(f"{SVG}rect") if float(r.get("y")) > 150]
    assert len(bars) == 7  # nine values, two of them missing
    assert [r.get("fill") for r in legend] == list(charts.SERIES_COLOURS)
    assert {r.get("fill") for r in bars} == set(charts.SERIES_COLOURS)
    (axis,) = root.iter(f"{SVG}path")
    assert axis.get("d").startswith("M10 143.5H292")  # the bottom axis, then its ticks
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == RATES
    assert root.get("font-family") == "DejaVu Sans"


def test_a_counts_chart_has_no_legend_and_prints_counts_with_commas():
    svg = charts.draw(counts())
    root = ET.fromstring(svg)
    assert [text for text, _ in texts(svg)] == ["Counts", "3,903", "5,653", "6,828", *YEARS]
    assert root.get("height") == "158.4pt"
    assert all(element.get("font-size") == "9" for _, element in texts(svg))


def test_text_from_data_is_escaped_text_never_markup():
    hostile = '<img src="file:///etc/passwd"> & </text><script>alert(1)</script>'
    spec = ChartSpec(YEARS[:1], ((hostile, (1.0,)), ("B", (2.0,))), hostile, "n/a", 1)
    svg = charts.draw(spec)
    assert b"<img" not in svg and b"<script" not in svg
    found = [text for text, _ in texts(svg)]
    assert found.count(hostile) == 2  # the title and the legend
    assert ET.fromstring(svg).find(f"{SVG}title").text == hostile


@cache
def _advances():
    from fontTools.ttLib import TTFont

    font = TTFont(BRANDING_DIR / "fonts" / "DejaVuSans.ttf")
    return font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm


def drawn_width(text: str, size: float) -> float:
    """A text's width as DejaVu Sans draws it (the font's advance widths)."""
    cmap, metrics, units = _advances()
    return sum(metrics[cmap[ord(c)]][0] for c in text) * size / units


def every_legend() -> list[tuple[str, ...]]:
    """The series of every force's and region's chart."""
    forces = force_register().forces
    regions = sorted({force.region for force in forces})
    return [
        *((force.name, force.region, "England and Wales") for force in forces),
        *((region, "England and Wales") for region in regions),
    ]


def test_every_legend_of_a_force_or_region_fits_in_one_row_without_overlap():
    """Laid out from estimated widths: each estimate at least the width DejaVu Sans draws (so
    no label runs into the next entry's colour), and the last label ends inside the chart."""
    legends = every_legend()
    assert len(legends) == 43 + 10
    for names in legends:
        assert all(charts.legend_label_width(n) >= drawn_width(n, 7) for n in names), names
        svg = charts.draw(three_series(names) if len(names) == 3 else _two(names))
        root = ET.fromstring(svg)
        assert root.get("height") == "187.2pt", names  # one row
        keys = [r for r in root.iter(f"{SVG}rect") if float(r.get("y")) > 150]
        labels = [element for text, element in texts(svg) if text in names][-len(names) :]
        ends = [float(e.get("x")) + drawn_width(e.text or "", 7) for e in labels]
        starts = [float(k.get("x")) for k in keys]
        assert all(end < start for end, start in zip(ends, starts[1:], strict=False)), names
        assert ends[-1] <= charts.WIDTH, names


def _two(names: tuple[str, ...]) -> ChartSpec:
    return ChartSpec(YEARS, tuple((n, (1.0, 2.0, 3.0)) for n in names), RATES, "n/a", 1)


def test_a_legend_too_long_for_one_row_takes_two_and_the_chart_grows_to_hold_them():
    names = ("A police force with a very long name", "A region with a long name", "Nation")
    svg = charts.draw(three_series(names))
    root = ET.fromstring(svg)
    assert root.get("height") == "197.2pt"
    labels = {text: element for text, element in texts(svg)}
    assert float(labels[names[2]].get("y")) == float(labels[names[0]].get("y")) + 10
    for name in names:
        assert float(labels[name].get("x")) + drawn_width(name, 7) <= charts.WIDTH


def test_a_chart_in_a_pdf_keeps_its_labels_as_text(tmp_path):
    """WeasyPrint draws the SVG's text as PDF text: pdftotext reads the title, every value
    label, the gaps' 'n/a', the years and the legend back."""
    from briefings.render.pdf import write_pdf

    uri = charts.svg_data_uri(charts.draw(three_series()))
    html = f'<html lang="en-GB"><body><img src="{uri}" alt="Bar chart"></body></html>'
    target = tmp_path / "chart.pdf"
    write_pdf(html, target, data_uris=(uri,))
    text = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(target), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    words = re.findall(r"\S+", text)
    for expected in (RATES, *YEARS, "Dyfed-Powys", "Wales", "England and Wales"):
        assert " ".join(expected.split()) in " ".join(words), expected
    assert words.count("n/a") == 2
    assert [w for w in words if re.fullmatch(r"\d\.\d", w)] == [
        "2.8",
        "3.2",
        "2.3",
        "3.2",
        "3.2",
        "4.7",
        "5.6",
    ]
