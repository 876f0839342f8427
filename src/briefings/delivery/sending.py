"""Delivering a publication, and notices to stewards: who gets which message, composed and
handed to a `send` function that knows the transport and the retries.

No Prefect here: the services pass `send` from their runner (in flows/, a task run per
message with Prefect's retries; in this process, a plain loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any

from briefings.delivery.compose import OutgoingMessage, compose_message, compose_notice
from briefings.delivery.ledger import DEFAULT_LEDGER, DeliveryLedger, ledger_lock
from briefings.delivery.manifest import load_manifest
from briefings.delivery.plan import DeliverySummary, MessageOutcome, plan_deliveries
from briefings.delivery.service import outcome, preview_delivery
from briefings.delivery.settings import DeliverySettings, DeliverySettingsError
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, Recipient, load_subscriptions
from briefings.domain.style import plural

#: (message, the journal's path, settings) -> (status, attempts, error); status "sent",
#: "undelivered", or "unknown" (the server was given the message and did not confirm it)
Send = Callable[[OutgoingMessage, Path, DeliverySettings], tuple[str, int, str]]
#: The value of a named secret (a Prefect Secret block, loaded by the flows).
LoadSecret = Callable[[str], str]
Logger = logging.Logger | logging.LoggerAdapter[Any]
log = logging.getLogger("briefings.delivery")


def deliver_publication(
    period_dir: Path,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
    dry_run: bool = False,
    *,
    send: Send,
    load_secret: LoadSecret | None = None,
    logger: Logger = log,
) -> DeliverySummary:
    """Send each subscriber one message with the briefings of this publication (a period
    folder holding manifest.json) whose current version is not the one they were last sent;
    corrections say which figures changed. `ledger_path` is the data folder's journal.
    Messages the server may have taken without confirming are not sent again: the stewards
    are told which."""
    settings = transport_settings or DeliverySettings.from_env()
    if dry_run:
        return preview_delivery(period_dir, subscriptions_file, ledger_path, settings)
    publication = load_manifest(period_dir)
    subscriptions = load_subscriptions(subscriptions_file)
    settings = with_password(settings, load_secret)
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
                sender_address(settings, publication.charity_name),
                subscriptions.zip_over_bytes,
            )
            status, attempts, error = send(message, ledger_path, settings)
            outcomes.append(outcome(planned, status, message.message_id, attempts, error))
    summary = DeliverySummary(
        period=publication.period,
        channel=settings.channel,
        destination=settings.destination,
        dry_run=False,
        messages=tuple(outcomes),
        already_delivered=plan.already_delivered,
        unmatched=plan.unmatched,
        held=plan.unknown,
    )
    logger.info(summary.describe())
    for failed in summary.undelivered:
        logger.warning("Undelivered to %s (%s): %s", failed.recipient, failed.email, failed.detail)
    if summary.unknown:
        subject, text = unknown_outcome_notice(summary)
        logger.warning(subject)
        notify_stewards(
            subject,
            text,
            subscriptions_file,
            ledger_path,
            settings,
            send=send,
            load_secret=load_secret,
            logger=logger,
        )
    return summary


def unknown_outcome_notice(summary: DeliverySummary) -> tuple[str, str]:
    """Subject and text telling stewards which messages may or may not have gone."""
    unknown = summary.unknown
    subject = (
        f"Briefings: {plural(len(unknown), 'message')} for {summary.period} may not have been "
        "delivered"
    )
    lines = [
        f"The mail server ({summary.destination}) was given these messages in full and then "
        "did not confirm them in time, so they may or may not have been delivered. They are "
        "not sent again automatically, which could deliver them twice:",
        "",
    ]
    lines += [
        f"- {m.recipient} <{m.email}>: {', '.join(m.pdfs)} (Message-ID {m.message_id})"
        for m in unknown
    ]
    lines += [
        "",
        "Look these Message-IDs up in the mail server's log, or ask the recipients.",
    ]
    return subject, "\n".join(lines)


def notify_stewards(
    subject: str,
    text: str,
    subscriptions_file: Path = DEFAULT_SUBSCRIPTIONS,
    ledger_path: Path = DEFAULT_LEDGER,
    transport_settings: DeliverySettings | None = None,
    *,
    send: Send,
    load_secret: LoadSecret | None = None,
    logger: Logger = log,
) -> DeliverySummary:
    """Tell the data stewards (the `stewards:` list) about a quarantined return or a failed
    run, through the same transport and ledger as briefings. The same subject and text go to
    a steward once; notices left undelivered earlier are sent again first. Failures to send
    are returned, not raised: a notice about a failure must not hide that failure."""
    settings = with_password(transport_settings or DeliverySettings.from_env(), load_secret)
    subscriptions = load_subscriptions(subscriptions_file)
    sender = sender_address(settings, "Briefings")
    outcomes = []
    with ledger_lock(ledger_path, timeout=60):
        ledger = DeliveryLedger(ledger_path)
        pending = [
            (Recipient(row["recipient"], row["email"]), row["subject"], row["body"])
            for row in ledger.notices(settings.channel, ("sending", "undelivered"))
        ]
        done = ledger.notices(settings.channel, ("sent", "unknown"))
        sent = {(r["email"], r["notice_key"]) for r in done}
        wanted = pending + [(steward, subject, text) for steward in subscriptions.stewards]
        seen = set()
        for recipient, notice_subject, notice_text in wanted:
            message = compose_notice(recipient, notice_subject, notice_text, sender)
            key = (recipient.email.lower(), message.notice_key)
            if key in sent or key in seen:
                continue
            seen.add(key)
            status, attempts, error = send(message, ledger_path, settings)
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
        logger.warning("Steward notice undelivered to %s: %s", failed.recipient, failed.detail)
    return summary


def with_password(
    settings: DeliverySettings, load_secret: LoadSecret | None = None
) -> DeliverySettings:
    """The SMTP password of a named Secret block, loaded once per run, not once per message.
    Only a run that can load secrets (the Prefect flows) can use a block."""
    smtp = settings.smtp
    if smtp is None or smtp.password is not None or not smtp.password_block:
        return settings
    if load_secret is None:
        raise DeliverySettingsError(
            f"BRIEFINGS_SMTP_PASSWORD_BLOCK names the Secret block '{smtp.password_block}', "
            "which only a Prefect run can load: run `briefings run`, or set "
            "BRIEFINGS_SMTP_PASSWORD"
        )
    from pydantic import SecretStr

    smtp = smtp.model_copy(update={"password": SecretStr(load_secret(smtp.password_block))})
    return settings.model_copy(update={"smtp": smtp})


def sender_address(settings: DeliverySettings, display_name: str) -> str:
    """The From header: the configured address, named after the charity unless it has a name."""
    name, address = parseaddr(settings.mail_from)
    return formataddr((name or display_name, address))
