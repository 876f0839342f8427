"""Fault tests: print how many fuzz inputs were tried (the issue notes quote the number)."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter) -> None:
    module = sys.modules.get("tests.faults.test_fuzz_ingest")
    tried = getattr(module, "TRIED", None)
    ingested = getattr(module, "INGESTED", {})
    if tried:
        parts = ", ".join(
            f"{kind} {count:,}"
            + (f" ({ingested[kind]:,} read to a table)" if kind in ingested else "")
            for kind, count in sorted(tried.items())
        )
        terminalreporter.write_line(f"fuzz inputs tried: {sum(tried.values()):,} ({parts})")
