"""What each subscriber was sent lives in the data folder's journal, and deliveries compare it
with what is current: a correction undone is a correction too, rebuilding processed/ sends
nothing, a second run waits for the first run's delivery, and a relay that goes quiet after
it was given a message does not get it again.

Whole runs go through the services in this process (no Prefect) to the outbox, or to real
SMTP servers on loopback (aiosmtpd) that pause or answer late.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from briefings import services
from briefings.delivery import DeliveryLedger, DeliverySettings, load_manifest, load_subscriptions
from briefings.delivery.compose import compose_message
from briefings.delivery.plan import SENT, LedgerRecord, plan_deliveries
from briefings.journal import journal_path

from .helpers import TEST_DATA, briefings, copy_data_folder, pdf_text
from .test_delivery import (
    COUNTS,
    SENDER,
    Recorder,
    attachments,
    body_text,
    free_port,
    publish,
)

HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
WILTSHIRE_SUBSCRIBERS = {"southwest.press@example.org", "wiltshire.campaigns@example.org"}


def wiltshire_return(flagged_22b: int, flagged_88a: int) -> str:
    """Wiltshire's return with its 2016/17 counts as given (they were 30 and 14: 44)."""
    return (
        HEADER
        + "Wiltshire,2015/16,22B,Sexual activity involving child under 16,158,6\n"
        + "Wiltshire,2015/16,88A,Sexual grooming,40,4\n"
        + f"Wiltshire,2016/17,22B,Sexual activity involving child under 16,170,{flagged_22b}\n"
        + f"Wiltshire,2016/17,88A,Sexual grooming,52,{flagged_88a}\n"
    )


