"""What a steward reads after a fetch: the new replies, the figures waiting for a decision,
the replies whose force is not known, and each round's replies and overdue forces."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from briefings.journal import Journal
from briefings.journal.mailbox import Candidate, candidates, messages
from briefings.mailbox.fetching import FetchSummary
from briefings.mailbox.rounds import (
    RoundError,
    describe_status,
    read_round,
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
        lines.append("Review with `briefings mailbox review`; confirm or reject each.")
        lines.append("")
    refused = [m for m in messages(journal) if m.force_code is None]
    if refused:
        lines += ["## Replies whose force is not known", ""]
        lines += [f"- {m.folder} from {m.sender}: {m.force_how}" for m in refused]
        lines.append("")
    stored = messages(journal)
    for path in round_files(data_dir):
        try:
            round_ = read_round(path, force_register())
        except RoundError as error:
            lines += [f"- round file not read: {error}", ""]
            continue
        status = round_status(round_, stored, today)
        described = describe_status(round_, status, today)
        lines += [f"## {described[0]}", ""]
        lines += [f"- {line.strip()}" for line in described[1:]]
        lines.append("")
    return "\n".join(lines)
