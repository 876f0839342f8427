"""A steward's review of the figures read from replies: each candidate is confirmed (as read,
or corrected with a reason) or rejected with a reason, once. When every candidate of a reply
is decided, its confirmed figures become one return in the canonical long layout, written to
raw/mailbox/confirmed/<reply>.csv, which the next ingest reads like any other return. A
rejected figure is never written; a reply with a figure still pending writes nothing yet (a
return is the force's answer for a year: written in parts, a later part would supersede the
earlier).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from briefings.atomic import atomic_write_text, file_sha256
from briefings.ingest.files import MAIL_FOLDER
from briefings.ingest.online_flag import CANONICAL_COLUMNS
from briefings.journal import Journal
from briefings.journal.mailbox import (
    CONFIRM,
    OFFENCES,
    ONLINE_FLAGGED,
    REJECT,
    Candidate,
    MailboxDecisionError,
    candidate,
    candidates,
    messages,
    record_candidate_decision,
    record_written_return,
    written_return,
)
from briefings.mailbox.candidates import is_withheld
from briefings.mailbox.messages import safe_message_id
from briefings.reference import force_register

CONFIRMED_FOLDER = "confirmed"
AS_READ = "confirmed as read"


@dataclass(frozen=True)
class ReviewOutcome:
    candidate: Candidate  # with its decision
    pending: int  # candidates of the same reply still waiting
    written: str | None  # the return written (relative to raw/), when this completed the reply
    left_out: tuple[str, ...]  # confirmed figures that cannot be a return row, and why

    def describe(self) -> str:
        c, d = self.candidate, self.candidate.decision
        assert d is not None
        done = "confirmed" if d.action == CONFIRM else "rejected"
        said = f" as {d.count}" if d.action == CONFIRM else ""
        lines = [
            f"Candidate {c.id} {done}{said} by {d.decided_by}: {d.reason}",
        ]
        if self.written:
            lines.append(f"Return written: raw/{self.written}; the next ingest reads it")
        elif self.pending:
            lines.append(f"{self.pending} more figures of this reply wait for a decision")
        else:
            lines.append("Nothing written: no confirmed online-flagged figure in this reply")
        lines += [f"Left out: {why}" for why in self.left_out]
        return "\n".join(lines)


def check_count(text: str) -> str:
    """A corrected count: a whole number of 0 or more, or a withheld count ('<5')."""
    text = text.strip()
    if re.fullmatch(r"\d{1,7}", text):
        return str(int(text))
    if is_withheld(text):
        return text
    raise MailboxDecisionError(
        f"--correct {text!r}: a count is a whole number of 0 or more, or a withheld count such "
        "as <5"
    )


def confirm(
    data_dir: Path,
    candidate_id: int,
    decided_by: str,
    correct: str | None = None,
    reason: str | None = None,
) -> ReviewOutcome:
    """Confirm a candidate as read, or with the count corrected (a reason is then required)."""
    journal = Journal.of(data_dir)
    found = _candidate(journal, candidate_id)
    count = found.figure.count
    if correct is not None:
        count = check_count(correct)
        if not (reason or "").strip():
            raise MailboxDecisionError("a corrected count needs a reason (--reason TEXT)")
    _check_agrees(journal, found, count)
    record_candidate_decision(
        journal,
        candidate_id,
        CONFIRM,
        reason or AS_READ,
        decided_by,
        count=count,
        corrected=correct is not None and count != found.figure.count,
    )
    return _after(data_dir, journal, candidate_id)


def reject(data_dir: Path, candidate_id: int, decided_by: str, reason: str) -> ReviewOutcome:
    journal = Journal.of(data_dir)
    _candidate(journal, candidate_id)
    record_candidate_decision(journal, candidate_id, REJECT, reason, decided_by)
    return _after(data_dir, journal, candidate_id)


def _candidate(journal: Journal, candidate_id: int) -> Candidate:
    found = candidate(journal, candidate_id)
    if found is None:
        raise MailboxDecisionError(f"no candidate {candidate_id} (see briefings mailbox review)")
    return found


def _check_agrees(journal: Journal, found: Candidate, count: str) -> None:
    """Two passages of one reply giving the same figure must agree once confirmed."""
    for other in candidates(journal, found.message_id):
        if other.id == found.id or other.decision is None or other.decision.action != CONFIRM:
            continue
        if other.figure.key == found.figure.key and other.decision.count != count:
            raise MailboxDecisionError(
                f"candidate {other.id} ({other.figure.location} of {other.figure.source_file}) was "
                f"confirmed as {other.decision.count} for the same force, year, code and "
                f"measure: confirm this one as {other.decision.count} (--correct) or reject it"
            )


def _after(data_dir: Path, journal: Journal, candidate_id: int) -> ReviewOutcome:
    decided = _candidate(journal, candidate_id)
    siblings = candidates(journal, decided.message_id)
    pending = sum(1 for c in siblings if c.decision is None)
    written: str | None = None
    left_out: tuple[str, ...] = ()
    if not pending and written_return(journal, decided.message_id) is None:
        written, left_out = write_confirmed_return(data_dir, journal, decided.message_id, siblings)
    return ReviewOutcome(decided, pending, written, left_out)


def confirmed_rows(siblings: list[Candidate]) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """A reply's confirmed figures as rows of the canonical long layout (one per force, year
    and offence), and the figures that cannot be a row: a count of all offences with no
    online-flagged count beside it (the briefings count online-flagged offences)."""
    names = {force.code: force.name for force in force_register().forces}
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    sources: dict[tuple[str, str, str], list[int]] = {}
    for c in siblings:
        if c.decision is None or c.decision.action != CONFIRM or c.decision.count is None:
            continue
        figure = c.figure
        key = (figure.force_code, figure.financial_year, figure.offence_code)
        row = rows.setdefault(
            key,
            {
                "force": names.get(figure.force_code, figure.force_code),
                "financial_year": figure.financial_year,
                "offence_code": figure.offence_code,
                "offence_description": figure.offence_description,
                OFFENCES: "",
                ONLINE_FLAGGED: "",
            },
        )
        row[figure.measure] = c.decision.count
        sources.setdefault(key, []).append(c.id)
    left_out = []
    kept = []
    for key, row in rows.items():
        if not row[ONLINE_FLAGGED]:
            ids = ", ".join(map(str, sources[key]))
            left_out.append(
                f"candidate {ids} ({row['force']}, {row['financial_year']}, {row['offence_code']}"
                f"): a count of all offences with no online-flagged count, not a return row"
            )
            continue
        kept.append(row)
    return kept, tuple(left_out)


def write_confirmed_return(
    data_dir: Path, journal: Journal, message_id: str, siblings: list[Candidate]
) -> tuple[str | None, tuple[str, ...]]:
    rows, left_out = confirmed_rows(siblings)
    if not rows:
        return None, left_out
    stored = next(m for m in messages(journal) if m.message_id == message_id)
    confirmed = [c for c in siblings if c.decision and c.decision.action == CONFIRM]
    by = sorted({c.decision.decided_by for c in confirmed if c.decision})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            f"Figures confirmed by {', '.join(by)} from the reply {message_id} "
            f"(raw/{stored.folder}), candidates {', '.join(str(c.id) for c in confirmed)}"
        ]
    )
    writer.writerow(CANONICAL_COLUMNS)
    for row in sorted(rows, key=lambda r: (r["force"], r["financial_year"], r["offence_code"])):
        writer.writerow([row[column] for column in CANONICAL_COLUMNS])
    name = Path(stored.folder).name or safe_message_id(message_id)
    relative = f"{MAIL_FOLDER}/{CONFIRMED_FOLDER}/{name}.csv"
    target = data_dir / "raw" / relative
    atomic_write_text(target, buffer.getvalue())
    record_written_return(journal, message_id, relative, file_sha256(target))
    return relative, left_out