@pytest.fixture(autouse=True)
def no_delivery_environment(monkeypatch):
    """Tests say exactly which settings they use; nothing leaks in from the shell."""
    for name in list(os.environ):
        if name.startswith("BRIEFINGS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """tests/data/small without its bad return: a clean round, no steward notices."""
    folder = copy_data_folder(TEST_DATA / "small", tmp_path / "data")
    (folder / "raw" / "dorset-return-with-errors.csv").unlink()
    return folder


def run(data: Path, tmp_path: Path, **options) -> services.RunSummary:
    """`briefings run` through the services in this process; briefings in tmp_path/out,
    messages in tmp_path/outbox (no SMTP configured) or to SMTP as the environment says."""
    return services.publish(services.RunRequest(data_dir=data, out_dir=tmp_path / "out", **options))


def outbox(tmp_path: Path) -> dict[Path, object]:
    return {
        path: message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((tmp_path / "outbox").rglob("*.eml"))
    }


def to(message) -> str:
    return message["To"].addresses[0].addr_spec


# A correction undone


def test_a_correction_undone_is_sent_as_a_correction_back_to_the_earlier_figures(data, tmp_path):
    first = run(data, tmp_path)
    assert len(first.delivery.sent) == 4
    original = load_manifest(first.period_dir).briefing("wiltshire.pdf").figures

    time.sleep(1.1)  # received after the original, to the second
    (data / "raw" / "wiltshire-correction.csv").write_text(wiltshire_return(100, 50))
    corrected = run(data, tmp_path)
    assert {m.email for m in corrected.delivery.corrections} >= WILTSHIRE_SUBSCRIBERS
    sent_so_far = set(outbox(tmp_path))

    (data / "raw" / "wiltshire-correction.csv").unlink()
    undone = run(data, tmp_path)
    undone_pdf = undone.period_dir / "wiltshire.pdf"
    assert load_manifest(undone.period_dir).briefing("wiltshire.pdf").figures == original  # 44
    text = pdf_text(undone_pdf)  # again, as a third edition correcting the second
    assert "Edition 3 of" in text and "Wiltshire, 2016/17: 44 (edition 2 said 150)" in text

    new = {path: m for path, m in outbox(tmp_path).items() if path not in sent_so_far}
    recipients = {to(m) for m in new.values()}
    assert recipients >= WILTSHIRE_SUBSCRIBERS  # told, not left with 150
    assert len(new) == len(undone.delivery.sent) == len(undone.delivery.corrections)
    for message in new.values():
        assert message["Subject"].startswith("Correction: ")
        assert message["X-Briefings-Kind"] == "correction"
    team = next(m for m in new.values() if to(m) == "wiltshire.campaigns@example.org")
    assert "Wiltshire, 2016/17: 44 (was 150)" in body_text(team)
    assert attachments(team) == {"wiltshire.pdf": undone_pdf.read_bytes()}
    # A message of its own, not the first one's Message-ID (which a relay would drop).
    first_ids = {m["Message-ID"] for p, m in outbox(tmp_path).items() if p in sent_so_far}
    assert not {m["Message-ID"] for m in new.values()} & first_ids

    assert run(data, tmp_path).delivery.messages == ()  # and once only


def test_undoing_a_correction_is_planned_against_the_version_last_sent(tmp_path):
    """Pure planning: the last version sent decides, not whether a version was ever sent."""
    subscriptions_file = tmp_path / "subscriptions.yaml"
    subscriptions_file.write_text(
        "subscribers:\n  - name: Wiltshire campaigns\n    email: wiltshire@example.org\n"
        "    scope: {forces: [Wiltshire]}\n    briefings: [force]\n"
    )
    subscriptions = load_subscriptions(subscriptions_file)
    out = tmp_path / "out"
    versions = {}
    for count in (44, 150):
        publication = load_manifest(publish(out, {**COUNTS, "Wiltshire": (count, 10)}))
        versions[count] = publication

    def sent(count: int) -> LedgerRecord:
        briefing = versions[count].briefing("wiltshire.pdf")
        return LedgerRecord(
            "wiltshire@example.org",
            "wiltshire.pdf",
            briefing.content_hash,
            SENT,
            briefing.figures,
            1,
            sent_at="2017-06-01T00:00:00+00:00",
        )

    publication = load_manifest(publish(out, COUNTS))  # back to 44
    first = plan_deliveries(publication, subscriptions, [])
    assert plan_deliveries(publication, subscriptions, [sent(44)]).messages == ()
    [undo] = plan_deliveries(publication, subscriptions, [sent(44), sent(150)]).messages
    assert undo.kind == "correction"
    assert [c.describe() for c in undo.items[0].changes][0] == "Wiltshire, 2016/17: 44 (was 150)"

    def ident(planned) -> str:
        return compose_message(planned, publication, SENDER, 10_000_000).message_id

    assert ident(undo) != ident(first.messages[0])  # a different message, a different ID
    [again] = plan_deliveries(publication, subscriptions, [sent(44), sent(150)]).messages
    assert ident(again) == ident(undo)  # the same message, the same ID


# Deleting processed/


def test_deleting_processed_then_running_sends_nothing(data, tmp_path):
    first = run(data, tmp_path)
    assert len(first.delivery.sent) == 4
    stamps = {path: path.stat().st_mtime_ns for path in outbox(tmp_path)}

    shutil.rmtree(data / "processed")  # documented as rebuildable
    again = run(data, tmp_path)

    assert again.delivery.messages == ()
    assert len(again.delivery.already_delivered) == len(first.delivery.already_delivered) + sum(
        len(m.pdfs) for m in first.delivery.sent
    )
    assert {path: path.stat().st_mtime_ns for path in outbox(tmp_path)} == stamps
    assert journal_path(data).exists() and not (data / "processed" / "deliveries.sqlite").exists()


# Two runs at once


class PausingRelay(Recorder):
    """Accepts messages, but holds its reply to the first one until `go` is set."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()
        self.go = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        deadline = time.monotonic() + 120
        while not self.go.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay():
    """start(handler) -> port of an aiosmtpd server on loopback, stopped afterwards."""
    controllers = []

    def start(handler) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


def use_smtp(monkeypatch, port: int, timeout: float) -> None:
    for name, value in {
        "BRIEFINGS_SMTP_HOST": "127.0.0.1",
        "BRIEFINGS_SMTP_PORT": str(port),
        "BRIEFINGS_SMTP_SECURITY": "none",
        "BRIEFINGS_MAIL_FROM": SENDER,
        "BRIEFINGS_SMTP_TIMEOUT": str(timeout),
        "BRIEFINGS_SEND_RETRY_DELAYS": "0.05,0.05",
    }.items():
        monkeypatch.setenv(name, value)


def test_a_second_run_during_delivery_is_told_the_store_is_busy(
    prefect_api_url, data, tmp_path, relay, monkeypatch
):
    handler = PausingRelay()
    use_smtp(monkeypatch, relay(handler), timeout=120)
    outcome: dict[str, object] = {}

    def first_run() -> None:
        try:
            outcome["summary"] = run(data, tmp_path)
        except BaseException as error:  # raised again below, in the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=first_run)
    worker.start()
    try:
        assert handler.arrived.wait(180), "the first run never reached the relay"
        (data / "raw" / "wiltshire-correction.csv").write_text(wiltshire_return(100, 50))
        second = briefings(
            "run", "--data-dir", str(data), "--out-dir", str(tmp_path / "out"), "--no-deliver"
        )
    finally:
        handler.go.set()
        worker.join(300)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]

    assert second.returncode == 3, second.stderr
    assert second.stderr.strip() == (
        f"briefings: error: another run is updating {data / 'processed'}; "
        "try again when it has finished"
    )
    summary = outcome["summary"]
    assert len(summary.delivery.sent) == 4
    # Every message carries the bytes of the versions its journal rows record.
    recorded = {
        (row["message_id"], row["pdf"]): row["content_hash"]
        for row in DeliveryLedger(journal_path(data)).attempts()
        if row["status"] == SENT
    }
    for _, _, content, _, _ in handler.accepted:
        message = message_from_bytes(content, policy=policy.default)
        for name, data_bytes in attachments(message).items():
            digest = hashlib.sha256(data_bytes).hexdigest()
            assert recorded[(message["Message-ID"], name)] == digest, name


