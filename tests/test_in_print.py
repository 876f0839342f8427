"""Every figure the pipeline computes has a place in print, with its caveat: the share of the
returned offences flagged online, the offences by type (small counts withheld), the Home Office
context, and rates per 10,000 children for every period with a population estimate, with a
caveat where the rates a briefing prints cross a break in the estimates.

Briefings are built from figures as publishing builds them and rendered to real PDFs, read
back as text; no Prefect."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from briefings.domain.briefing import (
    REBASING_NOTE,
    REVISION_NOTE,
    Source,
    TableRow,
    force_context,
    national_context,
)
from briefings.domain.figures import PeriodFigures, compute_period_figures, figures_document
from briefings.domain.periods import Period
from briefings.reference import (
    child_population,
    force_register,
    offence_descriptions,
)

from .helpers import pdf_text

SOURCES = [Source("returns.csv", "2017-05-01", False)]
WILTSHIRE, KENT, HAMPSHIRE = "E23000038", "E23000032", "E23000030"


def returns(rows: list[tuple]) -> pd.DataFrame:
    """Accepted returns from (force, year, code, offences, online flagged, description)."""
    register = force_register()
    return pd.DataFrame(
        [
            {
                "force_code": register.resolve(force).code,
                "financial_year": year,
                "offence_code": code,
                "offence_description": description,
                "offences": offences,
                "online_flagged": flagged,
                "source_file": "returns.csv",
                "source_row": index + 2,
            }
            for index, (force, year, code, offences, flagged, description) in enumerate(rows)
        ]
    ).astype({"offences": "Int64", "online_flagged": "Int64"})


def home_office(rows: list[tuple[str, str, tuple[int, ...]]]) -> pd.DataFrame:
    """All recorded child sexual offences by force, year and quarter, as the store has them."""
    register = force_register()
    return pd.DataFrame(
        [
            {
                "force_code": register.resolve(force).code,
                "financial_year": year,
                "quarter": quarter,
                "child_sexual_offences": count,
                "source_file": "prc.csv",
            }
            for force, year, quarters in rows
            for quarter, count in enumerate(quarters, start=1)
        ]
    )


def figures_for(frame: pd.DataFrame, period: str, offices: pd.DataFrame | None = None):
    return compute_period_figures(
        frame, Period.parse(period), force_register(), 5, child_population(), offices
    )


def settings():
    from briefings.render.pdf import load_settings

    return load_settings()


def force_briefing(figures: PeriodFigures, code: str):
    from briefings.render.charts import force_chart

    force = figures.force(code)
    chart = force_chart(force, figures)
    return force_context(
        force, figures, settings(), SOURCES, (), chart, None, offence_descriptions()
    )


def rendered(context, target: Path, template: str = "force.html") -> str:
    """The PDF's text in reading order, whitespace collapsed."""
    from briefings.render.charts import drawn
    from briefings.render.pdf import render_pdf

    render_pdf(template, drawn(context), target)
    return pdf_text(target)


