"""What the pipeline depends on fails: the Prefect server stops mid-run, the SMTP server is too
slow to answer, the disk fills up (a Parquet table, then a PDF). Each run fails in bounded
time with one line saying why, leaves nothing half-written, and the next run finishes the
work: every briefing published once, right, and delivered exactly once."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import resource
import signal
import socket
import time
from pathlib import Path

import pandas as pd

from .running import (
    FAULTS,
    RECOVERED,
    add_correction,
    assert_same_outcome,
    copy_of,
    processes,
    publish,
    small_folder,
    state_of,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("briefings: error:")]


# An SMTP server too slow to answer


class SlowThenFast:
    """An aiosmtpd handler that answers EHLO after `delay` seconds while slow, so the client
    times out before anything is sent; what it accepted, by Message-ID."""

    def __init__(self, delay: float):
        self.delay = delay
        self.slow = True
        self.greetings = 0
        self.accepted: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.greetings += 1
        if self.slow:
            await asyncio.sleep(self.delay)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.accepted.append(str(message["Message-ID"]))
        return "250 2.0.0 OK"


def test_a_slow_smtp_server_times_out_and_the_next_run_delivers_each_message_once(
    clean_run, tmp_path, monkeypatch
):
    from aiosmtpd.controller import Controller

    # Published, and delivered only to the outbox.
    data, out = copy_of(clean_run[0], clean_run[1], tmp_path)
    handler = SlowThenFast(delay=3)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        for name, value in {
            "BRIEFINGS_SMTP_HOST": "127.0.0.1",
            "BRIEFINGS_SMTP_PORT": str(controller.port),
            "BRIEFINGS_SMTP_SECURITY": "none",
            "BRIEFINGS_SMTP_TIMEOUT": "0.5",
            "BRIEFINGS_MAIL_FROM": "Briefings <briefings@example.org>",
            "BRIEFINGS_SEND_RETRY_DELAYS": "0.05",
        }.items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()
        slow = publish(data, out).delivery
        FAULTS["SMTP server too slow"] += 1
        assert time.monotonic() - started < 60
        assert slow.channel == "smtp" and len(slow.messages) == len(clean_run[2].messages)
        assert {m.status for m in slow.messages} == {"undelivered"}
        assert all("timed out" in m.detail for m in slow.messages), slow.messages
        assert handler.accepted == [] and handler.greetings == 2 * len(slow.messages)

        handler.slow = False
        fast = publish(data, out).delivery
    finally:
        controller.stop()
    idents = sorted(m.message_id for m in slow.messages)
    assert sorted(m.message_id for m in fast.messages) == idents  # the same messages
    assert {m.status for m in fast.messages} == {"sent"}
    assert sorted(handler.accepted) == idents  # each accepted exactly once
    smtp = [r for k, r in state_of(data, out).deliveries.items() if k[0] == "smtp"]
    assert {(r["status"], r["attempts"]) for r in smtp} == {("sent", 3)}  # 2 timed out, 1 sent
    RECOVERED["SMTP server too slow"] += 1


# The disk fills up


def no_bigger_than(limit: int | None):
    """preexec_fn: writes past `limit` bytes fail with EFBIG (SIGXFSZ ignored, not fatal)."""

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return limit_writes


def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_finishes(clean_run, tmp_path):
    """A correction arrives. The disk is full when the store is written (no file may grow
    past 4 kB from the start), then when the briefings are (past 20 kB from the first PDF on:
    BRIEFINGS_TEST_FILL_DISK_AT, tests/faults/inject/fault_injection.py). Then there is room."""
    data, out = copy_of(clean_run[0], clean_run[1], tmp_path)
    add_correction(data)
    processed, period_dir = data / "processed", out / "2016-17"
    store_before = {p.name: p.read_bytes() for p in processed.glob("*.*") if p.is_file()}
    before = state_of(data, out)
    with processes(tmp_path / "logs") as started:
        store_full = started.briefings_run(data, out, "store-full", preexec_fn=no_bigger_than(4096))
        assert store_full.wait() == 1, store_full.err()[-3000:]
        FAULTS["disk full writing the store"] += 1
        # The first write is the journal's record of the correction's arrival.
        assert error_lines(store_full.err()) == [
            f"briefings: error: could not write the journal {data / 'state' / 'journal.sqlite'}"
            " (disk I/O error: is the disk full?); nothing was half-recorded, and the next run "
            "with room finishes the work"
        ]
        for name in ("ledger.csv", "online_flag_returns.parquet"):  # unchanged, readable
            assert (processed / name).read_bytes() == store_before[name]
        pd.read_parquet(processed / "online_flag_returns.parquet")
        after_store = state_of(data, out)
        assert after_store.ledger == before.ledger and after_store.temporaries == []
        assert after_store.published == before.published

        pdf_full = started.briefings_run(
            data,
            out,
            "pdf-full",
            preexec_fn=no_bigger_than(None),
            BRIEFINGS_TEST_FILL_DISK_AT="render:20000",
        )
        assert pdf_full.wait() == 1, pdf_full.err()[-3000:]
        FAULTS["disk full writing a PDF"] += 1
    (error,) = error_lines(pdf_full.err())
    assert error.startswith("briefings: error: could not write ") and error.endswith(
        f".pdf in {period_dir}: File too large; files already there are whole, and the next "
        "run with room finishes the work"
    )
    at_failure = state_of(data, out)
    assert at_failure.ledger["wiltshire-corrected.csv"]["status"] == "accepted"
    # The last publication as it was (the PDF rendered before the disk filled up waits,
    # unpublished, in .rendering/); no .part file left.
    assert at_failure.published == before.published
    assert [Path(t).parent.name for t in at_failure.temporaries] == [".rendering"]

    summary = publish(data, out)

    final = state_of(data, out)
    assert final.temporaries == []
    assert {p.name for p in summary.rendered} == set(before.pdfs())  # the national total changed
    manifest = "2016-17/manifest.json"
    wiltshire = next(
        b for b in json.loads(final.published[manifest])["briefings"] if b["pdf"] == "wiltshire.pdf"
    )
    assert wiltshire["figures"]["Wiltshire, 2016/17"] == "50"  # the corrected count
    corrections = [m for m in summary.delivery.messages if m.kind == "correction"]
    assert len(corrections) == len(clean_run[2].messages)
    assert {m.status for m in corrections} == {"sent"}
    assert len(final.messages) == 2 * len(clean_run[2].messages)  # the first round, corrections
    RECOVERED["disk full"] += 1


def test_the_prefect_server_stopping_mid_run_fails_it_clearly_and_the_next_run_finishes(
    tmp_path, clean_run, stoppable_prefect_server
):
    """The server is killed while the run is paused after computing figures. The briefings
    render without it (task states go as events), then the first call that needs an answer
    (an artifact) fails. Prefect retries a lost server's calls with backoff, about a minute
    each with its default 5 retries (so a restart within a minute is survived, and a run
    whose server is gone for good gives up after about 4 minutes): none here, to take
    seconds."""
    server = stoppable_prefect_server  # the session's: killed, then back on its port and database
    server.wait_until_it_answers()
    data, out = small_folder(tmp_path)
    with processes(tmp_path / "logs") as started:
        run = started.briefings_run(
            data,
            out,
            "run",
            PREFECT_API_URL=server.api,
            PREFECT_CLIENT_MAX_RETRIES="0",
            BRIEFINGS_TEST_PAUSE_AT="figures:1",
        )
        run.wait_for("briefings: paused at figures")
        server.stop()
        FAULTS["Prefect server stopped mid-run"] += 1
        stopped = time.monotonic()
        run.wait_for("briefings: error:", timeout=120)
        assert time.monotonic() - stopped < 60
        server.start("server-again")  # while Prefect's event worker gives up, at exit
        assert run.wait(timeout=120) == 1, run.err()[-3000:]
        (error,) = error_lines(run.err())
        assert error.startswith(f"briefings: error: lost the Prefect server ({server.api}): ")
        assert "the next run finishes the work" in error
        failed = state_of(data, out)
        assert failed.temporaries == []
        for name, content in failed.published.items():  # whatever it wrote is whole and right
            assert content == clean_run[2].published[name], name

        server.wait_until_it_answers()
        again = started.briefings_run(data, out, "again", PREFECT_API_URL=server.api)
        assert again.wait() == 0, again.err()[-3000:]
    assert_same_outcome(state_of(data, out), clean_run[2])
    RECOVERED["Prefect server stopped mid-run"] += 1
