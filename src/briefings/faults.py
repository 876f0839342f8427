"""Fault injection at named steps of a run, for the fault tests (tests/faults/).

The pipeline promises that a run killed anywhere loses nothing and publishes nothing wrong:
the next run finishes the work, with the same result as a run that was never interrupted. To
prove it, a test starts a run in a subprocess with an environment variable naming a step, and
the run stops itself there, in the hardest way (SIGKILL: no `finally`, no `atexit`, no
Prefect crash hook), exactly between two writes that must not be separated.

- BRIEFINGS_KILL_AT=<step>: the process SIGKILLs itself when it reaches that step.
- BRIEFINGS_PAUSE_AT=<step>:<seconds>: it sleeps there instead, the first time it reaches
  the step, so a test can act meanwhile (stop the Prefect server, say). A line on stderr
  says when the pause starts.
- BRIEFINGS_FILL_DISK_AT=<step>:<bytes>: from that step on, no file can grow past <bytes>
  (RLIMIT_FSIZE), so writes fail as on a full disk (EFBIG). Set at a step rather than at
  start-up because WeasyPrint writes the briefing fonts (700 kB each) to temporary files
  before the first PDF: "the disk fills up while rendering" needs the first PDF written.
  SIGXFSZ must be ignored in the process (the test's preexec_fn does it), or it kills it.

Steps, in the order a run meets them (see where checkpoint() is called):
- ingest: raw files staged, before the ledger is written (flows/pipeline.py);
- validate: the first file validated, before the accepted tables and ledger are written;
- figures: figures computed, before anything is rendered;
- render: after each PDF is rendered (so at the first) into the period's .rendering/
  folder, before the others, before any is published and before manifest.json; in a
  worker process when briefings render in a process pool;
- deliver: after each message is handed to the transport, before the delivery ledger
  records it as sent: the one window exactly-once delivery cannot close (it is sent again,
  under the same Message-ID).

Outside the tests none of these is set, and a checkpoint costs three dictionary lookups.
"""

from __future__ import annotations

import os
import signal
import sys
import time

STEPS = ("ingest", "validate", "figures", "render", "deliver")
KILL_AT = "BRIEFINGS_KILL_AT"
PAUSE_AT = "BRIEFINGS_PAUSE_AT"
FILL_DISK_AT = "BRIEFINGS_FILL_DISK_AT"
_paused: set[str] = set()


def checkpoint(step: str) -> None:
    """Kill or pause this process here if the environment asks for it at `step`."""
    if os.environ.get(KILL_AT) == step:
        print(f"briefings: killed at {step} ({KILL_AT})", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE_AT)
    if pause and pause.partition(":")[0] == step and step not in _paused:
        _paused.add(step)
        seconds = float(pause.partition(":")[2] or 0)
        print(
            f"briefings: paused at {step} for {seconds:g} s ({PAUSE_AT})",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(seconds)
    fill = os.environ.get(FILL_DISK_AT)
    if fill and fill.partition(":")[0] == step:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fill.partition(":")[2]), hard))