def laid_out(target: Path) -> str:
    """The PDF's text as laid out on the page, whitespace collapsed: a row of a table beside
    another reads as one line ('Sexual grooming (88A) 50 ...')."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(target), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return " ".join(text.split())


def national_briefing(figures: PeriodFigures):
    from briefings.render.charts import national_chart

    return national_context(figures, settings(), SOURCES, (), national_chart(figures))


def cut(value: Fraction) -> str:
    """One decimal place, cut toward zero: the rule for every printed figure."""
    tenths = int(value * 10)
    return f"{tenths // 10:,}.{tenths % 10}"


def test_the_share_flagged_online_and_the_offences_by_type_are_printed(tmp_path):
    frame = returns(
        [
            ("Wiltshire", "2015/16", "22B", 100, 10, "Sexual activity involving child under 16"),
            ("Wiltshire", "2016/17", "22B", 170, 30, "Sexual activity involving child under 16"),
            ("Wiltshire", "2016/17", "88A", 60, 12, None),  # description from the reference
            ("Wiltshire", "2016/17", "21", 20, 3, "Sexual activity involving a child under 13"),
            ("Kent", "2016/17", "ALL", None, 150, None),
        ]
    )
    figures = figures_for(frame, "2016/17")
    text = rendered(force_briefing(figures, WILTSHIRE), tmp_path / "wiltshire.pdf")
    # 45 of 250 returned offences: 18.0 per cent, as figures.json has it.
    wiltshire = figures_document(figures, {})["forces"][-1]
    assert (wiltshire["name"], wiltshire["online_share_pct"]) == ("Wiltshire", 18.0)
    assert (
        "Of the 250 child sexual offences in the same offence categories in the force's "
        "return, 18 per cent were flagged online."
    ) in text
    # The 3 is withheld, and so is the next smallest (12), which would reveal it from 45.
    assert "By type of offence: Wiltshire, 2016/17" in text
    rows = laid_out(tmp_path / "wiltshire.pdf")
    assert "Sexual activity involving child under 16 (22B) 30" in rows
    assert "Other codes: 21, 88A withheld" in rows
    assert [item["online_flagged"] for item in wiltshire["breakdown"]] == [None, 30, None]
    assert " 3 " not in text.split("Notes to editors")[0] and " 12 " not in text
    notes = text.split("Notes to editors")[1]
    assert "The share flagged online is of all child sexual offences in the force's" in notes
    assert "so shares differ by recording as well as by offending" in notes
    assert "By type of offence, 'withheld': counts from 1 to 4, with further counts" in notes


def test_the_offences_by_type_name_each_code_largest_first(tmp_path):
    frame = returns(
        [
            ("Northumbria", "2017/18", "22B", None, 30, None),
            ("Northumbria", "2017/18", "88A", None, 50, None),  # named from the reference
            ("Northumbria", "2017/18", "19D", None, 0, None),
        ]
    )
    figures = figures_for(frame, "2017/18")
    text = rendered(force_briefing(figures, "E23000007"), tmp_path / "northumbria.pdf")
    body = laid_out(tmp_path / "northumbria.pdf").split("Notes to editors")[0]
    grooming = body.index("Sexual grooming (88A) 50")
    assert grooming < body.index("Sexual activity involving child under 16 (22B) 30")
    assert "Rape of a female child under 16 (19D) 0" in body
    assert "withheld" not in text and "flagged online." not in body  # no offences: no share


def test_a_withheld_count_gives_no_share_and_no_offences_by_type():
    frame = returns(
        [
            ("Wiltshire", "2016/17", "22B", 170, 3, None),
            ("Kent", "2016/17", "22B", 300, 40, None),
            ("Kent", "2016/17", "88A", 80, 2, None),
        ]
    )
    figures = figures_for(frame, "2016/17")
    wiltshire = force_briefing(figures, WILTSHIRE)
    assert wiltshire.tables == ()
    assert not any("Share flagged online" in row.measure for row in wiltshire.figures_table)
    assert not any("share flagged online" in note for note in wiltshire.notes)
    assert not any("flagged online." in paragraph for paragraph in wiltshire.paragraphs)
    kent = force_briefing(figures, KENT)  # the 2 withheld, and the 40 that would reveal it
    assert kent.tables[0].rows == (("Other codes: 22B, 88A", "withheld"),)


def test_the_home_office_context_is_printed_where_the_tables_cover_the_period(tmp_path):
    frame = returns(
        [
            ("Wiltshire", "2016/17", "ALL", None, 44, None),
            ("Wiltshire", "2017/18", "ALL", None, 61, None),
            ("Kent", "2017/18", "ALL", None, 180, None),
        ]
    )
    offices = home_office(
        [("Wiltshire", "2017/18", (150, 140, 130, 135)), ("Kent", "2017/18", (500, 510, 490, 480))]
    )
    figures = figures_for(frame, "2017/18", offices)
    wiltshire = force_briefing(figures, WILTSHIRE)
    text = rendered(wiltshire, tmp_path / "wiltshire.pdf")
    population = child_population().set_index(["mid_year", "force_code"])["children"]
    children = int(population[(2017, WILTSHIRE)])
    row = TableRow("All child sexual offences, 2017/18 (Home Office)", "555")
    assert row in wiltshire.figures_table and "(Home Office)" in text
    assert (
        "Home Office figures show Wiltshire Police recorded 555 child sexual offences of all "
        f"kinds in 2017/18 ({cut(Fraction(555 * 10000, children))} for every 10,000 children)"
    ) in text
    notes = text.split("Notes to editors")[1]
    assert "All child sexual offences (Home Office) is a different measure" in notes
    assert '"Police recorded crime open data: Police Force Area tables", 2017/18' in notes
    # Nationally: the sum over the two forces whose counts make up the total, said as such.
    context = national_briefing(figures)
    national = rendered(context, tmp_path / "national.pdf", "national.html")
    row = TableRow("All child sexual offences, 2017/18 (Home Office, the same 2 forces)", "2,535")
    assert row in context.figures_table
    assert "(Home Office, the" in national and "same 2 forces)" in national and "2,535" in national
    assert "every child sexual offence the 2 forces counted here recorded" in national
    document = figures_document(figures, {})
    assert document["national"]["home_office_child_sexual_offences"] == 2535
    assert document["national"]["home_office_forces"] == 2


def test_no_home_office_context_from_part_of_a_year_and_never_a_partial_total():
    frame = returns(
        [
            ("Wiltshire", "2017/18", "ALL", None, 61, None),
            ("Kent", "2017/18", "ALL", None, 180, None),
        ]
    )
    offices = home_office(
        [("Wiltshire", "2017/18", (150, 140, 130)), ("Kent", "2017/18", (500, 510, 490, 480))]
    )
    figures = figures_for(frame, "2017/18", offices)
    wiltshire = force_briefing(figures, WILTSHIRE)
    assert not any("Home Office" in row.measure for row in wiltshire.figures_table)
    assert not any("(Home Office) is a different measure" in n for n in wiltshire.notes)
    assert any("Home Office" in row.measure for row in force_briefing(figures, KENT).figures_table)
    national = national_briefing(figures)
    assert not any("Home Office" in row.measure for row in national.figures_table)
    assert not any("(Home Office) is a different measure" in n for n in national.notes)
    assert figures_document(figures, {})["national"]["home_office_child_sexual_offences"] is None


def test_a_2019_20_rate_uses_the_mid_2019_estimate(tmp_path):
    frame = returns(
        [
            ("Hampshire", "2018/19", "ALL", None, 131, None),
            ("Hampshire", "2019/20", "ALL", None, 247, None),
        ]
    )
    figures = figures_for(frame, "2019/20")
    population = child_population().set_index(["mid_year", "force_code"])["children"]
    exact = Fraction(247 * 10000, int(population[(2019, HAMPSHIRE)]))
    hampshire = figures_document(figures, {})["forces"][0]
    assert hampshire["rate_per_10000_children"] is not None
    assert f"{hampshire['rate_per_10000_children']:.1f}" == cut(exact)
    before = Fraction(131 * 10000, int(population[(2018, HAMPSHIRE)]))
    assert [year["rate_per_10000_children"] for year in hampshire["yearly"]] == [
        float(cut(before)),
        float(cut(exact)),
    ]
    text = rendered(force_briefing(figures, HAMPSHIRE), tmp_path / "hampshire.pdf")
    assert f"That is {cut(exact)} for every 10,000 children" in text
    assert f"Hampshire, per 10,000 children {cut(exact)}" in text
    assert f"2018/19 131 {cut(before)}" in text  # the chart's table: count and rate by year
    assert "(mid-2019 for 2019/20), summed over the forces counted" in text


def _years(force: str, counts: dict[str, int]) -> pd.DataFrame:
    return returns([(force, year, "ALL", None, n, None) for year, n in counts.items()])


def test_the_census_2021_caveat_appears_where_the_rates_printed_cross_it(tmp_path):
    crossing = figures_for(
        _years("Hampshire", {"2019/20": 247, "2020/21": 260, "2021/22": 280}), "2021/22"
    )
    text = rendered(force_briefing(crossing, HAMPSHIRE), tmp_path / "crossing.pdf")
    body, notes = text.split("Notes to editors")
    assert "Rates from 2021/22 use population estimates based on Census 2021" in body
    assert "estimate of children aged 0 to 17 at mid-2021 is 2.7 per cent lower" in notes
    assert "Part of any change in a rate between 2020/21 and 2021/22" in notes
    after = figures_for(_years("Hampshire", {"2021/22": 280, "2022/23": 300}), "2022/23")
    text = rendered(force_briefing(after, HAMPSHIRE), tmp_path / "after.pdf")
    assert "Census 2021" not in text
    assert "Part of any change in a rate" not in text


def test_the_2024_revision_caveat_appears_where_the_rates_printed_cross_it():
    crossing = force_briefing(
        figures_for(_years("Hampshire", {"2023/24": 300, "2024/25": 310}), "2024/25"),
        HAMPSHIRE,
    )
    assert REVISION_NOTE in crossing.notes and REBASING_NOTE not in crossing.notes
    assert "Rates for 2024/25 use revised population estimates" in crossing.chart.caption
    national = national_briefing(
        figures_for(_years("Hampshire", {"2020/21": 250, "2023/24": 300}), "2023/24")
    )
    assert REBASING_NOTE in national.notes and REVISION_NOTE not in national.notes
    before = force_briefing(
        figures_for(_years("Hampshire", {"2015/16": 200, "2020/21": 250}), "2020/21"),
        HAMPSHIRE,
    )
    assert REBASING_NOTE not in before.notes and REVISION_NOTE not in before.notes


def test_no_rate_caveat_where_no_rate_is_printed():
    """2025/26 has no estimate: its rate is not given, so 2024/25 is compared with nothing."""
    figures = figures_for(_years("Hampshire", {"2024/25": 300, "2025/26": 310}), "2025/26")
    context = force_briefing(figures, HAMPSHIRE)
    assert REVISION_NOTE not in context.notes and REBASING_NOTE not in context.notes


@pytest.mark.parametrize(("words", "before", "after"), [("2.7 per cent lower", 2020, 2021)])
def test_the_rebasing_step_in_the_note_is_the_reference_tables(words, before, after):
    """England and Wales children aged 0 to 17, mid-2020 to mid-2021, cut toward zero."""
    totals = child_population().groupby("mid_year")["children"].sum()
    step = Fraction(100 * int(totals[before] - totals[after]), int(totals[before]))
    assert f"{cut(step)} per cent lower" == words
    assert words in REBASING_NOTE
