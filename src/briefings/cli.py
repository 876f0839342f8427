"""`briefings`: a thin command line over the same functions the flows call.

Start-up stays fast: Prefect, pandas, Great Expectations and WeasyPrint are imported only
by the commands that need them. Annotations are evaluated once, when a command is defined (no
`from __future__ import annotations`): Typer reads every command's signature to print the
help, and would otherwise evaluate each annotation's string several times over, on every
start.
"""

import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from typer.core import TyperGroup

from briefings.domain.style import plural
from briefings.resources import DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, PROJECT_ROOT

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State

T = TypeVar("T")


class OneLineErrors(TyperGroup):
    """A mistake in the command's words (an unknown option, a missing value, a number out of
    range) said in one line on stderr, exit 2, as every other error of the command is."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        extra["windows_expand_args"] = windows_expand_args
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        # Typer carries its own copy of Click: its exceptions are the ones raised here.
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as error:  # the help was printed: nothing was asked
            sys.exit(error.exit_code)
        except ClickException as error:
            ctx = getattr(error, "ctx", None)
            command = " ".join(["briefings", *ctx.command_path.split()[1:]]) if ctx else "briefings"
            message = " ".join(error.format_message().split()).rstrip(".")
            typer.echo(f"briefings: error: {message}; see `{command} --help`", err=True)
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.echo("briefings: stopped", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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


def flow_result(returned: "T | State[Any]") -> T:
    """What calling a flow gives back. A flow's body may return a state (Failed, named
    NeedsAttention) to say how the run ended; calling the flow still gives its result
    (flows.states.StewardFlow)."""
    from prefect.states import State

    if isinstance(returned, State):
        return cast(T, returned.result())
    return returned


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"briefings: error: {message}", err=True)
    return typer.Exit(code)


@app.callback()
def main() -> None:
    """Briefings on online child sexual offences, from police returns to PDFs."""


DataDir = Annotated[Path, typer.Option(help="Folder holding raw/ (returns) and processed/")]
PeriodOption = Annotated[
    str | None, typer.Option(help="Financial year like 2016/17 [default: latest with data]")
]
ForceOption = Annotated[
    list[str] | None,
    typer.Option("--force", help="Only this force's briefing (name or ONS code); repeatable"),
]


def _data_folder_hint(data_dir: Path) -> str:
    """What to pass instead, when --data-dir names the raw/ folder itself or a folder of
    returns without raw/ in it."""
    if data_dir.name == "raw" and data_dir.is_dir():
        return f"; did you mean --data-dir {data_dir.parent}? (it is the folder holding raw/)"
    if (
        data_dir.is_dir()
        and not (data_dir / "raw").exists()
        and any(p.suffix.lower() in {".csv", ".xlsx"} for p in data_dir.iterdir())
    ):
        return f"; returns go in {data_dir / 'raw'}/, under the data folder"
    return ""


def _check_data_folder(data_dir: Path) -> None:
    """A data folder holding returns under raw/, or one line saying what to give instead."""
    if data_dir.exists() and not data_dir.is_dir():
        raise fail(f"--data-dir {data_dir} is a file, not a folder holding raw/", code=2)
    raw = data_dir / "raw"
    if not raw.is_dir() or not any(
        p.is_file() and not p.name.startswith(".") for p in raw.rglob("*")
    ):
        raise fail(f"no returns found in {raw}{_data_folder_hint(data_dir)}", code=2)


def _check_out_dir(out_dir: Path) -> None:
    """An output folder that can be made and written, checked before any work."""
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out-dir {out_dir} is a file, not a folder", code=2)
    existing = next((p for p in (out_dir, *out_dir.absolute().parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise fail(f"--out-dir {out_dir}: cannot write in {existing or out_dir}", code=2)


def _check_store_free(data_dir: Path) -> None:
    """Say at once, before starting Prefect, that another run holds the store."""
    from briefings.store import DataFolders, StoreBusyError, store_lock

    try:
        with store_lock(DataFolders(data_dir)):
            pass
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None


def _check_configuration(comms_files: bool = False, subscriptions: bool = False) -> None:
    """Say at once, before any work, what is wrong with the environment's settings and the
    files comms teams edit (every problem, each naming the file or variable and the key).
    `subscriptions`: subscriptions.yaml too, which names the stewards every run may tell of a
    refused return; `comms_files`: briefing.yaml and quotes/ too, for a run that renders."""
    from briefings.config import ConfigurationError, get_settings

    try:
        get_settings()
        if comms_files and subscriptions:
            from briefings.config import load_configuration

            load_configuration()
        elif subscriptions:
            from briefings.config import read_subscriptions

            read_subscriptions()
        elif comms_files:
            from briefings.config import read_briefing_settings

            read_briefing_settings()
    except ConfigurationError as error:
        raise fail(str(error), code=2) from None


def _check_prefect_server() -> None:
    """A Prefect server named by PREFECT_API_URL that does not answer, said before any work
    (unset, each command starts a temporary one of its own)."""
    from briefings.operations import server_is_up

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and not server_is_up(api_url):
        raise fail(
            f"no Prefect server answers at PREFECT_API_URL={api_url}: start it "
            "(`briefings server`), or unset PREFECT_API_URL for a temporary one"
        )


def _check_journal(data_dir: Path, out_dir: Path) -> None:
    """A damaged, unreadable or lost journal stops the command before Prefect starts, in one
    line; the stewards are told straight through the transport (a data problem)."""
    from briefings.services import open_journal
    from briefings.services.journal_guard import JournalUnavailable

    try:
        open_journal(data_dir, out_dir)
    except JournalUnavailable as error:
        raise fail(str(error)) from None


def _check_before_running(data_dir: Path, out_dir: Path | None, renders: bool) -> None:
    """Everything a run needs, checked before any work and before Prefect starts: the data
    folder, the output folder, the configuration (every file comms teams edit, and the
    environment), the Prefect server, the data folder free, the journal sound."""
    _check_data_folder(data_dir)
    if out_dir is not None:
        _check_out_dir(out_dir)
    _check_configuration(comms_files=renders, subscriptions=True)
    _check_prefect_server()
    _check_store_free(data_dir)
    _check_journal(data_dir, out_dir if out_dir is not None else _out_dir_beside(data_dir))


def _out_dir_beside(data_dir: Path) -> Path:
    from briefings.services import out_dir_beside

    return out_dir_beside(data_dir)


def _announce_delivery(out_dir: Path, not_sent: str | None) -> None:
    """Before a run: whether it will send the briefings, to how many subscribers and how
    (email, or .eml files in the outbox beside --out-dir); `not_sent` says why it will not."""
    if not_sent is not None:
        typer.echo(f"Will not send the briefings to subscribers: {not_sent}")
        return
    from briefings.config import get_settings
    from briefings.config.errors import shown
    from briefings.delivery.settings import DeliverySettings
    from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, load_subscriptions
    from briefings.services import outbox_dir

    settings = DeliverySettings.from_settings(get_settings(), outbox_dir(out_dir))
    count = len(load_subscriptions(DEFAULT_SUBSCRIPTIONS).subscribers)
    listed = f"{count} subscribers in {shown(DEFAULT_SUBSCRIPTIONS)}"
    if settings.smtp:
        typer.echo(
            f"Will email new and corrected briefings to the {listed} via {settings.destination}"
        )
    else:
        typer.echo(
            f"Will write new and corrected briefings for the {listed} to the outbox "
            f"{settings.outbox_dir}, not email them (no SMTP server is set: BRIEFINGS_SMTP_HOST)"
        )


def _delivered(summary: Any, not_sent: str | None) -> None:
    """After a run: what was sent, or that nothing was and why."""
    if summary is not None:
        typer.echo(f"Delivery: {summary.describe()}")
    elif not_sent is not None:
        typer.echo(f"Delivery: none, {not_sent}")


NOT_DELIVERING = "--no-deliver (`briefings deliver` sends what was published)"
AS_OF_NEVER_SENT = "briefings as they stood on a date are never sent"


# The run completed, but something waits for a person: a refused return that no corrected
# return covers and no steward has acknowledged (`briefings returns list`).
QUARANTINED_EXIT = 4


def _print_ledger_summary(ledger, warnings: list[str], data_dir: Path) -> None:
    counts = _ledger_statuses(ledger, data_dir)
    # Returns no longer in raw/ as received are counted too: every file stays accounted for.
    gone = "".join(
        f", {counts[status]} {status}"
        for status in ("withdrawn", "moved", "removed")
        if counts[status]
    )
    typer.echo(
        f"Returns: {plural(counts.total(), 'file')}: {counts['accepted']} accepted, "
        f"{counts['superseded']} superseded, {counts['duplicate']} duplicate, "
        f"{counts['quarantined']} quarantined, {counts['incomplete']} still arriving{gone} "
        f"(ledger: {data_dir / 'processed' / 'ledger.csv'})"
    )
    for entry in ledger:
        if entry.status == "quarantined":
            from briefings.store.ledger import named_once

            typer.echo(f"Quarantined: {named_once(entry.file, entry.detail)}", err=True)
        elif entry.status == "incomplete":  # read complete by the next run; nothing lost
            typer.echo(f"Still arriving: {entry.file}: {entry.detail}", err=True)
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)


def _ledger_statuses(ledger, data_dir: Path) -> Counter[str]:
    """How many returns the ledger just written lists in each status: those no longer in raw/
    (moved, removed) included, which the run's own entries leave out."""
    import csv

    try:
        with (data_dir / "processed" / "ledger.csv").open(newline="", encoding="utf-8") as file:
            return Counter(row["status"] for row in csv.DictReader(file))
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        return Counter(entry.status for entry in ledger)


