"""One publication round for the benchmark: publish_briefings for each period given.

    python bench/round.py <data_dir> <out_dir> <period> [<period> ...]

Prints {"rendered": <PDFs rendered>} as its last line.
"""

import json
import sys
from pathlib import Path


def main() -> None:
    from flows.pipeline import RunRequest, publish_briefings

    data, out, periods = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    rendered = 0
    for period in periods:
        request = RunRequest(data_dir=data, out_dir=out, period=period, deliver=False)
        rendered += len(publish_briefings(request).rendered)
    print(json.dumps({"rendered": rendered}))


if __name__ == "__main__":  # render workers are spawned: they import this file, not run it
    main()
