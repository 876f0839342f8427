"""Each briefing template renders exactly the documented context object, and the settings
comms teams edit reach the PDF."""

from dataclasses import fields
from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from briefings.domain.briefing import BriefingContext
from briefings.resources import TEMPLATES_DIR


def variables_used(name: str, environment: jinja2.Environment) -> set[str]:
    """Top-level names a template and everything it extends or includes refer to."""
    source = environment.loader.get_source(environment, name)[0]
    tree = environment.parse(source)
    used = set(jinja2.meta.find_undeclared_variables(tree))
    for child in jinja2.meta.find_referenced_templates(tree):
        used |= variables_used(child, environment)
    return used


@pytest.mark.parametrize("template", ["force.html", "region.html", "national.html"])
def test_each_template_uses_exactly_the_documented_fields(template):
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR))
    documented = {field.name for field in fields(BriefingContext)}
    assert variables_used(template, environment) == documented


def sample_context(settings=None, **overrides) -> BriefingContext:
    """A context with every field filled, as briefings/domain/briefing.py would build it."""
    from briefings.domain.briefing import Chart, ChartSpec, DataTable, TableRow
    from briefings.render import pdf as render

    settings = settings or render.load_settings()
    values = dict(
        charity_name=settings.charity_name,
        logo=settings.logo,
        embargo=settings.embargo,
        period="2016/17",
        title="Testshire: online child sexual offences, 2016/17",
        subject="Subject",
        keywords=("online", "2016/17"),
        created="2017-05-02",
        headline="Headline",
        standfirst="Standfirst",
        paragraphs=tuple(f"Paragraph {i}. " + "Words " * 120 for i in range(6)),
        quote=settings.national.quote,
        contact=settings.national.contact,
        chart=Chart(
            ChartSpec(("2015/16", "2016/17"), (("Testshire", (10.0, 44.0)),), "Title", "n/a", 0),
            "Bar chart: 2015/16: 10; 2016/17: 44.",
            "Caption",
            DataTable("Figures in the chart", ("Year", "Count"), (("2015/16", "10"),)),
        ),
        figures_table=(TableRow("Measure", "1"),),
        tables=(),
        notes=("Note",) * 20,
    )
    values.update(overrides)
    return BriefingContext(**values)


def render_to_pdf(context: BriefingContext, target: Path, template: str = "force.html") -> Path:
    from briefings.render import pdf as render
    from briefings.render.charts import drawn

    render.render_pdf(template, drawn(context), target)
    return target


def test_the_embargo_and_charity_name_from_configuration_reach_every_page(tmp_path):
    import shutil

    from briefings.render import pdf as render

    config = tmp_path / "config"
    shutil.copytree(Path(render.REPORTS_CONFIG_DIR), config)
    text = (config / "briefing.yaml").read_text()
    text = text.replace('charity_name: "Example Children\'s Charity"', 'charity_name: "Kids First"')
    (config / "briefing.yaml").write_text(
        text.replace("embargo:\n", 'embargo: "00:01 Thursday 1 June 2017"\n')
    )
    settings = render.load_settings(config)
    assert settings.embargo == "00:01 Thursday 1 June 2017"
    target = render_to_pdf(sample_context(settings), tmp_path / "out.pdf")
    from .helpers import pdf_text

    text = pdf_text(target)
    pages = text.count("Page ")
    assert pages >= 2
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count("EMBARGOED until 00:01 Thursday 1 June 2017") >= pages
    assert text.count("Kids First") >= pages


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("charity_name: ''\n", "'charity_name' is required"),
        ("charity_name: X\nsmall_number_threshold: 0\n", "small_number_threshold must be"),
        ("charity_name: [\n", "not valid YAML"),
    ],
)
def test_configuration_errors_name_the_file_and_the_key(tmp_path, yaml_text, message):
    import shutil

    from briefings.render import pdf as render

    config = tmp_path / "config"
    shutil.copytree(Path(render.REPORTS_CONFIG_DIR), config)
    (config / "briefing.yaml").write_text(yaml_text)
    with pytest.raises(render.SettingsError, match=message) as raised:
        render.load_settings(config)
    assert str(config / "briefing.yaml") in str(raised.value)


def write_config(tmp_path: Path) -> Path:
    import shutil

    from briefings.render import pdf as render

    config = tmp_path / "config"
    shutil.copytree(Path(render.REPORTS_CONFIG_DIR), config)
    return config


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "quotes/forces.yaml",
            "Wiltshir:\n  quote: q\n",
            "'Wiltshir' is not a police force in reference/forces.csv; nearest: Wiltshire",
        ),
        (
            "quotes/forces.yaml",
            "Wiltshire:\n  quote: q\n  attribution: r\n",
            "Wiltshire needs a quote, an attribution and a contact",
        ),
        ("quotes/regions.yaml", "South Wst:\n  quote: q\n", "'South Wst' is not a region"),
        ("quotes/national.yaml", "quote: [\n", "not valid YAML"),
        ("briefing.yaml", "charity_name: X\nlogo: missing.svg\n", "logo 'missing.svg' not found"),
        (
            "briefing.yaml",
            "charity_name: X\nlogo: ../../../etc/passwd\n",
            "must be an SVG or PNG file in",
        ),
    ],
)
def test_configuration_is_checked_before_anything_is_rendered(tmp_path, file, text, message):
    from briefings.render import pdf as render

    config = write_config(tmp_path)
    (config / file).write_text(text)
    with pytest.raises(render.SettingsError, match=message) as raised:
        render.load_settings(config)
    assert str(config / file) in str(raised.value)


