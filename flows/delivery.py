"""The deliver flow, and delivery as Prefect task runs: one per message, with retries.

Thin wrappers over briefings.delivery.sending and briefings.services.send_once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.states import State

from briefings.delivery import sending
from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.ledger import DEFAULT_LEDGER
from briefings.delivery.plan import DeliverySummary
from briefings.delivery.settings import DEFAULT_OUTBOX_DIR, DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS
from briefings.domain.style import plural
from briefings.services import SendOutcome, send_once
from flows.states import needs_attention, steward_flow


def _logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    if FlowRunContext.get() or TaskRunContext.get():
        return get_run_logger()
    return logging.getLogger("briefings.delivery")


@task(name="send message", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
def send_message(
    message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
) -> SendOutcome:
    """One attempt to hand one message over. A failure raises (and is retried); a message
    the server was given but did not confirm returns "unknown" and is not retried."""
    return send_once(message, ledger_path, settings, get_run_logger())


def send_with_retries(
    message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
) -> SendOutcome:
    """(status, attempts, error) after the task's retries (BRIEFINGS_SEND_RETRY_DELAYS).
    `ledger_path` is the data folder's journal."""
    sender = send_message.with_options(
        retries=len(settings.retry_delays), retry_delay_seconds=list(settings.retry_delays) or 0
    )
    state = sender(message, ledger_path, settings, return_state=True)
    if state.is_completed():
        outcome: SendOutcome = state.result()
        return outcome
    try:
        state.result()
    except Exception as error:
        return "undelivered", len(settings.retry_delays) + 1, str(error)
    return "undelivered", len(settings.retry_delays) + 1, state.message or "failed"


def load_secret_block(name: str) -> str:
    """The value of a Prefect Secret block (BRIEFINGS_SMTP_PASSWORD_BLOCK)."""
    from typing import cast

    from prefect.blocks.system import Secret

    from briefings.delivery.settings import DeliverySettingsError

    try:
        # Outside an event loop the block loads synchronously: a Secret, not a coroutine.
        return str(cast(Secret, Secret.load(name)).get())
    except ValueError as error:
        raise DeliverySettingsError(
            f"BRIEFINGS_SMTP_PASSWORD_BLOCK: no Secret block '{name}'"
        ) from error


def deliver_publication(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
    dry_run: bool = False,
) -> DeliverySummary:
    """Deliver a publication from inside a flow: a task run per message, a table artifact."""
    summary = sending.deliver_publication(
        period_dir,
        subscriptions_file,
        ledger_path,
        transport_settings,
        dry_run,
        send=send_with_retries,
        load_secret=load_secret_block,
        logger=_logger(),
    )
    if summary.messages and not summary.dry_run:
        delivery_artifact(f"deliveries-{period_dir.name}", summary)
    return summary


def notify_stewards(
    subject: str,
    text: str,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
) -> DeliverySummary:
    """Tell the data stewards, from inside a flow (or outside one, for a failure hook)."""
    inside = bool(FlowRunContext.get() or TaskRunContext.get())
    return sending.notify_stewards(
        subject,
        text,
        subscriptions_file,
        ledger_path,
        transport_settings,
        send=send_with_retries if inside else _send_outside_a_flow,
        load_secret=load_secret_block,
        logger=_logger(),
    )


def _send_outside_a_flow(
    message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
) -> SendOutcome:
    from briefings.services import LOCAL

    return LOCAL.send(message, ledger_path, settings)


# Failed runs named by what stopped them (flows/pipeline.py): the person who started the run
# asked for what cannot be done (a period or force without returns), or another run held the
# data folder. Neither is a problem with the data.
INVALID_REQUEST = "InvalidRequest"
BUSY = "Busy"
USERS_MISTAKES = (INVALID_REQUEST, BUSY)


def stewards_should_hear(flow_run: Any, state: State) -> bool:
    """Whether a failed or crashed run is the stewards' business: always when a deployment
    started it (a schedule, an automation or `briefings trigger`: nobody may be watching);
    for a run started by hand (`briefings run`), unless it stopped on its starter's mistake,
    which the starter was told in one line. Data problems and faults are always told."""
    if getattr(flow_run, "deployment_id", None) is not None:
        return True
    return getattr(state, "name", None) not in USERS_MISTAKES


def steward_failure_hook(
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    outbox_dir: Path = DEFAULT_OUTBOX_DIR,
) -> Any:
    """A hook for a flow's on_failure and on_crashed: tell the stewards the run failed, when
    it is their business (stewards_should_hear).

    `@flow(on_failure=[steward_failure_hook()], on_crashed=[steward_failure_hook()])`"""

    # Parameters named as Prefect's FlowStateHook names them, so a flow's hook list type-checks.
    def hook(flow: Any, flow_run: Any, state: State) -> None:
        if not stewards_should_hear(flow_run, state):
            return
        ended = state.name or state.type.value
        subject = f"Briefings: run '{flow_run.name}' of {flow.name} {ended.lower()}"
        text = (
            f"The run '{flow_run.name}' (id {flow_run.id}) of the flow '{flow.name}' ended "
            f"{ended}: {state.message or 'no message'}.\n"
            "Its logs are in the Prefect UI. Briefings not delivered are sent by the next run."
        )
        try:
            settings = DeliverySettings.from_env(outbox_dir=outbox_dir)
            notify_stewards(subject, text, subscriptions_file, ledger_path, settings)
        except Exception:  # the run's own failure is what matters; say this one and go on
            _logger().exception("Could not notify the stewards of the failed run")

    return hook


@steward_flow(name="deliver-briefings")
def deliver_briefings(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    outbox_dir: Path = DEFAULT_OUTBOX_DIR,
) -> DeliverySummary | State:
    """Deliver one period's briefings; settings (and the SMTP password) come from the
    environment, never from flow parameters; `ledger_path` is the data folder's journal.
    NeedsAttention when a message is undelivered, or its outcome unknown."""
    settings = DeliverySettings.from_env(outbox_dir=outbox_dir)
    summary = deliver_publication(period_dir, subscriptions_file, ledger_path, settings)
    problems = []
    if summary.undelivered:
        problems.append(
            f"{plural(len(summary.undelivered), 'message')} undelivered; the next run retries"
        )
    if summary.unknown:
        problems.append(
            f"{plural(len(summary.unknown), 'message')} not confirmed by the server; stewards told"
        )
    if problems:
        return needs_attention("; ".join(problems), summary)
    return summary


def delivery_artifact(key: str, summary: DeliverySummary) -> None:
    """A table for the Prefect UI; who, what, status. No settings, so no credentials."""
    if not (FlowRunContext.get() or TaskRunContext.get()):
        return
    create_table_artifact(
        key=key,
        table=[
            {
                "recipient": m.recipient,
                "email": m.email,
                "briefings": ", ".join(m.pdfs),
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "detail": m.detail,
            }
            for m in summary.messages
        ],
        description=summary.describe(),
    )
