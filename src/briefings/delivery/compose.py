"""Planned deliveries to email messages: subject, plain-text and HTML bodies, attachments.

The Message-ID is derived from the recipient, the exact versions attached and the versions
they replace: a message sent again (after an interrupted run, or one the relay did not
confirm) carries the same ID, so a relay or a mail client can drop the duplicate, while a
different message (a correction back to an earlier version, say) gets an ID of its own.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

from briefings.delivery.manifest import BriefingFile, ManifestError, Publication
from briefings.delivery.plan import PlannedItem, PlannedMessage
from briefings.delivery.subscriptions import Recipient
from briefings.domain.style import plural
from briefings.reference import slugify

HEADLINE_FIGURES = 4  # figures quoted in the body per briefing; the PDF has the full table
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same PDFs give the same zip
# CRLF line ends: smtplib sends bytes as they are, and a bare-LF message is one long line.
SMTP_POLICY = policy.SMTP


@dataclass(frozen=True)
class AttachedVersion:
    """What the journal records for one briefing carried by a message."""

    pdf: str
    content_hash: str
    figures_json: str
    correction: bool
    replaces: str | None = None  # content hash of the version the subscriber was last sent
    edition: int | None = None  # the edition the PDF prints, and its date (ISO)
    issued: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    recipient_name: str
    recipient_email: str
    envelope_from: str
    message_id: str
    subject: str
    kind: str  # new, correction, update or notice
    data: bytes  # the whole message as sent
    folder: str  # outbox subfolder: the period slug, or "stewards"
    period: str = ""  # period slug; empty for notices
    versions: tuple[AttachedVersion, ...] = ()
    notice_key: str | None = None  # for steward notices: hash of subject and text
    notice_text: str = ""  # kept in the ledger, so a later run can send an undelivered notice

    @property
    def pdfs(self) -> tuple[str, ...]:
        return tuple(v.pdf for v in self.versions)

    @property
    def file_stem(self) -> str:
        token = self.message_id.strip("<>").split("@")[0][:12]
        return f"{slugify(self.recipient_name)}-{self.kind}-{token}"


def message_id(parts: list[str], sender: str) -> str:
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{digest}.briefings@{domain}>"


def corrected_edition(item: PlannedItem) -> bool:
    """The PDF is itself a correction (edition 2 or later) and this subscriber has no earlier
    version to compare it with: the message says it is a correction, as the PDF does."""
    return item.briefing.correction is not None and item.replaces is None


def message_kind(planned: PlannedMessage) -> str:
    """new, correction or update: the plan's, or a correction when a PDF says it is one."""
    if planned.kind == "new" and any(corrected_edition(item) for item in planned.items):
        return "correction"
    return planned.kind


def subject_for(planned: PlannedMessage, publication: Publication) -> str:
    briefings = [item.briefing for item in planned.items]
    if len(briefings) == 1:
        topic = briefings[0].title
    else:
        names = [b.name for b in briefings]
        areas = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        topic = f"{publication.charity_name} briefings, {publication.period}: {areas}"
    prefix = {"correction": "Correction: ", "update": "Updated: ", "new": ""}[message_kind(planned)]
    embargo = f"[Embargoed until {publication.embargo}] " if publication.embargo else ""
    return f"{prefix}{embargo}{topic}"


