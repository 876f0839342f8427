"""What waits for a steward, in the Prefect UI.

- review-return: one run per refused return that waits for a person, opened by the ingest and
  publish runs (which go on without the return). It suspends until a steward answers its form
  in the UI (Resume): accept the return (only one refused by checks a steward may overrule),
  keep it refused, and optionally withdraw an earlier return. The decision is recorded in the
  journal, with who and why, and takes effect in the next run.
- tell-stewards: started by the Automation in prefect.yaml when a publish run ends
  NeedsAttention; emails the stewards (or writes to the outbox) naming what waits and where.

Thin shells over briefings.services.reviewing and the stewards' notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import pydantic
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.input import RunInput
from prefect.states import Completed, Failed, State

from briefings import services
from briefings.journal.decisions import ACCEPT, ACKNOWLEDGE, WITHDRAW, DecisionError
from briefings.resources import DEFAULT_DATA_DIR
from briefings.services import out_dir_beside, outbox_dir
from briefings.services.reviewing import (
    ReturnUnderReview,
    decide,
    ledger_rows,
    row_of,
    waiting_returns,
)
from briefings.store import LedgerEntry

REVIEW_FLOW = "review-return"
REVIEW_DEPLOYMENT = f"{REVIEW_FLOW}/{REVIEW_FLOW}"
REVIEW_TAG = "review"
# A review run outside a deployment (started by hand) cannot be suspended, only paused,
# holding its process: it waits this long for an answer.
PAUSED_REVIEW_SECONDS = 3600
PAUSED_POLL_SECONDS = 2  # how often a paused review asks the server whether it was answered

ACCEPT_IT = "Accept: the force confirmed these figures"
KEEP_IT_REFUSED = "Keep refused"
NO_EARLIER_RETURN = "(none)"


def review_tag(sha256: str) -> str:
    """The tag of the review runs of one return (by content)."""
    return f"return-{sha256[:16]}"


def review_form(review: ReturnUnderReview) -> type[RunInput]:
    """The form a steward answers in the Prefect UI: accept (offered only when a steward may),
    or keep refused; a reason and a name; and, when accepted returns give figures for the same
    forces, one of them to withdraw."""
    choices = ([ACCEPT_IT] if review.may_accept else []) + [KEEP_IT_REFUSED]
    fields: dict[str, Any] = {
        "decision": (
            Literal[tuple(choices)],  # type: ignore[valid-type]
            pydantic.Field(title="Decision", description="What becomes of this return"),
        ),
        "reason": (
            str,
            pydantic.Field(
                min_length=1,
                title="Reason",
                description="One line, kept in the journal: what the force said, say",
            ),
        ),
        "steward": (str, pydantic.Field(min_length=1, title="Your name")),
    }
    if review.earlier:
        fields["withdraw_earlier_return"] = (
            Literal[(NO_EARLIER_RETURN, *review.earlier)],  # type: ignore[valid-type]
            pydantic.Field(
                default=NO_EARLIER_RETURN,
                title="Withdraw an earlier return",
                description="An accepted return for the same forces whose figures must no "
                "longer count (the force withdrew it)",
            ),
        )
    form: type[RunInput] = pydantic.create_model(  # type: ignore[call-overload]
        "ReturnReview", __base__=RunInput, **fields
    )
    return form


def review_text(review: ReturnUnderReview) -> str:
    """What the steward reads above the form: the return, why it was refused (the quarantine
    report's words), and what each answer does."""
    lines = [
        f"## Review of `{review.file}`",
        "",
        f"- **Received**: {review.first_seen[:16].replace('T', ' ')}",
        f"- **Forces**: {', '.join(review.forces) or 'none could be read'}",
        f"- **Why it was refused**: {review.detail}",
    ]
    if review.report is not None:
        lines.append(f"- **Quarantine report**: `processed/quarantine/{review.report.name}`")
    if review.data_docs:
        lines.append(f"- **Data Docs**: {review.data_docs}")
    lines.append("")
    if review.may_accept:
        lines.append(
            "**Accept** once the force has confirmed these figures: they count from the next "
            "run, and the ledger says who accepted the return and why."
        )
    else:
        lines.append(f"This return cannot be accepted: {review.cannot_accept}.")
    lines.append(
        "**Keep refused**: its figures are not used, and it stops flagging runs "
        "(NeedsAttention). A corrected return dropped into `raw/` is read by the next run "
        "either way."
    )
    return "\n".join(lines)


@flow(name=REVIEW_FLOW)
def review_return(data_dir: Path, sha256: str, file: str = "") -> str | State:
    """Wait for a steward's decision about one refused return (`file` is its name, for
    people), then record it in the journal."""
    logger = get_run_logger()
    try:
        row = row_of(data_dir, sha256)
    except DecisionError as error:
        return Failed(message=str(error))
    waiting = [r for r in waiting_returns(data_dir) if r.sha256 == sha256]
    if not waiting:
        return Completed(
            message=f"{row['file']} waits for nobody now ({row['status']}: {row['detail']})"
        )
    review = waiting[0]
    form = review_form(review).with_initial_data(description=review_text(review))
    answer = ask(form, key=f"review-{sha256[:16]}")
    if not [r for r in waiting_returns(data_dir) if r.sha256 == sha256]:
        # Decided meanwhile (from the command line, say): that decision stands.
        return Completed(message=f"{row['file']} was decided meanwhile; this answer is not used")
    action = ACCEPT if answer.decision == ACCEPT_IT else ACKNOWLEDGE
    try:
        decided = [decide(data_dir, row, action, answer.reason, answer.steward)]
        earlier = getattr(answer, "withdraw_earlier_return", NO_EARLIER_RETURN)
        if earlier != NO_EARLIER_RETURN:
            earlier_row = next(r for r in ledger_rows(data_dir) if r["file"] == earlier)
            decided.append(decide(data_dir, earlier_row, WITHDRAW, answer.reason, answer.steward))
    except DecisionError as error:
        return Failed(message=str(error))
    said = "; ".join(f"{d.file} {d.describe()}" for d in decided)
    logger.info("Recorded: %s. It takes effect in the next run.", said)
    return Completed(message=f"{said}; from the next run")


def ask(form: type[RunInput], key: str) -> Any:
    """The steward's answer. A run of a deployment is suspended (it holds no process while it
    waits, however long, and is run again when answered); any other run is paused."""
    from prefect.flow_runs import pause_flow_run, suspend_flow_run

    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None and context.flow_run.deployment_id:
        return suspend_flow_run(wait_for_input=form, key=key, timeout=None)
    return pause_flow_run(
        wait_for_input=form,
        key=key,
        timeout=PAUSED_REVIEW_SECONDS,
        poll_interval=PAUSED_POLL_SECONDS,
    )


def open_reviews(data_dir: Path, waiting: list[LedgerEntry]) -> list[str]:
    """A review-return run for each refused return waiting for a person that has none open,
    if the review-return deployment is on this server (`make deploy` or `briefings serve`);
    else the stewards decide from the command line. Never stops the calling run. Returns the
    ids of the runs opened."""
    reviews = [
        ReviewRun(
            tag=review_tag(entry.staged.sha256),
            parameters={
                "data_dir": str(Path(data_dir).resolve()),
                "sha256": entry.staged.sha256,
                "file": entry.file,
            },
            name=f"review {entry.file}",
            what=entry.file,
        )
        for entry in {e.staged.sha256: e for e in waiting}.values()
    ]
    return open_review_runs(
        REVIEW_DEPLOYMENT,
        reviews,
        about="the refused returns",
        without="`briefings returns accept|acknowledge|withdraw`",
    )


@dataclass(frozen=True)
class ReviewRun:
    """A review run to open from a deployment: the tag its runs carry (one open run per
    tag), its parameters and name, and what it reviews (for the log)."""

    tag: str
    parameters: dict[str, Any]
    name: str
    what: str


def open_review_runs(
    deployment_name: str, reviews: Sequence[ReviewRun], about: str, without: str
) -> list[str]:
    """A run of `deployment_name` for each review that has no open run with its tag, if the
    deployment is on this server; else the stewards decide with the commands `without` names.
    Never stops the calling run (a review is a convenience: the run's work comes first).
    Returns the ids of the runs opened."""
    logger = get_run_logger()
    if not reviews:
        return []
    try:
        return _open_review_runs(deployment_name, reviews, without)
    except Exception as error:
        logger.warning("Could not open reviews of %s: %s", about, error)
        return []


def _open_review_runs(
    deployment_name: str, reviews: Sequence[ReviewRun], without: str
) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    logger = get_run_logger()
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(deployment_name)
        except ObjectNotFound:
            logger.info(
                "No %s deployment on this server: stewards decide with %s",
                deployment_name,
                without,
            )
            return []
        ended = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
        open_runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=ended))
            ),
        )
        reviewed = {tag for run in open_runs for tag in run.tags}
        opened = []
        for review in reviews:
            if review.tag in reviewed:
                continue
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters=review.parameters,
                name=review.name[:100],
                tags=[REVIEW_TAG, review.tag],
            )
            logger.info("Opened a review of %s: the run '%s'", review.what, run.name)
            opened.append(str(run.id))
    return opened


