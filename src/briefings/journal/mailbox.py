"""FOI replies fetched from the charity's mailbox, the figures read from their letters, and
what stewards decided about each figure.

A reply is known by its Message-ID and by its bytes: a message is stored once, however often
it is delivered or fetched. Figures read from a letter or a sentence are candidates: nothing
counts until a steward confirms it (as read, or corrected with a reason) or rejects it with
a reason. Each candidate has one decision, appended, never changed. The return written from a
reply's confirmed figures is recorded too, so it is written once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields

from briefings.journal.core import Journal, now, register_schema

register_schema(
    "mailbox",
    """
    CREATE TABLE IF NOT EXISTS mail_messages (
        message_id TEXT PRIMARY KEY,    -- the Message-ID header, or 'sha256:<hash>' without one
        sha256 TEXT NOT NULL UNIQUE,    -- the message's bytes as fetched
        folder TEXT NOT NULL,           -- where it is stored, relative to raw/
        files TEXT NOT NULL,            -- JSON: every stored file, relative to raw/
        sender TEXT NOT NULL,
        sent_at TEXT,                   -- its Date header, ISO 8601 UTC, if it had one
        subject TEXT NOT NULL,
        foi_reference TEXT,             -- as written ('FOI 2017-789'), if one was found
        force_code TEXT,                -- which force sent it, or NULL when unsure
        force_how TEXT NOT NULL,        -- how that was known, or why it was refused
        source TEXT NOT NULL,           -- 'maildir:<path>' or 'imap:<user>@<host>/<folder>'
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mail_notes (
        message_id TEXT NOT NULL REFERENCES mail_messages (message_id),
        note TEXT NOT NULL,             -- what was not read from the reply, and why
        PRIMARY KEY (message_id, note)
    );
    CREATE TABLE IF NOT EXISTS mail_candidates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL REFERENCES mail_messages (message_id),
        force_code TEXT NOT NULL,
        financial_year TEXT NOT NULL,
        offence_code TEXT NOT NULL,     -- a Home Office code, or ALL for the force's total
        offence_description TEXT NOT NULL,
        measure TEXT NOT NULL CHECK (measure IN ('online_flagged', 'offences')),
        count TEXT NOT NULL,            -- as read: '245', or a withheld count ('<5')
        source_file TEXT NOT NULL,      -- the stored file it was read from, relative to raw/
        location TEXT NOT NULL,         -- 'sentence 3', 'table 1, row 4'
        passage TEXT NOT NULL,          -- the sentence or the table row, as written
        reading TEXT NOT NULL,          -- how the passage was read, for the steward
        found_at TEXT NOT NULL,
        UNIQUE (message_id, source_file, location, financial_year, offence_code, measure)
    );
    CREATE TABLE IF NOT EXISTS mail_candidate_decisions (
        candidate_id INTEGER PRIMARY KEY REFERENCES mail_candidates (id),
        action TEXT NOT NULL CHECK (action IN ('confirm', 'reject')),
        count TEXT,                     -- the count confirmed (as read, or corrected)
        corrected INTEGER NOT NULL,     -- 1 when the steward gave another count
        reason TEXT NOT NULL CHECK (reason <> ''),
        decided_by TEXT NOT NULL CHECK (decided_by <> ''),
        decided_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mail_returns (
        message_id TEXT PRIMARY KEY REFERENCES mail_messages (message_id),
        file TEXT NOT NULL,             -- the confirmed return written, relative to raw/
        sha256 TEXT NOT NULL,
        written_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mail_sources (
        source TEXT PRIMARY KEY,        -- an IMAP folder: the last UID fetched from it
        uidvalidity TEXT NOT NULL,
        last_uid INTEGER NOT NULL
    );
    """,
)

CONFIRM = "confirm"
REJECT = "reject"
ONLINE_FLAGGED = "online_flagged"
OFFENCES = "offences"


class MailboxDecisionError(ValueError):
    """A decision about a candidate that cannot be recorded: one line for a person."""


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    sha256: str
    folder: str
    files: tuple[str, ...]
    sender: str
    sent_at: str | None
    subject: str
    foi_reference: str | None
    force_code: str | None
    force_how: str
    source: str
    fetched_at: str


@dataclass(frozen=True)
class CandidateFigure:
    """A figure read from a reply's letter or message, with where it came from and how it
    was read: what a steward confirms or rejects."""

    force_code: str
    financial_year: str
    offence_code: str  # a Home Office code, or ALL for the force's total
    offence_description: str
    measure: str  # ONLINE_FLAGGED or OFFENCES
    count: str  # as read: '245', or a withheld count ('<5')
    source_file: str  # the stored file it was read from, relative to raw/
    location: str  # 'sentence 3', 'table 1, row 4'
    passage: str  # the sentence or the table row, as written
    reading: str  # how the passage was read, for the steward

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Which figure of a return it would be: force, year, offence code and measure."""
        return (self.force_code, self.financial_year, self.offence_code, self.measure)


_FIGURE_COLUMNS = tuple(f.name for f in fields(CandidateFigure))  # columns of mail_candidates


@dataclass(frozen=True)
class Candidate:
    """A figure read from a reply, in the journal: waiting for (or given) a steward's
    decision."""

    id: int
    message_id: str
    figure: CandidateFigure
    found_at: str
    decision: CandidateDecision | None = None


@dataclass(frozen=True)
class CandidateDecision:
    action: str
    count: str | None
    corrected: bool
    reason: str
    decided_by: str
    decided_at: str


def known_message(journal: Journal, message_id: str, sha256: str | None = None) -> bool:
    """Whether this message (by Message-ID, or by its bytes) is already stored."""
    with journal.reading() as connection:
        row = connection.execute(
            "SELECT 1 FROM mail_messages WHERE message_id = ? OR sha256 = ?",
            (message_id, sha256 or ""),
        ).fetchone()
    return row is not None


def record_message(
    journal: Journal,
    message: StoredMessage,
    notes: Sequence[str] = (),
    candidates: Iterable[CandidateFigure] = (),
) -> bool:
    """Record a stored reply with what was read from it, in one transaction. False (and
    nothing recorded) when the same Message-ID or bytes were recorded first."""
    with journal.transaction() as connection:
        inserted = connection.execute(
            "INSERT OR IGNORE INTO mail_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.message_id,
                message.sha256,
                message.folder,
                json.dumps(list(message.files)),
                message.sender,
                message.sent_at,
                message.subject,
                message.foi_reference,
                message.force_code,
                message.force_how,
                message.source,
                message.fetched_at,
            ),
        ).rowcount
        if not inserted:
            return False
        connection.executemany(
            "INSERT OR IGNORE INTO mail_notes VALUES (?, ?)",
            [(message.message_id, note) for note in notes],
        )
        connection.executemany(
            f"INSERT OR IGNORE INTO mail_candidates (message_id, {', '.join(_FIGURE_COLUMNS)}, "
            f"found_at) VALUES ({', '.join('?' * (len(_FIGURE_COLUMNS) + 2))})",
            [(message.message_id, *astuple(figure), message.fetched_at) for figure in candidates],
        )
    return True


def messages(journal: Journal) -> list[StoredMessage]:
    """Every stored reply, in the order fetched."""
    with journal.reading() as connection:
        rows = connection.execute(
            "SELECT * FROM mail_messages ORDER BY fetched_at, message_id"
        ).fetchall()
    return [
        StoredMessage(
            row["message_id"],
            row["sha256"],
            row["folder"],
            tuple(json.loads(row["files"])),
            row["sender"],
            row["sent_at"],
            row["subject"],
            row["foi_reference"],
            row["force_code"],
            row["force_how"],
            row["source"],
            row["fetched_at"],
        )
        for row in rows
    ]


def message_notes(journal: Journal, message_id: str) -> list[str]:
    with journal.reading() as connection:
        rows = connection.execute(
            "SELECT note FROM mail_notes WHERE message_id = ? ORDER BY rowid", (message_id,)
        ).fetchall()
    return [row["note"] for row in rows]


_CANDIDATES = """
    SELECT c.*, d.action, d.count AS decided_count, d.corrected, d.reason, d.decided_by,
           d.decided_at
    FROM mail_candidates c LEFT JOIN mail_candidate_decisions d ON d.candidate_id = c.id
"""


def _candidate(row) -> Candidate:  # type: ignore[no-untyped-def]
    decision = None
    if row["action"] is not None:
        decision = CandidateDecision(
            row["action"],
            row["decided_count"],
            bool(row["corrected"]),
            row["reason"],
            row["decided_by"],
            row["decided_at"],
        )
    figure = CandidateFigure(*(row[name] for name in _FIGURE_COLUMNS))
    return Candidate(row["id"], row["message_id"], figure, row["found_at"], decision)


def candidates(
    journal: Journal, message_id: str | None = None, pending_only: bool = False
) -> list[Candidate]:
    """Candidates with their decisions (of one reply, or only those still pending), in order."""
    query, arguments = _CANDIDATES, []
    where = []
    if message_id is not None:
        where.append("c.message_id = ?")
        arguments.append(message_id)
    if pending_only:
        where.append("d.candidate_id IS NULL")
    if where:
        query += " WHERE " + " AND ".join(where)
    with journal.reading() as connection:
        rows = connection.execute(query + " ORDER BY c.id", arguments).fetchall()
    return [_candidate(row) for row in rows]


def candidate(journal: Journal, candidate_id: int) -> Candidate | None:
    with journal.reading() as connection:
        row = connection.execute(_CANDIDATES + " WHERE c.id = ?", (candidate_id,)).fetchone()
    return None if row is None else _candidate(row)


def record_candidate_decision(
    journal: Journal,
    candidate_id: int,
    action: str,
    reason: str,
    decided_by: str,
    count: str | None = None,
    corrected: bool = False,
    when: str | None = None,
) -> CandidateDecision:
    """A steward's decision about one candidate: once, with who and why."""
    if action not in (CONFIRM, REJECT):
        raise MailboxDecisionError(f"unknown decision '{action}'; confirm or reject")
    reason = " ".join(reason.split())
    if not reason:
        raise MailboxDecisionError("a decision needs a reason (--reason TEXT)")
    if not decided_by.strip():
        raise MailboxDecisionError("a decision needs the name of who made it (--by NAME)")
    decision = CandidateDecision(
        action, count, corrected, reason, decided_by.strip(), when or now()
    )
    with journal.transaction() as connection:
        found = connection.execute(
            "SELECT 1 FROM mail_candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if found is None:
            raise MailboxDecisionError(f"no candidate {candidate_id}")
        earlier = connection.execute(
            "SELECT action, decided_by, decided_at FROM mail_candidate_decisions "
            "WHERE candidate_id = ?",
            (candidate_id,),
        ).fetchone()
        if earlier is not None:
            raise MailboxDecisionError(
                f"candidate {candidate_id} was already decided ({earlier['action']} by "
                f"{earlier['decided_by']} on {earlier['decided_at'][:10]}); decisions are final"
            )
        connection.execute(
            "INSERT INTO mail_candidate_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                candidate_id,
                action,
                count,
                int(corrected),
                decision.reason,
                decision.decided_by,
                decision.decided_at,
            ),
        )
    return decision


def written_return(journal: Journal, message_id: str) -> tuple[str, str] | None:
    """The confirmed return written from a reply, (file, sha256), if one was."""
    with journal.reading() as connection:
        row = connection.execute(
            "SELECT file, sha256 FROM mail_returns WHERE message_id = ?", (message_id,)
        ).fetchone()
    return None if row is None else (row["file"], row["sha256"])


def record_written_return(journal: Journal, message_id: str, file: str, sha256: str) -> None:
    with journal.transaction() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO mail_returns VALUES (?, ?, ?, ?)",
            (message_id, file, sha256, now()),
        )


def source_position(journal: Journal, source: str) -> tuple[str, int] | None:
    """An IMAP folder's UIDVALIDITY and the last UID fetched from it, if any."""
    with journal.reading() as connection:
        row = connection.execute(
            "SELECT uidvalidity, last_uid FROM mail_sources WHERE source = ?", (source,)
        ).fetchone()
    return None if row is None else (row["uidvalidity"], int(row["last_uid"]))


def record_source_position(journal: Journal, source: str, uidvalidity: str, last_uid: int) -> None:
    with journal.transaction() as connection:
        connection.execute(
            "INSERT INTO mail_sources VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
            (source, uidvalidity, last_uid),
        )
