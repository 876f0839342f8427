"""A steward's review of the figures read from a reply, in the Prefect UI (the review-reply
flow): the form's checks and the text above it as plain functions; then the flow run against
the test run's Prefect server, paused (not from a deployment) and answered through Prefect's
API from another thread as the UI would, its decisions recorded in the journal, the confirmed
return written, and the next publish using the corrected figure, never the rejected one.

The reply is Wiltshire's Word letter of tests/test_mailbox.py (made by the test)."""

from __future__ import annotations

import json
import mailbox
import threading
import time
import uuid
from pathlib import Path

import pydantic
import pytest

from briefings.journal import Journal
from briefings.journal.mailbox import (
    CONFIRM,
    REJECT,
    Candidate,
    CandidateDecision,
    CandidateFigure,
    StoredMessage,
    candidates,
    messages,
)
from briefings.mailbox.fetching import fetch_replies
from briefings.mailbox.report import reply_review_text
from briefings.mailbox.review import (
    AS_READ_CHOICE,
    CORRECT_CHOICE,
    REJECT_CHOICE,
    FigureAnswer,
    answer_problems,
)
from briefings.mailbox.sources import MaildirSource

from .test_mailbox import WILTSHIRE, wiltshire_reply

STEWARD = "A Steward"
REASON = "The force corrected its letter by phone; 19D is not an online-flag figure"


def _figure(measure: str = "online_flagged", count: str = "30", code: str = "88A"):
    return CandidateFigure(
        WILTSHIRE,
        "2016/17",
        code,
        "Sexual grooming",
        measure,
        count,
        "mailbox/2017-05-03-reply/FOI 2017-789 response.docx",
        "table 1, row 2",
        "Financial year | Offence code | Online flagged / 2016/17 | 88A | 30",
        "read as a long table",
    )


def _candidate(number: int, **figure) -> Candidate:
    return Candidate(number, "reply@wiltshire.police.uk", _figure(**figure), "2017-05-03")


# The form's checks, pure ---------------------------------------------------------------


@pytest.mark.parametrize(
    "answers, reason, problems",
    [
        ([FigureAnswer(1, AS_READ_CHOICE), FigureAnswer(2, AS_READ_CHOICE)], "", []),
        ([FigureAnswer(1, CORRECT_CHOICE, " 031 ")], "Phoned the force", []),
        ([FigureAnswer(1, CORRECT_CHOICE, "<5"), FigureAnswer(2, REJECT_CHOICE)], "Why", []),
        (
            [FigureAnswer(1, CORRECT_CHOICE)],
            "Phoned the force",
            ["figure 1: a correction needs the corrected count"],
        ),
        (
            [FigureAnswer(1, CORRECT_CHOICE, "thirty")],
            "Phoned the force",
            [
                "figure 1: the corrected count 'thirty' is not a count (a count is a whole "
                "number of 0 or more, or a withheld count such as <5)"
            ],
        ),
        (
            [FigureAnswer(1, CORRECT_CHOICE, "31"), FigureAnswer(2, REJECT_CHOICE)],
            "   ",
            ["a reason is needed for the figures corrected or rejected (1, 2)"],
        ),
        (
            [FigureAnswer(1, AS_READ_CHOICE, "31")],
            "",
            [
                "figure 1: a corrected count (31) is given with 'Confirm as read': choose "
                "'Confirm with a correction', or clear the count"
            ],
        ),
    ],
)
def test_a_correction_needs_its_count_and_every_correction_or_rejection_a_reason(
    answers, reason, problems
):
    assert answer_problems(answers, reason) == problems


def test_the_form_asks_each_figure_and_refuses_what_cannot_be_recorded():
    """The schema the server checks an answer against requires a choice for every figure and
    a name; the checks it cannot state are made when the flow reads the answer."""
    from prefect.utilities.schema_tools import ValidationError as SchemaError
    from prefect.utilities.schema_tools import validate

    from flows.mailbox import reply_form

    form = reply_form([_candidate(7), _candidate(8, measure="offences", count="120")])
    schema = form.model_json_schema()
    assert schema["required"] == ["figure_7", "figure_8", "steward"]
    assert schema["properties"]["figure_7"]["enum"] == [
        AS_READ_CHOICE,
        CORRECT_CHOICE,
        REJECT_CHOICE,
    ]
    assert schema["properties"]["figure_7"]["title"] == (
        "Figure 7: Wiltshire 2016/17 88A online-flagged, read as 30"
    )
    assert "table 1, row 2" in schema["properties"]["figure_7"]["description"]
    assert schema["properties"]["figure_8"]["title"].endswith("88A all offences, read as 120")
    with pytest.raises(SchemaError, match="steward"):
        validate({"figure_7": AS_READ_CHOICE, "figure_8": AS_READ_CHOICE}, schema, True)

    answer = form(
        figure_7=CORRECT_CHOICE,
        figure_7_corrected_count="31",
        figure_8=REJECT_CHOICE,
        reason="Phoned",
        steward=STEWARD,
    )
    assert answer.answers() == [
        FigureAnswer(7, CORRECT_CHOICE, "31"),
        FigureAnswer(8, REJECT_CHOICE, None),
    ]
    with pytest.raises(pydantic.ValidationError) as refused:
        form(figure_7=CORRECT_CHOICE, figure_8=REJECT_CHOICE, steward=STEWARD)
    from flows.mailbox import why_not_recorded

    assert why_not_recorded(refused.value) == (
        "figure 7: a correction needs the corrected count; a reason is needed for the figures "
        "corrected or rejected (7, 8)"
    )


