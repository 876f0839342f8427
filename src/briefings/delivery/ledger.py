"""The delivery ledger: what each subscriber was sent, kept in the data folder's journal
(<data>/state/journal.sqlite, briefings.journal.deliveries), not among the rebuildable files
of processed/, so deleting or rebuilding those sends nothing again.

Every attempt is a row, never updated: 'sending' is committed before a message is handed to
the server, then 'sent', 'undelivered', or 'unknown' after. The plan compares what each
subscriber was last sent with what is current (briefings.delivery.plan).

Exactly once, and the windows that remain:
- a crash after the server accepted a message and before 'sent' is committed leaves it at
  'sending'. The next run cannot know whether it went, so it sends it again rather than risk
  losing it, under the same Message-ID: the duplicate is recognisable, and many mail systems
  drop it.
- a server that goes quiet after it was given the whole message (a timeout waiting for its
  reply to DATA) may have accepted it. That attempt is 'unknown': it is not sent again by a
  retry or a later run, and the stewards are told which messages to check.
Everything else is exactly once: a refused or failed send is 'undelivered' and sent by a
later run; two runs never deliver at once (the data folder's lock, and a lock beside the
journal for deliveries that do not hold it); outbox (.eml) deliveries are a channel of their
own, so configuring SMTP later still sends everything for real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.plan import SENT, UNDELIVERED, UNKNOWN, LedgerRecord
from briefings.journal import Journal, journal_path
from briefings.journal import deliveries as journal
from briefings.resources import DEFAULT_DATA_DIR

DEFAULT_LEDGER = journal_path(DEFAULT_DATA_DIR)


class DeliveryBusyError(RuntimeError):
    """Another delivery run holds the ledger."""


class AlreadySentError(RuntimeError):
    """The ledger says this message went already (or may have, `status` 'unknown'): sending
    it would duplicate it."""

    def __init__(self, status: str, message_id: str):
        super().__init__(f"already {status}: {message_id}")
        self.status = status


@contextmanager
def ledger_lock(path: Path, timeout: float = 0) -> Iterator[None]:
    """One delivery run at a time per journal, so two runs never plan the same message (a
    publish run holds the data folder's lock as well; a deliver flow may not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise DeliveryBusyError(f"another delivery is running ({path}.lock)") from None


class DeliveryLedger:
    """The deliveries of one journal, in the terms of messages and plans."""

    def __init__(self, where: Path | Journal = DEFAULT_LEDGER):
        self.journal = where if isinstance(where, Journal) else Journal(where).open()
        self.path = self.journal.path

    # Reading

    def history(self, channel: str, period: str) -> list[LedgerRecord]:
        with self.journal.reading() as connection:
            return _records(journal.delivery_attempts(connection, channel, period))

    def rows(self, table: str = "deliveries") -> list[dict[str, Any]]:
        """The current state: one row per version sent to a subscriber (or per notice), in
        the order they were first tried; `attempts()` has every row."""
        if table not in ("deliveries", "notices"):
            raise ValueError(table)
        with self.journal.reading() as connection:
            rows = [dict(r) for r in connection.execute(f"SELECT * FROM {table} ORDER BY first_id")]
        for row in rows:
            del row["first_id"]
        return rows

    def attempts(self, table: str = "deliveries") -> list[dict[str, Any]]:
        """Every row as recorded, oldest first."""
        name = {"deliveries": "delivery_attempts", "notices": "notice_attempts"}[table]
        with self.journal.reading() as connection:
            return [dict(r) for r in connection.execute(f"SELECT * FROM {name} ORDER BY id")]

    def notices(self, channel: str, status: tuple[str, ...]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(status))
        query = f"SELECT * FROM notices WHERE channel = ? AND status IN ({marks}) ORDER BY first_id"
        with self.journal.reading() as connection:
            return [dict(r) for r in connection.execute(query, (channel, *status))]

    # Each state change is one transaction

    def claim(self, channel: str, message: OutgoingMessage) -> int:
        """Record 'sending' before the message is handed over; the attempt number. Refuses
        (AlreadySentError) a message that was sent, or whose outcome is unknown."""
        email = message.recipient_email.lower()
        try:
            if message.notice_key:
                return journal.begin_notice(
                    self.journal,
                    channel,
                    email,
                    message.recipient_name,
                    message.notice_key,
                    message.subject,
                    message.notice_text,
                    message.message_id,
                )
            return journal.begin_delivery(
                self.journal,
                channel,
                email,
                message.recipient_name,
                message.period,
                message.message_id,
                [
                    journal.CarriedVersion(
                        v.pdf,
                        v.content_hash,
                        v.replaces,
                        v.correction,
                        v.figures_json,
                        v.edition,
                        v.issued,
                    )
                    for v in message.versions
                ],
            )
        except journal.AlreadySettled as settled:
            raise AlreadySentError(settled.status, message.message_id) from None

    def mark_sent(self, channel: str, message: OutgoingMessage) -> None:
        self._end(channel, message, SENT)

    def mark_undelivered(self, channel: str, message: OutgoingMessage, error: str) -> None:
        self._end(channel, message, UNDELIVERED, error)

    def mark_unknown(self, channel: str, message: OutgoingMessage, error: str) -> None:
        """The server was given the whole message and did not say whether it took it."""
        self._end(channel, message, UNKNOWN, error)

    def _end(
        self, channel: str, message: OutgoingMessage, status: str, error: str | None = None
    ) -> None:
        if message.notice_key:
            journal.end_notice(
                self.journal,
                channel,
                message.recipient_email.lower(),
                message.notice_key,
                status,
                error,
            )
        else:
            journal.end_delivery(self.journal, channel, message.message_id, status, error)


def read_history(path: Path, channel: str, period: str) -> list[LedgerRecord]:
    """The journal's delivery attempts for one period and channel, read-only; empty with no
    journal yet (a dry run creates nothing)."""
    with journal.read_only(path) as connection:
        if connection is None:
            return []
        return _records(journal.delivery_attempts(connection, channel, period))


def _records(rows: Any) -> list[LedgerRecord]:
    return [
        LedgerRecord(
            email=row["email"],
            pdf=row["pdf"],
            content_hash=row["content_hash"],
            status=row["status"],
            figures=json.loads(row["figures"]),
            attempts=row["attempt"],
            message_id=row["message_id"],
            sent_at=row["at"] if row["status"] == SENT else None,
            error=row["error"],
        )
        for row in rows
    ]
