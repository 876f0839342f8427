"""What a render worker runs: prepared briefings to PDF, and nothing else.

A worker of the local pool or of a Dask cluster (briefings.render.engines) imports what
rendering needs (Jinja2, WeasyPrint, the chart code and the briefing's classes), never
Prefect, Great Expectations or the delivery code. `warm` pays for what a first PDF would
otherwise pay for (the stylesheet and fonts parsed, templates compiled), once per worker
process.

Importing this module is cheap: the heavy imports happen in the functions, so the flow's
process can name them (to send them to a worker) without importing the renderer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from briefings.render.publication import PreparedBriefing

#: What a worker imports before its first briefing: the local pool's server process imports
#: them once and forks each worker from it (briefings.render.engines).
RENDER_MODULES = (
    "briefings.render.publication",
    "briefings.render.pdf",
    "briefings.render.charts",
    "weasyprint",
)


def warm() -> None:
    """Import the renderer, parse the stylesheet and its fonts and compile the templates: a
    worker's first PDF then costs what every other one does."""
    from briefings.render import pdf

    pdf.warm()


def dask_setup(worker: object) -> None:
    """Called by each Dask worker started with `--preload briefings.render.worker`: it readies
    the renderer as it starts, not at its first briefing."""
    warm()


def render_one(prepared: PreparedBriefing, rendering_dir: Path) -> Path:
    """Draw the chart and write the PDF into `rendering_dir` (atomically): the path."""
    # Looked up at each call (not bound at import), so a wrapper put on render_prepared
    # (the fault tests' injection) is the one called.
    from briefings.render import publication

    return publication.render_prepared(prepared, rendering_dir)


def render_bytes(prepared: PreparedBriefing) -> bytes:
    """The PDF's bytes, rendered in a folder of the worker's own: for a worker that does not
    share the flow's file system (a Dask cluster). The caller writes them."""
    with tempfile.TemporaryDirectory(prefix="briefings-render-") as folder:
        return render_one(prepared, Path(folder)).read_bytes()
