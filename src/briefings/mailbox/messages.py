"""A reply as received: its headers, its text, its attachments and the FOI reference it
quotes, read from the message's bytes. Pure: no files, no network."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

# 'FOI 2017-789', 'FOI/2017/00789', 'Freedom of Information request 2017/123', 'Our ref: 123/17'
_FOI_REFERENCE = re.compile(
    r"\b(?:FOI|FOIA|freedom\s+of\s+information)(?:\s+(?:request|reference|ref\.?|no\.?))*"
    r"\s*[:#]?\s*[/-]?\s*(?P<ref>[A-Z]{0,4}[-/ ]?\d[\w]*(?:[-/.]\w+)*)"
    r"|\b(?:our|your)\s+ref(?:erence)?\.?\s*(?:no\.?\s*)?[:#]?\s*(?P<ours>[A-Z0-9][\w]*(?:[-/.][\w]+)*)",
    re.IGNORECASE,
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass(frozen=True)
class Attachment:
    name: str  # a safe file name (no folders, no leading dot), unique within the reply
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    message_id: str  # the Message-ID without its angle brackets, or 'sha256:<hash>'
    sha256: str  # of the message's bytes as fetched
    sender: str  # the address, lower case
    sender_domain: str
    sent_at: datetime | None  # the Date header, in UTC
    subject: str
    text: str  # the plain-text body (or the HTML body's text when there is no plain one)
    html: str | None  # the HTML body, if any
    attachments: tuple[Attachment, ...]
    foi_reference: str | None

    @property
    def folder_name(self) -> str:
        """'<date>-<safe message id>': the reply's folder under raw/mailbox/."""
        day = self.sent_at.date().isoformat() if self.sent_at else "undated"
        return f"{day}-{safe_message_id(self.message_id)}"


def parse_reply(data: bytes) -> Reply:
    """A message's bytes as a Reply; a malformed header is read as far as it can be."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    sha256 = hashlib.sha256(data).hexdigest()
    message_id = _header(message, "Message-ID").strip().strip("<>").strip()
    if not message_id or any(ch.isspace() for ch in message_id):
        message_id = f"sha256:{sha256}"
    sender = parseaddr(_header(message, "From"))[1].strip().lower()
    domain = sender.rpartition("@")[2] if "@" in sender else ""
    subject = " ".join(_header(message, "Subject").split())
    text, html = _bodies(message)
    attachments = _attachments(message)
    reference = find_foi_reference(subject) or find_foi_reference(text or "")
    return Reply(
        message_id,
        sha256,
        sender,
        domain,
        _date(_header(message, "Date")),
        subject,
        text if text is not None else html_text(html or ""),
        html,
        attachments,
        reference,
    )


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        raw = message.get_all(name, failobj=[])
        value = str(raw[0]) if raw else ""
    return str(value or "")


def _date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # '-0000': a time whose zone is not known, taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """The plain and HTML bodies (not attachments)."""
    text = html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_filename():
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except (LookupError, UnicodeDecodeError):
            payload = part.get_payload(decode=True)
            content = (
                payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
            )
        if kind == "text/plain" and text is None:
            text = str(content)
        elif kind == "text/html" and html is None:
            html = str(content)
    return text, html


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    used: set[str] = {"message.eml"}
    for number, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        name = part.get_filename()
        if part.get_content_disposition() != "attachment" and not name:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        safe = unique_name(safe_file_name(name or f"attachment-{number}"), used)
        used.add(safe)
        found.append(Attachment(safe, part.get_content_type(), payload))
    return tuple(found)


def safe_file_name(name: str) -> str:
    """A file name that stays in its folder and on one line: the last part of any path, no
    leading dot (a hidden file is never read), letters, digits and ._@- only."""
    name = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = _UNSAFE.sub("-", stem).strip("-.") or "attachment"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{stem[:80]}.{suffix}" if suffix else stem[:80]


def unique_name(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    number = 2
    while True:
        candidate = f"{stem}-{number}" + (f".{suffix}" if suffix else "")
        if candidate not in used:
            return candidate
        number += 1


def safe_message_id(message_id: str) -> str:
    """A Message-ID as a folder name: readable, short, and unique (a hash of the whole)."""
    readable = _UNSAFE.sub("-", message_id.split("sha256:")[-1]).strip("-.")[:48] or "message"
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def find_foi_reference(text: str) -> str | None:
    """The FOI reference a reply quotes ('FOI 2017-789', 'Our ref: 123/17'), as written."""
    match = _FOI_REFERENCE.search(text)
    if match is None:
        return None
    return " ".join(match.group(0).split()).rstrip(".,;:")


def html_text(html: str) -> str:
    """An HTML body's text, a line per block."""
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("script", "style"):
                self.skip += 1
            elif tag in ("p", "br", "div", "tr", "li", "h1", "h2", "h3", "table"):
                self.parts.append("\n")
            elif tag in ("td", "th"):
                self.parts.append(" ")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style") and self.skip:
                self.skip -= 1
            elif tag in ("p", "div", "tr", "li", "h1", "h2", "h3", "table"):
                self.parts.append("\n")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    reader = _Text()
    reader.feed(html)
    lines = (" ".join(line.split()) for line in "".join(reader.parts).splitlines())
    return "\n".join(line for line in lines if line)
