"""What each subscriber was sent: every attempt at every message, and its outcome.

Append-only, like the rest of the journal: each attempt adds a 'sending' row per briefing
version the message carries before the message is handed over, and a row with the outcome
after ('sent', 'undelivered', or 'unknown' when the relay went quiet after it was given the
whole message). The current state of a message is its latest row; the views `deliveries` and
`notices` show that state, one row per version (or notice), for people and older tools.

Each briefing version a message carries is also recorded with the edition it prints and that
edition's date (`printed_editions`): what a later correction names ("edition 1 of 2 June 2017
said 44") is what the reader was sent, and a date printed once cannot be rebuilt.

Rows are plain values here (no messages, no plans): briefings.delivery.ledger turns messages
into rows and rows into the records the delivery plan reads.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from briefings.domain.editions import SentVersion
from briefings.journal.core import Journal, now, register_schema

SENDING, SENT, UNDELIVERED, UNKNOWN = "sending", "sent", "undelivered", "unknown"
#: An outcome after which the same message must not be handed over again by itself: it went,
#: or it may have gone (a steward decides).
SETTLED = (SENT, UNKNOWN)

register_schema(
    "deliveries",
    """
    CREATE TABLE IF NOT EXISTS delivery_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,          -- 'smtp' or 'outbox': the outbox is not a delivery
        email TEXT NOT NULL,            -- lower case
        recipient TEXT NOT NULL,
        period TEXT NOT NULL,           -- period slug, 2016-17
        pdf TEXT NOT NULL,
        content_hash TEXT NOT NULL,     -- SHA-256 of the PDF attached
        replaces TEXT,                  -- content hash of the version last sent, or NULL
        correction INTEGER NOT NULL,    -- printed figures differ from the version replaced
        figures TEXT NOT NULL,          -- JSON: the figures as printed in this version
        message_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,       -- the how-manieth attempt at this version
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'undelivered', 'unknown')),
        at TEXT NOT NULL,               -- ISO 8601, UTC
        error TEXT
    );
    CREATE INDEX IF NOT EXISTS delivery_attempts_by_briefing
        ON delivery_attempts (channel, period, email, pdf, content_hash);
    CREATE INDEX IF NOT EXISTS delivery_attempts_by_message
        ON delivery_attempts (channel, message_id);
    CREATE VIEW IF NOT EXISTS deliveries AS
        SELECT a.channel, a.email, a.period, a.pdf, a.content_hash, a.recipient, a.status,
               a.attempt AS attempts, a.correction, a.message_id, a.figures, a.replaces,
               (SELECT min(f.at) FROM delivery_attempts f WHERE f.channel = a.channel
                   AND f.email = a.email AND f.period = a.period AND f.pdf = a.pdf
                   AND f.content_hash = a.content_hash) AS first_attempt_at,
               a.at AS last_attempt_at,
               (SELECT max(s.at) FROM delivery_attempts s WHERE s.status = 'sent'
                   AND s.channel = a.channel AND s.email = a.email AND s.period = a.period
                   AND s.pdf = a.pdf AND s.content_hash = a.content_hash) AS sent_at,
               a.error,
               (SELECT min(f.id) FROM delivery_attempts f WHERE f.channel = a.channel
                   AND f.email = a.email AND f.period = a.period AND f.pdf = a.pdf
                   AND f.content_hash = a.content_hash) AS first_id
        FROM delivery_attempts a
        WHERE a.id = (SELECT max(l.id) FROM delivery_attempts l WHERE l.channel = a.channel
            AND l.email = a.email AND l.period = a.period AND l.pdf = a.pdf
            AND l.content_hash = a.content_hash);

    -- Added with editions; a journal from before has none, and its versions read as editions
    -- dated the day they were sent (briefings.domain.editions).
    CREATE TABLE IF NOT EXISTS printed_editions (
        period TEXT NOT NULL,           -- period slug, 2016-17
        pdf TEXT NOT NULL,
        content_hash TEXT NOT NULL,     -- SHA-256 of the PDF that printed it
        edition INTEGER NOT NULL CHECK (edition >= 1),
        issued TEXT NOT NULL,           -- ISO date, as its footer printed it
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (period, pdf, content_hash)
    );

    CREATE TABLE IF NOT EXISTS notice_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        email TEXT NOT NULL,
        recipient TEXT NOT NULL,
        notice_key TEXT NOT NULL,       -- SHA-256 of subject and text: one notice, once
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        message_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'undelivered', 'unknown')),
        at TEXT NOT NULL,
        error TEXT
    );
    CREATE INDEX IF NOT EXISTS notice_attempts_by_notice
        ON notice_attempts (channel, email, notice_key);
    CREATE VIEW IF NOT EXISTS notices AS
        SELECT a.channel, a.email, a.notice_key, a.recipient, a.subject, a.body, a.status,
               a.attempt AS attempts, a.message_id, a.at AS last_attempt_at, a.error,
               (SELECT max(s.at) FROM notice_attempts s WHERE s.status = 'sent'
                   AND s.channel = a.channel AND s.email = a.email
                   AND s.notice_key = a.notice_key) AS sent_at,
               (SELECT min(f.id) FROM notice_attempts f WHERE f.channel = a.channel
                   AND f.email = a.email AND f.notice_key = a.notice_key) AS first_id
        FROM notice_attempts a
        WHERE a.id = (SELECT max(l.id) FROM notice_attempts l WHERE l.channel = a.channel
            AND l.email = a.email AND l.notice_key = a.notice_key);
    """,
)


class AlreadySettled(RuntimeError):
    """The journal says this message went already, or may have: handing it over again could
    deliver it twice. `status` is 'sent' or 'unknown'."""

    def __init__(self, status: str, message_id: str):
        super().__init__(f"{message_id} is {status}")
        self.status = status


@dataclass(frozen=True)
class CarriedVersion:
    """One briefing version a message carries, as the journal records it."""

    pdf: str
    content_hash: str
    replaces: str | None
    correction: bool
    figures_json: str
    edition: int | None = None  # the edition the PDF prints (None: from before editions)
    issued: str | None = None  # that edition's date, ISO, as printed


def _settled(connection: sqlite3.Connection, table: str, channel: str, message_id: str) -> None:
    row = connection.execute(
        f"SELECT status FROM {table} WHERE channel = ? AND message_id = ? ORDER BY id DESC",
        (channel, message_id),
    ).fetchone()
    if row is not None and row["status"] in SETTLED:
        raise AlreadySettled(row["status"], message_id)


def begin_delivery(
    journal: Journal,
    channel: str,
    email: str,
    recipient: str,
    period: str,
    message_id: str,
    versions: Sequence[CarriedVersion],
) -> int:
    """Record 'sending' for each version the message carries, before it is handed over; the
    attempt number. Raises AlreadySettled when this message was sent or may have been."""
    stamp = now()
    attempt = 0
    with journal.transaction() as connection:
        _settled(connection, "delivery_attempts", channel, message_id)
        rows = []
        for version in versions:
            latest = connection.execute(
                "SELECT status, attempt FROM delivery_attempts WHERE channel = ? AND email = ? "
                "AND period = ? AND pdf = ? AND content_hash = ? ORDER BY id DESC",
                (channel, email, period, version.pdf, version.content_hash),
            ).fetchone()
            tried = latest["attempt"] if latest is not None and latest["status"] != SENT else 0
            rows.append((version, tried + 1))
            attempt = max(attempt, tried + 1)
        for version, number in rows:
            connection.execute(
                "INSERT INTO delivery_attempts (channel, email, recipient, period, pdf, "
                "content_hash, replaces, correction, figures, message_id, attempt, status, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?)",
                (
                    channel,
                    email,
                    recipient,
                    period,
                    version.pdf,
                    version.content_hash,
                    version.replaces,
                    int(version.correction),
                    version.figures_json,
                    message_id,
                    number,
                    stamp,
                ),
            )
            if version.edition is not None and version.issued:
                connection.execute(
                    "INSERT OR IGNORE INTO printed_editions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        period,
                        version.pdf,
                        version.content_hash,
                        version.edition,
                        version.issued,
                        stamp,
                    ),
                )
    return attempt


def end_delivery(
    journal: Journal, channel: str, message_id: str, status: str, error: str | None = None
) -> None:
    """The outcome of the attempt begun last for this message: a row per version it carries."""
    stamp = now()
    with journal.transaction() as connection:
        started = connection.execute(
            "SELECT * FROM delivery_attempts WHERE channel = ? AND message_id = ? "
            "AND status = 'sending' ORDER BY id",
            (channel, message_id),
        ).fetchall()
        latest: dict[tuple[str, str], sqlite3.Row] = {}
        for row in started:
            latest[(row["pdf"], row["content_hash"])] = row
        for row in latest.values():
            connection.execute(
                "INSERT INTO delivery_attempts (channel, email, recipient, period, pdf, "
                "content_hash, replaces, correction, figures, message_id, attempt, status, at, "
                "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["channel"],
                    row["email"],
                    row["recipient"],
                    row["period"],
                    row["pdf"],
                    row["content_hash"],
                    row["replaces"],
                    row["correction"],
                    row["figures"],
                    message_id,
                    row["attempt"],
                    status,
                    stamp,
                    error,
                ),
            )


def begin_notice(
    journal: Journal,
    channel: str,
    email: str,
    recipient: str,
    notice_key: str,
    subject: str,
    body: str,
    message_id: str,
) -> int:
    """Record 'sending' for a steward notice; the attempt number. Raises AlreadySettled."""
    with journal.transaction() as connection:
        _settled(connection, "notice_attempts", channel, message_id)
        latest = connection.execute(
            "SELECT status, attempt FROM notice_attempts WHERE channel = ? AND email = ? "
            "AND notice_key = ? ORDER BY id DESC",
            (channel, email, notice_key),
        ).fetchone()
        if latest is not None and latest["status"] in SETTLED:
            raise AlreadySettled(latest["status"], message_id)
        attempt = (latest["attempt"] if latest is not None else 0) + 1
        connection.execute(
            "INSERT INTO notice_attempts (channel, email, recipient, notice_key, subject, body, "
            "message_id, attempt, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?)",
            (channel, email, recipient, notice_key, subject, body, message_id, attempt, now()),
        )
    return attempt


def end_notice(
    journal: Journal,
    channel: str,
    email: str,
    notice_key: str,
    status: str,
    error: str | None = None,
) -> None:
    with journal.transaction() as connection:
        row = connection.execute(
            "SELECT * FROM notice_attempts WHERE channel = ? AND email = ? AND notice_key = ? "
            "ORDER BY id DESC",
            (channel, email, notice_key),
        ).fetchone()
        if row is None:
            return
        connection.execute(
            "INSERT INTO notice_attempts (channel, email, recipient, notice_key, subject, body, "
            "message_id, attempt, status, at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel,
                email,
                row["recipient"],
                notice_key,
                row["subject"],
                row["body"],
                row["message_id"],
                row["attempt"],
                status,
                now(),
                error,
            ),
        )


def delivery_attempts(
    connection: sqlite3.Connection, channel: str, period: str
) -> list[sqlite3.Row]:
    """Every attempt row for one period and channel, oldest first."""
    return connection.execute(
        "SELECT * FROM delivery_attempts WHERE channel = ? AND period = ? ORDER BY id",
        (channel, period),
    ).fetchall()


def sent_versions(
    connection: sqlite3.Connection, channel: str, period: str
) -> dict[str, list[SentVersion]]:
    """Every version of each briefing (by PDF name) sent on a channel for one period, oldest
    first, with the figures it printed and, where recorded, the date its edition printed."""
    printed = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'printed_editions'"
    ).fetchone()  # a journal from before editions, read without being opened (upgraded)
    issued = (
        "(SELECT e.issued FROM printed_editions e WHERE e.period = a.period AND e.pdf = a.pdf "
        "AND e.content_hash = a.content_hash)"
        if printed
        else "NULL"
    )
    rows = connection.execute(
        f"SELECT a.pdf, a.figures, a.at, {issued} AS issued FROM delivery_attempts a "
        "WHERE a.channel = ? AND a.period = ? AND a.status = 'sent' ORDER BY a.id",
        (channel, period),
    ).fetchall()
    sent: dict[str, list[SentVersion]] = {}
    for row in rows:
        version = SentVersion(json.loads(row["figures"]), row["at"], row["issued"])
        sent.setdefault(row["pdf"], []).append(version)
    return sent


def read_sent_versions(path: Path, channel: str, period: str) -> dict[str, list[SentVersion]]:
    """sent_versions() from a journal that may not exist yet (nothing sent then), read-only."""
    with read_only(path) as connection:
        return {} if connection is None else sent_versions(connection, channel, period)


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to a journal that may not exist yet (None then): a preview
    creates nothing."""
    if not path.exists():
        yield None
        return
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
        connection.row_factory = sqlite3.Row
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'delivery_attempts'"
        ).fetchone()
        yield connection if exists else None