def compose_message(
    planned: PlannedMessage,
    publication: Publication,
    sender: str,
    zip_over_bytes: int,
    date: str | None = None,
) -> OutgoingMessage:
    recipient = planned.recipient
    items = planned.items
    ident = message_id(
        [recipient.email.lower(), publication.period_slug]
        + sorted(f"{i.briefing.pdf}:{i.briefing.content_hash}{_replacing(i)}" for i in items),
        sender,
    )
    subject = subject_for(planned, publication)
    attachments = [(i.briefing.pdf, _pdf_bytes(i)) for i in items]
    zipped = sum(len(data) for _, data in attachments) > zip_over_bytes
    if zipped:
        attachments = [(f"briefings-{publication.period_slug}.zip", _zip(attachments))]

    message = _headers(recipient, sender, subject, ident, date)
    message["X-Briefings-Period"] = publication.period
    message["X-Briefings-Kind"] = message_kind(planned)
    text, markup = _bodies(planned, publication, [name for name, _ in attachments], zipped)
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    for name, data in attachments:
        maintype, subtype = ("application", "zip" if name.endswith(".zip") else "pdf")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    versions = tuple(
        AttachedVersion(
            item.briefing.pdf,
            item.briefing.content_hash,
            json.dumps(item.briefing.figures, ensure_ascii=False),
            item.kind == "correction",
            item.replaces.content_hash if item.replaces else None,
            item.briefing.edition,
            item.briefing.issued,
        )
        for item in items
    )
    return _outgoing(
        recipient,
        sender,
        message,
        message_kind(planned),
        folder=publication.period_slug,
        period=publication.period_slug,
        versions=versions,
    )


def _replacing(item: PlannedItem) -> str:
    # A first message's ID is as it always was, so one begun before this part of the ID
    # existed is recognised when it is sent again.
    return f"<-{item.replaces.content_hash}" if item.replaces else ""


def _pdf_bytes(item: PlannedItem) -> bytes:
    """The PDF as planned: bytes that are not the version the journal will record are
    refused rather than sent under another version's name."""
    data = item.briefing.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != item.briefing.content_hash:
        raise ManifestError(
            f"{item.briefing.path} changed after delivery was planned (it no longer matches "
            "manifest.json): nothing more is sent; run again"
        )
    return data


def compose_notice(recipient: Recipient, subject: str, text: str, sender: str) -> OutgoingMessage:
    """A plain-text message to a data steward (a quarantined return, a failed run)."""
    key = hashlib.sha256(f"{subject}\n{text}".encode()).hexdigest()
    ident = message_id([recipient.email.lower(), "notice", key], sender)
    message = _headers(recipient, sender, subject, ident, None)
    message["X-Briefings-Kind"] = "notice"
    message.set_content(text.rstrip() + "\n")
    return _outgoing(
        recipient, sender, message, "notice", folder="stewards", notice_key=key, notice_text=text
    )


def _outgoing(
    recipient: Recipient, sender: str, message: EmailMessage, kind: str, **details
) -> OutgoingMessage:
    """The message as sent, with what the ledger and outbox need to know of it."""
    return OutgoingMessage(
        recipient_name=recipient.name,
        recipient_email=recipient.email,
        envelope_from=parseaddr(sender)[1],
        message_id=message["Message-ID"],
        subject=message["Subject"],
        kind=kind,
        data=message.as_bytes(policy=SMTP_POLICY),
        **details,
    )


def quarantine_notice(quarantined: list[tuple[str, str]]) -> tuple[str, str]:
    """Subject and text telling stewards which returns were refused, from (file, reason)."""
    from briefings.store.ledger import named_once

    files = [file for file, _ in quarantined]
    subject = f"Briefings: {plural(len(files), 'return')} quarantined: {', '.join(files)}"
    lines = ["These returns were refused and are not in any briefing until a steward acts:", ""]
    lines += [f"- {named_once(file, reason)}" for file, reason in quarantined]
    lines += ["", "Run `briefings validation-report` for the full validation report."]
    return subject, "\n".join(lines)