def test_a_missing_national_quote_is_an_error(tmp_path):
    from briefings.render import pdf as render

    config = write_config(tmp_path)
    (config / "quotes" / "national.yaml").unlink()
    with pytest.raises(render.SettingsError, match="national quote and contact are required"):
        render.load_settings(config)


def test_quotes_fall_back_from_force_to_region_to_national():
    from briefings.render import pdf as render

    settings = render.load_settings()
    wiltshire = settings.words_for("E23000038", "South West")  # its own quote
    avon = settings.words_for("E23000036", "South West")  # none: the South West's
    kent = settings.words_for("E23000032", "South East")  # none for force or region
    assert "Wiltshire" in wiltshire.quote.text
    assert avon == settings.regions["South West"] != wiltshire
    assert kent == settings.national


HOSTILE = '<img src="file:///etc/passwd"><script>alert(1)</script>'


def test_hostile_values_reach_the_pdf_as_text_and_load_nothing(tmp_path):
    """Quotes, names and chart titles from data or YAML are text, never markup."""
    from briefings.domain.briefing import Quote

    from .helpers import pdf_text

    base = sample_context()
    chart = base.chart
    context = sample_context(
        headline=f"Police in {HOSTILE} record 44",
        quote=Quote(f"Quoted {HOSTILE}", "Role"),
        chart=type(chart)(
            type(chart.spec)(chart.spec.labels, chart.spec.series, f"<script>{HOSTILE}", "n/a", 0),
            f"alt {HOSTILE}",
            f"caption {HOSTILE}",
            chart.table,
        ),
        paragraphs=(f"Force alias ../../etc/passwd {HOSTILE}",),
    )
    target = render_to_pdf(context, tmp_path / "hostile.pdf")
    text = pdf_text(target)
    assert 'Quoted <img src="file:///etc/passwd"><script>alert(1)</script>' in text
    assert "root:x:0:0" not in text and "root:" not in target.read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "../../../../etc/hostname",
        "http://127.0.0.1:9/logo.png",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "../branding/../../../flows/cli.py",
    ],
)
def test_a_template_cannot_load_files_outside_templates_and_branding(tmp_path, url):
    """Even a comms team's edited template: the URL fetcher refuses, and no PDF is written."""
    import shutil

    from briefings.render import pdf as render

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "force.html").write_text(
        (templates / "force.html")
        .read_text()
        .replace("{% block body %}", f'{{% block body %}}<img src="{url}" alt="x">')
    )
    (tmp_path / "branding").symlink_to(TEMPLATES_DIR.parent / "branding")
    context = sample_context()
    html = render.render_html("force.html", context, templates)
    target = tmp_path / "out" / "force.pdf"
    with pytest.raises(render.RefusedResourceError, match="refused to load"):
        render.write_pdf(html, target, templates)
    assert not target.exists() and not list(target.parent.glob("*"))


def test_a_symlink_in_branding_cannot_reach_outside(tmp_path):
    import shutil

    from briefings.render import pdf as render

    templates = tmp_path / "reports" / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    branding = tmp_path / "reports" / "branding"
    shutil.copytree(TEMPLATES_DIR.parent / "branding", branding)
    (branding / "logo.svg").unlink()
    (branding / "logo.svg").symlink_to("/etc/hostname")
    html = render.render_html("force.html", sample_context(), templates)
    with pytest.raises(render.RefusedResourceError, match="logo.svg"):
        render.write_pdf(html, tmp_path / "out.pdf", templates)


def test_a_force_alias_with_a_path_cannot_name_a_file_outside_the_output_folder(tmp_path):
    """PDF names come from the reference register's slugs, never from a return's text; and a
    slug is letters, digits and hyphens only."""
    from dataclasses import replace

    from briefings.reference import force_register, slugify
    from briefings.render.publication import Briefing, region_pdf_name

    assert slugify("../../etc/passwd") == "etc-passwd"
    assert region_pdf_name("../../x") == "region-x.pdf"
    register = force_register()
    assert register.find("../../Wiltshire").slug == "wiltshire"  # punctuation is not a path
    hostile = replace(register.resolve("Wiltshire"), name="../../../tmp/evil")
    target = (tmp_path / "out" / Briefing(f"{hostile.slug}.pdf", "force").pdf_name).resolve()
    assert target.parent == (tmp_path / "out").resolve()
