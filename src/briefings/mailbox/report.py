"""What a steward reads after a fetch: the new replies, the figures waiting for a decision,
the replies whose force is not known, and each round's replies and overdue forces."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from briefings.journal import Journal
from briefings.journal.mailbox import CONFIRM, Candidate, StoredMessage, candidates, messages
from briefings.mailbox.fetching import FetchSummary
from briefings.mailbox.rounds import (
    RoundError,
    describe_status,
    read_round,
    returns_received,
    round_files,
    round_status,
)
from briefings.reference import force_register


def describe_candidate(c: Candidate) -> list[str]:
    """A pending candidate as the steward reviews it: the figure, then its passage."""
    figure = c.figure
    what = "online-flagged" if figure.measure == "online_flagged" else "all offences"
    force = force_register().by_code(figure.force_code).name
    return [
        f"[{c.id}] {force} {figure.financial_year} {figure.offence_code} {what}: {figure.count}",
        f'     from {figure.source_file}, {figure.location}: "{figure.passage}"',
        f"     read: {figure.reading}",
    ]


MEASURES = {"online_flagged": "online-flagged", "offences": "all offences"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def markdown_cell(text: str) -> str:
    """Text as written, on one line of a Markdown table: nothing in it read as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def figure_title(c: Candidate) -> str:
    """One line naming a figure as read: 'Figure 12: Wiltshire 2016/17 88A online-flagged,
    read as 30'."""
    f = c.figure
    force = force_register().by_code(f.force_code).name
    return (
        f"Figure {c.id}: {force} {f.financial_year} {f.offence_code} {MEASURES[f.measure]}, "
        f"read as {f.count}"
    )


def reply_review_text(reply: StoredMessage, reviewed: list[Candidate], notes: list[str]) -> str:
    """What a steward reads above the review form of a reply: the reply, then each figure as
    read beside the passage or table cell it came from, and what each answer does."""
    force = force_register().by_code(reply.force_code).name if reply.force_code else "not known"
    sent = f"{reply.sent_at[:16].replace('T', ' ')} UTC" if reply.sent_at else "no date given"
    files = ", ".join(f"`{Path(name).name}`" for name in reply.files)
    lines = [
        f"## Figures read from a reply by {force}",
        "",
        f"- **From**: {markdown_cell(reply.sender)}",
        f"- **Sent**: {sent}",
        f"- **Subject**: {markdown_cell(reply.subject)}",
        f"- **FOI reference**: {markdown_cell(reply.foi_reference or 'none found')}",
        f"- **Force**: {force} ({markdown_cell(reply.force_how)})",
        f"- **Stored in** `raw/{reply.folder}/`: {files}",
    ]
    lines += [f"- **Not read**: {markdown_cell(note)}" for note in notes if " not read" in note]
    lines += [
        "",
        "| figure | year | offence | measure | as read | from | passage as written |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in reviewed:
        f = c.figure
        offence = f"{f.offence_code} {f.offence_description}".strip()
        where = f"{Path(f.source_file).name}, {f.location}"
        count = f.count
        if c.decision is not None:
            done = "confirmed" if c.decision.action == CONFIRM else "rejected"
            count += f" (already {done} by {c.decision.decided_by})"
        lines.append(
            f"| {c.id} | {f.financial_year} | {markdown_cell(offence)} | {MEASURES[f.measure]} "
            f"| {markdown_cell(count)} | {markdown_cell(where)} | {markdown_cell(f.passage)} |"
        )
    lines += [
        "",
        "For each figure: **Confirm as read** when the passage gives that figure; **Confirm "
        "with a correction** when the letter gives another count (type it: a whole number, "
        "or a withheld count such as <5); **Reject** when it is not a figure of the return (a "
        "draft row, a figure for another question). Corrections and rejections need a reason "
        "(one line, kept in the journal with each of them); every answer needs your name.",
        "",
        "Each figure is decided once. When every figure of this reply is decided, the "
        "confirmed ones are written as one return to `raw/mailbox/confirmed/`, which the next "
        "ingest reads; a rejected figure never counts.",
    ]
    return "\n".join(lines)


def steward_summary(data_dir: Path, fetched: FetchSummary | None, today: date) -> str:
    """Markdown for the mailbox flow's artifact."""
    journal = Journal.of(data_dir)
    lines = ["# Mailbox", ""]
    if fetched is not None:
        lines += [fetched.describe(), ""]
        if fetched.stored:
            lines += [
                "| reply | sender | FOI reference | force | figures to review |",
                "|---|---|---|---|---|",
            ]
            for reply in fetched.stored:
                force = reply.force or f"not known: {reply.how}"
                lines.append(
                    f"| {reply.folder} | {reply.sender} | {reply.foi_reference or ''} | "
                    f"{force} | {reply.candidates} |"
                )
            lines.append("")
    pending = candidates(journal, pending_only=True)
    lines.append(f"## Figures waiting for a steward: {len(pending)}")
    lines.append("")
    if pending:
        lines.append(
            "Confirm, correct or reject each in its reply's review run in the Prefect UI "
            "(`review reply ...`, Resume), or with `briefings mailbox review`, then "
            "`briefings mailbox confirm|reject`."
        )
        lines.append("")
    refused = [m for m in messages(journal) if m.force_code is None]
    if refused:
        lines += ["## Replies whose force is not known", ""]
        lines += [f"- {m.folder} from {m.sender}: {m.force_how}" for m in refused]
        lines.append("")
    stored = messages(journal)
    returns = returns_received(data_dir) or []
    for path in round_files(data_dir):
        try:
            round_ = read_round(path, force_register())
        except RoundError as error:
            lines += [f"- round file not read: {error}", ""]
            continue
        status = round_status(round_, stored, today, returns)
        described = describe_status(round_, status, today)
        lines += [f"## {described[0]}", ""]
        lines += [f"- {line.strip()}" for line in described[1:]]
        lines.append("")
    return "\n".join(lines)
