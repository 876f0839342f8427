"""`briefings`: a thin command line over the same functions the flows call.

Start-up stays fast: Prefect, pandas, Great Expectations and WeasyPrint are imported only
by the commands that need them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.paths import DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, PROJECT_ROOT

app = typer.Typer(
    help="Briefings on online child sexual offences, from police returns to PDFs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def configure_prefect() -> None:
    """Local defaults, set before Prefect is imported; anything already set wins."""
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"briefings: error: {message}", err=True)
    return typer.Exit(code)


@app.callback()
def main() -> None:
    """Briefings on online child sexual offences, from police returns to PDFs."""


@app.command()
def run(
    period: Annotated[
        str | None, typer.Option(help="Financial year like 2016/17 [default: latest with data]")
    ] = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Only this force's briefing (name or ONS code); repeatable"),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="Folder holding raw/ (returns) and processed/")
    ] = DEFAULT_DATA_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where briefings are written")] = DEFAULT_OUT_DIR,
) -> None:
    """Run the whole pipeline once, now: ingest, validate, compute figures, render briefings."""
    from flows.periods import Period, PeriodError
    from flows.reference import UnknownForceError, force_register

    try:
        if period:
            period = Period.parse(period).label
        for name in force or []:
            force_register().resolve(name)
    except (PeriodError, UnknownForceError) as error:
        raise fail(str(error), code=2) from None
    raw = data_dir / "raw"
    if not raw.is_dir() or not any(
        p.is_file() and not p.name.startswith(".") for p in raw.rglob("*")
    ):
        raise fail(f"no returns found in {raw}", code=2)

    configure_prefect()
    from flows.pipeline import RunError, RunRequest, publish_briefings
    from flows.render import SettingsError

    request = RunRequest(data_dir=data_dir, out_dir=out_dir, period=period, forces=force or None)
    try:
        summary = publish_briefings(request)
    except (RunError, SettingsError, UnknownForceError, FileNotFoundError) as error:
        raise fail(str(error)) from None

    accepted = sum(1 for e in summary.ledger if e.status == "accepted")
    typer.echo(
        f"Returns: {accepted} accepted, {len(summary.quarantined)} quarantined, "
        f"{len(summary.ledger) - accepted - len(summary.quarantined)} superseded "
        f"(ledger: {data_dir / 'processed' / 'ledger.csv'})"
    )
    for entry in summary.quarantined:
        typer.echo(f"Quarantined: {entry.detail}", err=True)
    typer.echo(f"Briefings for {summary.period} ({len(summary.pdfs)} PDFs): {summary.period_dir}")
    typer.echo(f"Figures: {summary.figures_json}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
