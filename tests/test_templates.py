"""Each briefing template renders exactly the documented context object, and the settings
comms teams edit reach the PDF."""

from dataclasses import fields
from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from flows.briefing import BriefingContext
from flows.paths import TEMPLATES_DIR


def variables_used(name: str, environment: jinja2.Environment) -> set[str]:
    """Top-level names a template and everything it extends or includes refer to."""
    source = environment.loader.get_source(environment, name)[0]
    tree = environment.parse(source)
    used = set(jinja2.meta.find_undeclared_variables(tree))
    for child in jinja2.meta.find_referenced_templates(tree):
        used |= variables_used(child, environment)
    return used


@pytest.mark.parametrize("template", ["force.html", "national.html"])
def test_each_template_uses_exactly_the_documented_fields(template):
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR))
    documented = {field.name for field in fields(BriefingContext)}
    assert variables_used(template, environment) == documented


def test_the_embargo_and_charity_name_from_configuration_reach_every_page(tmp_path):
    import shutil

    from flows import render
    from flows.briefing import Chart, Contact, Quote, TableRow

    config = tmp_path / "config"
    shutil.copytree(Path(render.REPORTS_CONFIG_DIR), config)
    text = (config / "briefing.yaml").read_text()
    text = text.replace('charity_name: "Example Children\'s Charity"', 'charity_name: "Kids First"')
    (config / "briefing.yaml").write_text(
        text.replace("embargo:\n", 'embargo: "00:01 Thursday 1 June 2017"\n')
    )
    settings = render.load_settings(config)
    assert settings.embargo == "00:01 Thursday 1 June 2017"
    context = BriefingContext(
        charity_name=settings.charity_name, embargo=settings.embargo, period="2016/17",
        title="t", headline="Headline", standfirst="Standfirst",
        paragraphs=tuple(f"Paragraph {i}. " + "Words " * 120 for i in range(6)),
        quote=Quote("Q", "Role"), contact=Contact("Press", "p@example.org"),
        chart=Chart("data:image/svg+xml;base64,", "alt", "caption"),
        figures_table=(TableRow("Measure", "1"),), notes=("Note",) * 20,
    )  # fmt: skip
    target = tmp_path / "out.pdf"
    render.write_pdf(render.render_html("force.html", context), target)
    from .helpers import pdf_text

    text = pdf_text(target)
    pages = text.count("Page ")
    assert pages >= 2
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

    from flows import render

    config = tmp_path / "config"
    shutil.copytree(Path(render.REPORTS_CONFIG_DIR), config)
    (config / "briefing.yaml").write_text(yaml_text)
    with pytest.raises(render.SettingsError, match=message) as raised:
        render.load_settings(config)
    assert str(config / "briefing.yaml") in str(raised.value)