@app.command()
def run(
    period: PeriodOption = None,
    force: ForceOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where briefings are written")] = DEFAULT_OUT_DIR,
    as_of: Annotated[
        str | None,
        typer.Option(help="Figures as they stood on this date (YYYY-MM-DD): later returns unused"),
    ] = None,
    force_render: Annotated[
        bool, typer.Option(help="Render every briefing again, even those that have not changed")
    ] = False,
    deliver: Annotated[
        bool,
        typer.Option(help="Email new and corrected briefings to subscribers (or the outbox)"),
    ] = True,
) -> None:
    """Run the whole pipeline once, now: ingest, validate, compute figures, render briefings
    (only those whose figures, words or templates changed since the last run), and send the
    new and corrected ones to subscribers (--no-deliver: send nothing)."""
    from briefings.domain.periods import AsOfError, Period, PeriodError, parse_as_of
    from briefings.reference import UnknownForceError, force_register

    try:
        if period:  # a year still running has no whole-year figures to publish
            period = Period.parse(period).ended_by(date.today()).label
        for name in force or []:
            force_register().resolve(name)
        if as_of:
            parse_as_of(as_of)
    except (PeriodError, UnknownForceError) as error:
        raise fail(str(error), code=2) from None
    except AsOfError as error:
        raise fail(f"--as-of {error}", code=2) from None
    _check_before_running(data_dir, out_dir, renders=True)
    not_sent = NOT_DELIVERING if not deliver else AS_OF_NEVER_SENT if as_of else None
    _announce_delivery(out_dir, not_sent)

    configure_prefect()
    from briefings.config import ConfigurationError
    from briefings.journal import JournalError
    from briefings.store import StoreBusyError
    from flows.pipeline import RunError, RunRequest, publish_briefings

    request = RunRequest(
        data_dir=data_dir,
        out_dir=out_dir,
        period=period,
        forces=force or None,
        as_of=as_of,
        force_render=force_render,
        deliver=deliver,
    )
    import httpx  # Prefect's HTTP client

    try:
        summary = flow_result(publish_briefings(request))
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None
    except (
        RunError,
        ConfigurationError,
        JournalError,
        UnknownForceError,
        FileNotFoundError,
    ) as error:
        raise fail(str(error)) from None
    except OSError as error:  # a folder that cannot be written (a full disk: RunError)
        raise fail(
            f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
        ) from None
    except httpx.HTTPError as error:  # Prefect retries for a minute, then gives up
        raise fail(
            f"lost the Prefect server ({os.environ.get('PREFECT_API_URL') or 'temporary'}): "
            f"{error}; files already written are whole, and the next run finishes the work"
        ) from None

    _print_ledger_summary(summary.ledger, summary.warnings, data_dir)
    typer.echo(
        f"Briefings for {summary.period} ({plural(len(summary.pdfs), 'PDF')}, "
        f"{len(summary.rendered)} rendered by this run): {summary.period_dir}"
    )
    typer.echo(f"Figures: {summary.figures_json}")
    _delivered(summary.delivery, not_sent)
    for stale in summary.out_of_date:
        typer.echo(f"Published earlier, now out of date: {stale.describe()}", err=True)
    if (
        summary.needs_attention
        or (summary.delivery is not None and summary.delivery.unknown)
        or summary.out_of_date
    ):
        raise typer.Exit(QUARANTINED_EXIT)


