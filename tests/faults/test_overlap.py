"""Run it twice (three times): two `briefings run` and a scheduled run (the publish flow, in
this process) on one data folder at once. One works; the others are told in one line that
another run holds the folder (the CLI exits 3), whether they find it busy before starting
Prefect or inside the flow. Nothing is done twice or by halves: a run afterwards has nothing
to render or send, and everything is as after one clean run."""

from __future__ import annotations

import time

from briefings.store import StoreBusyError

from .running import (
    FAULTS,
    RECOVERED,
    RUN_TIMEOUT,
    assert_same_outcome,
    processes,
    publish,
    small_folder,
    state_of,
)


def test_two_cli_runs_and_a_scheduled_run_at_once_one_works_the_others_are_told(tmp_path, clean):
    data, out = small_folder(tmp_path)
    busy = f"another run is updating {data / 'processed'}; try again when it has finished"
    outcomes = {}
    with processes(tmp_path / "logs") as started:
        cli = {name: started.briefings_run(data, out, name) for name in ("first", "second")}
        # Both find the folder free (the CLI's early check), start Prefect and race for the
        # lock in their flows; the scheduled run starts as soon as one of them is there.
        deadline = time.monotonic() + RUN_TIMEOUT
        while not any("Beginning flow run" in run.err() for run in cli.values()):
            assert time.monotonic() < deadline, "no run started"
            time.sleep(0.05)
        try:
            publish(data, out)
            outcomes["scheduled"] = "worked"
        except StoreBusyError as error:
            outcomes["scheduled"] = str(error)
        for name, run in cli.items():
            code = run.wait()
            errors = [line for line in run.err().splitlines() if line.startswith("briefings:")]
            if code == 0:
                outcomes[name] = "worked"
            else:
                assert code == 3, run.err()[-3000:]
                assert errors == [f"briefings: error: {busy}"]
                outcomes[name] = busy
    FAULTS["three runs at once"] += 1
    assert sorted(outcomes.values()) == sorted(["worked", busy, busy]), outcomes
    in_flow = [name for name, run in cli.items() if "Beginning flow run" in run.err()]
    assert in_flow  # at least one CLI run met the lock inside its flow, not before

    state = state_of(data, out)
    # A run started by hand that found the folder busy inside its flow ended Busy, and only
    # its starter was told: a busy folder is not a problem with the data.
    assert state.notices == {}
    assert_same_outcome(state, clean)  # every message handed over once
    after = publish(data, out)
    assert after.rendered == [] and after.delivery.messages == ()
    assert_same_outcome(state_of(data, out), clean)
    RECOVERED["three runs at once"] += 1
