"""From a period's figures to the files a comms team receives: PDFs and figures.json.

No Prefect here: the flow in flows/pipeline.py calls these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flows.atomic import atomic_write_text
from flows.briefing import BriefingSettings, Source, force_context, national_context
from flows.charts import force_chart, national_chart
from flows.figures import PeriodFigures, figures_document
from flows.reference import illustrative_returns, published_figures
from flows.render import render_html, write_pdf
from flows.store import LedgerEntry, Status

NATIONAL_PDF = "national.pdf"
FIGURES_JSON = "figures.json"


@dataclass(frozen=True)
class Briefing:
    """One PDF to render: which template, for which force (None for national)."""

    pdf_name: str
    force_code: str | None


def planned_briefings(figures: PeriodFigures, force_codes: list[str] | None) -> list[Briefing]:
    """Every responding force's briefing and the national one, or only the forces asked for."""
    chosen = [f for f in figures.forces if force_codes is None or f.force.code in force_codes]
    briefings = [Briefing(f"{f.force.slug}.pdf", f.force.code) for f in chosen]
    if force_codes is None:
        briefings.append(Briefing(NATIONAL_PDF, None))
    return briefings


def sources_for(files: tuple[str, ...] | set[str], ledger: list[LedgerEntry]) -> list[Source]:
    illustrative = illustrative_returns()
    usable = (Status.ACCEPTED, Status.SUPERSEDED)  # superseded files still serve --as-of runs
    by_file = {e.file: e for e in ledger if e.status in usable}
    sources = []
    for name in sorted(files):
        entry = by_file[name]
        sources.append(
            Source(
                file_name=name,
                received=entry.staged.first_seen[:10],
                illustrative=entry.staged.sha256 in illustrative,
            )
        )
    return sources


def render_briefing(
    briefing: Briefing,
    figures: PeriodFigures,
    settings: BriefingSettings,
    ledger: list[LedgerEntry],
    period_dir: Path,
) -> Path:
    published = published_figures()
    if briefing.force_code is None:
        files = {source for force in figures.forces for source in force.sources}
        context = national_context(
            figures, settings, sources_for(files, ledger), published, national_chart(figures)
        )
        html = render_html("national.html", context)
    else:
        force = figures.force(briefing.force_code)
        refused = [
            Source(e.file, e.staged.first_seen[:10], False)
            for e in ledger
            if e.status == Status.QUARANTINED and briefing.force_code in e.force_codes
        ]
        context = force_context(
            force,
            figures,
            settings,
            sources_for(force.sources, ledger),
            published,
            force_chart(force),
            refused,
        )
        html = render_html("force.html", context)
    target = period_dir / briefing.pdf_name
    write_pdf(html, target)
    return target


def write_figures_json(figures: PeriodFigures, period_dir: Path) -> Path:
    pdf_names = {f.force.code: f"{f.force.slug}.pdf" for f in figures.forces}
    pdf_names["national"] = NATIONAL_PDF
    document = figures_document(figures, pdf_names)
    target = period_dir / FIGURES_JSON
    atomic_write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return target


def remove_stale_briefings(period_dir: Path, current: list[Briefing]) -> list[Path]:
    """PDFs left from an earlier run for forces that no longer have figures are withdrawn."""
    keep = {b.pdf_name for b in current}
    stale = [p for p in period_dir.glob("*.pdf") if p.name not in keep]
    for path in stale:
        path.unlink()
    return stale
