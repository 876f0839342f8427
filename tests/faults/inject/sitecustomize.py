"""Fault injection for the processes the fault tests start (tests/faults/running.py puts this
folder first on their PYTHONPATH, so Python imports this module as the interpreter starts,
before the run imports any of the application).

Outside a fault test none of the variables is set: this module then imports nothing and
patches nothing, and the process runs exactly as it would without it.
"""

import os

VARIABLES = ("BRIEFINGS_TEST_KILL_AT", "BRIEFINGS_TEST_PAUSE_AT", "BRIEFINGS_TEST_FILL_DISK_AT")

if any(os.environ.get(name) for name in VARIABLES):
    import fault_injection

    fault_injection.install()