def test_the_review_text_shows_the_reply_and_each_figure_beside_its_passage():
    reply = StoredMessage(
        "reply@wiltshire.police.uk",
        "0" * 64,
        "mailbox/2017-05-03-reply",
        ("mailbox/2017-05-03-reply/message.eml", "mailbox/2017-05-03-reply/FOI 2017-789.docx"),
        "foi@wiltshire.police.uk",
        "2017-05-03T08:15:00+00:00",
        "Your request FOI 2017-789",
        "FOI 2017-789",
        WILTSHIRE,
        "sender domain wiltshire.police.uk",
        "maildir:/x",
        "2017-05-03T09:00:00+00:00",
    )
    decided = CandidateDecision(REJECT, None, False, "a draft row", "B Steward", "2017-05-04")
    reviewed = [
        _candidate(7),
        _candidate(8, code="19D", count="withheld"),
        Candidate(9, reply.message_id, _figure(count="14"), "2017-05-03", decided),
    ]
    text = reply_review_text(reply, reviewed, ["FOI 2017-789.docx table 2 not read: no year"])
    lines = text.splitlines()
    assert lines[0] == "## Figures read from a reply by Wiltshire"
    for line in [
        "- **From**: foi@wiltshire.police.uk",
        "- **Sent**: 2017-05-03 08:15 UTC",
        "- **Subject**: Your request FOI 2017-789",
        "- **FOI reference**: FOI 2017-789",
        "- **Force**: Wiltshire (sender domain wiltshire.police.uk)",
        "- **Stored in** `raw/mailbox/2017-05-03-reply/`: `message.eml`, `FOI 2017-789.docx`",
        "- **Not read**: FOI 2017-789.docx table 2 not read: no year",
        "| 7 | 2016/17 | 88A Sexual grooming | online-flagged | 30 | FOI 2017-789 response.docx, "
        "table 1, row 2 | Financial year \\| Offence code \\| Online flagged / 2016/17 \\| 88A "
        "\\| 30 |",
        "| 8 | 2016/17 | 19D Sexual grooming | online-flagged | withheld | FOI 2017-789 "
        "response.docx, table 1, row 2 | Financial year \\| Offence code \\| Online flagged / "
        "2016/17 \\| 88A \\| 30 |",
    ]:
        assert line in lines, line
    assert "| 9 | 2016/17 | 88A Sexual grooming | online-flagged | 14 (already rejected by B " in (
        text
    )
    assert "**Confirm with a correction**" in text and "`raw/mailbox/confirmed/`" in text


# The flow, paused, answered through Prefect's API --------------------------------------------


def _answer_when_paused(tag: str, answers: list[dict], seen: list[str], failures: list) -> None:
    """Answer the run tagged `tag` each time it pauses, as the UI's form would (Resume),
    keeping the description shown above each form."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.flow_runs import resume_flow_run
    from prefect.input.actions import read_flow_run_input

    try:
        keys_answered: set[str] = set()
        deadline = time.monotonic() + 60
        while answers and time.monotonic() < deadline:
            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
                )
            state = runs[0].state if runs else None
            if state is None or not state.is_paused():
                time.sleep(0.2)
                continue
            keyset = state.state_details.run_input_keyset
            if keyset is None or keyset["description"] in keys_answered:
                time.sleep(0.2)
                continue
            keys_answered.add(keyset["description"])
            seen.append(read_flow_run_input(keyset["description"], flow_run_id=runs[0].id))
            answer = answers.pop(0)
            if answer.get("steward") is None:  # the server refuses it: the run stays paused
                with pytest.raises(RuntimeError, match="steward"):
                    resume_flow_run(runs[0].id, run_input=answer)
                answer = answers.pop(0)
            resume_flow_run(runs[0].id, run_input=answer)
    except Exception as error:  # seen by the test, not lost in this thread
        failures.append(error)


@pytest.fixture
def reply_fetched(published_small, tmp_path):
    """The small round as published, and Wiltshire's Word letter fetched into its folder."""
    copy = published_small[0].copy_to(tmp_path)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(wiltshire_reply())
    fetch_replies(copy.data, MaildirSource(tmp_path / "Maildir"))
    return copy


