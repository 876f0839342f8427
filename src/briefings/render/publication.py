"""From a period's figures to the files a comms team receives: PDFs, figures.json and
manifest.json (what each PDF shows, and the hashes that decide whether to render it again).

No Prefect here: the flow in flows/pipeline.py calls these functions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from briefings.atomic import atomic_write_text, file_sha256
from briefings.cache import digest
from briefings.domain.briefing import (
    BriefingContext,
    BriefingSettings,
    Source,
    force_context,
    national_context,
    region_context,
)
from briefings.domain.editions import SentVersion, edition_of
from briefings.domain.figures import PeriodFigures, figures_document
from briefings.reference import (
    force_register,
    illustrative_returns,
    offence_descriptions,
    published_figures,
    slugify,
)
from briefings.render.charts import force_chart, national_chart, region_chart
from briefings.resources import BRANDING_DIR, PACKAGE_DIR, TEMPLATES_DIR, resource_name
from briefings.store import LedgerEntry, Status

NATIONAL_PDF = "national.pdf"
FIGURES_JSON = "figures.json"
MANIFEST_JSON = "manifest.json"
TEMPLATES = {"force": "force.html", "region": "region.html", "national": "national.html"}


@dataclass(frozen=True)
class Briefing:
    """One PDF to render: its scope and, for a force or region, which one."""

    pdf_name: str
    scope: str  # "force", "region" or "national"
    key: str | None = None  # the force's ONS code or the region's name


def region_pdf_name(region: str) -> str:
    return f"region-{slugify(region)}.pdf"


def planned_briefings(figures: PeriodFigures, force_codes: list[str] | None) -> list[Briefing]:
    """Every responding force's briefing, each region with a responding force, and the
    national one; or only the forces asked for."""
    chosen = [f for f in figures.forces if force_codes is None or f.force.code in force_codes]
    briefings = [Briefing(f"{f.force.slug}.pdf", "force", f.force.code) for f in chosen]
    if force_codes is None:
        briefings += [
            Briefing(region_pdf_name(r.name), "region", r.name)
            for r in figures.regions
            if r.forces_responding
        ]
        briefings.append(Briefing(NATIONAL_PDF, "national"))
    return briefings


@dataclass(frozen=True)
class PreparedBriefing:
    """A briefing's context, ready to render, and the hash of everything its PDF would show:
    its words and figures, the chart's data, templates, branding, fonts and renderer."""

    briefing: Briefing
    context: BriefingContext
    inputs_hash: str

    @property
    def template(self) -> str:
        return TEMPLATES[self.briefing.scope]


def sources_for(files: tuple[str, ...] | set[str], ledger: list[LedgerEntry]) -> list[Source]:
    illustrative = illustrative_returns()
    usable = (Status.ACCEPTED, Status.SUPERSEDED)  # superseded files still serve --as-of runs
    by_file = {e.file: e for e in ledger if e.status in usable}
    sources = []
    for name in files:
        entry = by_file[name]
        sources.append(
            Source(
                # As first received: a return moved or copied since is the same return.
                file_name=entry.staged.received_as or name,
                received=entry.staged.first_seen[:10],
                illustrative=entry.staged.sha256 in illustrative,
            )
        )
    return sorted(sources, key=lambda source: source.file_name)


def refused_forces(ledger: list[LedgerEntry], period: str) -> frozenset[str]:
    """The forces (by name) whose figures for `period` came in a return that was refused:
    whichever of them has no accepted figures replied, and is not said not to have."""
    from briefings.store import refused_force_years

    register = force_register()
    return frozenset(
        register.by_code(code).name
        for e in ledger
        if e.status == Status.QUARANTINED
        for code, year in refused_force_years(e)
        if year == period
    )


