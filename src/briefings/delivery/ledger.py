"""The delivery ledger (data/processed/deliveries.sqlite): which version of which briefing
each subscriber was sent, so a rerun sends nothing twice and a changed briefing is known to
be a correction.

A row per (channel, address, period, PDF, content hash); one transaction per state change:
'sending' is committed before the message is handed to the server, 'sent' after it accepted.

Exactly once, and the window that remains: a crash after the server accepted a message and
before 'sent' is committed leaves the row at 'sending'. The next run cannot know whether the
message went, so it sends it again rather than risk losing it, with the same Message-ID (it is
derived from the recipient and the versions attached): the duplicate is recognisable, and many
mail systems drop it. Everything else is exactly once: a refused or failed send is recorded
as 'undelivered' and sent by a later run; two runs never send at once (a lock file beside the
ledger); and outbox (.eml) deliveries are a separate channel, so configuring SMTP later still
sends everything for real.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.plan import SENDING, SENT, SUPERSEDED, UNDELIVERED, LedgerRecord
from briefings.resources import DEFAULT_DATA_DIR

DEFAULT_LEDGER = DEFAULT_DATA_DIR / "processed" / "deliveries.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    email TEXT NOT NULL,
    period TEXT NOT NULL,
    pdf TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    recipient TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'undelivered', 'superseded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    correction INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    figures TEXT NOT NULL,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    sent_at TEXT,
    error TEXT,
    PRIMARY KEY (channel, email, period, pdf, content_hash)
);
CREATE TABLE IF NOT EXISTS notices (
    channel TEXT NOT NULL,
    email TEXT NOT NULL,
    notice_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'undelivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    sent_at TEXT,
    error TEXT,
    PRIMARY KEY (channel, email, notice_key)
);
"""


class DeliveryBusyError(RuntimeError):
    """Another delivery run holds the ledger."""


class AlreadySentError(RuntimeError):
    """The ledger says this message went already: sending it would duplicate it."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def ledger_lock(path: Path, timeout: float = 0) -> Iterator[None]:
    """One delivery run at a time per ledger, so two runs never plan the same message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise DeliveryBusyError(f"another delivery is running ({path}.lock)") from None


