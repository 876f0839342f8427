"""Prefect tasks and flow for delivery: thin wrappers over the modules beside this one.

Each message is one task run with retries (backoff from BRIEFINGS_SEND_RETRY_DELAYS); a message
still refused after them is recorded as undelivered and sent by the next run.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.states import Completed

from briefings.delivery.compose import OutgoingMessage, compose_message, compose_notice
from briefings.delivery.ledger import (
    DEFAULT_LEDGER,
    AlreadySentError,
    DeliveryLedger,
    ledger_lock,
)
from briefings.delivery.manifest import load_manifest
from briefings.delivery.plan import DeliverySummary, MessageOutcome, plan_deliveries
from briefings.delivery.service import outcome, preview_delivery
from briefings.delivery.settings import DEFAULT_OUTBOX_DIR, DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, Recipient, load_subscriptions
from briefings.delivery.transport import SendError, transport_for
from briefings.faults import checkpoint


def _logger() -> logging.Logger | logging.LoggerAdapter:
    if FlowRunContext.get() or TaskRunContext.get():
        return get_run_logger()
    return logging.getLogger("briefings.delivery")


@task(name="send message", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
def send_message(message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings) -> int:
    """One attempt to hand one message over; returns the attempt number once accepted.

    The ledger says 'sending' before the transport is called and 'sent' after it returns."""
    logger = get_run_logger()
    ledger = DeliveryLedger(ledger_path)
    try:
        attempt = ledger.claim(settings.channel, message)
    except AlreadySentError:
        logger.info("Already sent to %s: %s", message.recipient_name, message.subject)
        return 0
    try:
        transport_for(settings).send(message)
    except Exception as error:  # every failure is recorded, so nothing is lost
        reason = str(error) if isinstance(error, SendError) else f"{type(error).__name__}"
        ledger.mark_undelivered(settings.channel, message, reason)
        logger.warning("Attempt %d to %s failed: %s", attempt, message.recipient_name, reason)
        raise SendError(reason) from None
    checkpoint("deliver")  # handed over, not yet recorded as sent: the exactly-once window
    try:
        ledger.mark_sent(settings.channel, message)
    except sqlite3.Error as error:
        # Do not raise: a retry would send it twice. The row stays 'sending', and the next
        # run sends it once more under the same Message-ID (see flows/delivery/ledger.py).
        logger.error("Sent to %s but not recorded (%s)", message.recipient_name, error)
    logger.info(
        "Sent %s to %s <%s> (%s): %s",
        message.kind,
        message.recipient_name,
        message.recipient_email,
        message.message_id,
        ", ".join(message.pdfs) or message.subject,
    )
    return attempt


def _send(message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings) -> tuple:
    """(status, attempts, error) after the task's retries."""
    sender = send_message.with_options(
        retries=len(settings.retry_delays), retry_delay_seconds=list(settings.retry_delays) or 0
    )
    state = sender(message, ledger_path, settings, return_state=True)
    if state.is_completed():
        return "sent", state.result(), ""
    try:
        state.result()
    except Exception as error:
        return "undelivered", len(settings.retry_delays) + 1, str(error)
    return "undelivered", len(settings.retry_delays) + 1, state.message or "failed"


def deliver_publication(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
    dry_run: bool = False,
) -> DeliverySummary:
    """Send each subscriber one message with the briefings of this publication (a period
    folder holding manifest.json) they have not been sent in this version; corrections say
    which figures changed. Call it inside a flow (the publish flow, or deliver_briefings)."""
    settings = transport_settings or DeliverySettings.from_env()
    if dry_run:
        return preview_delivery(period_dir, subscriptions_file, ledger_path, settings)
    logger = _logger()
    publication = load_manifest(period_dir)
    subscriptions = load_subscriptions(subscriptions_file)
    settings = _with_password(settings)
    outcomes: list[MessageOutcome] = []
    with ledger_lock(ledger_path):
        ledger = DeliveryLedger(ledger_path)
        plan = plan_deliveries(
            publication, subscriptions, ledger.history(settings.channel, publication.period_slug)
        )
        for planned in plan.messages:
            message = compose_message(
                planned,
                publication,
                _sender(settings, publication.charity_name),
                subscriptions.zip_over_bytes,
            )
            status, attempts, error = _send(message, ledger_path, settings)
            outcomes.append(outcome(planned, status, message.message_id, attempts, error))
    summary = DeliverySummary(
        period=publication.period,
        channel=settings.channel,
        destination=settings.destination,
        dry_run=False,
        messages=tuple(outcomes),
        already_delivered=plan.already_delivered,
        unmatched=plan.unmatched,
    )
    logger.info(summary.describe())
    for failed in summary.undelivered:
        logger.warning("Undelivered to %s (%s): %s", failed.recipient, failed.email, failed.detail)
    if outcomes:
        _artifact(f"deliveries-{publication.period_slug}", summary)
    return summary