@app.command()
def ingest(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild everything under processed/ from raw/")
    ] = False,
) -> None:
    """Ingest and validate what is new in raw/, and update the ledger."""
    _check_before_running(data_dir, None, renders=False)
    configure_prefect()
    from briefings.store import StoreBusyError
    from flows.pipeline import RunError, ingest_new_returns

    try:
        summary = flow_result(ingest_new_returns(data_dir, rebuild=rebuild))
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None
    except RunError as error:  # a damaged journal, a full disk
        raise fail(str(error)) from None
    _print_ledger_summary(summary.ledger, summary.warnings, data_dir)
    if summary.needs_attention:
        raise typer.Exit(QUARANTINED_EXIT)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Returns to check (CSV or XLSX)")],
) -> None:
    """Check returns without ingesting them; exit 1 if any would be refused."""
    from briefings.ingest import Kind, ReturnReadError, read_return
    from briefings.validation import validate_return

    _check_configuration()
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
        typer.echo(f"REFUSED {path.name}: {plural(len(outcome.problems), 'problem')}")
        for problem in outcome.problems:
            typer.echo(f"  - {problem.describe(path.name)}")
    if refused:
        raise typer.Exit(1)


# Operations: the local Prefect server, the schedules, runs started by hand, status -----------

OutDir = Annotated[Path, typer.Option(help="Where briefings are written")]


def _operations_error(error: Exception) -> typer.Exit:
    return fail(str(error))


@app.command()
def server(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1")] = 4200,
) -> None:
    """Start the local Prefect server and UI (SQLite in .prefect/); Ctrl-C stops it."""
    configure_prefect()
    from briefings.operations import api_url_for, port_in_use, server_command, ui_url

    if port_in_use(port):
        raise fail(f"port {port} on 127.0.0.1 is in use: is a Prefect server already running?")
    command, env = server_command(port)
    database = Path(env["PREFECT_HOME"]) / "prefect.db"
    typer.echo(f"Prefect UI: {ui_url(api_url_for(port))} (database: {database})")
    typer.echo(f"In other terminals: export PREFECT_API_URL={api_url_for(port)}")
    sys.stdout.flush()
    os.execve(command[0], command, env)  # Prefect's server takes over this process


def _connect() -> str:
    """The URL of a running Prefect server, set for Prefect (imported after this) and for the
    processes it starts; a one-line error when none answers."""
    configure_prefect()
    from briefings.operations import OperationsError, require_server

    try:
        api_url = require_server()
    except OperationsError as error:
        raise _operations_error(error) from None
    os.environ["PREFECT_API_URL"] = api_url
    return api_url


@app.command()
def serve() -> None:
    """Serve the deployments in prefect.yaml with their schedules from this one process
    (needs `briefings server`); Ctrl-C stops serving and pauses the schedules."""
    from briefings.operations import OperationsError, deployment_specs

    api_url = _connect()
    try:
        specs = deployment_specs()
    except OperationsError as error:
        raise _operations_error(error) from None
    os.chdir(PROJECT_ROOT)  # runs start here: relative data_dir and out_dir are the project's
    from prefect import serve as serve_deployments

    from briefings.operations import release_from_work_pools, served_deployments

    for released in release_from_work_pools(specs):
        typer.echo(f"Note: {released}")
    for spec in specs:
        typer.echo(f"Serving {spec.name}: {spec.describe_schedules()} on {api_url}")
    serve_deployments(*served_deployments(specs))


trigger_app = typer.Typer(
    help="Start a deployment's run now, as its schedule would (it shows in the Prefect UI).",
    no_args_is_help=True,
)
app.add_typer(trigger_app, name="trigger")

Wait = Annotated[
    bool, typer.Option("--wait", help="Wait for the run to end; exit status as for `run`")
]


@trigger_app.command("publish")
def trigger_publish(
    period: PeriodOption = None,
    force: ForceOption = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder holding raw/ [default: the deployment's]")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Where briefings are written [default: the deployment's]")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Figures as they stood on this date (YYYY-MM-DD)")
    ] = None,
    deliver: Annotated[
        bool | None,
        typer.Option(
            "--deliver/--no-deliver",
            help="Send new and corrected briefings to subscribers [default: the deployment's]",
        ),
    ] = None,
    wait: Wait = False,
) -> None:
    """Run the publish-briefings deployment now, with the deployment's parameters for what
    is not given."""
    from briefings.domain.periods import AsOfError, Period, PeriodError, parse_as_of
    from briefings.reference import UnknownForceError, force_register

    request: dict[str, object] = {}
    try:
        if period:
            request["period"] = Period.parse(period).ended_by(date.today()).label
        if force:
            request["forces"] = [force_register().resolve(name).name for name in force]
        if as_of:
            parse_as_of(as_of)
            request["as_of"] = as_of.strip()
    except (PeriodError, UnknownForceError) as error:
        raise fail(str(error), code=2) from None
    except AsOfError as error:
        raise fail(f"--as-of {error}", code=2) from None
    if data_dir is not None:
        request["data_dir"] = str(data_dir.resolve())
    if out_dir is not None:
        request["out_dir"] = str(out_dir.resolve())
    if deliver is not None:
        request["deliver"] = deliver
    _trigger("publish-briefings", {"request": request}, wait)


@trigger_app.command("ingest")
def trigger_ingest(
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder holding raw/ [default: the deployment's]")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild everything under processed/ from raw/")
    ] = False,
    wait: Wait = False,
) -> None:
    """Run the ingest-returns deployment now."""
    parameters: dict[str, object] = {"rebuild": rebuild}
    if data_dir is not None:
        parameters["data_dir"] = str(data_dir.resolve())
    _trigger("ingest-returns", parameters, wait)


