"""Fetching replies: each new message stored whole under raw/mailbox/<date>-<message id>/
(the message as message.eml and each attachment, bytes as received), which force sent it,
the figures its letters give as candidates for a steward, all recorded in the journal.

A message is stored once: one whose Message-ID or bytes the journal already has is not
stored again (a duplicate delivery, a second fetch). A reply's folder is written under a
hidden name and renamed into place when complete, and the journal records it last, so a
fetch killed at any point leaves no half file in raw/ and the next fetch finishes the work.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from briefings.atomic import atomic_write
from briefings.ingest.files import MAIL_FOLDER, MAIL_SPREADSHEETS
from briefings.journal import Journal
from briefings.journal.core import now
from briefings.journal.mailbox import CandidateFigure, StoredMessage, known_message, record_message
from briefings.mailbox.candidates import candidates_in
from briefings.mailbox.documents import Document, DocumentError, read_document, read_html
from briefings.mailbox.messages import Reply, parse_reply
from briefings.mailbox.senders import Sender, force_domains, identify_sender, letterhead
from briefings.mailbox.sources import Source
from briefings.reference import force_register, offence_descriptions

MESSAGE_FILE = "message.eml"


@dataclass(frozen=True)
class FetchedReply:
    folder: str  # relative to raw/
    message_id: str
    sender: str
    subject: str
    foi_reference: str | None
    force: str | None  # the force's name, or None when refused
    how: str  # how the force was known, or why it was refused
    candidates: int
    spreadsheets: tuple[str, ...]  # left in raw/ for ingest
    notes: tuple[str, ...]


@dataclass
class FetchSummary:
    source: str
    stored: list[FetchedReply] = field(default_factory=list)
    duplicates: int = 0  # messages already stored (by Message-ID or bytes): not stored again

    def describe(self) -> str:
        refused = sum(1 for reply in self.stored if reply.force is None)
        candidates = sum(reply.candidates for reply in self.stored)
        return (
            f"{len(self.stored)} new repl{'y' if len(self.stored) == 1 else 'ies'} from "
            f"{self.source} ({self.duplicates} already stored); {candidates} figures wait for "
            f"a steward (briefings mailbox review); {refused} with no force known"
        )


def fetch_replies(data_dir: Path, source: Source, when: datetime | None = None) -> FetchSummary:
    """Fetch every new reply from `source` into <data_dir>/raw/mailbox/ and the journal."""
    journal = Journal.of(data_dir)
    summary = FetchSummary(source.name)
    mail_dir = data_dir / "raw" / MAIL_FOLDER

    def known(message_id: str) -> bool:
        if message_id and known_message(journal, message_id):
            summary.duplicates += 1
            return True
        return False

    for data in source.messages(known):
        reply = parse_reply(data)
        if known_message(journal, reply.message_id, reply.sha256):
            summary.duplicates += 1
            continue
        stored = store_reply(data_dir, mail_dir, data, reply, journal, source.name, when)
        if stored is None:  # recorded meanwhile by another fetch
            summary.duplicates += 1
        else:
            summary.stored.append(stored)
    return summary


def store_reply(
    data_dir: Path,
    mail_dir: Path,
    data: bytes,
    reply: Reply,
    journal: Journal,
    source: str,
    when: datetime | None = None,
) -> FetchedReply | None:
    """Store one reply, read its letters and record it all; None if it was recorded first."""
    folder = _write_folder(mail_dir, reply, data)
    relative = folder.relative_to(data_dir / "raw").as_posix()
    files = tuple(
        f"{relative}/{name}" for name in (MESSAGE_FILE, *(a.name for a in reply.attachments))
    )
    documents, notes = _documents(reply, relative)
    sender = identify_sender(
        reply.sender_domain,
        [("the subject", reply.subject)]
        + [(f"the letterhead of {d.name}", letterhead(d.text)) for d, _ in documents],
        force_register(),
        force_domains(),
    )
    found: list[CandidateFigure] = []
    if sender.force is not None:
        for document, stored_as in documents:
            figures, more = candidates_in(
                document, stored_as, sender.force, force_register(), offence_descriptions()
            )
            found += figures
            notes += more
    else:
        notes.append(f"no figures read: which force sent it is not known ({sender.how})")
    spreadsheets = tuple(
        f"{relative}/{a.name}"
        for a in reply.attachments
        if Path(a.name).suffix.lower() in MAIL_SPREADSHEETS
    )
    notes += [f"{name} left in raw/ for ingest" for name in spreadsheets]
    message = StoredMessage(
        reply.message_id,
        reply.sha256,
        relative,
        files,
        reply.sender,
        reply.sent_at.isoformat() if reply.sent_at else None,
        reply.subject,
        reply.foi_reference,
        sender.force.code if sender.force else None,
        sender.how,
        source,
        when.astimezone(UTC).replace(microsecond=0).isoformat() if when else now(),
    )
    if not record_message(journal, message, notes, found):
        return None
    return _fetched(reply, relative, sender, len(found), spreadsheets, notes)


def _fetched(
    reply: Reply,
    relative: str,
    sender: Sender,
    candidates: int,
    spreadsheets: tuple[str, ...],
    notes: list[str],
) -> FetchedReply:
    return FetchedReply(
        relative,
        reply.message_id,
        reply.sender,
        reply.subject,
        reply.foi_reference,
        sender.force.name if sender.force else None,
        sender.how,
        candidates,
        spreadsheets,
        tuple(notes),
    )


def _documents(reply: Reply, relative: str) -> tuple[list[tuple[Document, str]], list[str]]:
    """The reply's letters (its body first), each with the stored path it is read from."""
    message_path = f"{relative}/{MESSAGE_FILE}"
    documents: list[tuple[Document, str]] = []
    notes: list[str] = []
    if reply.text.strip():
        documents.append((Document("message body", reply.text), message_path))
    if reply.html:
        tables = read_html("message body", reply.html).tables
        if tables:
            documents.append((Document("message body (HTML)", "", tables), message_path))
    for attachment in reply.attachments:
        try:
            document = read_document(attachment.name, attachment.data)
        except DocumentError as error:
            notes.append(f"{relative}/{attachment.name} not read: {error}")
            continue
        if document is not None:
            documents.append((document, f"{relative}/{attachment.name}"))
    return documents, notes


def _write_folder(mail_dir: Path, reply: Reply, data: bytes) -> Path:
    """The reply's folder, complete: written under a hidden name (never read by ingest) and
    renamed into place. A folder left by a fetch killed before the journal recorded it holds
    the same message: it is kept as it is."""
    final = mail_dir / reply.folder_name
    if (final / MESSAGE_FILE).is_file():
        return final
    mail_dir.mkdir(parents=True, exist_ok=True)
    partial = mail_dir / f".{reply.folder_name}.{uuid.uuid4().hex[:8]}.part"
    partial.mkdir()
    try:
        _write(partial / MESSAGE_FILE, data)
        for attachment in reply.attachments:
            _write(partial / attachment.name, attachment.data)
        os.rename(partial, final)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return final


def _write(target: Path, data: bytes) -> None:
    def fill(path: str) -> None:
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    atomic_write(target, fill)
