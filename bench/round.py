"""One publication round for the benchmark: publish_briefings for each period given.

    python bench/round.py <data_dir> <out_dir> <period> [<period> ...]

Prints {"rendered": <PDFs rendered>} as its last line. With BENCH_PROFILE=<file>, the round
(imports included) is profiled by pyinstrument and the call tree written to that file.
"""

import json
import os
import sys
from pathlib import Path


def main() -> None:
    from flows.pipeline import RunRequest, publish_briefings

    data, out, periods = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    rendered = 0
    for period, following in zip(periods, [*periods[1:], None], strict=True):
        # As a backfill does: the next period's briefings render while this one's finish.
        request = RunRequest(
            data_dir=data, out_dir=out, period=period, deliver=False, next_period=following
        )
        rendered += len(publish_briefings(request).rendered)
    print(json.dumps({"rendered": rendered}))


def profiled(target: Path) -> None:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.002)
    with profiler:
        main()
    tree = ConsoleRenderer(processor_options={"filter_threshold": 0.005})  # frames >= 0.5 %
    target.write_text(profiler.output(tree))


if __name__ == "__main__":  # render workers are spawned: they import this file, not run it
    if os.environ.get("BENCH_PROFILE"):
        profiled(Path(os.environ["BENCH_PROFILE"]))
    else:
        main()
