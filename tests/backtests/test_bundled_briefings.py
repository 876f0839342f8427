"""Backtest: run the pipeline on the bundled returns, read every PDF back as text, and check
each figure in it against figures.json and the published figures it is anchored on."""

import json
import re
from fractions import Fraction

import pytest

from flows.pipeline import RunRequest, publish_briefings
from flows.reference import force_register

from ..helpers import PROJECT_ROOT, copy_data_folder, pdf_text

NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:,\d{3})*(?:\.\d+)?(?!\w)")


@pytest.fixture(scope="module")
def bundled(prefect_api_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("bundled")
    data = copy_data_folder(PROJECT_ROOT / "data", root / "data")
    summary = publish_briefings(RunRequest(data_dir=data, out_dir=root / "out"))
    figures = json.loads(summary.figures_json.read_text())
    texts = {pdf.name: pdf_text(pdf) for pdf in summary.pdfs}
    return summary, figures, texts


def test_the_bundled_round_matches_the_published_figures(bundled):
    summary, figures, _ = bundled
    assert summary.period_dir.name == "2016-17"
    assert figures["period"] == "2016/17" and figures["previous_period"] == "2015/16"
    expected = {
        "forces_total": 43, "forces_responding": 39, "online_flagged": 5653,
        "like_for_like_forces": 39, "like_for_like_current": 5653,
        "like_for_like_previous": 3903, "change_pct": 44.8, "change_assessment": "rose",
        "per_day": 15.5, "previous_forces_responding": 39, "pdf": "national.pdf",
        "forces_not_responding": ["Bedfordshire", "City of London", "Dorset", "Warwickshire"],
    }  # fmt: skip
    assert {key: figures["national"][key] for key in expected} == expected
    wiltshire = next(f for f in figures["forces"] if f["name"] == "Wiltshire")
    assert {
        k: wiltshire[k]
        for k in (
            "code",
            "region",
            "online_flagged",
            "previous_online_flagged",
            "change_pct",
            "ratio",
            "suppressed",
            "pdf",
        )
    } == {
        "code": "E23000038",
        "region": "South West",
        "online_flagged": 44,
        "previous_online_flagged": 10,
        "change_pct": 340.0,
        "ratio": 4.4,
        "suppressed": False,
        "pdf": "wiltshire.pdf",
    }
    assert wiltshire["sources"] == ["wiltshire-police-foi-response-2017.xlsx"]
    published = {
        "Cleveland": (55, 145),
        "Northumbria": (98, 323),
        "Northamptonshire": (59, 72),
        "Lincolnshire": (112, 58),
        "Humberside": (125, 226),
    }
    by_name = {f["name"]: f for f in figures["forces"]}
    for name, (before, after) in published.items():
        assert (by_name[name]["previous_online_flagged"], by_name[name]["online_flagged"]) == (
            before,
            after,
        )


def test_wiltshire_states_its_figures_and_a_four_fold_increase(bundled):
    text = bundled[2]["wiltshire.pdf"]
    assert (
        "Police in Wiltshire recorded 44 child sexual offences with an online flag in "
        "2016/17, a four-fold increase on the 10 recorded in 2015/16."
    ) in text


def test_the_national_briefing_states_the_national_picture(bundled):
    text = bundled[2]["national.pdf"]
    assert "5,653" in text
    assert "a 44 per cent rise" in text
    assert "Among the 39 forces that provided figures for both 2015/16 and 2016/17" in text
    assert "on average, 15 a day" in text


def test_every_briefing_says_its_figures_are_illustrative(bundled):
    for name, text in bundled[2].items():
        assert "Illustrative figures" in text, name
    assert "Wiltshire 2016/17: 44" in bundled[2]["wiltshire.pdf"]


def _truncated(value: Fraction) -> str:
    tenths = int(value * 10)
    return f"{tenths // 10:,}.{tenths % 10}"


def _area_numbers(area: dict, days: int) -> set[str]:
    """An area's figures as tables and sentences print them."""
    per_day = Fraction(area["online_flagged"], days)
    allowed = {str(area["forces_total"]), str(area["forces_responding"]),
               str(area["like_for_like_forces"]), f"{area['online_flagged']:,}",
               f"{area['per_day']:.1f}", f"{int(per_day):,}"}  # fmt: skip
    if area["rate_per_10000_children"] is not None:
        allowed.add(f"{area['rate_per_10000_children']:.1f}")
        allowed.add(_truncated(Fraction(10000 * area["online_flagged"], area["children"])))
    before, after = area["like_for_like_previous"], area["like_for_like_current"]
    if before is not None:
        allowed |= {f"{before:,}", f"{after:,}"}
    if before:
        exact = Fraction(100 * (after - before), before)
        allowed |= {str(abs(int(exact))), f"{area['change_pct']:.1f}", f"{area['change_pct']:+.1f}"}
    return allowed | _yearly_numbers(area)


def _yearly_numbers(entry: dict) -> set[str]:
    allowed = set()
    for year in entry["yearly"]:
        if year["online_flagged"] is not None:
            allowed.add(f"{year['online_flagged']:,}")
        if year["rate_per_10000_children"] is not None:
            allowed.add(f"{year['rate_per_10000_children']:.1f}")
    return allowed


def _force_numbers(force: dict) -> set[str]:
    allowed = _yearly_numbers(force)
    allowed |= {f"{c:,}" for c in (force["online_flagged"], force["previous_online_flagged"])
                if c is not None}  # fmt: skip
    if force["rate_per_10000_children"] is not None:
        allowed.add(f"{force['rate_per_10000_children']:.1f}")
        allowed.add(_truncated(Fraction(10000 * force["online_flagged"], force["children"])))
    if force["change_pct"] is not None:
        allowed |= {f"{force['change']:+,}", f"{force['change_pct']:+.1f}", f"{force['ratio']:.1f}"}
        exact = Fraction(100 * force["change"], force["previous_online_flagged"])
        allowed.add(f"{abs(int(exact)):,}")  # prose rounds toward zero
    return allowed


def _allowed_numbers(figures: dict, pdf: str) -> set[str]:
    """Every way a figure from figures.json may be printed in one PDF: as is, in a table,
    in a chart's table, or in prose (rounded toward zero)."""
    days = figures["days"]
    allowed = {"5", "10,000", "0", "17"}  # "fewer than 5", "per 10,000 children aged 0 to 17"
    allowed |= _area_numbers(figures["national"], days)
    forces = {f["pdf"]: f for f in figures["forces"]}
    regions = {r["pdf"]: r for r in figures["regions"] if r.get("pdf")}
    if pdf in forces:
        force = forces[pdf]
        region = next(r for r in figures["regions"] if r["name"] == force["region"])
        allowed |= _force_numbers(force) | _area_numbers(region, days)
        allowed.add(str(len(figures["forces"])))  # the rank is printed as an ordinal, "39th"
    elif pdf in regions:
        region = regions[pdf]
        allowed |= _area_numbers(region, days)
        for force in figures["forces"]:
            if force["region"] == region["name"]:
                allowed |= _force_numbers(force)
    else:
        for region in figures["regions"]:
            allowed |= _area_numbers(region, days)
        for force in figures["forces"]:
            counts = (force["online_flagged"], force["previous_online_flagged"])
            allowed |= {f"{c:,}" for c in counts if c is not None}
    return allowed


def _body(text: str) -> str:
    """The text a reader takes figures from: before the notes, without dates and page numbers."""
    body = text.split("Notes to editors")[0]
    body = re.sub(r"Press contact:.*?\d{3,5} \d{3,4} \d{4}", "", body)
    body = re.sub(r"Page \d+ of \d+", "", body)
    body = re.sub(r"\b20\d\d/\d\d\b", "", body)
    body = re.sub(r"\b(April|March) 20\d\d\b", "", body)
    return body


def test_every_number_in_every_briefing_is_a_figure_from_figures_json(bundled):
    _, figures, texts = bundled
    forces = {f["pdf"] for f in figures["forces"]}
    regions = {r["pdf"] for r in figures["regions"] if r["forces_responding"]}
    assert len(regions) == 10
    assert set(texts) == forces | regions | {"national.pdf"}
    for name, text in texts.items():
        allowed = _allowed_numbers(figures, name)
        printed = set(NUMBER.findall(_body(text)))
        assert printed <= allowed, f"{name}: untraceable numbers {printed - allowed}"


def test_every_force_briefing_names_its_force_and_region_figures(bundled):
    _, figures, texts = bundled
    register = force_register()
    for force in figures["forces"]:
        text = texts[force["pdf"]]
        assert register.by_code(force["code"]).name in text
        assert f"{force['online_flagged']:,}" in text


def test_no_briefing_claims_significance_or_uses_stronger_words(bundled):
    for name, text in bundled[2].items():
        lowered = text.lower()
        for phrase in ("significant", "leapt", "soared", "nearly three-fold", "three times"):
            assert phrase not in lowered, (name, phrase)


def test_every_aggregate_names_the_raw_files_behind_it(bundled):
    _, figures, _ = bundled
    assert figures["national"]["sources"] == sorted(
        {source for force in figures["forces"] for source in force["sources"]}
    )
    for region in figures["regions"]:
        assert set(region["sources"]) <= set(figures["national"]["sources"])
