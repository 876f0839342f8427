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


COUNT_RULE = "a count is a whole number of 0 or more, or a withheld count such as <5"


def read_count(text: str) -> str | None:
    """A corrected count as it is recorded ('0031' is 31, '<5' stays), or None if it is none."""
    text = text.strip()
    if re.fullmatch(r"\d{1,7}", text):
        return str(int(text))
    if is_withheld(text):
        return text
    return None


def check_count(text: str) -> str:
    """A corrected count: a whole number of 0 or more, or a withheld count ('<5')."""
    count = read_count(text)
    if count is None:
        raise MailboxDecisionError(f"--correct {text.strip()!r}: {COUNT_RULE}")
    return count


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


# A reply's figures decided together (the review-reply form in the Prefect UI) ---------------

AS_READ_CHOICE = "Confirm as read"
CORRECT_CHOICE = "Confirm with a correction"
REJECT_CHOICE = "Reject"
CHOICES = (AS_READ_CHOICE, CORRECT_CHOICE, REJECT_CHOICE)


@dataclass(frozen=True)
class FigureAnswer:
    """A steward's answer about one figure: one of CHOICES, and the corrected count as typed
    (only with a correction)."""

    candidate_id: int
    choice: str
    count: str | None = None


def answer_problems(answers: list[FigureAnswer], reason: str) -> list[str]:
    """What stops a reply's answers being recorded, one line each: a correction without a
    count (or with something that is not one), a count given with another choice, corrections
    or rejections without a reason. Pure: the form checks its answer with this."""
    problems = []
    explain = []
    for answer in answers:
        typed = (answer.count or "").strip()
        if answer.choice not in CHOICES:
            problems.append(f"figure {answer.candidate_id}: choose one of {', '.join(CHOICES)}")
        elif answer.choice == CORRECT_CHOICE:
            explain.append(answer.candidate_id)
            if not typed:
                problems.append(
                    f"figure {answer.candidate_id}: a correction needs the corrected count"
                )
            elif read_count(typed) is None:
                problems.append(
                    f"figure {answer.candidate_id}: the corrected count {typed!r} is not a "
                    f"count ({COUNT_RULE})"
                )
        else:
            if answer.choice == REJECT_CHOICE:
                explain.append(answer.candidate_id)
            if typed:
                problems.append(
                    f"figure {answer.candidate_id}: a corrected count ({typed}) is given with "
                    f"'{answer.choice}': choose '{CORRECT_CHOICE}', or clear the count"
                )
    if explain and not " ".join(reason.split()):
        figures = ", ".join(map(str, explain))
        problems.append(f"a reason is needed for the figures corrected or rejected ({figures})")
    return problems


@dataclass(frozen=True)
class ReplyDecisions:
    """What a reply's review recorded, and the figures someone else decided first."""

    outcomes: tuple[ReviewOutcome, ...]
    meanwhile: tuple[Candidate, ...]  # decided meanwhile (from the command line, say)

    def lines(self) -> list[str]:
        said = []
        for outcome in self.outcomes:
            c, d = outcome.candidate, outcome.candidate.decision
            assert d is not None
            if d.action == REJECT:
                said.append(f"figure {c.id} rejected")
            elif d.corrected:
                said.append(f"figure {c.id} corrected from {c.figure.count} to {d.count}")
            else:
                said.append(f"figure {c.id} confirmed as {d.count}")
        lines = []
        if said:
            by = self.outcomes[0].candidate.decision
            assert by is not None
            lines.append(f"{', '.join(said)} by {by.decided_by}")
        for c in self.meanwhile:
            d = c.decision
            assert d is not None
            done = f"confirmed as {d.count}" if d.action == CONFIRM else "rejected"
            lines.append(
                f"figure {c.id} was decided meanwhile ({done} by {d.decided_by}): that decision "
                "stands, this answer is not used"
            )
        if self.outcomes:
            last = self.outcomes[-1]
            if last.written:
                lines.append(f"return written: raw/{last.written}, read by the next ingest")
            elif last.pending:
                lines.append(f"{last.pending} more figures of this reply wait for a decision")
            else:
                lines.append("nothing written: no confirmed online-flagged figure in this reply")
            lines += [f"left out: {why}" for outcome in self.outcomes for why in outcome.left_out]
        return lines


def decide_figures(
    data_dir: Path, answers: list[FigureAnswer], reason: str, decided_by: str
) -> ReplyDecisions:
    """Record a steward's answers about a reply's figures (checked by answer_problems), each
    as `briefings mailbox confirm|reject` would; a figure decided meanwhile keeps that
    decision. Nothing is recorded when the answers cannot all be: confirmed figures for the
    same force, year, code and measure must agree, among themselves and with those confirmed
    before (MailboxDecisionError, one line)."""
    problems = answer_problems(answers, reason)
    if not decided_by.strip():
        problems.append("the name of who decided is needed")
    if problems:
        raise MailboxDecisionError("; ".join(problems))
    journal = Journal.of(data_dir)
    found = {a.candidate_id: candidate(journal, a.candidate_id) for a in answers}
    missing = [str(i) for i, c in found.items() if c is None]
    if missing:
        raise MailboxDecisionError(f"no figure {', '.join(missing)} in the journal")
    waiting = [a for a in answers if (c := found[a.candidate_id]) and c.decision is None]
    meanwhile = tuple(c for c in found.values() if c is not None and c.decision is not None)
    _check_answers_agree(journal, found, waiting)
    outcomes = []
    for answer in waiting:
        if answer.choice == REJECT_CHOICE:
            outcomes.append(reject(data_dir, answer.candidate_id, decided_by, reason))
        elif answer.choice == CORRECT_CHOICE:
            outcomes.append(
                confirm(data_dir, answer.candidate_id, decided_by, answer.count, reason)
            )
        else:
            outcomes.append(confirm(data_dir, answer.candidate_id, decided_by))
    return ReplyDecisions(tuple(outcomes), meanwhile)


def _check_answers_agree(
    journal: Journal, found: dict[int, Candidate | None], waiting: list[FigureAnswer]
) -> None:
    counts: dict[tuple[str, str, str, str], dict[str, list[int]]] = {}
    for answer in waiting:
        c = found[answer.candidate_id]
        assert c is not None
        if answer.choice == REJECT_CHOICE:
            continue
        count = (
            c.figure.count if answer.choice == AS_READ_CHOICE else read_count(answer.count or "")
        )
        assert count is not None
        counts.setdefault(c.figure.key, {}).setdefault(count, []).append(c.id)
        for other in candidates(journal, c.message_id):
            d = other.decision
            if other.figure.key == c.figure.key and d and d.action == CONFIRM and d.count:
                counts[c.figure.key].setdefault(d.count, []).append(other.id)
    problems = []
    for key, given in counts.items():
        if len(given) > 1:
            force_code, year, code, measure = key
            force = force_register().by_code(force_code).name
            what = ", ".join(
                f"{count} (figure {', '.join(map(str, sorted(set(ids))))})"
                for count, ids in given.items()
            )
            problems.append(
                f"{force} {year} {code} {measure.replace('_', '-')} would be confirmed as "
                f"{what}: confirmed figures for the same force, year, code and measure must "
                "agree; correct one or reject it"
            )
    if problems:
        raise MailboxDecisionError("; ".join(problems))
