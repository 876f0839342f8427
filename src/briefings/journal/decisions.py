"""What stewards decided about returns, which refused returns they have been told of, and
which return superseded which.

A decision is a fact no run can rebuild: a steward acknowledged a refused return (it waits
for nobody now), accepted a refused return with a reason (its figures count from the next
run, if what refused it is a check a steward may overrule), or withdrew a return (its
figures no longer count). Decisions are appended, never
changed: a return's current decision is its latest. Stewards are told of each refused
return once, keyed by its content, so a new refusal does not repeat the earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from briefings.journal.core import Journal, now, register_schema

register_schema(
    "decisions",
    """
    CREATE TABLE IF NOT EXISTS decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        decided_at TEXT NOT NULL,       -- ISO 8601, UTC
        sha256 TEXT NOT NULL,           -- the return's content
        file TEXT NOT NULL,             -- its name as the steward saw it (relative to raw/)
        action TEXT NOT NULL CHECK (action IN ('acknowledge', 'accept', 'withdraw')),
        reason TEXT NOT NULL CHECK (reason <> ''),
        decided_by TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS decisions_by_return ON decisions (sha256, id);
    CREATE TABLE IF NOT EXISTS refusal_notices (
        sha256 TEXT PRIMARY KEY,        -- a refused return, told of once
        file TEXT NOT NULL,
        notified_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS supersessions (
        sha256 TEXT NOT NULL,           -- the later return
        superseded TEXT NOT NULL,       -- the earlier return whose figures it replaces
        file TEXT NOT NULL,
        superseded_file TEXT NOT NULL,
        scope TEXT NOT NULL,            -- JSON: [[force_code, financial_year(, quarter)], ...]
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (sha256, superseded, scope)
    );
    """,
)

ACKNOWLEDGE = "acknowledge"
ACCEPT = "accept"
WITHDRAW = "withdraw"
ACTIONS = (ACKNOWLEDGE, ACCEPT, WITHDRAW)
# A refused return a steward has acknowledged or withdrawn waits for nobody.
SETTLES_A_REFUSAL = (ACKNOWLEDGE, WITHDRAW)
# Decisions that change which returns' figures count, from the next run on: an accepted
# refused return is used, a withdrawn return is not. (Acknowledging changes no figure.)
CHANGES_FIGURES = (ACCEPT, WITHDRAW)


class DecisionError(ValueError):
    """A decision that cannot be recorded as given: the message is one line for a person."""


@dataclass(frozen=True)
class Decision:
    decided_at: str
    sha256: str
    file: str
    action: str
    reason: str
    decided_by: str

    def describe(self) -> str:
        """'accepted by A Steward on 2017-06-01: the force confirmed the figures'"""
        done = {ACKNOWLEDGE: "acknowledged", ACCEPT: "accepted", WITHDRAW: "withdrawn"}
        return f"{done[self.action]} by {self.decided_by} on {self.decided_at[:10]}: {self.reason}"


def record_decision(
    journal: Journal,
    sha256: str,
    file: str,
    action: str,
    reason: str,
    decided_by: str,
    when: str | None = None,
) -> Decision:
    """Append a steward's decision about one return (its content and the name it was seen
    under). The reason is required and one line: it is read back in listings and notices."""
    if action not in ACTIONS:
        raise DecisionError(f"unknown decision '{action}'; one of {', '.join(ACTIONS)}")
    reason = " ".join(reason.split())
    if not reason:
        raise DecisionError("a decision needs a reason (--reason TEXT)")
    if not decided_by.strip():
        raise DecisionError("a decision needs the name of who made it (--by NAME)")
    decision = Decision(when or now(), sha256, file, action, reason, decided_by.strip())
    with journal.transaction() as connection:
        connection.execute(
            "INSERT INTO decisions (decided_at, sha256, file, action, reason, decided_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                decision.decided_at,
                decision.sha256,
                decision.file,
                decision.action,
                decision.reason,
                decision.decided_by,
            ),
        )
    return decision


def decisions(journal: Journal, sha256: str | None = None) -> list[Decision]:
    """Every decision (about one return's content, if given), oldest first."""
    query = "SELECT decided_at, sha256, file, action, reason, decided_by FROM decisions"
    arguments: tuple[str, ...] = ()
    if sha256 is not None:
        query += " WHERE sha256 = ?"
        arguments = (sha256,)
    with journal.reading() as connection:
        rows = connection.execute(query + " ORDER BY id", arguments).fetchall()
    return [Decision(*row) for row in rows]


def latest_decisions(journal: Journal) -> dict[str, Decision]:
    """Each return's current decision: its latest, by content."""
    return {decision.sha256: decision for decision in decisions(journal)}


def settled_refusals(journal: Journal) -> dict[str, Decision]:
    """Refused returns that wait for nobody: acknowledged or withdrawn by a steward."""
    return {
        sha256: decision
        for sha256, decision in latest_decisions(journal).items()
        if decision.action in SETTLES_A_REFUSAL
    }


def standing_decisions(journal: Journal) -> dict[str, Decision]:
    """The returns (by content) whose current decision changes which figures count: accepted
    by a steward, or withdrawn. A later decision replaces an earlier one, so acknowledging an
    accepted return puts it back among the refused."""
    return {
        sha256: decision
        for sha256, decision in latest_decisions(journal).items()
        if decision.action in CHANGES_FIGURES
    }


def notified_refusals(journal: Journal) -> set[str]:
    """The refused returns (by content) stewards have been told of."""
    with journal.reading() as connection:
        return {row[0] for row in connection.execute("SELECT sha256 FROM refusal_notices")}


def record_notified(
    journal: Journal, refused: Iterable[tuple[str, str]], when: str | None = None
) -> None:
    """Stewards were told of these refused returns, (sha256, file): not again."""
    stamp = when or now()
    with journal.transaction() as connection:
        connection.executemany(
            "INSERT OR IGNORE INTO refusal_notices VALUES (?, ?, ?)",
            [(sha256, file, stamp) for sha256, file in refused],
        )


@dataclass(frozen=True)
class Supersession:
    sha256: str  # the later return
    superseded: str  # the earlier one
    file: str
    superseded_file: str
    scope: tuple[tuple[str, ...], ...]  # the forces and years (and quarters) it replaced


def record_supersessions(
    journal: Journal, supersessions: Iterable[Supersession], when: str | None = None
) -> None:
    """Which return superseded which, for which forces and years: recorded the first time a
    run sees it (a later run that sees it again records nothing new)."""
    stamp = when or now()
    with journal.transaction() as connection:
        connection.executemany(
            "INSERT OR IGNORE INTO supersessions VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    s.sha256,
                    s.superseded,
                    s.file,
                    s.superseded_file,
                    json.dumps([list(key) for key in s.scope]),
                    stamp,
                )
                for s in supersessions
            ],
        )


def supersessions(journal: Journal) -> list[Supersession]:
    with journal.reading() as connection:
        rows = connection.execute(
            "SELECT sha256, superseded, file, superseded_file, scope FROM supersessions "
            "ORDER BY recorded_at, file, superseded_file"
        ).fetchall()
    return [
        Supersession(
            row[0], row[1], row[2], row[3], tuple(tuple(key) for key in json.loads(row[4]))
        )
        for row in rows
    ]


def count_decisions(journal: Journal) -> int:
    with journal.reading() as connection:
        return int(connection.execute("SELECT count(*) FROM decisions").fetchone()[0])
