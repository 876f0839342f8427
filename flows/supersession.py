"""Which return counts: for each key (a force and year, or a year and quarter), the rows of
the latest return received, as of any date. Pure."""

from __future__ import annotations

import pandas as pd


def latest_by(frame: pd.DataFrame, keys: list[str], as_of: str | None = None) -> pd.DataFrame:
    """Rows from the file received last for each key, among files first seen by `as_of`
    (an ISO date or timestamp; None for now). Needs `first_seen` and `source_file` columns;
    ties on `first_seen` go to the file name that sorts last."""
    if as_of is not None:
        frame = frame[frame["first_seen"] <= _end_of(as_of)]
    if frame.empty:
        return frame
    files = frame[[*keys, "first_seen", "source_file"]].drop_duplicates()
    winners = files.sort_values(["first_seen", "source_file"]).drop_duplicates(keys, keep="last")
    chosen = frame.merge(winners[[*keys, "source_file"]], on=[*keys, "source_file"], how="inner")
    return chosen.reset_index(drop=True)


def _end_of(as_of: str) -> str:
    # A bare date includes the whole day: "2017-06-01" covers 2017-06-01T23:59:59.
    return f"{as_of}T99" if len(as_of) == 10 else as_of
