"""Data Docs a steward can read: offline, warnings as warnings, problems in words.

Great Expectations renders its pages to load Bootstrap, jQuery, bootstrap-table, an icon font
and its logos from the internet, marks a validation with only warnings "Failed", and shows
its own generic wording. Here:

- `offline_page` rewrites a page as GX renders it (the views in gx/plugins call it) to load
  only files copied beside the pages (`install_assets`): nothing from outside;
- `annotate_page` adds, at the top of a validation's page, what failed in the words of the
  quarantine report (rows, values, forces by name), refusals and warnings apart, and says
  "Passed with warnings" where only warnings were raised;
- `mark_index` names the return each validation in the index is of (GX says only "__none__")
  and shows those with only warnings with a warning sign; GX rebuilds the index with every
  page.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from briefings.resources import GX_PROJECT

ASSETS = GX_PROJECT / "gx" / "plugins" / "data_docs_offline"
ASSETS_DIR = "static/briefings"  # under the Data Docs site
ASSET_FILES = (
    "bootstrap.min.css",
    "briefings-data-docs.css",
    "jquery.min.js",
    "bootstrap.bundle.min.js",
    "briefings-data-docs.js",
)
# The pages annotated: for each, the return it validated and whether it raised only warnings
PAGES = ".briefings-pages.json"

# The way from a page up to the site, from its link to the index (GX's own favicon link
# counts one folder too few on validation pages).
_TO_INDEX = re.compile(r'href="((?:\.\./)*)index\.html"')
_REMOTE_TAG = re.compile(
    r"<link\b[^>]*\bhref=[\"']https?://[^>]*>|<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>",
    re.IGNORECASE,
)
_GX_ASSETS = re.compile(r"https://great-expectations-web-assets\.s3\.[^\"')\s]*")
_FOOTER = re.compile(r"<footer>.*?</footer>", re.DOTALL)
# GX writes the values of a row that broke a check of two columns as <span>10.0</span><span>25
# </span>, which reads "10.025": they are written apart.
_VALUES_TOGETHER = re.compile(
    r'(<div class="show-scrollbars">)((?:<span>[^<]*</span>){2,})(</div>)'
)


def offline_page(page: str) -> str:
    """A Data Docs page that loads nothing from outside: every stylesheet and script from a
    CDN replaced by the copies beside the pages, GX's logos by its own local one, and its
    newsletter footer left out; values listed together kept apart. Links in the text (to
    GX's site) stay links."""
    found = _TO_INDEX.search(page)
    prefix = found.group(1) if found else ""
    page = _REMOTE_TAG.sub("", page)
    page = re.sub(
        r'href="(?:\.\./)*static/images/favicon\.ico"',
        f'href="{prefix}static/images/favicon.ico"',
        page,
    )
    page = _GX_ASSETS.sub(f"{prefix}static/images/logo-long.png", page)
    page = _FOOTER.sub("", page)
    page = _VALUES_TOGETHER.sub(
        lambda m: m.group(1) + m.group(2).replace("</span><span>", "</span>, <span>") + m.group(3),
        page,
    )
    local = "\n".join(
        f'    <link rel="stylesheet" href="{prefix}{ASSETS_DIR}/{name}">'
        if name.endswith(".css")
        else f'    <script src="{prefix}{ASSETS_DIR}/{name}"></script>'
        for name in ASSET_FILES
    )
    return page.replace("</head>", f"{local}\n  </head>", 1)


def install_assets(site: Path) -> None:
    """Copy the pages' stylesheets and scripts beside them, once (again when they change)."""
    target = site / ASSETS_DIR
    digest = hashlib.sha256(b"".join((ASSETS / name).read_bytes() for name in ASSET_FILES))
    stamp = target / ".version"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in ASSET_FILES:
        shutil.copyfile(ASSETS / name, target / name)
    stamp.write_text(digest.hexdigest())


def annotate_page(
    page: Path,
    file_name: str,
    refusals: Iterable[str],
    warnings: Iterable[str],
    warnings_only: bool,
) -> None:
    """Add the plain-English problems at the top of a validation's page (refusals, then
    warnings), and say 'Passed with warnings' for a validation that raised only warnings."""
    text = page.read_text(encoding="utf-8")
    if "briefings-in-words" in text:  # annotated already
        return
    boxes = []
    for kind, title, lines in (
        ("danger", "Refused: what failed, in words", list(refusals)),
        ("warning", "Warnings: shown to the stewards, not refusing", list(warnings)),
    ):
        if lines:
            items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            boxes.append(
                f'<div class="alert alert-{kind} briefings-in-words" role="alert">'
                f'<h5 class="alert-heading">{title}</h5><ul>{items}</ul></div>'
            )
    column = '<div class="col-md-10 col-lg-10 col-xs-12 pl-md-4 pr-md-3">'
    if boxes and column in text:
        text = text.replace(column, column + "\n" + "\n".join(boxes), 1)
    if warnings_only:
        text = re.sub(
            r'(<span class="h6" >Status:</span>\s*)<i class="fas fa-times text-danger"'
            r' aria-hidden="true"></i>\s*Failed',
            r'\1<i class="fas fa-exclamation-triangle text-warning" aria-hidden="true"></i>'
            " Passed with warnings",
            text,
            count=1,
        )
    page.write_text(text, encoding="utf-8")
    _remember(page, file_name, warnings_only)


def _site_of(page: Path) -> Path:
    for parent in page.parents:
        if (parent / "index.html").exists() and (parent / "validations").is_dir():
            return parent
    return page.parent


def _remember(page: Path, file_name: str, warnings_only: bool) -> None:
    site = _site_of(page)
    registry = site / PAGES
    known = json.loads(registry.read_text()) if registry.exists() else {}
    known[page.relative_to(site).as_posix()] = {"file": file_name, "warnings_only": warnings_only}
    registry.write_text(json.dumps(known, sort_keys=True))


def mark_index(site: Path) -> None:
    """In the index (rebuilt by GX with every page): the return each validation is of, in
    place of GX's run name ('__none__'), and a warning sign and 'Warnings' for those that
    raised only warnings, where GX shows a failure."""
    index, registry = site / "index.html", site / PAGES
    if not index.exists() or not registry.exists():
        return
    pages = json.loads(registry.read_text())
    text = index.read_text(encoding="utf-8")

    def row(match: re.Match[str]) -> str:
        found = match.group(0)
        link = re.search(r"'_table_row_link_path': '([^']*)'", found)
        known = pages.get(link.group(1)) if link else None
        if known is None:
            return found
        name = html.escape(known["file"]).replace("\\", "\\\\").replace("'", "\\'")
        found = found.replace("'run_name': '__none__'", f"'run_name': '{name}'", 1)
        if known["warnings_only"]:
            found = found.replace(
                "fas fa-times text-danger ge-failed-icon",
                "fas fa-exclamation-triangle text-warning",
            ).replace(
                "'_validation_success_text': 'Failed'", "'_validation_success_text': 'Warnings'"
            )
        return found

    marked = re.sub(
        r"\{'validation_success':.*?'asset_name': '[^']*'\}", row, text, flags=re.DOTALL
    )
    marked = marked.replace("'title': 'Run Name'", "'title': 'Return'", 1)
    if marked != text:
        index.write_text(marked, encoding="utf-8")