# A relay that answers late


class LateRelay(Recorder):
    """Takes each message, then answers after the client has stopped waiting; stewards'
    notices are answered at once."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if not any(rcpt.startswith("stewards@") for rcpt in envelope.rcpt_tos):
            await asyncio.sleep(self.delay)
        return reply


def test_a_relay_answering_after_the_timeout_gets_each_message_once_and_stewards_are_told(
    prefect_api_url, tmp_path, relay, monkeypatch
):
    from .test_delivery import FIRST_RUN, SUBSCRIPTIONS, deliver

    period_dir = publish(tmp_path / "out")
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS)
    journal = journal_path(tmp_path / "data")
    handler = LateRelay(delay=2.5)
    use_smtp(monkeypatch, relay(handler), timeout=1)
    settings = DeliverySettings.from_env(outbox_dir=tmp_path / "outbox")
    assert settings.smtp.timeout == 1

    summary = deliver(period_dir, subscriptions, journal, settings)

    received = handler.messages()
    assert {rcpt: len(received[rcpt]) for rcpt in FIRST_RUN} == dict.fromkeys(FIRST_RUN, 1)
    assert len(summary.unknown) == 5 and not summary.sent and not summary.undelivered
    rows = DeliveryLedger(journal).rows()
    assert {(r["status"], r["attempts"]) for r in rows} == {("unknown", 1)}
    ids = {m["Message-ID"] for rcpt in FIRST_RUN for m in received[rcpt]}
    assert {r["message_id"] for r in rows} == ids and all(ids)

    [notice] = received["stewards@example.org"]
    assert "5 messages for 2016/17 may not have been delivered" in notice["Subject"]
    text = body_text(notice)
    for rcpt, pdfs in FIRST_RUN.items():
        ident = next(m["Message-ID"] for m in received[rcpt])
        assert f"<{rcpt}>: {', '.join(pdfs)} (Message-ID {ident})" in text

    accepted = len(handler.accepted)
    again = deliver(period_dir, subscriptions, journal, settings)
    assert again.messages == () and len(handler.accepted) == accepted  # nothing, not even a notice
    assert len(again.held) == sum(len(pdfs) for pdfs in FIRST_RUN.values())
    assert "held" in again.describe()


def test_a_message_of_unknown_outcome_leaves_the_publish_run_needing_attention():
    """A message that may or may not have reached its subscriber waits for a steward: the
    run that sent it ends NeedsAttention (exit 4 from `briefings run`), like a refused
    return that nothing covers."""
    from flows.pipeline import finished

    assert finished("summary", [], 0) == "summary"
    state = finished("summary", [], 2)
    assert state.name == "NeedsAttention" and state.is_failed()  # never shown as a success
    assert "2 messages whose delivery is unknown" in (state.message or "")


@pytest.mark.from_published
def test_deliver_puts_the_outbox_beside_the_briefings_as_run_does(published_small, tmp_path):
    """One rule for where messages go without SMTP: `deliver` and `run` both use the outbox
    beside --out-dir (reports/out -> reports/outbox), and the comms teams' subscriptions."""
    copy = published_small[0].copy_to(tmp_path)
    result = briefings(
        "deliver", "--dry-run", "--data-dir", str(copy.data), "--out-dir", str(copy.out)
    )
    assert result.returncode == 0, result.stderr
    assert f"via outbox {copy.outbox}" in " ".join(result.stdout.split())


def test_a_delivery_run_with_a_message_undelivered_is_never_shown_as_a_success(
    monkeypatch, tmp_path
):
    """deliver-briefings ends NeedsAttention as a Failed state (red in the UI), like the
    publish run; calling the flow still gives its summary."""
    import flows.delivery
    from briefings.delivery.plan import DeliverySummary, MessageOutcome

    lost = MessageOutcome(
        "Wiltshire comms", "comms@example.org", ("wiltshire.pdf",), "new", "undelivered"
    )
    summary = DeliverySummary("2016/17", "smtp", "127.0.0.1:1", False, messages=(lost,))
    monkeypatch.setattr(flows.delivery, "deliver_publication", lambda *args: summary)
    state = flows.delivery.deliver_briefings(tmp_path, return_state=True)
    assert state.name == "NeedsAttention" and state.is_failed()
    assert state.message == "1 message undelivered; the next run retries"
    assert flows.delivery.deliver_briefings(tmp_path) == summary
