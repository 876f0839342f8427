"""Backtest: run the pipeline on the bundled returns, read every PDF back as text, and check
each figure in it against figures.json and the published figures it is anchored on.

The bundled returns cover 2015/16 to 2017/18. The round of the 2017 press release, 2016/17, is
published whole; 2017/18, the period `make run` publishes and the year of the bundled Home
Office table, for three forces."""

import json
import re
from fractions import Fraction
from itertools import pairwise

import pytest

from briefings.reference import force_register, offence_descriptions
from flows.pipeline import RunRequest, publish_briefings

from ..helpers import PROJECT_ROOT, copy_data_folder, pdf_text
from ..test_house_style import lint_folder

NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:,\d{3})*(?:\.\d+)?(?!\w)")
PERIOD = "2016/17"  # the round of the 2017 press release; the latest bundled is 2017/18


@pytest.fixture(scope="module")
def bundled(prefect_api_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("bundled")
    data = copy_data_folder(PROJECT_ROOT / "data", root / "data")
    summary = publish_briefings(RunRequest(data_dir=data, out_dir=root / "out", period=PERIOD))
    figures = json.loads(summary.figures_json.read_text())
    texts = {pdf.name: pdf_text(pdf) for pdf in summary.pdfs}
    return summary, figures, texts


def test_the_bundled_round_matches_the_published_figures(bundled):
    summary, figures, _ = bundled
    assert summary.period_dir.name == "2016-17"
    assert figures["period"] == "2016/17" and figures["previous_period"] == "2015/16"
    expected = {
        "forces_total": 43,
        "forces_responding": 39,
        "online_flagged": 5653,
        "like_for_like_forces": 39,
        "like_for_like_current": 5653,
        "like_for_like_previous": 3903,
        "change_pct": 44.8,
        "change_assessment": "rose",
        "per_day": 15.4,  # 15.487 cut toward zero, as every printed figure is
        "previous_forces_responding": 39,
        "pdf": "national.pdf",
        "forces_not_responding": ["Bedfordshire", "City of London", "Dorset", "Warwickshire"],
    }
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


def test_wiltshire_states_its_figures_and_more_than_four_times_as_many(bundled):
    text = bundled[2]["wiltshire.pdf"]
    assert (
        "Wiltshire Police recorded 44 child sexual offences with an online flag in "
        "2016/17, more than four times the 10 recorded in 2015/16."
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
    allowed = {
        str(area["forces_total"]),
        str(area["forces_responding"]),
        str(area["like_for_like_forces"]),
        f"{area['online_flagged']:,}",
        f"{area['per_day']:.1f}",
        f"{int(per_day):,}",
    }
    if area["rate_per_10000_children"] is not None:
        allowed.add(f"{area['rate_per_10000_children']:.1f}")
        allowed.add(_truncated(Fraction(10000 * area["online_flagged"], area["children"])))
    before, after = area["like_for_like_previous"], area["like_for_like_current"]
    if before is not None:
        allowed |= {f"{before:,}", f"{after:,}"}
    if before:
        exact = Fraction(100 * (after - before), before)
        allowed |= {str(abs(int(exact))), f"{area['change_pct']:.1f}", f"{area['change_pct']:+.1f}"}
    return allowed | _yearly_numbers(area) | _home_office_numbers(area)


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
    allowed |= {
        f"{c:,}"
        for c in (force["online_flagged"], force["previous_online_flagged"])
        if c is not None
    }
    if force["rate_per_10000_children"] is not None:
        allowed.add(f"{force['rate_per_10000_children']:.1f}")
        allowed.add(_truncated(Fraction(10000 * force["online_flagged"], force["children"])))
    if force["change_pct"] is not None:
        allowed |= {f"{force['change']:+,}", f"{force['change_pct']:+.1f}", f"{force['ratio']:.1f}"}
        exact = Fraction(100 * force["change"], force["previous_online_flagged"])
        allowed.add(f"{abs(int(exact)):,}")  # prose rounds toward zero
    if force["online_share_pct"] is not None:  # "of the 637 ..., 9 per cent were flagged"
        allowed |= {f"{force['offences']:,}", f"{int(force['online_share_pct']):,}"}
    names = offence_descriptions()
    for item in force["breakdown"]:  # the count, the code ("(21)"), ages in its description
        allowed.add(item["offence_code"])
        allowed |= set(NUMBER.findall(item["description"] or names.get(item["offence_code"], "")))
        if item["online_flagged"] is not None:
            allowed.add(f"{item['online_flagged']:,}")
    return allowed | _home_office_numbers(force)


def _home_office_numbers(entry: dict) -> set[str]:
    """Home Office context, for a force or an area: the count, its rate, how many forces."""
    allowed = set()
    if entry.get("home_office_child_sexual_offences") is not None:
        allowed.add(f"{entry['home_office_child_sexual_offences']:,}")
    if entry.get("home_office_rate_per_10000_children") is not None:
        allowed.add(f"{entry['home_office_rate_per_10000_children']:.1f}")
    if entry.get("home_office_forces") is not None:
        allowed.add(str(entry["home_office_forces"]))
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
    body = re.sub(r"Edition \d+ of \d{1,2} [A-Z][a-z]+ 20\d\d", "", body)  # every page's footer
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


def test_no_briefing_breaks_house_style(bundled):
    """The house-style linter finds nothing in any bundled briefing: no 'a 88', no '1 forces',
    no sentence that disagrees with its table, no headline word broken across lines."""
    assert lint_folder(bundled[0].period_dir) == []


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
        for phrase in ("significant", "leapt", "soared", "nearly", "almost"):
            assert phrase not in lowered, (name, phrase)


def test_every_aggregate_names_the_raw_files_behind_it(bundled):
    _, figures, _ = bundled
    assert figures["national"]["sources"] == sorted(
        {source for force in figures["forces"] for source in force["sources"]}
    )
    for region in figures["regions"]:
        assert set(region["sources"]) <= set(figures["national"]["sources"])


# The product as a comms team and a screen-reader user get it.


def _structure(node, found: list) -> None:
    """Structure elements in reading order: (type, dictionary)."""
    import pikepdf

    if isinstance(node, pikepdf.Array):
        for kid in node:
            _structure(kid, found)
    elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
        found.append((str(node.S), node))
        if "/K" in node:
            _structure(node.K, found)


def test_page_counts_are_within_the_limits(bundled):
    import pikepdf

    for pdf in bundled[0].pdfs:
        with pikepdf.open(pdf) as document:
            limit = 4 if pdf.name == "national.pdf" else 2
            assert len(document.pages) <= limit, (pdf.name, len(document.pages))


def test_every_pdf_is_tagged_for_screen_readers(bundled):
    import pikepdf

    for pdf in bundled[0].pdfs:
        with pikepdf.open(pdf) as document:
            root = document.Root
            assert root.Lang == "en-GB", pdf.name
            assert root.MarkInfo.Marked, pdf.name
            assert root.ViewerPreferences.DisplayDocTitle, pdf.name
            title = str(document.docinfo["/Title"])
            assert title.endswith(": online child sexual offences, 2016/17"), pdf.name
            elements: list = []
            _structure(root.StructTreeRoot.K, elements)
            kinds = [kind for kind, _ in elements]
            figures = [node for kind, node in elements if kind == "/Figure"]
            assert len(figures) >= 2, pdf.name  # the logo and the chart
            assert all(str(node.get("/Alt", "")).strip() for node in figures), pdf.name
            chart_alt = [str(node.Alt) for node in figures if "Bar chart" in str(node.Alt)]
            assert chart_alt and "2016/17" in chart_alt[0], pdf.name
            headings = [int(kind[2:]) for kind in kinds if re.fullmatch(r"/H\d", kind)]
            assert headings[0] == 1 and all(b - a <= 1 for a, b in pairwise(headings))
            assert "/TH" in kinds and "/Table" in kinds, pdf.name


def test_pdf_metadata_carries_title_subject_keywords_and_period(bundled):
    import pikepdf

    with pikepdf.open(bundled[0].period_dir / "wiltshire.pdf") as document:
        info = {key: str(value) for key, value in document.docinfo.items()}
    assert info["/Title"] == "Wiltshire: online child sexual offences, 2016/17"
    assert info["/Subject"].startswith(
        "Online child sexual offences recorded by Wiltshire Police up more than four-fold"
    )
    assert "2016/17" in info["/Keywords"] and "Wiltshire" in info["/Keywords"]
    assert info["/Author"] == "Example Children's Charity"


ONE_PER_KIND = ["wiltshire.pdf", "region-south-west.pdf", "national.pdf"]


def test_same_inputs_give_byte_identical_pdfs_with_no_renderer_errors(
    bundled, tmp_path, monkeypatch, caplog
):
    """Rendered again, in this process rather than the pool's, into a copy of the published
    folder: one briefing of each kind (force, region, national), removed from the copy."""
    import logging
    import shutil

    summary = bundled[0]
    monkeypatch.setenv("BRIEFINGS_RENDER_WORKERS", "1")
    caplog.set_level(logging.WARNING, logger="weasyprint")
    data_dir = summary.figures_json.parents[2] / "data"
    out = shutil.copytree(summary.period_dir.parent, tmp_path / "out")
    for name in ONE_PER_KIND:
        (out / summary.period_dir.name / name).unlink()
    again = publish_briefings(RunRequest(data_dir=data_dir, out_dir=out, period=PERIOD))
    assert sorted(p.name for p in again.rendered) == sorted(ONE_PER_KIND)
    for pdf in (summary.period_dir / name for name in ONE_PER_KIND):
        assert (again.period_dir / pdf.name).read_bytes() == pdf.read_bytes(), pdf.name
    renderer = [r for r in caplog.records if r.name.startswith("weasyprint")]
    assert not renderer, [r.getMessage() for r in renderer]


def test_a_rerun_with_nothing_new_renders_nothing(bundled):
    summary = bundled[0]
    data_dir = summary.figures_json.parents[2] / "data"
    before = {pdf.name: pdf.stat().st_mtime_ns for pdf in summary.pdfs}
    again = publish_briefings(
        RunRequest(data_dir=data_dir, out_dir=summary.period_dir.parent, period=PERIOD)
    )
    assert again.rendered == []
    assert {pdf.name: pdf.stat().st_mtime_ns for pdf in again.pdfs} == before


def test_regional_briefings_give_the_region_its_forces_and_the_nation(bundled):
    _, figures, texts = bundled
    south_west = next(r for r in figures["regions"] if r["name"] == "South West")
    text = texts["region-south-west.pdf"]
    assert text.startswith("Example Children's Charity")
    assert "Regional briefing" in text.upper() or "REGIONAL BRIEFING" in text
    assert "police forces in the South West provided figures for 2016/17" in text
    assert f"{south_west['online_flagged']:,}" in text
    assert "Forces in the South West, 2016/17" in text and "Wiltshire" in text
    assert "Among the 39 forces that provided figures for both" in text  # the nation after
    assert "Across the South West, our practitioners" in text  # the region's own quote
    assert "Every one of these offences" in texts["region-london.pdf"]  # national fallback


# 2017/18: the latest bundled period (what `make run` publishes), and the year of the real
# Home Office table. Published for three forces from the data folder ingested above.

LATEST = ("Wiltshire", "Sussex", "Metropolitan Police")


@pytest.fixture(scope="module")
def latest(bundled):
    summary = bundled[0]
    data_dir = summary.figures_json.parents[2] / "data"
    out = summary.figures_json.parents[2] / "out-latest"
    again = publish_briefings(RunRequest(data_dir=data_dir, out_dir=out, forces=list(LATEST)))
    figures = json.loads(again.figures_json.read_text())
    return again, figures, {pdf.name: pdf_text(pdf) for pdf in again.pdfs}


def _home_office_2017_18() -> dict[str, int]:
    """All recorded child sexual offences by force in 2017/18, summed independently of the
    pipeline from the reference derivation of the same Home Office table."""
    import csv

    path = PROJECT_ROOT / "reference" / "prc-2017-18-child-sexual-offences-by-force.csv"
    register = force_register()
    totals: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            force = register.find(row["force_name"])
            if force and row["victim_age_under_18_by_statute"] == "Y":
                totals[force.code] = totals.get(force.code, 0) + int(row["annual_total"])
    return totals


def _flowing(text: str) -> str:
    """A briefing's text without the running footer and header between its pages, so a
    paragraph that goes on over a page reads whole."""
    running = r" Briefing for \d{4}/\d\d\..*? Page \d+ of \d+ Example Children's Charity"
    return re.sub(running, "", text)


def test_the_latest_bundled_period_is_2017_18_with_the_home_office_context(latest):
    summary, figures, texts = latest
    texts = {name: _flowing(text) for name, text in texts.items()}
    assert (summary.period, summary.period_dir.name) == ("2017/18", "2017-18")
    assert sorted(texts) == ["metropolitan-police.pdf", "sussex.pdf", "wiltshire.pdf"]
    recorded = _home_office_2017_18()
    by_name = {f["name"]: f for f in figures["forces"]}
    assert len(by_name) == 39
    for force in by_name.values():
        assert force["home_office_child_sexual_offences"] == recorded[force["code"]]
    national = figures["national"]
    assert national["home_office_child_sexual_offences"] == sum(
        recorded[f["code"]] for f in by_name.values()
    )
    wiltshire = by_name["Wiltshire"]
    text = texts["wiltshire.pdf"]
    assert (
        f"Home Office figures show Wiltshire Police recorded {recorded['E23000038']:,} child "
        "sexual offences of all kinds in 2017/18"
    ) in text
    assert '"Police recorded crime open data: Police Force Area tables", 2017/18' in text
    assert (
        f"Of the {wiltshire['offences']:,} child sexual offences in the same offence categories "
        f"in the force's return, {int(wiltshire['online_share_pct'])} per cent were flagged online"
    ) in text
    assert "By type of offence: Wiltshire, 2017/18" in text
    assert "(mid-2017 for 2017/18), summed over the forces counted" in text


def test_the_published_2017_18_figure_is_bundled_and_named_as_published(latest):
    _, figures, texts = latest
    sussex = next(f for f in figures["forces"] if f["name"] == "Sussex")
    assert sussex["online_flagged"] == 38  # "up from 38 in 17/18" (NSPCC FOI 2019)
    assert "Sussex 2017/18: 38 (NSPCC FOI 2019)" in texts["sussex.pdf"]
    for name, text in texts.items():
        assert "Illustrative figures" in text, name


def test_the_latest_briefings_keep_their_limits_their_style_and_their_figures(latest):
    import pikepdf

    summary, figures, texts = latest
    for pdf in summary.pdfs:
        with pikepdf.open(pdf) as document:
            assert len(document.pages) <= 2, pdf.name
    assert lint_folder(summary.period_dir) == []
    for name, text in texts.items():
        allowed = _allowed_numbers(figures, name)
        printed = set(NUMBER.findall(_body(text)))
        assert printed <= allowed, f"{name}: untraceable numbers {printed - allowed}"


def test_with_everything_comms_teams_type_at_its_limit_every_briefing_keeps_to_its_pages(
    bundled, tmp_path
):
    """The limits in briefings.config.text hold for the fullest briefings (those nearest to
    another page as published): every field at its limit, the quote one unbroken word, or a
    correction's box with the quote at its limit."""
    from ..test_config_limits import fullest, over_the_limits, render_at_the_limits

    summary = bundled[0]
    chosen = fullest(summary.pdfs)
    assert len(chosen) == 8
    data = summary.period_dir.parent.parent / "data"
    worst = render_at_the_limits(data, tmp_path, chosen)
    assert set(worst) == chosen
    assert over_the_limits(worst) == {}, worst