def _headers(
    recipient: Recipient, sender: str, subject: str, ident: str, date: str | None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((recipient.name, recipient.email))
    message["Subject"] = subject
    message["Date"] = date or formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = ident
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    return message


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(
                zipfile.ZipInfo(name, date_time=_ZIP_DATE), data, compress_type=zipfile.ZIP_DEFLATED
            )
    return buffer.getvalue()


def _item_lines(item: PlannedItem) -> tuple[list[str], list[str], list[str]]:
    """(correction lines, headline figures, pdf) for one briefing, as plain strings."""
    notes = []
    if corrected_edition(item):
        notes.append(f"Correction: {item.briefing.correction}")
    if item.replaces is not None:
        sent = f" sent on {_day(item.replaces.sent_at)}" if item.replaces.sent_at else ""
        if item.changes:
            notes.append(f"Correction: this replaces the version{sent}. Figures that changed:")
            notes += [f"  - {change.describe()}" for change in item.changes]
        else:
            # Only figures in its tables and chart are compared: a number printed only in a
            # sentence (another area's total, say) may have changed, so none is claimed.
            notes.append(
                f"Updated: this replaces the version{sent}; no figure in its tables or chart "
                "has changed."
            )
    shown = list(item.briefing.figures.items())[:HEADLINE_FIGURES]
    return notes, [f"{measure}: {value}" for measure, value in shown], [item.briefing.pdf]


def _edition(briefing: BriefingFile) -> str:
    """', edition 2 of 5 June 2017', as the PDF's footer has it ('' before editions)."""
    if not briefing.issued:
        return ""
    return f", edition {briefing.edition} of {_day(briefing.issued)}"


def _day(iso_time: str) -> str:
    """'2017-05-20T10:00:00+00:00' as '20 May 2017', the way the briefings write dates."""
    day = datetime.fromisoformat(iso_time).date()
    return f"{day.day} {day:%B %Y}"


def _bodies(
    planned: PlannedMessage, publication: Publication, attached: list[str], zipped: bool
) -> tuple[str, str]:
    count = len(planned.items)
    intro = (
        f"{publication.charity_name}: {count} briefing{'s' if count > 1 else ''} on online "
        f"child sexual offences for {publication.period}, attached"
        + (f" in {attached[0]} (zipped because of their size)." if zipped else ".")
    )
    text = []
    markup = []
    if publication.embargo:
        embargo = f"EMBARGOED until {publication.embargo}: not for publication before then."
        text += [embargo, ""]
        markup.append(f"<p><strong>{html.escape(embargo)}</strong></p>")
    if message_kind(planned) == "correction":
        warning = (
            "CORRECTION: figures you were sent earlier have changed; details below."
            if planned.kind == "correction"
            else "CORRECTION: a briefing attached corrects an edition sent before; details below."
        )
        text += [warning, ""]
        markup.append(f"<p><strong>{html.escape(warning)}</strong></p>")
    text += [intro, ""]
    markup.append(f"<p>{html.escape(intro)}</p>")
    for item in planned.items:
        notes, figures, _ = _item_lines(item)
        briefing = item.briefing
        text += [f"{briefing.title} ({briefing.pdf}{_edition(briefing)})"]
        text += [briefing.headline] if briefing.headline else []
        text += notes + ["Headline figures:"] + [f"  {line}" for line in figures] + [""]
        markup.append(f"<h2>{html.escape(briefing.title)}</h2>")
        if briefing.headline:
            markup.append(f"<p>{html.escape(briefing.headline)}</p>")
        if corrected_edition(item):
            markup.append(f"<p><strong>{html.escape(notes.pop(0))}</strong></p>")
        if notes:
            changes = "".join(f"<li>{html.escape(c.describe())}</li>" for c in item.changes)
            markup.append(f"<p><strong>{html.escape(notes[0])}</strong></p>")
            markup.append(f"<ul>{changes}</ul>" if changes else "")
        rows = "".join(
            f"<tr><th scope='row'>{html.escape(m)}</th><td>{html.escape(v)}</td></tr>"
            for m, v in list(briefing.figures.items())[:HEADLINE_FIGURES]
        )
        attached_pdf = html.escape(briefing.pdf + _edition(briefing))
        markup.append(f"<table>{rows}</table><p>Attached: {attached_pdf}</p>")
    footer = (
        f"You receive these as {planned.recipient.name}. To change what you receive, ask for "
        "your entry in the briefings subscriptions file to be changed."
    )
    text.append(footer)
    markup.append(f"<p><small>{html.escape(footer)}</small></p>")
    page = "\n".join(m for m in markup if m)
    return "\n".join(
        text
    ) + "\n", f"<!doctype html><html lang='en'><body>\n{page}\n</body></html>\n"
