"""Limits on what comms teams type: each is checked when the configuration is read, with a
message naming the file, the key and the limit; and with everything at its limit at once the
briefings keep to their pages (two, four for the national one: checked on the bundled round in
tests/backtests/test_bundled_briefings.py), a word too long for a line wrapping rather than
being cut."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest

from briefings.config import SettingsError, load_configuration
from briefings.config.text import (
    CHARITY_NAME_MAX,
    CONTACT_ADDRESS_MAX,
    EMBARGO_MAX,
    PHONE_MAX,
    PRINTED_LINE_MAX,
    QUOTE_MAX,
)
from briefings.domain.briefing import BriefingSettings, Contact, Quote, ScopeWords
from briefings.resources import REPORTS_CONFIG_DIR

from .helpers import pdf_text

PAGE_LIMITS = {"force": 2, "region": 2, "national": 4}
A4_HEIGHT, BOTTOM_MARGIN = 842.0, 56.7  # points; briefing.css: @page margin-bottom 20mm
PHRASE = (
    "Every one of these offences is a child who was groomed or abused online, and behind each "
    "figure is a family living with the harm. "
)


def words(length: int) -> str:
    """Text of exactly `length` characters, in words, not ending in a space."""
    text = (PHRASE * (length // len(PHRASE) + 1))[:length]
    return text[:-1] + "x" if text.endswith(" ") else text


AT_THE_LIMITS = {
    "quote": words(QUOTE_MAX),
    "attribution": words(PRINTED_LINE_MAX),
    "label": words(PRINTED_LINE_MAX),
    "email": "p" * 64 + "@" + "d" * (CONTACT_ADDRESS_MAX - 64 - 1 - len(".org")) + ".org",
    "phone": ("020 7946 0000 " * 4)[:PHONE_MAX],
    "charity_name": words(CHARITY_NAME_MAX),
    "embargo": words(EMBARGO_MAX),
}


def at_the_limits(settings: BriefingSettings, unbroken: bool = False) -> BriefingSettings:
    """Every field comms teams type, at its longest; `unbroken`: the quote one long word."""
    quote = "x" * QUOTE_MAX if unbroken else AT_THE_LIMITS["quote"]
    scope = ScopeWords(
        Quote(quote, AT_THE_LIMITS["attribution"]),
        Contact(AT_THE_LIMITS["label"], AT_THE_LIMITS["email"], AT_THE_LIMITS["phone"]),
    )
    return dataclasses.replace(
        settings,
        charity_name=AT_THE_LIMITS["charity_name"],
        embargo=AT_THE_LIMITS["embargo"],
        national=scope,
        regions={},
        forces={},
    )


def quote_at_the_limit(settings: BriefingSettings) -> BriefingSettings:
    """The bundled configuration with the national quote, used everywhere, at its longest."""
    national = dataclasses.replace(
        settings.national, quote=Quote(AT_THE_LIMITS["quote"], settings.national.quote.attribution)
    )
    return dataclasses.replace(settings, national=national, regions={}, forces={})


def pages(pdf: Path) -> int:
    with pikepdf.open(pdf) as document:
        return len(document.pages)


def render_at_the_limits(data: Path, out: Path, pdfs: set[str] | None = None) -> dict[str, int]:
    """The briefings of a published data folder (those named in `pdfs`, or all) rendered three
    ways, each PDF's worst page count: every field at its limit, the same with the quote one
    unbroken word, and as a correction (its box naming what changed) with the quote at its
    limit. By name: 'wiltshire.pdf' -> (scope, pages)."""
    from briefings import services
    from briefings.domain.editions import SentVersion, edition_of
    from briefings.render.pdf import load_settings
    from briefings.render.publication import (
        PreparedBriefing,
        planned_briefings,
        prepare_briefings,
        printed_figures,
        render_prepared,
    )
    from briefings.store import DataFolders

    ledger = services.ingest(data).ledger
    settings = load_settings()
    figures = services.period_figures(DataFolders(data), None, settings.small_number_threshold)
    chosen = [b for b in planned_briefings(figures, None) if pdfs is None or b.pdf_name in pdfs]
    worst: dict[str, tuple[str, int]] = {}
    for variant in ("limits", "unbroken", "correction"):
        if variant == "correction":
            prepared = []
            for item in prepare_briefings(chosen, figures, quote_at_the_limit(settings), ledger):
                now = printed_figures(item.context)
                before = SentVersion({k: f"{v}0" for k, v in now.items()}, "2017-05-01T09:00:00")
                edition = edition_of(now, item.context.created, [before])
                context = dataclasses.replace(item.context, edition=edition)
                prepared.append(PreparedBriefing(item.briefing, context, item.inputs_hash))
        else:
            limits = at_the_limits(settings, unbroken=variant == "unbroken")
            prepared = prepare_briefings(chosen, figures, limits, ledger)
        for item in prepared:
            count = pages(render_prepared(item, out))
            name = item.briefing.pdf_name
            worst[name] = (item.briefing.scope, max(count, worst.get(name, ("", 0))[1]))
    return worst


def fullness(pdf: Path) -> float:
    """How far a briefing runs: its pages before the last, and the share of the last page's
    text area its text reaches down to (the running footer not counted)."""
    count = pages(pdf)
    layout = subprocess.run(
        ["pdftotext", "-f", str(count), "-l", str(count), "-bbox", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    bottom = A4_HEIGHT - BOTTOM_MARGIN
    lowest = max(y for y in map(float, re.findall(r'yMax="([\d.]+)"', layout)) if y < bottom)
    return count - 1 + lowest / bottom


def fullest(pdfs: list[Path], forces: int = 4, regions: int = 3) -> set[str]:
    """The briefings of a publication nearest to running onto another page: those a longer
    text pushes over first."""

    def most(chosen: list[Path], n: int) -> list[str]:
        return [p.name for p in sorted(chosen, key=fullness, reverse=True)[:n]]

    regional = [p for p in pdfs if p.name.startswith("region-")]
    force = [p for p in pdfs if p not in regional and p.name != "national.pdf"]
    return {"national.pdf", *most(force, forces), *most(regional, regions)}


def over_the_limits(worst: dict[str, tuple[str, int]]) -> dict[str, int]:
    return {name: n for name, (scope, n) in worst.items() if n > PAGE_LIMITS[scope]}


# Checked when read


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPORTS_CONFIG_DIR, config)
    return config


def entry(**fields: str) -> str:
    values = {
        "quote": "Words.",
        "attribution": "Chief executive",
        "label": "Press office",
        "email": "press@example.org",
        "phone": "020 7946 0000",
        **fields,
    }
    return (
        f'quote: "{values["quote"]}"\nattribution: "{values["attribution"]}"\n'
        f'contact:\n  label: "{values["label"]}"\n  email: "{values["email"]}"\n'
        f'  phone: "{values["phone"]}"\n'
    )


LONGER = [
    ("quote", QUOTE_MAX, f"quote: must be at most {QUOTE_MAX} characters"),
    ("attribution", PRINTED_LINE_MAX, f"attribution: must be at most {PRINTED_LINE_MAX} char"),
    ("label", PRINTED_LINE_MAX, f"contact.label: must be at most {PRINTED_LINE_MAX} char"),
    ("phone", PHONE_MAX, f"contact.phone: must be at most {PHONE_MAX} characters"),
]


@pytest.mark.parametrize(("field", "limit", "said"), LONGER, ids=[f for f, _, _ in LONGER])
@pytest.mark.parametrize("file", ["national.yaml", "regions.yaml", "forces.yaml"])
def test_text_one_character_over_its_limit_is_refused_naming_file_key_and_limit(
    config_dir, field, limit, said, file
):
    text = ("1" * (limit + 1)) if field == "phone" else words(limit + 1)
    body = entry(**{field: text})
    key = {"national.yaml": "", "regions.yaml": "South West.", "forces.yaml": "Wiltshire."}[file]
    if key:
        body = f"{key[:-1]}:\n" + "".join(f"  {line}\n" for line in body.splitlines())
    (config_dir / "quotes" / file).write_text(body)
    with pytest.raises(SettingsError) as raised:
        load_configuration(config_dir)
    message = str(raised.value)
    assert message.startswith(f"{config_dir / 'quotes' / file}: {key}{said}"), message
    assert f"(found {limit + 1})" in message and "\n" not in message
    if field != "phone":  # a limit set by the page budget says so
        assert "so that every briefing keeps to its pages" in message

    (config_dir / "quotes" / file).write_text(body.replace(text, text[:-1]))  # at the limit
    load_configuration(config_dir)


def test_a_press_contact_address_over_its_limit_is_refused_naming_the_key(config_dir):
    long = AT_THE_LIMITS["email"].replace("@", "@d")  # a valid address, one too long
    (config_dir / "quotes" / "national.yaml").write_text(entry(email=long))
    with pytest.raises(SettingsError, match=r"national\.yaml: contact\.email: must be at most 80"):
        load_configuration(config_dir)
    (config_dir / "quotes" / "national.yaml").write_text(entry(email=AT_THE_LIMITS["email"]))
    assert len(AT_THE_LIMITS["email"]) == CONTACT_ADDRESS_MAX
    load_configuration(config_dir)


@pytest.mark.parametrize(("key", "limit"), [("charity_name", 80), ("embargo", 60)])
def test_the_charity_name_or_embargo_over_its_limit_is_refused_naming_the_key(
    config_dir, key, limit
):
    values = {"charity_name": "Kids First", key: words(limit + 1)}
    body = "".join(f'{name}: "{value}"\n' for name, value in values.items())
    (config_dir / "briefing.yaml").write_text(body)
    with pytest.raises(SettingsError) as raised:
        load_configuration(config_dir)
    assert str(raised.value).startswith(
        f"{config_dir / 'briefing.yaml'}: {key}: must be at most {limit} characters, so that "
        f"every briefing keeps to its pages (found {limit + 1})"
    )


def test_every_field_at_its_limit_is_accepted(config_dir):
    fields = {k: AT_THE_LIMITS[k] for k in ("quote", "attribution", "label", "email", "phone")}
    (config_dir / "quotes" / "national.yaml").write_text(entry(**fields))
    (config_dir / "briefing.yaml").write_text(
        f'charity_name: "{AT_THE_LIMITS["charity_name"]}"\nembargo: "{AT_THE_LIMITS["embargo"]}"\n'
    )
    briefing = load_configuration(config_dir).briefing
    assert len(briefing.charity_name) == CHARITY_NAME_MAX
    assert len(briefing.embargo or "") == EMBARGO_MAX


# Printed


def test_a_word_longer_than_a_line_wraps_and_is_printed_whole(tmp_path):
    from .test_templates import render_to_pdf, sample_context

    unbroken = "q" * QUOTE_MAX
    context = sample_context(
        quote=Quote(unbroken, "a" * PRINTED_LINE_MAX),
        contact=Contact("b" * PRINTED_LINE_MAX, AT_THE_LIMITS["email"], "0" * PHONE_MAX),
        charity_name="c" * CHARITY_NAME_MAX,
        embargo="e" * EMBARGO_MAX,
        paragraphs=("A short paragraph.",),
    )
    text = pdf_text(render_to_pdf(context, tmp_path / "long-words.pdf"))
    squeezed = text.replace(" ", "")
    assert unbroken in squeezed  # every character, over several lines: none cut off
    assert "a" * PRINTED_LINE_MAX in squeezed and "b" * PRINTED_LINE_MAX in squeezed
    assert AT_THE_LIMITS["email"] in squeezed and "c" * CHARITY_NAME_MAX in squeezed


# Every field at its limit on the fullest briefings, read back page by page: in
# tests/backtests/test_bundled_briefings.py, on the bundled round (render_at_the_limits).