def briefing_context(
    briefing: Briefing,
    figures: PeriodFigures,
    settings: BriefingSettings,
    ledger: list[LedgerEntry],
    refused: frozenset[str] | None = None,
) -> BriefingContext:
    """`refused`: refused_forces(ledger, the period), if the caller has it already."""
    published = published_figures()
    if refused is None and briefing.scope != "force":
        refused = refused_forces(ledger, figures.period.label)
    if briefing.scope == "national" or briefing.key is None:  # only the national one has no key
        files = set(figures.national.sources)
        return national_context(
            figures,
            settings,
            sources_for(files, ledger),
            published,
            national_chart(figures),
            refused or frozenset(),
        )
    if briefing.scope == "region":
        region = figures.region(briefing.key)
        files = set(region.sources)
        return region_context(
            region,
            figures,
            settings,
            sources_for(files, ledger),
            published,
            region_chart(region, figures),
            refused or frozenset(),
        )
    force = figures.force(briefing.key)
    later_refused = [
        Source(e.file, e.staged.first_seen[:10], False)
        for e in ledger
        if e.status == Status.QUARANTINED and briefing.key in e.force_codes
    ]
    return force_context(
        force,
        figures,
        settings,
        sources_for(force.sources, ledger),
        published,
        force_chart(force, figures),
        later_refused,
        offence_descriptions(),
    )


def prepare_briefings(
    briefings: list[Briefing],
    figures: PeriodFigures,
    settings: BriefingSettings,
    ledger: list[LedgerEntry],
    sent: Mapping[str, Sequence[SentVersion]] | None = None,
    as_of: str | None = None,
) -> list[PreparedBriefing]:
    """Each briefing's context and inputs hash. `sent`: the versions of each PDF sent before
    (the journal's, by PDF name), which decide its edition; `as_of`: only those sent by then."""
    resources = resources_fingerprint()
    refused = refused_forces(ledger, figures.period.label)  # read once, not per area briefing
    prepared = []
    for briefing in briefings:
        context = briefing_context(briefing, figures, settings, ledger, refused)
        earlier = (sent or {}).get(briefing.pdf_name, ())
        edition = edition_of(printed_figures(context), context.created, earlier, as_of)
        context = replace(context, edition=edition)
        inputs = digest(resources, repr(briefing), repr(context))
        prepared.append(PreparedBriefing(briefing, context, inputs))
    return prepared


