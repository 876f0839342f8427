"""Briefing contexts to PDF: Jinja2 templates from reports/templates/, WeasyPrint.

A PDF is written to a temporary name beside its target and renamed when complete, so a
half-written briefing is never visible under reports/out/.
"""

from __future__ import annotations

import atexit
from dataclasses import fields
from functools import cache
from pathlib import Path

import jinja2

from briefings.atomic import atomic_write
from briefings.config.errors import SettingsError as SettingsError  # where callers catch it
from briefings.config.files import read_briefing_settings
from briefings.domain.briefing import BriefingContext, BriefingSettings
from briefings.resources import BRANDING_DIR, REPORTS_CONFIG_DIR, TEMPLATES_DIR


def load_settings(
    config_dir: Path = REPORTS_CONFIG_DIR, branding_dir: Path = BRANDING_DIR
) -> BriefingSettings:
    """reports/config/ checked at the door: every error names the file and the entry, before
    anything is rendered (the models are in briefings.config.files)."""
    return read_briefing_settings(config_dir, branding_dir)


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


class RefusedResourceError(RuntimeError):
    """A briefing asked for a file or URL it may not load."""


def resource_roots(templates_dir: Path = TEMPLATES_DIR) -> tuple[Path, ...]:
    """The only folders a briefing may load files from: its templates and the branding."""
    return (templates_dir.resolve(), (templates_dir.parent / BRANDING_DIR.name).resolve())


@cache
def _fetcher_class():
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class BriefingFetcher(URLFetcher):
        """No network, no file outside the allowed folders, no data URL but the charts made
        by briefings/render/charts.py: whatever a template, a stylesheet or a value asks for."""

        def __init__(self, roots: tuple[Path, ...], data_uris: frozenset[str]):
            super().__init__(
                timeout=5,
                allowed_protocols=("file", "data"),
                allow_redirects=False,
                fail_on_errors=True,  # a missing logo or font stops the run, not a blank space
            )
            self.roots, self.data_uris = roots, data_uris

        def fetch(self, url, headers=None):
            if not self._allowed(url):
                shown = url if len(url) < 120 else url[:117] + "..."
                raise RefusedResourceError(
                    f"refused to load '{shown}': briefings load only files under "
                    + " and ".join(str(root) for root in self.roots)
                    + " and the charts made from the figures"
                )
            return super().fetch(url, headers)

        def _allowed(self, url: str) -> bool:
            if url.startswith("data:"):
                return url in self.data_uris
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                return False
            path = Path(unquote(parts.path)).resolve()  # symlinks and ../ resolved first
            return path.is_file() and any(path.is_relative_to(root) for root in self.roots)

    return BriefingFetcher, FatalURLFetchingError


def write_pdf(
    html: str,
    target: Path,
    templates_dir: Path = TEMPLATES_DIR,
    data_uris: tuple[str, ...] = (),
) -> None:
    """Render to a temporary file beside `target`, then rename; a refused resource stops it."""
    from weasyprint import HTML  # heavy import, kept off the CLI's start-up path

    fetcher_class, fatal = _fetcher_class()
    fetcher = fetcher_class(resource_roots(templates_dir), frozenset(data_uris))
    try:
        stylesheet, fonts = _stylesheet(templates_dir, _stamp(templates_dir / STYLESHEET))
        document = HTML(string=html, base_url=str(templates_dir) + "/", url_fetcher=fetcher)
        atomic_write(
            target,
            lambda path: document.write_pdf(
                path, pdf_variant="pdf/ua-1", stylesheets=[stylesheet], font_config=fonts
            ),
        )
    except fatal as error:
        cause = error.__cause__ or error
        raise RefusedResourceError(f"{target.name}: {cause}") from None


STYLESHEET = "briefing.css"


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@cache
def _stylesheet(templates_dir: Path, stamp: tuple[int, int]):
    """The stylesheet and its fonts, parsed once per process (and again if the file changes):
    a quarter of the time a briefing takes to render."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fetcher_class, _ = _fetcher_class()
    # Released before the interpreter tears modules down, which FontConfiguration's
    # finaliser needs (else "Exception ignored in FontConfiguration.__del__" at exit).
    atexit.register(_stylesheet.cache_clear)
    fonts = FontConfiguration()
    stylesheet = CSS(
        filename=str(templates_dir / STYLESHEET),
        url_fetcher=fetcher_class(resource_roots(templates_dir), frozenset()),
        font_config=fonts,
    )
    return stylesheet, fonts


def warm(templates_dir: Path = TEMPLATES_DIR) -> None:
    """What a first PDF would pay for, paid now (a render worker waiting for its first
    briefing): WeasyPrint imported, the stylesheet and its fonts parsed, templates compiled."""
    _stylesheet(templates_dir, _stamp(templates_dir / STYLESHEET))
    environment = _environment(templates_dir)
    for name in environment.list_templates(extensions=["html"]):
        environment.get_template(name)


def render_pdf(template: str, context: BriefingContext, target: Path) -> None:
    """One briefing: its template filled with its context, written as a tagged PDF."""
    write_pdf(render_html(template, context), target, data_uris=(context.chart.svg_data_uri,))