def _trigger(name: str, overrides: dict, wait: bool) -> None:
    import time

    from briefings.operations import (
        OperationsError,
        find_deployment,
        flow_run_url,
        is_ready,
        merged_parameters,
        spec_named,
    )

    api_url = _connect()
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        spec_named(name)
        with get_client(sync_client=True) as client:
            deployment = find_deployment(client, name)
    except OperationsError as error:
        raise _operations_error(error) from None
    parameters = merged_parameters(deployment.parameters, overrides)
    request = parameters.get("request")
    if isinstance(request, dict):  # a publish run: say whether it sends, before it starts
        if request.get("as_of"):
            typer.echo(f"Will not send the briefings to subscribers: {AS_OF_NEVER_SENT}")
        elif request.get("deliver", True):
            typer.echo(
                "Will send new and corrected briefings to subscribers, as the worker's settings "
                "say (email, or the outbox without an SMTP server); --no-deliver sends nothing"
            )
        else:
            typer.echo("Will not send the briefings to subscribers: --no-deliver")
    try:
        # No event loop here, so run_deployment runs synchronously and returns the flow run.
        flow_run = cast("FlowRun", run_deployment(deployment.id, parameters=parameters, timeout=0))
    except PrefectHTTPStatusError as error:
        detail = error.response.json().get("detail", str(error))
        raise fail(f"the server refused a run of {name}: {detail}") from None
    typer.echo(f"Started {name} run '{flow_run.name}': {flow_run_url(api_url, flow_run.id)}")
    if not is_ready(deployment):
        typer.echo(
            f"Note: no worker or `briefings serve` is polling for {name} now; the run waits "
            "until one starts (`make worker` or `briefings serve`).",
            err=True,
        )
    if not wait:
        return
    with get_client(sync_client=True) as client:
        try:
            while not (state := client.read_flow_run(flow_run.id).state) or not state.is_final():
                time.sleep(2)
        except KeyboardInterrupt:
            raise fail(f"stopped waiting; run '{flow_run.name}' goes on", code=130) from None
    message = f": {state.message}" if state.message else ""
    if isinstance(request, dict):
        from briefings.operations import delivery_of_run

        typer.echo(f"Delivery: {delivery_of_run(flow_run.id) or 'none'}")
    if state.is_completed() or state.name == "NeedsAttention":  # Failed, by that name
        typer.echo(f"Run '{flow_run.name}' ended {state.name}{message}")
        if state.name == "NeedsAttention":
            raise typer.Exit(QUARANTINED_EXIT)
        return
    busy = state.name == "Busy"  # another run held the data folder (flows/pipeline.py)
    raise fail(f"run '{flow_run.name}' ended {state.name}{message}", code=3 if busy else 1)


