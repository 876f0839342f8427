"""W4: ingest and validate Home Office-format tables built from the real 2017/18 sheet.

    uv run python bench/ingest_at_scale.py --rows 1000000 [--repeat 3] [--profile]

Each measurement runs in a fresh process so its peak memory (ru_maxrss) is its own. Reports
the median of the repeats for: reading with pyarrow.csv alone (the floor), reading into the
canonical layout, validating with Great Expectations, and summing per force, quarter and code.
Validation is timed after a warm-up validation of a small table in the same process, which
pays the once-a-process costs (importing GX, opening the context, compiling the Data Docs
templates). --profile adds one more run that prints where validation's time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REAL_TABLE = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "raw"
    / "home-office"
    / "prc-pfa-2017-18-homeoffice-open-data.csv"
)

_MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
path, step = Path(sys.argv[1]), sys.argv[2]
timings = {}
if step == "floor":
    import pyarrow.csv as pacsv
    start = time.perf_counter()
    pacsv.read_csv(path)
    timings["read_floor"] = time.perf_counter() - start
else:
    import tempfile
    from briefings.ingest import read_return
    from briefings.ingest.home_office import summed_offences
    from briefings.validation import validate_return
    folder = Path(tempfile.mkdtemp())
    # Importing Great Expectations and opening the context is paid once per process: timed apart.
    start = time.perf_counter()
    small = read_return(Path(sys.argv[3]))
    validate_return(small.frame.head(50), "warm-up", small.kind, folder)
    timings["gx_start"] = time.perf_counter() - start
    start = time.perf_counter()
    parsed = read_return(path)
    timings["read"] = time.perf_counter() - start
    profiler = None
    if sys.argv[4:] == ["profile"]:
        from pyinstrument import Profiler
        profiler = Profiler()
        profiler.start()
    start = time.perf_counter()
    outcome = validate_return(parsed.frame, path.name, parsed.kind, folder)
    timings["validate"] = time.perf_counter() - start
    if profiler is not None:
        profiler.stop()
        import re
        from pyinstrument.renderers import ConsoleRenderer
        # Every call (GX's too) that took at least 10 ms.
        lines = profiler.output(ConsoleRenderer(show_all=True)).splitlines()
        taken = [re.search(r"(\d+\.\d+) ", line) for line in lines]
        shown = [l for l, t in zip(lines, taken) if not t or float(t.group(1)) >= 0.01]
        print("\n".join(shown), file=sys.stderr)
    assert outcome.passed, outcome.summary
    start = time.perf_counter()
    summed = summed_offences(parsed.frame, path.name)
    timings["sum"] = time.perf_counter() - start
    timings["rows"] = len(parsed.frame)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({**timings, "peak_bytes": peak}))
"""


def write_scaled_table(target: Path, rows: int) -> int:
    """The real sheet's data rows repeated until `rows` rows (a million is about 107 MB)."""
    lines = REAL_TABLE.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    written = 0
    with target.open("w", encoding="utf-8") as handle:
        handle.write(header)
        while written < rows:
            chunk = body[: rows - written]
            handle.writelines(chunk)
            written += len(chunk)
    return written


def measure(path: Path, step: str, profile: bool = False) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), step, str(REAL_TABLE)]
        + (["profile"] if profile else []),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    if profile:
        print(result.stderr[max(result.stderr.find("  _     ._"), 0) :])  # the profile
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--profile", action="store_true", help="profile one more validation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "home-office-scaled.csv"
        rows = write_scaled_table(path, args.rows)
        megabytes = round(path.stat().st_size / 2**20, 1)
        floors, runs = [], []
        for _ in range(args.repeat):  # alternated: a slow spell weighs on both alike
            floors.append(measure(path, "floor"))
            runs.append(measure(path, "ingest"))
        if args.profile:
            measure(path, "ingest", profile=True)
    median = {
        key: statistics.median(run[key] for run in runs)
        for key in ("gx_start", "read", "validate", "sum")
    }
    result = {
        "rows": rows,
        "file_megabytes": megabytes,
        "cores": os.cpu_count(),
        "repeats": args.repeat,
        "read_floor_s": round(statistics.median(f["read_floor"] for f in floors), 3),
        "gx_start_s": round(median["gx_start"], 3),
        "read_s": round(median["read"], 3),
        "validate_s": round(median["validate"], 3),
        "sum_s": round(median["sum"], 3),
        "peak_memory_mib": round(max(run["peak_bytes"] for run in runs) / 2**20, 1),
    }
    result["validate_over_read"] = round(result["validate_s"] / result["read_s"], 2)
    result["read_over_floor"] = round(result["read_s"] / result["read_floor_s"], 2)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