@pytest.mark.from_published
def test_a_steward_confirms_corrects_and_rejects_a_replys_figures_in_the_review_run(
    prefect_api_url, reply_fetched, monkeypatch
):
    from prefect import tags

    from flows.mailbox import review_reply
    from flows.pipeline import RunRequest, publish_briefings

    data = reply_fetched.data
    journal = Journal.of(data)
    [reply] = messages(journal)
    figures = {
        (c.figure.offence_code, c.figure.measure): c.id
        for c in candidates(journal, pending_only=True)
    }
    flagged, offences = figures[("88A", "online_flagged")], figures[("88A", "offences")]
    flagged_19d, offences_19d = figures[("19D", "online_flagged")], figures[("19D", "offences")]
    choices = {
        f"figure_{flagged}": CORRECT_CHOICE,
        f"figure_{offences}": AS_READ_CHOICE,
        f"figure_{flagged_19d}": REJECT_CHOICE,
        f"figure_{offences_19d}": REJECT_CHOICE,
    }
    answers = [
        {**choices, "steward": STEWARD},  # no count for the correction, no reason
        {**choices, "reason": REASON},  # no name: the server refuses it
        {
            **choices,
            f"figure_{flagged}_corrected_count": "31",
            "reason": REASON,
            "steward": STEWARD,
        },
    ]
    monkeypatch.setattr("flows.stewards.PAUSED_POLL_SECONDS", 0.2)  # answered at once here
    tag = f"test-review-reply-{uuid.uuid4().hex[:8]}"
    seen: list[str] = []
    failures: list = []
    steward = threading.Thread(target=_answer_when_paused, args=(tag, answers, seen, failures))
    steward.start()
    with tags(tag):
        state = review_reply(data, reply.message_id, return_state=True)
    steward.join(timeout=60)
    assert not failures, failures
    assert state.is_completed(), state
    assert state.message == (
        f"figure {flagged} corrected from 30 to 31, figure {offences} confirmed as 120, figure "
        f"{flagged_19d} rejected, figure {offences_19d} rejected by {STEWARD}; return written: "
        f"raw/mailbox/confirmed/{Path(reply.folder).name}.csv, read by the next ingest"
    )
    assert len(seen) == 2 and seen[0].startswith("## Figures read from a reply by Wiltshire")
    assert seen[1].startswith(
        "**Your last answer was not recorded**: figure "
        f"{flagged}: a correction needs the corrected count; a reason is needed for the figures "
        f"corrected or rejected ({flagged}, {flagged_19d}, {offences_19d}). Answer again."
    )

    decided = {c.id: c.decision for c in candidates(journal, reply.message_id)}
    assert decided[flagged] == CandidateDecision(
        CONFIRM, "31", True, REASON, STEWARD, decided[flagged].decided_at
    )
    assert (decided[offences].action, decided[offences].count) == (CONFIRM, "120")
    assert decided[offences].reason == "confirmed as read"
    assert {decided[n].action for n in (flagged_19d, offences_19d)} == {REJECT}
    written = data / "raw" / "mailbox" / "confirmed" / f"{Path(reply.folder).name}.csv"
    assert written.read_text().splitlines()[1:] == [
        "force,financial_year,offence_code,offence_description,offences,online_flagged",
        "Wiltshire,2016/17,88A,Sexual grooming,120,31",
    ]

    # Answered again (a second run of the same review): nothing waits, nothing is recorded.
    again = review_reply(data, reply.message_id, [flagged], return_state=True)
    assert again.is_completed() and "decided meanwhile" in again.message

    publication = publish_briefings(
        RunRequest(data_dir=data, out_dir=reply_fetched.out, forces=["Wiltshire"], deliver=False)
    )
    published = json.loads(publication.figures_json.read_text())
    wiltshire = next(f for f in published["forces"] if f["code"] == WILTSHIRE)
    # 31, corrected, replaces the 44 of returns-2017.csv; the rejected 14 (19D) never counts.
    assert (wiltshire["online_flagged"], wiltshire["previous_online_flagged"]) == (31, 10)
    assert written.name in " ".join(wiltshire["sources"])