@flow(name="tell-stewards")
def tell_stewards_of_run(flow_run: str) -> str:
    """Tell the stewards that a run ended NeedsAttention (the Automation in prefect.yaml
    starts this; `flow_run` is the event's resource, prefect.flow-run.<id>): what waits, and
    where to decide it."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_UI_URL

    from briefings.delivery.settings import DeliverySettings
    from flows.delivery import notify_stewards

    run_id = UUID(flow_run.rsplit(".", 1)[-1])
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    parameters = run.parameters or {}
    request = parameters.get("request") or {}
    data_dir = Path(request.get("data_dir") or parameters.get("data_dir") or DEFAULT_DATA_DIR)
    out_dir = Path(request.get("out_dir") or out_dir_beside(data_dir))
    message = run.state.message if run.state and run.state.message else "no message"
    ui = PREFECT_UI_URL.value()
    where = f"{ui}/runs/flow-run/{run.id}" if ui else f"the run's id {run.id}"
    subject = f"Briefings: run '{run.name}' needs attention"
    text = (
        f"The run '{run.name}' ended NeedsAttention: {message}.\n"
        f"It published every briefing it could ({where}).\n\n"
        "Each refused return has a review run in the Prefect UI (Runs, 'review ...', "
        "Resume) where a steward accepts it, keeps it refused or withdraws an earlier "
        "return; or from the command line: `briefings returns list`, then `briefings "
        "returns accept|acknowledge|withdraw FILE --reason TEXT`.\n"
    )
    settings = DeliverySettings.from_env(outbox_dir=outbox_dir(out_dir))
    summary = notify_stewards(
        subject, text, ledger_path=services.delivery_ledger(data_dir), transport_settings=settings
    )
    return summary.describe()
