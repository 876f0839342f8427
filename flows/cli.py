"""`briefings`: a thin command line over the same functions the flows call.

Start-up stays fast: Prefect, pandas, Great Expectations and WeasyPrint are imported only
by the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import date
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


DataDir = Annotated[Path, typer.Option(help="Folder holding raw/ (returns) and processed/")]


def _check_data_folder(data_dir: Path) -> None:
    raw = data_dir / "raw"
    if not raw.is_dir() or not any(
        p.is_file() and not p.name.startswith(".") for p in raw.rglob("*")
    ):
        raise fail(f"no returns found in {raw}", code=2)


def _check_store_free(data_dir: Path) -> None:
    """Say at once, before starting Prefect, that another run holds the store."""
    from flows.store import DataFolders, StoreBusyError, store_lock

    try:
        with store_lock(DataFolders(data_dir)):
            pass
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None


QUARANTINED_EXIT = 4  # the run completed, but a return was refused: a person should look


def _print_ledger_summary(ledger, warnings: list[str], data_dir: Path) -> None:
    counts = Counter(entry.status for entry in ledger)
    typer.echo(
        f"Returns: {len(ledger)} files: {counts['accepted']} accepted, "
        f"{counts['superseded']} superseded, {counts['duplicate']} duplicate, "
        f"{counts['quarantined']} quarantined (ledger: {data_dir / 'processed' / 'ledger.csv'})"
    )
    for entry in ledger:
        if entry.status == "quarantined":
            typer.echo(f"Quarantined: {entry.detail}", err=True)
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)


@app.command()
def run(
    period: Annotated[
        str | None, typer.Option(help="Financial year like 2016/17 [default: latest with data]")
    ] = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Only this force's briefing (name or ONS code); repeatable"),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where briefings are written")] = DEFAULT_OUT_DIR,
    as_of: Annotated[
        str | None,
        typer.Option(help="Figures as they stood on this date (YYYY-MM-DD): later returns unused"),
    ] = None,
) -> None:
    """Run the whole pipeline once, now: ingest, validate, compute figures, render briefings."""
    from flows.periods import Period, PeriodError
    from flows.reference import UnknownForceError, force_register

    try:
        if period:
            period = Period.parse(period).label
        for name in force or []:
            force_register().resolve(name)
        if as_of:
            date.fromisoformat(as_of)
    except (PeriodError, UnknownForceError) as error:
        raise fail(str(error), code=2) from None
    except ValueError:
        raise fail(f"--as-of '{as_of}' is not a date like 2017-06-01", code=2) from None
    _check_data_folder(data_dir)
    _check_store_free(data_dir)

    configure_prefect()
    from flows.pipeline import RunError, RunRequest, publish_briefings
    from flows.render import SettingsError
    from flows.store import StoreBusyError

    request = RunRequest(
        data_dir=data_dir, out_dir=out_dir, period=period, forces=force or None, as_of=as_of
    )
    try:
        summary = publish_briefings(request)
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None
    except (RunError, SettingsError, UnknownForceError, FileNotFoundError) as error:
        raise fail(str(error)) from None

    _print_ledger_summary(summary.ledger, summary.warnings, data_dir)
    typer.echo(f"Briefings for {summary.period} ({len(summary.pdfs)} PDFs): {summary.period_dir}")
    typer.echo(f"Figures: {summary.figures_json}")
    if summary.quarantined:
        raise typer.Exit(QUARANTINED_EXIT)


@app.command()
def ingest(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild everything under processed/ from raw/")
    ] = False,
) -> None:
    """Ingest and validate what is new in raw/, and update the ledger."""
    _check_data_folder(data_dir)
    _check_store_free(data_dir)
    configure_prefect()
    from flows.pipeline import ingest_new_returns
    from flows.store import StoreBusyError

    try:
        summary = ingest_new_returns(data_dir, rebuild=rebuild)
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None
    _print_ledger_summary(summary.ledger, summary.warnings, data_dir)
    if summary.quarantined:
        raise typer.Exit(QUARANTINED_EXIT)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Returns to check (CSV or XLSX)")],
) -> None:
    """Check returns without ingesting them; exit 1 if any would be refused."""
    from flows.ingest import Kind, ReturnReadError, read_return
    from flows.validation import validate_return

    refused = 0
    for path in files:
        if not path.is_file():
            typer.echo(f"REFUSED {path}: no such file", err=True)
            refused += 1
            continue
        try:
            parsed = read_return(path)
        except ReturnReadError as error:
            typer.echo(f"REFUSED {error}")
            refused += 1
            continue
        outcome = validate_return(parsed.frame, path.name, Kind(parsed.kind))
        if outcome.passed:
            layout = "; ".join([parsed.layout, *parsed.notes])
            typer.echo(f"OK {outcome.summary} ({parsed.kind}, {layout}, {len(parsed.frame)} rows)")
            continue
        refused += 1
        typer.echo(f"REFUSED {path.name}: {len(outcome.problems)} problems")
        for problem in outcome.problems:
            typer.echo(f"  - {problem.describe(path.name)}")
    if refused:
        raise typer.Exit(1)


@app.command("validation-report")
def validation_report(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Where the Data Docs are, and a table of every raw file's validation."""
    from rich.console import Console
    from rich.table import Table

    from flows.store import DataFolders, read_ledger

    folders = DataFolders(data_dir)
    ledger = read_ledger(folders)
    if ledger.empty:
        raise fail(f"no ledger in {folders.processed}: run `briefings ingest` first", code=2)
    table = Table(title=f"Returns in {folders.raw}")
    for column in ("file", "kind", "status", "detail", "warnings"):
        table.add_column(column, overflow="fold")
    for row in ledger.itertuples():
        warnings = str(len(row.warnings.split(" | "))) if row.warnings else ""
        table.add_row(row.file, row.kind, row.status, row.detail, warnings)
    console = Console(width=max(120, Console().width))
    console.print(table)
    index = folders.validation / "data-docs" / "index.html"
    typer.echo(f"Data Docs: {index if index.exists() else 'not built yet'}")
    for row in ledger.itertuples():
        if row.status == "quarantined":
            typer.echo(f"Quarantine report: {folders.quarantine_report(row.file)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
