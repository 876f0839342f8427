"""Briefing contexts to PDF: Jinja2 templates from reports/templates/, WeasyPrint.

A PDF is written to a temporary name beside its target and renamed when complete, so a
half-written briefing is never visible under reports/out/.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from pathlib import Path

import jinja2
import yaml

from flows.atomic import atomic_write
from flows.briefing import BriefingContext, BriefingSettings, Contact, Quote, ScopeWords
from flows.paths import REPORTS_CONFIG_DIR, TEMPLATES_DIR


class SettingsError(ValueError):
    """A comms team's configuration file that cannot be used as written."""


def load_settings(config_dir: Path = REPORTS_CONFIG_DIR) -> BriefingSettings:
    briefing_file, quotes_file = config_dir / "briefing.yaml", config_dir / "quotes.yaml"
    briefing = _read_yaml(briefing_file)
    quotes = _read_yaml(quotes_file)
    threshold = briefing.get("small_number_threshold", 5)
    if not isinstance(threshold, int) or threshold < 1:
        raise SettingsError(f"{briefing_file}: small_number_threshold must be a whole number >= 1")
    if "national" not in quotes:
        raise SettingsError(f"{quotes_file}: a 'national' quote and contact are required")
    forces = quotes.get("forces") or {}
    return BriefingSettings(
        charity_name=_required(briefing, "charity_name", briefing_file),
        embargo=(str(briefing["embargo"]).strip() or None) if briefing.get("embargo") else None,
        small_number_threshold=threshold,
        national=_scope_words(quotes["national"], quotes_file, "national"),
        forces={
            str(name): _scope_words(entry, quotes_file, f"forces.{name}")
            for name, entry in forces.items()
        },
    )


def _read_yaml(path: Path) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: expected keys and values at the top level")
    return loaded


def _required(entry: dict, key: str, where: object) -> str:
    value = entry.get(key)
    if not value or not str(value).strip():
        raise SettingsError(f"{where}: '{key}' is required")
    return str(value).strip()


def _scope_words(entry: dict, path: Path, where: str) -> ScopeWords:
    if not isinstance(entry, dict) or not isinstance(entry.get("contact"), dict):
        raise SettingsError(f"{path}: {where} needs a quote, an attribution and a contact")
    contact = entry["contact"]
    return ScopeWords(
        quote=Quote(
            _required(entry, "quote", f"{path}: {where}"),
            _required(entry, "attribution", f"{path}: {where}"),
        ),
        contact=Contact(
            _required(contact, "label", f"{path}: {where}.contact"),
            _required(contact, "email", f"{path}: {where}.contact"),
            str(contact["phone"]) if contact.get("phone") else None,
        ),
    )


@cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,  # figures and configuration are text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(
    template: str, context: BriefingContext, templates_dir: Path = TEMPLATES_DIR
) -> str:
    values = {field.name: getattr(context, field.name) for field in fields(context)}
    return _environment(templates_dir).get_template(template).render(**values)


def write_pdf(html: str, target: Path, templates_dir: Path = TEMPLATES_DIR) -> None:
    from weasyprint import HTML  # heavy import, kept off the CLI's start-up path

    document = HTML(string=html, base_url=str(templates_dir) + "/")
    atomic_write(target, lambda path: document.write_pdf(path, pdf_variant="pdf/ua-1"))
