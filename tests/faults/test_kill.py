"""Kill it anywhere: a run SIGKILLed at each step (BRIEFINGS_TEST_KILL_AT, see
tests/faults/inject/fault_injection.py), then run again, ends exactly as a run that was never
killed: the same ledger, processed tables, PDFs (byte for byte), manifest and figures, and
every message delivered exactly once (the message handed over at the moment of the kill,
once more, under the same Message-ID). At the moment of the kill nothing partial is visible
under reports/out/.

The killed runs are `briefings run` subprocesses on the session's Prefect server, started
together (they are independent); each is then finished by a run in this process.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from .running import (
    FAULTS,
    RECOVERED,
    RUN_TIMEOUT,
    Started,
    State,
    assert_same_outcome,
    processes,
    publish,
    small_folder,
    state_of,
)

STEPS = ("ingest", "validate", "figures", "render", "deliver")
IN_A_POOL = {"BRIEFINGS_RENDER_WORKERS": "2", "BRIEFINGS_PARALLEL_FROM": "2"}


@pytest.fixture(scope="module")
def killed(prefect_api_url, tmp_path_factory):
    """A `briefings run` per step, each in its own copy of the small folder, all started at
    once with BRIEFINGS_TEST_KILL_AT=<step>."""
    root = tmp_path_factory.mktemp("killed")
    with processes(root / "logs") as started:
        runs = {}
        for step in STEPS:
            data, out = small_folder(root / step)
            run = started.briefings_run(data, out, step, BRIEFINGS_TEST_KILL_AT=step)
            runs[step] = data, out, run
        # Rendering in a pool of worker processes: the kill happens in a worker...
        data, out = small_folder(root / "pool")
        pool = started.briefings_run(
            data, out, "pool", BRIEFINGS_TEST_KILL_AT="render", **IN_A_POOL
        )
        runs["pool"] = data, out, pool
        # ...or to the flow's process, while its workers render.
        data, out = small_folder(root / "orphans")
        run = started.briefings_run(data, out, "orphans", **IN_A_POOL)
        rendering = out / "2016-17" / ".rendering"
        watcher = threading.Thread(target=kill_when_a_pdf_appears, args=(run, rendering))
        watcher.start()
        runs["orphans"] = data, out, run
        yield runs
        watcher.join(timeout=RUN_TIMEOUT)


def kill_when_a_pdf_appears(run: Started, folder: Path) -> None:
    """SIGKILL the flow's process (only it, not its group) once a render worker has written
    a PDF: the other workers are rendering."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while run.process.poll() is None and time.monotonic() < deadline:
        if any(folder.glob("*.pdf")):
            os.kill(run.pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def check_state_at_kill(step: str, at_kill: State, clean: State) -> None:
    """What the killed run left: nothing partial, and only what comes before the step."""
    for name, data in at_kill.published.items():  # whatever is visible is final
        assert data == clean.published[name], f"{name} is visible but not what it should be"
    if step in ("ingest", "validate"):
        assert at_kill.ledger is None and at_kill.tables == {}  # the ledger is written last
    else:
        assert at_kill.ledger == clean.ledger
    if step == "render":
        # One PDF rendered, waiting in .rendering/ for the others; nothing published.
        (staged,) = at_kill.temporaries
        assert Path(staged).parent.name == ".rendering", staged
        assert Path(staged).read_bytes() == clean.pdfs()[Path(staged).name]
    else:
        assert at_kill.temporaries == [], "a file was left half-written"
    if step != "deliver":
        assert at_kill.published == {}
        assert at_kill.messages == {} and at_kill.deliveries == {}
    else:
        assert at_kill.published == clean.published
        assert len(at_kill.messages) == 1  # the first message, handed over...
        (ident,) = at_kill.messages
        rows = [r for r in at_kill.deliveries.values() if r["message_id"] == ident]
        assert rows and {r["status"] for r in rows} == {"sending"}  # ...but not recorded


@pytest.mark.parametrize("step", STEPS)
def test_a_run_killed_at_a_step_is_finished_by_the_next_run(step, killed, clean):
    data, out, run = killed[step]
    returncode = run.wait()
    assert returncode == -signal.SIGKILL, run.err()[-3000:]
    assert f"briefings: killed at {step}" in run.err()
    FAULTS[f"kill at {step}"] += 1
    at_kill = state_of(data, out)
    check_state_at_kill(step, at_kill, clean)

    summary = publish(data, out)

    after = state_of(data, out)
    resent = frozenset(at_kill.messages)
    assert_same_outcome(after, clean, resent=resent)
    # A PDF is trusted only with its entry in manifest.json, written after the last PDF: a
    # run killed before then leaves every PDF to render again (the same bytes), none after.
    rendered = {p.name for p in summary.rendered}
    assert rendered == (set() if step == "deliver" else set(clean.pdfs()))
    # Every message delivered, the one handed over at the kill (if any) once more.
    sent = {m.message_id: m.status for m in summary.delivery.messages}
    assert sent == dict.fromkeys(clean.messages, "sent")
    manifest = json.loads(after.published["2016-17/manifest.json"])
    assert {b["pdf"] for b in manifest["briefings"]} == set(clean.pdfs())
    RECOVERED[f"kill at {step}"] += 1


def test_a_render_worker_killed_fails_the_run_clearly_and_the_next_run_finishes(killed, clean):
    data, out, run = killed["pool"]
    assert run.wait() == 1, run.err()[-3000:]
    assert "briefings: killed at render" in run.err()  # in a worker, not the flow's process
    FAULTS["kill a render worker"] += 1
    # One line says why (multiprocessing's resource tracker may warn after it).
    (error,) = [line for line in run.err().splitlines() if line.startswith("briefings: error")]
    assert error.startswith(
        "briefings: error: a render worker process ended abruptly (killed, or out of memory) "
        f"while rendering {out / '2016-17'}; manifest.json is unchanged"
    )
    at_kill = state_of(data, out)
    # Each worker's first PDF waits in .rendering/ (the broken pool terminates the other
    # worker, perhaps mid-PDF: a .part there too); nothing is published.
    assert at_kill.published == {} and at_kill.temporaries
    assert {Path(t).parent.name for t in at_kill.temporaries} == {".rendering"}
    assert at_kill.ledger == clean.ledger and at_kill.messages == {}
    (notice,) = at_kill.notices.values()  # the stewards are told
    assert (
        "failed" in notice["subject"] and "render worker process ended abruptly" in (notice["text"])
    )

    publish(data, out)

    assert_same_outcome(state_of(data, out), clean)  # and .rendering/ cleared
    RECOVERED["kill a render worker"] += 1


def test_the_flow_process_killed_while_a_pool_renders_takes_its_workers_with_it(killed, clean):
    """Render workers outlive a killed flow process unless told to end with it: they would
    render on, unseen, beside the next run (briefings.render.engines: each worker watches
    the flow's process)."""
    data, out, run = killed["orphans"]
    assert run.wait() == -signal.SIGKILL, run.err()[-3000:]
    FAULTS["kill the flow while a pool renders"] += 1
    assert group_ends(run.pid, within=10), "render workers outlived the flow's process"
    at_kill = state_of(data, out)
    assert at_kill.published == {} and at_kill.temporaries  # rendered, not published

    publish(data, out)

    assert_same_outcome(state_of(data, out), clean)  # no .part left either
    RECOVERED["kill the flow while a pool renders"] += 1


def group_ends(pgid: int, within: float) -> bool:
    """True once no process of the group is left (render workers, their resource tracker)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