def notify_stewards(
    subject: str,
    text: str,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
) -> DeliverySummary:
    """Tell the data stewards (the `stewards:` list) about a quarantined return or a failed
    run, through the same transport and ledger as briefings. The same subject and text go to
    a steward once; notices left undelivered earlier are sent again first. Failures to send
    are returned, not raised: a notice about a failure must not hide that failure."""
    settings = _with_password(transport_settings or DeliverySettings.from_env())
    subscriptions = load_subscriptions(subscriptions_file)
    sender = _sender(settings, "Briefings")
    outcomes = []
    with ledger_lock(ledger_path, timeout=60):
        ledger = DeliveryLedger(ledger_path)
        pending = [
            (Recipient(row["recipient"], row["email"]), row["subject"], row["body"])
            for row in ledger.notices(settings.channel, ("sending", "undelivered"))
        ]
        sent = {(r["email"], r["notice_key"]) for r in ledger.notices(settings.channel, ("sent",))}
        wanted = pending + [(steward, subject, text) for steward in subscriptions.stewards]
        seen = set()
        for recipient, notice_subject, notice_text in wanted:
            message = compose_notice(recipient, notice_subject, notice_text, sender)
            key = (recipient.email.lower(), message.notice_key)
            if key in sent or key in seen:
                continue
            seen.add(key)
            status, attempts, error = _send(message, ledger_path, settings)
            outcomes.append(
                MessageOutcome(
                    recipient.name,
                    recipient.email,
                    (),
                    "notice",
                    status,
                    message.message_id,
                    attempts,
                    error or notice_subject,
                )
            )
    summary = DeliverySummary("", settings.channel, settings.destination, False, tuple(outcomes))
    for failed in summary.undelivered:
        _logger().warning("Steward notice undelivered to %s: %s", failed.recipient, failed.detail)
    return summary


def steward_failure_hook(
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    outbox_dir: Path = DEFAULT_OUTBOX_DIR,
):
    """A hook for a flow's on_failure and on_crashed: tell the stewards the run failed.

    `@flow(on_failure=[steward_failure_hook()], on_crashed=[steward_failure_hook()])`"""

    def hook(flow_, flow_run, state) -> None:
        subject = f"Briefings: run '{flow_run.name}' of {flow_.name} {state.name.lower()}"
        text = (
            f"The run '{flow_run.name}' (id {flow_run.id}) of the flow '{flow_.name}' ended "
            f"{state.name}: {state.message or 'no message'}.\n"
            "Its logs are in the Prefect UI. Briefings not delivered are sent by the next run."
        )
        try:
            settings = DeliverySettings.from_env(outbox_dir=outbox_dir)
            notify_stewards(subject, text, subscriptions_file, ledger_path, settings)
        except Exception:  # the run's own failure is what matters; say this one and go on
            _logger().exception("Could not notify the stewards of the failed run")

    return hook


@flow(name="deliver-briefings")
def deliver_briefings(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    outbox_dir: Path = DEFAULT_OUTBOX_DIR,
) -> DeliverySummary:
    """Deliver one period's briefings; settings (and the SMTP password) come from the
    environment, never from flow parameters."""
    settings = DeliverySettings.from_env(outbox_dir=outbox_dir)
    summary = deliver_publication(period_dir, subscriptions_file, ledger_path, settings)
    if summary.undelivered:
        return Completed(
            name="NeedsAttention",
            message=f"{len(summary.undelivered)} message(s) undelivered; the next run retries",
            data=summary,
        )
    return summary


def _with_password(settings: DeliverySettings) -> DeliverySettings:
    """Load a Secret block's password once per run, not once per message."""
    smtp = settings.smtp
    if smtp is None or smtp.password is not None or not smtp.password_block:
        return settings
    from pydantic import SecretStr

    smtp = smtp.model_copy(update={"password": SecretStr(smtp.password_value() or "")})
    return settings.model_copy(update={"smtp": smtp})


def _sender(settings: DeliverySettings, display_name: str) -> str:
    """The From header: the configured address, named after the charity unless it has a name."""
    from email.utils import formataddr, parseaddr

    name, address = parseaddr(settings.mail_from)
    return formataddr((name or display_name, address))


def _artifact(key: str, summary: DeliverySummary) -> None:
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