class DeliveryLedger:
    def __init__(self, path: Path = DEFAULT_LEDGER):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.row_factory = sqlite3.Row
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # Reading

    def history(self, channel: str, period: str) -> list[LedgerRecord]:
        return read_history(self.path, channel, period)

    def rows(self, table: str = "deliveries") -> list[dict]:
        if table not in ("deliveries", "notices"):
            raise ValueError(table)
        with closing(self._connect()) as connection:
            return [dict(r) for r in connection.execute(f"SELECT * FROM {table} ORDER BY rowid")]

    def notices(self, channel: str, status: tuple[str, ...]) -> list[dict]:
        marks = ",".join("?" * len(status))
        with closing(self._connect()) as connection:
            query = (
                f"SELECT * FROM notices WHERE channel = ? AND status IN ({marks}) ORDER BY rowid"
            )
            return [dict(r) for r in connection.execute(query, (channel, *status))]

    # State changes, each one transaction

    def claim(self, channel: str, message: OutgoingMessage) -> int:
        """Mark the message's rows 'sending' (attempts + 1) before it is handed over; returns
        the attempt number. Refuses if any row says the version was sent already."""
        now = _now()
        with self._transaction() as connection:
            if message.notice_key:
                keys: list[tuple[str, ...]] = [
                    (channel, message.recipient_email.lower(), message.notice_key)
                ]
                self._refuse_sent(
                    connection, "notices", "channel=? AND email=? AND notice_key=?", keys
                )
                connection.execute(
                    """INSERT INTO notices (channel, email, notice_key, recipient, subject, body,
                           status, attempts, message_id, first_attempt_at, last_attempt_at)
                       VALUES (?, ?, ?, ?, ?, ?, 'sending', 1, ?, ?, ?)
                       ON CONFLICT (channel, email, notice_key) DO UPDATE SET status = 'sending',
                           attempts = attempts + 1, message_id = excluded.message_id,
                           last_attempt_at = excluded.last_attempt_at""",
                    (
                        *keys[0],
                        message.recipient_name,
                        message.subject,
                        message.notice_text,
                        message.message_id,
                        now,
                        now,
                    ),
                )
                row = connection.execute(
                    "SELECT attempts FROM notices WHERE channel=? AND email=? AND notice_key=?",
                    keys[0],
                ).fetchone()
                return row["attempts"]
            keys = self._keys(channel, message)
            self._refuse_sent(
                connection,
                "deliveries",
                "channel=? AND email=? AND period=? AND pdf=? AND content_hash=?",
                keys,
            )
            attempts = 0
            for key, version in zip(keys, message.versions, strict=True):
                connection.execute(
                    """INSERT INTO deliveries (channel, email, period, pdf, content_hash,
                           recipient, status, attempts, correction, message_id, figures,
                           first_attempt_at, last_attempt_at)
                       VALUES (?, ?, ?, ?, ?, ?, 'sending', 1, ?, ?, ?, ?, ?)
                       ON CONFLICT (channel, email, period, pdf, content_hash) DO UPDATE
                           SET status = 'sending', attempts = attempts + 1,
                           recipient = excluded.recipient, correction = excluded.correction,
                           message_id = excluded.message_id,
                           last_attempt_at = excluded.last_attempt_at""",
                    (
                        *key,
                        message.recipient_name,
                        int(version.correction),
                        message.message_id,
                        version.figures_json,
                        now,
                        now,
                    ),
                )
                row = connection.execute(
                    "SELECT attempts FROM deliveries WHERE channel=? AND email=? AND period=? "
                    "AND pdf=? AND content_hash=?",
                    key,
                ).fetchone()
                attempts = max(attempts, row["attempts"])
            return attempts

    def mark_sent(self, channel: str, message: OutgoingMessage) -> None:
        """The server accepted the message; earlier unsent versions of the same briefings
        for this recipient are superseded, as the current version replaces them."""
        now = _now()
        with self._transaction() as connection:
            if message.notice_key:
                connection.execute(
                    "UPDATE notices SET status='sent', sent_at=?, error=NULL "
                    "WHERE channel=? AND email=? AND notice_key=?",
                    (now, channel, message.recipient_email.lower(), message.notice_key),
                )
                return
            for key in self._keys(channel, message):
                connection.execute(
                    "UPDATE deliveries SET status='sent', sent_at=?, error=NULL "
                    "WHERE channel=? AND email=? AND period=? AND pdf=? AND content_hash=?",
                    (now, *key),
                )
                connection.execute(
                    "UPDATE deliveries SET status=? WHERE channel=? AND email=? AND period=? "
                    "AND pdf=? AND content_hash != ? AND status IN (?, ?)",
                    (SUPERSEDED, *key, SENDING, UNDELIVERED),
                )

    def mark_undelivered(self, channel: str, message: OutgoingMessage, error: str) -> None:
        with self._transaction() as connection:
            if message.notice_key:
                connection.execute(
                    "UPDATE notices SET status='undelivered', error=? "
                    "WHERE channel=? AND email=? AND notice_key=?",
                    (error, channel, message.recipient_email.lower(), message.notice_key),
                )
                return
            for key in self._keys(channel, message):
                connection.execute(
                    "UPDATE deliveries SET status='undelivered', error=? WHERE channel=? "
                    "AND email=? AND period=? AND pdf=? AND content_hash=?",
                    (error, *key),
                )

    @staticmethod
    def _keys(channel: str, message: OutgoingMessage) -> list[tuple[str, ...]]:
        email = message.recipient_email.lower()
        return [(channel, email, message.period, v.pdf, v.content_hash) for v in message.versions]

    @staticmethod
    def _refuse_sent(connection, table: str, where: str, keys: list[tuple]) -> None:
        for key in keys:
            row = connection.execute(f"SELECT status FROM {table} WHERE {where}", key).fetchone()
            if row is not None and row["status"] == SENT:
                raise AlreadySentError(f"already sent: {key[1:]}")


def read_history(path: Path, channel: str, period: str) -> list[LedgerRecord]:
    """The ledger's rows for one period and channel; read-only, and empty with no ledger yet
    (a dry run creates nothing)."""
    if not path.exists():
        return []
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
        connection.row_factory = sqlite3.Row
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='deliveries'"
        ).fetchone()
        if not exists:
            return []
        rows = connection.execute(
            "SELECT * FROM deliveries WHERE channel=? AND period=? ORDER BY rowid",
            (channel, period),
        ).fetchall()
    return [
        LedgerRecord(
            email=row["email"],
            pdf=row["pdf"],
            content_hash=row["content_hash"],
            status=row["status"],
            figures=json.loads(row["figures"]),
            attempts=row["attempts"],
            message_id=row["message_id"],
            sent_at=row["sent_at"],
            error=row["error"],
        )
        for row in rows
    ]