# From the deployment, as a worker runs it: opened by fetch-replies, suspended, resumed -------


@pytest.fixture(scope="module")
def review_reply_deployment(prefect_api_url):
    """prefect.yaml's review-reply deployment on the test server, as `briefings serve`
    registers it; nothing polls for its runs: the test runs them, as a worker would."""
    from prefect.client.orchestration import get_client

    from briefings.operations import served_deployments, spec_named

    [deployment] = served_deployments([spec_named("review-reply")])
    deployment_id = deployment.apply()
    yield deployment_id
    with get_client(sync_client=True) as client:
        client.delete_deployment(deployment_id)


def test_fetch_replies_opens_one_review_per_reply_which_suspends_until_answered(
    review_reply_deployment, tmp_path, monkeypatch
):
    """fetch-replies opens a review-reply run for the reply whose figures wait (once, however
    often it runs); the run, as a worker runs it, is Suspended until answered; an answer that
    cannot be recorded suspends it again saying why; the next answer is recorded."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.flow_runs import resume_flow_run
    from prefect.input.actions import read_flow_run_input

    from flows.mailbox import fetch_new_replies, reply_tag, review_reply

    from .test_review_ui import run_as_a_worker_would

    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(wiltshire_reply())
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    monkeypatch.setenv("BRIEFINGS_MAILDIR", str(tmp_path / "Maildir"))
    fetch_new_replies(data)
    fetch_new_replies(data)  # nothing new, and the reply's review is open already
    journal = Journal.of(data)
    [reply] = messages(journal)
    waiting = [c.id for c in candidates(journal, pending_only=True)]
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[reply_tag(reply.sha256)]))
        )
    assert run.deployment_id == review_reply_deployment
    assert run.name == f"review reply {Path(reply.folder).name}"
    assert run.parameters == {
        "data_dir": str(data.resolve()),
        "message_id": reply.message_id,
        "figures": waiting,
        "reply": reply.folder,
    }

    def answered(answer: dict):
        with get_client(sync_client=True) as client:
            keyset = client.read_flow_run(run.id).state.state_details.run_input_keyset
        resume_flow_run(run.id, run_input=answer)
        for _ in range(50):  # resumed: the server schedules it to run again
            with get_client(sync_client=True) as client:
                if not client.read_flow_run(run.id).state.is_paused():
                    break
            time.sleep(0.1)
        return keyset, run_as_a_worker_would(run.id, review_reply)

    suspended = run_as_a_worker_would(run.id, review_reply)
    assert suspended.state.name == "Suspended", suspended.state
    everything_rejected = {f"figure_{n}": REJECT_CHOICE for n in waiting}
    keyset, again = answered({**everything_rejected, "steward": STEWARD})  # no reason
    assert again.state.name == "Suspended", again.state
    asked = again.state.state_details.run_input_keyset
    assert asked != keyset
    assert read_flow_run_input(asked["description"], flow_run_id=run.id).startswith(
        "**Your last answer was not recorded**: a reason is needed for the figures corrected "
        f"or rejected ({', '.join(map(str, waiting))})"
    )
    assert candidates(journal, pending_only=True)  # nothing recorded yet
    _, done = answered({**everything_rejected, "reason": "A draft letter", "steward": STEWARD})
    assert done.state.is_completed(), done.state
    assert done.state.message.endswith(
        f"rejected by {STEWARD}; nothing written: no confirmed online-flagged figure in this reply"
    )
    assert not candidates(journal, pending_only=True)
    assert not (data / "raw" / "mailbox" / "confirmed").exists()  # rejected: never a return


@pytest.mark.from_published
def test_round_status_counts_the_accepted_returns_as_replies(published_small, tmp_path):
    """The bundled round over the small round as published: the forces whose returns were
    accepted replied on the day their file was received; the others are overdue."""
    import shutil

    from .helpers import PROJECT_ROOT, briefings

    data = published_small[0].copy_to(tmp_path).data
    shutil.copytree(PROJECT_ROOT / "data" / "rounds", data / "rounds")
    status = briefings("round", "status", "--today", "2017-06-01", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].endswith("as of 2017-06-01: 5 of 43 forces replied, 38 overdue")
    for line in [
        "  Wiltshire: replied 2017-05-08",  # returns-2017.csv
        "  Kent: replied 2017-05-08",
        "  Gwent: replied 2017-05-08",
        "  Cumbria: replied 2017-05-08",
        "  Surrey: replied 2017-05-15 (after the deadline)",  # surrey-foi-response.xlsx
        "  Dorset: OVERDUE by 14 working days",
    ]:
        assert line in lines, line
