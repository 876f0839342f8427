"""The mailbox's flows.

- fetch-replies: new FOI replies from the mailbox into raw/mailbox/, and a summary for the
  stewards (what arrived, the figures waiting for them, each round's overdue forces); then a
  review-reply run for each reply whose figures wait and that has no open review.
- review-reply: one run per reply with figures waiting for a steward. It suspends (or, outside
  a deployment, pauses) until a steward answers its form in the UI (Resume): each figure as
  read beside the passage or table cell it came from, confirmed as read, confirmed with a
  correction, or rejected; one reason for the corrections and rejections, and a name. The
  decisions are recorded as `briefings mailbox confirm|reject` records them: once every
  figure of the reply is decided, its confirmed figures are written as a return to
  raw/mailbox/confirmed/ for the next ingest.

Thin shells over briefings.mailbox (fetching, review, report).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

import pydantic
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.input import RunInput
from prefect.states import Completed, Failed, State

from briefings.config import get_settings
from briefings.journal import Journal
from briefings.journal.mailbox import (
    Candidate,
    MailboxDecisionError,
    candidates,
    message_notes,
    messages,
)
from briefings.mailbox.fetching import FetchSummary, fetch_replies
from briefings.mailbox.report import figure_title, reply_review_text, steward_summary
from briefings.mailbox.review import (
    CHOICES,
    CORRECT_CHOICE,
    FigureAnswer,
    answer_problems,
    decide_figures,
)
from briefings.mailbox.sources import MailboxError, configured_source
from briefings.resources import DEFAULT_DATA_DIR
from flows.stewards import ReviewRun, ask, open_review_runs

REPLY_REVIEW_FLOW = "review-reply"
REPLY_REVIEW_DEPLOYMENT = f"{REPLY_REVIEW_FLOW}/{REPLY_REVIEW_FLOW}"
# An answer that cannot be recorded (a correction without its count, say) is asked for again,
# saying why, this many times in all.
MOST_ANSWERS = 5


def load_mailbox_secret(name: str) -> str:
    """The mailbox password from a Prefect Secret block (BRIEFINGS_IMAP_PASSWORD_BLOCK)."""
    from prefect.blocks.system import Secret

    try:
        # Outside an event loop the block loads synchronously: a Secret, not a coroutine.
        return str(cast(Secret, Secret.load(name)).get())
    except ValueError as error:
        raise MailboxError(f"BRIEFINGS_IMAP_PASSWORD_BLOCK: no Secret block '{name}'") from error


@flow(name="fetch-replies")
def fetch_new_replies(data_dir: Path = DEFAULT_DATA_DIR) -> FetchSummary | None:
    """Fetch new replies (with no mailbox set, say so and fetch nothing); then open a review
    of each reply whose figures wait for a steward."""
    logger = get_run_logger()
    settings = get_settings()
    summary = None
    if settings.imap_host is None and settings.maildir is None:
        logger.info("No mailbox set (BRIEFINGS_IMAP_HOST or BRIEFINGS_MAILDIR): nothing fetched")
    else:
        source = configured_source(Journal.of(data_dir), None, load_mailbox_secret)
        summary = fetch_replies(data_dir, source)
        logger.info(summary.describe())
        create_markdown_artifact(
            key="mailbox-summary", markdown=steward_summary(data_dir, summary, date.today())
        )
    open_reply_reviews(data_dir)
    return summary


def reply_tag(sha256: str) -> str:
    """The tag of the review runs of one reply (by the message's bytes)."""
    return f"reply-{sha256[:16]}"


def open_reply_reviews(data_dir: Path) -> list[str]:
    """A review-reply run for each reply whose figures wait for a steward and that has none
    open, if the review-reply deployment is on this server (`make deploy` or `briefings
    serve`); else the stewards decide from the command line. Never stops the calling run.
    Returns the ids of the runs opened."""
    journal = Journal.of(data_dir)
    waiting: dict[str, list[int]] = {}
    for c in candidates(journal, pending_only=True):
        waiting.setdefault(c.message_id, []).append(c.id)
    reviews = [
        ReviewRun(
            tag=reply_tag(reply.sha256),
            parameters={
                "data_dir": str(Path(data_dir).resolve()),
                "message_id": reply.message_id,
                "figures": waiting[reply.message_id],
                "reply": reply.folder,
            },
            name=f"review reply {Path(reply.folder).name}",
            what=f"the reply raw/{reply.folder}",
        )
        for reply in messages(journal)
        if reply.message_id in waiting
    ]
    return open_review_runs(
        REPLY_REVIEW_DEPLOYMENT,
        reviews,
        about="the replies",
        without="`briefings mailbox review`, then `briefings mailbox confirm|reject`",
    )


class ReplyReview(RunInput):
    """The answers about a reply's figures; the checks its schema cannot state (a correction
    has its count, corrections and rejections a reason) are made when it is read."""

    @pydantic.model_validator(mode="after")
    def _answers_can_be_recorded(self) -> ReplyReview:
        problems = answer_problems(self.answers(), str(getattr(self, "reason", "") or ""))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def answers(self) -> list[FigureAnswer]:
        values = self.model_dump()
        return [
            FigureAnswer(n, values[choice_field(n)], values[count_field(n)])
            for n in figures_of(type(self))
        ]


def choice_field(candidate_id: int) -> str:
    return f"figure_{candidate_id}"


def count_field(candidate_id: int) -> str:
    return f"figure_{candidate_id}_corrected_count"


def figures_of(form: type[pydantic.BaseModel]) -> list[int]:
    """The figures a reply's form asks about, in its order."""
    return [int(m[1]) for name in form.model_fields if (m := re.fullmatch(r"figure_(\d+)", name))]


def reply_form(reviewed: list[Candidate]) -> type[ReplyReview]:
    """The form a steward answers in the Prefect UI: for each figure a choice (confirm as
    read, confirm with a correction, reject) and the corrected count; then one reason, for
    the corrections and rejections, and a name. Its fields depend only on the figures asked
    about, so a suspended run, run again once answered, reads the answer with the same form."""
    fields: dict[str, Any] = {}
    for c in reviewed:
        f = c.figure
        fields[choice_field(c.id)] = (
            Literal[CHOICES],  # type: ignore[valid-type]
            pydantic.Field(
                title=figure_title(c),
                description=f'{Path(f.source_file).name}, {f.location}: "{f.passage}" '
                f"(read: {f.reading})",
                json_schema_extra={"position": len(fields)},
            ),
        )
        fields[count_field(c.id)] = (
            str | None,
            pydantic.Field(
                default=None,
                title=f"Figure {c.id}: corrected count",
                description=f"Only with '{CORRECT_CHOICE}': the count the force gives (a whole "
                "number, or a withheld count such as <5)",
                json_schema_extra={"position": len(fields)},
            ),
        )
    fields["reason"] = (
        str,
        pydantic.Field(
            default="",
            title="Reason",
            description="Why figures are corrected or rejected (required then): one line, kept "
            "in the journal with each correction and rejection",
            json_schema_extra={"position": len(fields)},
        ),
    )
    fields["steward"] = (
        str,
        pydantic.Field(
            min_length=1, title="Your name", json_schema_extra={"position": len(fields) + 1}
        ),
    )
    form: type[ReplyReview] = pydantic.create_model(  # type: ignore[call-overload]
        "ReplyReview", __base__=ReplyReview, **fields
    )
    return form


def why_not_recorded(error: pydantic.ValidationError) -> str:
    """An answer's problems in a steward's words (pydantic's prefix and field paths gone)."""
    said = []
    for detail in error.errors(include_url=False):
        message = str(detail["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in detail["loc"])
        said.append(f"{where}: {message}" if where else message)
    return "; ".join(said)


@flow(name=REPLY_REVIEW_FLOW)
def review_reply(
    data_dir: Path, message_id: str, figures: list[int] | None = None, reply: str = ""
) -> str | State:
    """Wait for a steward's decisions about the figures read from one reply (`figures`: their
    numbers, by default those waiting when the run starts; `reply` is where the reply is
    stored, for people), then record them in the journal."""
    logger = get_run_logger()
    journal = Journal.of(data_dir)
    stored = next((m for m in messages(journal) if m.message_id == message_id), None)
    if stored is None:
        return Failed(message=f"no reply {message_id} in the journal of {data_dir}")
    of_reply = {c.id: c for c in candidates(journal, message_id)}
    if figures is None:
        figures = [c.id for c in of_reply.values() if c.decision is None]
    unknown = [str(n) for n in figures if n not in of_reply]
    if unknown:
        return Failed(message=f"raw/{stored.folder} has no figure {', '.join(unknown)}")
    reviewed = [of_reply[n] for n in figures]
    if all(c.decision is not None for c in reviewed):
        return Completed(
            message=f"no figure of raw/{stored.folder} waits for a decision now (decided "
            "meanwhile, from the command line say): those decisions stand"
        )
    form = reply_form(reviewed)
    notes = message_notes(journal, message_id)
    problem = ""
    for answered in range(1, MOST_ANSWERS + 1):
        text = reply_review_text(stored, reviewed, notes)
        if problem:
            text = f"**Your last answer was not recorded**: {problem}. Answer again.\n\n{text}"
        try:
            answer = ask(
                form.with_initial_data(description=text),
                key=f"{reply_tag(stored.sha256)}-{answered}",
            )
        except pydantic.ValidationError as error:
            problem = why_not_recorded(error)
            logger.warning("Answer not recorded: %s", problem)
            continue
        try:
            decided = decide_figures(data_dir, answer.answers(), answer.reason, answer.steward)
        except MailboxDecisionError as error:
            problem = str(error)
            logger.warning("Answer not recorded: %s", problem)
            continue
        said = "; ".join(decided.lines())
        logger.info("Recorded: %s", said)
        return Completed(message=said)
    return Failed(message=f"no answer could be recorded in {MOST_ANSWERS} tries: {problem}")