@app.command()
def backfill(
    first: Annotated[str, typer.Option("--from", help="First financial year, like 2015/16")],
    last: Annotated[str, typer.Option("--to", help="Last financial year, like 2019/20")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    out_dir: OutDir = DEFAULT_OUT_DIR,
    deliver: Annotated[
        bool,
        typer.Option(help="Send each period's new and corrected briefings to subscribers"),
    ] = False,
) -> None:
    """Publish the briefings of each period from --from to --to that has accepted returns,
    in this process; periods without returns are skipped. Nothing is sent to subscribers
    unless --deliver."""
    from briefings.domain.periods import Period, PeriodError

    try:
        start, end = Period.parse(first), Period.parse(last)
    except PeriodError as error:
        raise fail(str(error), code=2) from None
    if end < start:
        raise fail(f"--from {start.label} comes after --to {end.label}", code=2)
    _check_before_running(data_dir, out_dir, renders=True)
    not_sent = None if deliver else "backfill sends nothing without --deliver"
    _announce_delivery(out_dir, not_sent)

    configure_prefect()
    from briefings.config import ConfigurationError
    from briefings.services import RunError
    from briefings.services import backfill as backfill_periods
    from briefings.store import StoreBusyError
    from flows.pipeline import PREFECT, ingest_new_returns, publish_briefings

    def publish_period(request):
        summary = flow_result(publish_briefings(request))
        typer.echo(
            f"Briefings for {summary.period} ({plural(len(summary.pdfs), 'PDF')}): "
            f"{summary.period_dir}"
        )
        _delivered(summary.delivery, not_sent)
        return summary

    try:
        result = backfill_periods(
            data_dir,
            out_dir,
            start,
            end,
            deliver=deliver,
            runner=PREFECT,  # starts its render workers while the returns are ingested
            ingest_returns=lambda folder: flow_result(ingest_new_returns(folder)),
            publish_period=publish_period,
            announce=typer.echo,
            before_publishing=lambda ingested: _print_ledger_summary(
                ingested.ledger, ingested.warnings, data_dir
            ),
        )
    except StoreBusyError as error:
        raise fail(str(error), code=3) from None
    except (RunError, ConfigurationError) as error:
        raise fail(str(error)) from None
    for label, why in result.failed.items():
        typer.echo(f"Not published {label}: {why}", err=True)
    published = [summary.period for summary in result.published]
    typer.echo(
        f"Backfill {start.label} to {end.label}: published {', '.join(published) or 'none'}"
        + (f"; skipped (no returns) {', '.join(result.skipped)}" if result.skipped else "")
    )
    if result.failed:
        raise fail(f"not published: {', '.join(result.failed)}")
    if result.ingested.needs_attention:
        raise typer.Exit(QUARANTINED_EXIT)


@app.command()
def status(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    runs: Annotated[
        int,
        typer.Option(
            min=1, max=200, help="Recent runs shown, of every kind (scheduled, by hand...)"
        ),
    ] = 10,
) -> None:
    """The deployments, the recent runs of every kind (what each published and what waits
    for a person), the journal, the latest accepted return per force, and the quarantined
    files with their reports."""
    configure_prefect()
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from briefings import operations as ops
    from briefings.store import DataFolders, read_ledger

    console = Console(width=max(160, Console().width), highlight=False)

    def table(title: str, columns: list[str], rows: list[list[object]]) -> None:
        shown = Table(title=title, title_justify="left")
        for column in columns:
            shown.add_column(column, overflow="fold")
        for row in rows:
            shown.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
        console.print(shown)

    try:
        specs = ops.deployment_specs()
    except ops.OperationsError as error:
        raise _operations_error(error) from None
    api_url = os.environ.get("PREFECT_API_URL") or ops.api_url_for()
    if ops.server_is_up(api_url):
        os.environ["PREFECT_API_URL"] = api_url
        deployments, _ = ops.deployment_overview(api_url, specs, 1)
        table(
            f"Deployments on {ops.ui_url(api_url)}",
            ["deployment", "schedule", "runs on", "picked up by", "next run (UK)", "concurrency"],
            [
                [d.name, d.schedules, d.runs_on, d.polled, d.next_run, d.concurrency_limit]
                if d.deployed
                else [d.name, "not deployed: `make deploy` or `briefings serve`", "", "", "", ""]
                for d in deployments
            ],
        )
        recent = ops.recent_runs(api_url, runs, data_dir)
        if recent:
            table(
                f"Latest runs over {data_dir} ({len(recent)}, newest first; `--runs N` for more)",
                [
                    "flow",
                    "run",
                    "started by",
                    "state",
                    "started (UK)",
                    "duration",
                    "period",
                    "published",
                    "waits for a person",
                ],
                [
                    [
                        r.flow,
                        r.run,
                        r.kind,
                        r.state + (f": {r.message}" if r.message else ""),
                        r.started,
                        r.duration,
                        r.period,
                        r.published,
                        r.waiting,
                    ]
                    for r in recent
                ],
            )
        else:
            typer.echo(f"Latest runs over {data_dir}: none yet")
    else:
        typer.echo(f"Runs: not shown, {ops.no_server_message(api_url)}")

    folders = DataFolders(data_dir)
    journal_problem = _journal_status(folders)
    if read_ledger(folders).empty:
        typer.echo(f"Returns: no ledger in {folders.processed} yet (`briefings ingest` makes it)")
        if journal_problem:
            raise fail(journal_problem)
        return
    latest = ops.latest_returns_per_force(folders)
    table(
        f"Latest accepted return per force ({folders.ledger})",
        ["force", "file", "received", "years with figures"],
        [[r.force, r.file, r.received, r.years] for r in latest],
    )
    quarantined = ops.quarantined_files(folders)
    if quarantined:
        table(
            f"Quarantined returns ({len(quarantined)})",
            ["file", "received", "why"],
            [[q.file, q.received, q.why] for q in quarantined],
        )
        for q in quarantined:
            typer.echo(f"Quarantine report: {q.report or f'none written for {q.file}'}")
    else:
        typer.echo("Quarantined returns: none")
    index = folders.validation / "data-docs" / "index.html"
    typer.echo(f"Data Docs: {index if index.exists() else 'not built yet'}")
    if journal_problem:  # everything else was shown; this stops every run until it is fixed
        raise fail(journal_problem)


def _journal_status(folders: Any) -> str | None:
    """A line on the journal, for `status`; what is wrong with it, if anything (damaged,
    unreadable, or lost beside a store that shows earlier runs)."""
    from briefings.journal import Journal, JournalError
    from briefings.services import check_journal_not_lost

    if not folders.journal.exists():
        typer.echo(f"Journal: none yet at {folders.journal} (the first run makes it)")
        return None
    try:
        check_journal_not_lost(Journal(folders.journal).open(), folders)
    except JournalError as error:
        typer.echo(f"Journal: CANNOT BE USED, every run stops until it is restored: {error}")
        return str(error)
    typer.echo(f"Journal: {folders.journal} (sound; back it up: `briefings journal backup`)")
    return None


@app.command("validation-report")
def validation_report(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Where the Data Docs are, and a table of every raw file's validation."""
    from rich.console import Console
    from rich.table import Table

    from briefings.store import DataFolders, read_ledger

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


def _latest_published(out_dir: Path) -> Path | None:
    from briefings.domain.periods import Period, PeriodError

    published = []
    for manifest in out_dir.glob("*/manifest.json"):
        try:
            published.append((Period.parse(manifest.parent.name), manifest.parent))
        except PeriodError:
            continue
    return max(published)[1] if published else None


@app.command()
def deliver(
    period: Annotated[
        str | None, typer.Option(help="Financial year like 2016/17 [default: latest published]")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would get what; send and record nothing")
    ] = False,
    send: Annotated[
        bool,
        typer.Option(
            "--deliver/--no-deliver", help="Send (the default), or only show, as --dry-run"
        ),
    ] = True,
    out_dir: Annotated[Path, typer.Option(help="Where briefings were written")] = DEFAULT_OUT_DIR,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    subscriptions: Annotated[
        Path | None,
        typer.Option(help="Subscriptions file [default: the comms teams' subscriptions.yaml]"),
    ] = None,
    outbox: Annotated[
        Path | None,
        typer.Option(
            help="Where .eml files go when no SMTP server is configured "
            "[default: beside --out-dir, as `run` puts them]"
        ),
    ] = None,
) -> None:
    """Email the published briefings to subscribers (or write them to the outbox)."""
    from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS
    from briefings.services import outbox_dir

    subscriptions = subscriptions or DEFAULT_SUBSCRIPTIONS
    outbox = outbox or outbox_dir(out_dir)  # one rule, as `run` has it
    from briefings.config import ConfigurationError
    from briefings.delivery import (
        DeliveryBusyError,
        DeliverySettings,
        ManifestError,
        preview_delivery,
    )
    from briefings.domain.periods import Period, PeriodError

    try:
        period_dir = out_dir / Period.parse(period).slug if period else _latest_published(out_dir)
    except PeriodError as error:
        raise fail(str(error), code=2) from None
    if period_dir is None:
        raise fail(f"nothing published in {out_dir}: run `briefings run` first", code=2)
    from briefings.services.publishing import undeliverable

    refused = undeliverable(data_dir, period_dir)
    if refused:
        raise fail(refused)
    from briefings.journal import JournalError, journal_path

    ledger = journal_path(data_dir)  # what each subscriber was sent
    try:
        settings = DeliverySettings.from_env(outbox_dir=outbox)
        preview = preview_delivery(period_dir, subscriptions, ledger, settings)
    except (ManifestError, ConfigurationError) as error:
        raise fail(str(error), code=2) from None
    except JournalError as error:
        raise fail(str(error)) from None
    if dry_run or not send:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Would deliver {preview.period} via {preview.destination}")
        for column in ("subscriber", "email", "briefings", "kind", "changed figures"):
            table.add_column(column, overflow="fold")
        for message in preview.messages:
            kind = message.kind + (" (retry)" if message.attempts else "")
            pdfs = ", ".join(message.pdfs)
            table.add_row(message.recipient, message.email, pdfs, kind, message.detail)
        Console(width=max(160, Console().width)).print(table)
        typer.echo(preview.describe())
        return

    how = (
        f"email {len(preview.planned)} messages for {preview.period} to subscribers via "
        f"{settings.destination}"
        if settings.smtp
        else f"write {len(preview.planned)} messages for {preview.period} to the outbox "
        f"{settings.outbox_dir}, not email them (no SMTP server is set: BRIEFINGS_SMTP_HOST)"
    )
    typer.echo(f"Will {how}")
    _check_prefect_server()
    configure_prefect()
    from briefings.store import DataFolders, StoreBusyError, store_lock
    from flows.delivery import deliver_briefings

    try:
        # The data folder's lock, as a publish run holds it while it delivers: no run renders
        # new PDFs under these messages, and no two deliveries plan the same message.
        with store_lock(DataFolders(data_dir)):
            summary = flow_result(deliver_briefings(period_dir, subscriptions, ledger, outbox))
    except (StoreBusyError, DeliveryBusyError) as error:
        raise fail(str(error), code=3) from None
    except (ManifestError, ConfigurationError) as error:
        raise fail(str(error), code=2) from None
    except JournalError as error:
        raise fail(str(error)) from None
    for message in summary.messages:
        pdfs = ", ".join(message.pdfs)
        typer.echo(
            f"{message.status}: {message.kind} to {message.recipient} <{message.email}>: {pdfs}"
        )
    typer.echo(f"Delivery: {summary.describe()}")
    if summary.undelivered:
        raise fail(
            f"{plural(len(summary.undelivered), 'message')} undelivered; the next run retries them"
        )
    if summary.unknown:
        raise fail(
            f"{plural(len(summary.unknown), 'message')} not confirmed by the mail server, which "
            "may have "
            "delivered them: not sent again; the stewards were told which",
            code=QUARANTINED_EXIT,
        )


# Stewards' decisions about returns, and the journal that keeps them --------------------------

returns_app = typer.Typer(
    help="Refused returns and what stewards decided about them (kept in the journal).",
    no_args_is_help=True,
)
app.add_typer(returns_app, name="returns")
journal_app = typer.Typer(
    help="The journal (<data>/state/journal.sqlite): what was received, decided and sent. "
    "It cannot be rebuilt from raw/: back it up.",
    no_args_is_help=True,
)
app.add_typer(journal_app, name="journal")


def _open_journal(data_dir: Path):
    from briefings.journal import Journal, JournalError

    try:
        return Journal.of(data_dir)
    except JournalError as error:
        raise fail(str(error)) from None


def _ledger_rows(data_dir: Path) -> list[dict[str, str]]:
    from briefings.store import DataFolders, read_ledger

    folders = DataFolders(data_dir)
    ledger = read_ledger(folders)
    if ledger.empty:
        raise fail(f"no ledger in {folders.processed}: run `briefings ingest` first", code=2)
    return ledger.to_dict("records")


def _refused_return(data_dir: Path, name: Path) -> dict[str, str]:
    """The ledger's row of a refused return, named by its path (under raw/ or anywhere: its
    content decides) or by its name as the ledger lists it."""
    matches = _returns_named(data_dir, name)
    refused = [r for r in matches if r["status"] == "quarantined"]
    if not refused:
        raise fail(f"{name} was not refused (it is {matches[0]['status']})", code=2)
    return refused[0]


def _returns_named(data_dir: Path, name: Path) -> list[dict[str, str]]:
    """The ledger's rows of a return named by its path (under raw/ or anywhere: its content
    decides) or by its name as the ledger lists it; at least one, or a one-line error."""
    rows = _ledger_rows(data_dir)
    raw = (data_dir / "raw").resolve()
    wanted = {str(name), name.as_posix()}
    if name.parts[:1] == ("raw",):  # raw/x.csv, as stewards.md writes it: the data folder's
        wanted.add(Path(*name.parts[1:]).as_posix())
        if not name.is_file():
            name = data_dir / name
    if name.is_file():
        from briefings.ingest import file_sha256

        resolved = name.resolve()
        if resolved.is_relative_to(raw):
            wanted.add(resolved.relative_to(raw).as_posix())
        content = file_sha256(name)
        matches = [r for r in rows if r["sha256"] == content] or [
            r for r in rows if r["file"] in wanted
        ]
    else:
        matches = [r for r in rows if r["file"] in wanted]
    if not matches:
        alike = sorted({r["file"] for r in rows if Path(r["file"]).name == name.name})
        hint = f"; did you mean {' or '.join(alike)}?" if alike else ""
        raise fail(f"no return {name} in the ledger of {data_dir}{hint}", code=2)
    return matches


def _earlier_decision(data_dir: Path, sha256: str):
    from briefings.journal.decisions import latest_decisions

    return latest_decisions(_open_journal(data_dir)).get(sha256)


def _say_replaced(earlier) -> None:
    if earlier is not None:
        typer.echo(
            f"This replaces the earlier decision ({earlier.describe()}); the journal keeps both"
        )


@returns_app.command("acknowledge")
def returns_acknowledge(
    file: Annotated[Path, typer.Argument(help="The refused return: its path or its ledger name")],
    reason: Annotated[str, typer.Option(help="Why it needs nothing more (one line; required)")],
    by: Annotated[
        str | None, typer.Option(help="Who decided [default: the user running this]")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Acknowledge a refused return: it stops flagging runs (NeedsAttention, exit 4). The
    decision, its reason and who made it are kept in the journal."""
    import getpass

    from briefings.journal.decisions import ACKNOWLEDGE, DecisionError, record_decision

    refused = _refused_return(data_dir, file)
    journal = _open_journal(data_dir)
    earlier = _earlier_decision(data_dir, refused["sha256"])
    try:
        decision = record_decision(
            journal,
            refused["sha256"],
            refused["file"],
            ACKNOWLEDGE,
            reason,
            by if by is not None else getpass.getuser(),
        )
    except DecisionError as error:
        raise fail(str(error), code=2) from None
    typer.echo(
        f"Acknowledged {decision.file} (sha256 {decision.sha256[:12]}) by {decision.decided_by}: "
        f"{decision.reason}; it no longer flags runs"
    )
    _say_replaced(earlier)


ReasonOption = Annotated[str, typer.Option(help="Why (one line; required): kept in the journal")]
ByOption = Annotated[str | None, typer.Option(help="Who decided [default: the user running this]")]


def _decide(data_dir: Path, row: dict[str, str], action: str, reason: str, by: str | None):
    import getpass

    from briefings.journal.decisions import DecisionError
    from briefings.services.reviewing import decide

    try:
        return decide(data_dir, row, action, reason, by if by is not None else getpass.getuser())
    except DecisionError as error:
        raise fail(str(error), code=2) from None


@returns_app.command("accept")
def returns_accept(
    file: Annotated[Path, typer.Argument(help="The refused return: its path or its ledger name")],
    reason: ReasonOption,
    by: ByOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Accept a refused return the force has confirmed: its figures count from the next run.
    Only a return refused by checks a steward may overrule can be accepted; a file that could
    not be read stays refused."""
    from briefings.journal.decisions import ACCEPT

    matches = _returns_named(data_dir, file)
    row = next((r for r in matches if r["status"] == "quarantined"), matches[0])
    earlier = _earlier_decision(data_dir, row["sha256"])
    decision = _decide(data_dir, row, ACCEPT, reason, by)
    typer.echo(
        f"Accepted {decision.file} (sha256 {decision.sha256[:12]}) by {decision.decided_by}: "
        f"{decision.reason}; its figures count from the next run"
    )
    _say_replaced(earlier)


@returns_app.command("withdraw")
def returns_withdraw(
    file: Annotated[Path, typer.Argument(help="The return: its path or its ledger name")],
    reason: ReasonOption,
    by: ByOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Withdraw a return (the force withdrew it, or it was sent in error): from the next run
    its figures no longer count, and a refused one stops flagging runs."""
    from briefings.journal.decisions import WITHDRAW

    matches = _returns_named(data_dir, file)
    row = next((r for r in matches if r["status"] != "duplicate"), matches[0])
    earlier = _earlier_decision(data_dir, row["sha256"])
    decision = _decide(data_dir, row, WITHDRAW, reason, by)
    typer.echo(
        f"Withdrew {decision.file} (sha256 {decision.sha256[:12]}) by {decision.decided_by}: "
        f"{decision.reason}; its figures no longer count from the next run"
    )
    _say_replaced(earlier)


@returns_app.command("list")
def returns_list(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """The refused returns, and whether each still waits for a person; and the returns
    stewards accepted or withdrew."""
    from briefings.journal.decisions import settled_refusals, standing_decisions
    from briefings.services.reviewing import cannot_accept

    rows = _ledger_rows(data_dir)
    journal = _open_journal(data_dir)
    standing = standing_decisions(journal)
    decided = [
        r for r in rows if r["sha256"] in standing and r["status"] in ("accepted", "withdrawn")
    ]
    for row in decided:
        typer.echo(f"{row['file']}: {standing[row['sha256']].describe()}")
    refused = [r for r in rows if r["status"] == "quarantined"]
    if not refused:
        typer.echo("Refused returns: none")
        return
    settled = settled_refusals(journal)
    waiting = 0
    for row in refused:
        decision = settled.get(row["sha256"])
        accepted = standing.get(row["sha256"])
        if decision is not None:
            state = decision.describe()
        elif accepted is not None and not cannot_accept(data_dir, row):
            state = f"{accepted.describe()} (its figures count from the next run)"
        elif "; superseded by " in row["detail"]:
            state = "superseded by " + row["detail"].rsplit("; superseded by ", 1)[1]
        else:
            state = "WAITS FOR A PERSON"
            if not cannot_accept(data_dir, row):
                state += " (the force may confirm it: `briefings returns accept`)"
            waiting += 1
        typer.echo(f"{row['file']} (received {row['first_seen'][:10]}): {state}")
    typer.echo(f"{plural(len(refused), 'refused return')}, {waiting} waiting for a person")


@journal_app.command("check")
def journal_check(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Check the journal in full (SQLite's integrity check) and count what it holds."""
    from briefings.journal import Journal, JournalError, journal_path

    path = journal_path(data_dir)
    if not path.is_file():
        raise fail(f"no journal at {path}: a run creates it")
    journal = Journal(path)
    problems = journal.check()
    if problems:
        raise fail(f"the journal {path} is damaged: {'; '.join(problems[:3])}")
    try:
        with journal.reading() as connection:

            def count(table: str) -> int:
                exists = connection.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (table,)
                ).fetchone()
                return (
                    connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    if exists
                    else 0
                )

            received, decided, delivered = (
                count("received"),
                count("decisions"),
                count("deliveries"),
            )
    except JournalError as error:
        raise fail(str(error)) from None
    typer.echo(
        f"journal ok: {received} received, {plural(decided, 'decision')}, "
        f"{plural(delivered, 'delivery', 'deliveries')}"
    )


@journal_app.command("start-over")
def journal_start_over(
    reason: Annotated[str, typer.Option(help="Why the old journal cannot be restored")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    by: Annotated[str | None, typer.Option(help="Who decided (default: your user name)")] = None,
) -> None:
    """Go on with a new journal when the old one is lost and has no backup. The next run
    dates every return by when it sees it, and sends every subscriber the current briefings."""
    import getpass

    from briefings.journal import JournalError
    from briefings.services import start_journal_over

    if not reason.strip():
        raise fail("--reason must say why the journal cannot be restored", code=2)
    try:
        journal = start_journal_over(data_dir, reason, by or getpass.getuser())
    except JournalError as error:
        raise fail(str(error)) from None
    typer.echo(f"A new journal is in use: {journal.path}. Back it up: briefings journal backup")


@journal_app.command("backup")
def journal_backup(
    target: Annotated[Path, typer.Argument(help="The backup file to write (replaced if there)")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """A consistent copy of the journal, safe while runs write to it (SQLite's online
    backup). To restore, copy a backup to <data>/state/journal.sqlite with no run going."""
    from briefings.journal import Journal, JournalError, journal_path

    path = journal_path(data_dir)
    if not path.is_file():
        raise fail(f"no journal at {path}: nothing to back up")
    try:
        written = Journal(path).open().backup(target)
    except JournalError as error:
        raise fail(str(error)) from None
    except OSError as error:
        raise fail(f"cannot write the backup {target}: {error.strerror or error}") from None
    typer.echo(f"Journal backed up to {written}")


# FOI replies from the mailbox, the figures stewards confirm, and the rounds they answer -------

mailbox_app = typer.Typer(
    help="FOI replies fetched from the mailbox, and the figures read from their letters, which "
    "count only once a steward confirms them.",
    no_args_is_help=True,
)
app.add_typer(mailbox_app, name="mailbox")
round_app = typer.Typer(help="FOI rounds (<data>/rounds/*.yaml): who replied, who is overdue.")
app.add_typer(round_app, name="round", no_args_is_help=True)


@mailbox_app.command("fetch")
def mailbox_fetch(
    maildir: Annotated[
        Path | None, typer.Option(help="Read this Maildir folder [default: the settings']")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Fetch new replies (IMAP, BRIEFINGS_IMAP_*, or a Maildir folder) into raw/mailbox/,
    each stored once, and read the figures their letters give for a steward to review."""
    from briefings.config.errors import ConfigurationError
    from briefings.journal import JournalError
    from briefings.mailbox.fetching import fetch_replies
    from briefings.mailbox.sources import MailboxError, configured_source

    _check_data_folder(data_dir)
    journal = _open_journal(data_dir)
    try:
        source = configured_source(journal, maildir, _mailbox_secret_loader())
        summary = fetch_replies(data_dir, source)
    except (MailboxError, ConfigurationError, JournalError) as error:
        raise fail(str(error)) from None
    for reply in summary.stored:
        force = reply.force or f"force not known: {reply.how}"
        typer.echo(f"Stored raw/{reply.folder}: {reply.subject!r} from {reply.sender} ({force})")
        for note in reply.notes:
            typer.echo(f"  {note}")
    typer.echo(summary.describe())


def _mailbox_secret_loader():
    """Reads the mailbox password's Prefect Secret block, when the settings name one."""
    from briefings.config.settings import get_settings

    if not get_settings().imap_password_block:
        return None
    configure_prefect()
    from flows.mailbox import load_mailbox_secret

    return load_mailbox_secret


@mailbox_app.command("review")
def mailbox_review(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """List the figures waiting for a steward, each with the passage it was read from, and
    the replies whose force is not known."""
    from briefings.journal.mailbox import candidates, message_notes, messages
    from briefings.mailbox.report import describe_candidate

    journal = _open_journal(data_dir)
    pending = candidates(journal, pending_only=True)
    replies = {m.message_id: m for m in messages(journal)}
    shown = None
    for c in pending:
        if c.message_id != shown:
            reply = replies[c.message_id]
            typer.echo(
                f"Reply raw/{reply.folder} from {reply.sender}, {reply.subject!r} "
                f"({reply.foi_reference or 'no FOI reference'}; force by {reply.force_how}):"
            )
            shown = c.message_id
        for line in describe_candidate(c):
            typer.echo(f"  {line}")
    typer.echo(
        f"{len(pending)} figures wait for a decision: briefings mailbox confirm ID "
        "[--correct N --reason TEXT] or briefings mailbox reject ID --reason TEXT"
        if pending
        else "No figures wait for a decision"
    )
    for reply in replies.values():
        if reply.force_code is None:
            typer.echo(
                f"Force not known for raw/{reply.folder} from {reply.sender}: {reply.force_how}"
            )
        for note in message_notes(journal, reply.message_id):
            if " not read" in note:
                typer.echo(f"Not read in raw/{reply.folder}: {note}")


@mailbox_app.command("confirm")
def mailbox_confirm(
    candidate_id: Annotated[int, typer.Argument(metavar="ID", help="The candidate's number")],
    correct: Annotated[
        str | None, typer.Option(help="The right count, if the letter was misread (with --reason)")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (required with --correct)")] = None,
    by: ByOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Confirm a figure as read (or corrected): once every figure of its reply is decided,
    the confirmed ones are written as a return to raw/mailbox/confirmed/ for the next ingest."""
    import getpass

    from briefings.journal.mailbox import MailboxDecisionError
    from briefings.mailbox.review import confirm

    try:
        outcome = confirm(data_dir, candidate_id, by or getpass.getuser(), correct, reason)
    except MailboxDecisionError as error:
        raise fail(str(error), code=2) from None
    typer.echo(outcome.describe())


@mailbox_app.command("reject")
def mailbox_reject(
    candidate_id: Annotated[int, typer.Argument(metavar="ID", help="The candidate's number")],
    reason: ReasonOption,
    by: ByOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Reject a figure read from a reply: it never reaches a return or a briefing."""
    import getpass

    from briefings.journal.mailbox import MailboxDecisionError
    from briefings.mailbox.review import reject

    try:
        outcome = reject(data_dir, candidate_id, by or getpass.getuser(), reason)
    except MailboxDecisionError as error:
        raise fail(str(error), code=2) from None
    typer.echo(outcome.describe())


@round_app.command("status")
def round_status_command(
    name: Annotated[
        str | None, typer.Argument(help="The round's name or file [default: every round]")
    ] = None,
    today: Annotated[
        str | None, typer.Option(help="Count overdue days as of this date (YYYY-MM-DD)")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Which forces asked in a round have replied, and which are overdue (20 working days)."""
    from briefings.journal.mailbox import messages
    from briefings.mailbox.rounds import (
        RoundError,
        describe_status,
        find_round,
        read_round,
        returns_received,
        round_files,
        round_status,
    )
    from briefings.reference import force_register

    try:
        day = date.fromisoformat(today) if today else date.today()
    except ValueError:
        raise fail(f"--today {today!r}: expected a date YYYY-MM-DD", code=2) from None
    try:
        paths = [find_round(data_dir, name)] if name else round_files(data_dir)
        rounds = [read_round(path, force_register()) for path in paths]
    except RoundError as error:
        raise fail(str(error), code=2) from None
    if not rounds:
        raise fail(f"no round files in {data_dir / 'rounds'} (see docs/stewards.md)", code=2)
    stored = messages(_open_journal(data_dir))
    returns = returns_received(data_dir)
    if returns is None:
        typer.echo(
            f"Note: no return in {data_dir / 'raw'} has been read yet (briefings ingest reads "
            "them), so only replies fetched from the mailbox count below: a force that sent a "
            "return may show as overdue"
        )
    for round_ in rounds:
        for line in describe_status(round_, round_status(round_, stored, day, returns or ()), day):
            typer.echo(line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