@cache
def resources_fingerprint() -> str:
    """Everything besides the context that shapes a PDF's bytes: templates, stylesheet,
    branding and fonts, the chart code, and the versions of the renderer."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("weasyprint", "pydyf", "jinja2"):
        digest.update(f"{package}={version(package)}\n".encode())
    files = [
        *sorted(p for p in TEMPLATES_DIR.rglob("*") if p.is_file()),
        *sorted(p for p in BRANDING_DIR.rglob("*") if p.is_file()),
        PACKAGE_DIR / "render" / "charts.py",
        PACKAGE_DIR / "render" / "pdf.py",
    ]
    for path in files:
        digest.update(f"{resource_name(path)}={file_sha256(path)}\n".encode())
    return digest.hexdigest()


def render_prepared(prepared: PreparedBriefing, period_dir: Path) -> Path:
    """Draw the chart and write the PDF (atomically). Runs in worker processes."""
    from briefings.render.charts import drawn
    from briefings.render.pdf import render_pdf

    target = period_dir / prepared.briefing.pdf_name
    render_pdf(prepared.template, drawn(prepared.context), target)
    return target


def read_manifest(period_dir: Path) -> dict:
    """The last publication's manifest, or an empty one; an unreadable one counts as none,
    so every briefing is rendered again."""
    path = period_dir / MANIFEST_JSON
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        return {entry["pdf"]: entry for entry in manifest["briefings"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def needs_rendering(prepared: PreparedBriefing, period_dir: Path, previous: dict) -> bool:
    """True unless the PDF on disk is the one last published from the same inputs."""
    entry = previous.get(prepared.briefing.pdf_name)
    target = period_dir / prepared.briefing.pdf_name
    return not (
        entry
        and entry.get("inputs_hash") == prepared.inputs_hash
        and target.is_file()
        and file_sha256(target) == entry.get("content_hash")
    )


def printed_figures(context: BriefingContext) -> dict[str, str]:
    """Every figure a briefing prints in its tables, by a label a person can read: what a
    correction notice compares."""
    figures = {row.measure: row.value for row in context.figures_table}
    for table in (context.chart.table, *context.tables):
        for row in table.rows:
            for column, value in zip(table.columns[1:], row[1:], strict=True):
                figures[f"{table.caption}: {row[0]}, {column}"] = value
    return figures


def write_manifest(
    prepared: list[PreparedBriefing],
    figures: PeriodFigures,
    settings: BriefingSettings,
    period_dir: Path,
    keep: dict | None = None,
) -> Path:
    """manifest.json: one entry per PDF in the folder (those of this run, and `keep`: those
    of earlier runs left as they were, as in a run for one force)."""
    entries = dict(keep or {})
    for item in prepared:
        briefing, context = item.briefing, item.context
        target = period_dir / briefing.pdf_name
        force = figures.force(briefing.key) if briefing.scope == "force" and briefing.key else None
        entries[briefing.pdf_name] = {
            "pdf": briefing.pdf_name,
            "scope": briefing.scope,
            "code": briefing.key if force else None,
            "name": force.force.name if force else (briefing.key or "England and Wales"),
            "region": force.force.region if force else briefing.key,
            "title": context.title,
            "headline": context.headline,
            "inputs_hash": item.inputs_hash,
            "content_hash": file_sha256(target),
            "figures": printed_figures(context),
            "edition": context.edition.number,
            "issued": context.edition.issued,
            "correction": context.edition.notice or None,
        }
    document = {
        "period": figures.period.label,
        "period_slug": figures.period.slug,
        "embargo": settings.embargo,
        "charity_name": settings.charity_name,
        "briefings": [entries[name] for name in sorted(entries)],
    }
    target = period_dir / MANIFEST_JSON
    atomic_write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return target


def write_figures_json(figures: PeriodFigures, period_dir: Path) -> Path:
    pdf_names = {f.force.code: f"{f.force.slug}.pdf" for f in figures.forces}
    pdf_names["national"] = NATIONAL_PDF
    document = figures_document(figures, pdf_names)
    for region in document["regions"]:
        if region["forces_responding"]:
            region["pdf"] = region_pdf_name(region["name"])
    target = period_dir / FIGURES_JSON
    atomic_write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return target


RENDERING = ".rendering"  # hidden: a run's PDFs wait there until all of them are rendered


def rendering_dir(period_dir: Path) -> Path:
    return period_dir / RENDERING


def publish_rendered(rendered: list[Path], period_dir: Path) -> list[Path]:
    """This run's PDFs, moved from .rendering/ into the period's folder once all of them are
    rendered, each by a rename: a run that stops while rendering leaves the last publication
    as it was, not a mix of old and new briefings."""
    placed = []
    for path in rendered:
        target = period_dir / path.name
        os.replace(path, target)
        placed.append(target)
    with suppress(OSError):
        rendering_dir(period_dir).rmdir()
    return placed


def remove_leftovers(period_dir: Path) -> list[Path]:
    """What a killed run left: PDFs rendered but never published (in .rendering/) and files
    half-written (hidden, ending .part: briefings/atomic.py). Only while holding the store lock,
    so no other run is writing them."""
    leftovers = sorted(period_dir.glob(".*.part")) if period_dir.is_dir() else []
    staged = rendering_dir(period_dir)
    leftovers += sorted(p for p in staged.iterdir() if p.is_file()) if staged.is_dir() else []
    for path in leftovers:
        path.unlink(missing_ok=True)
    with suppress(OSError):
        staged.rmdir()
    return leftovers


def remove_stale_briefings(period_dir: Path, current: list[Briefing]) -> list[Path]:
    """PDFs left from an earlier run for forces that no longer have figures are withdrawn."""
    keep = {b.pdf_name for b in current}
    stale = [p for p in period_dir.glob("*.pdf") if p.name not in keep]
    for path in stale:
        path.unlink()
    return stale
