"""Which return counts: for each key (a force and year, or a year and quarter), the rows of
the latest return received, as of any date. Pure."""

from __future__ import annotations

import pandas as pd


def latest_by(
    frame: pd.DataFrame,
    keys: list[str],
    as_of: str | None = None,
    values: list[str] | None = None,
) -> pd.DataFrame:
    """Rows from the file received last for each key, among files first seen by `as_of`
    (an ISO date or timestamp; None for now). Needs `first_seen` and `source_file` columns;
    ties on `first_seen` go to the file name that sorts last.

    With `values`: a file that only restates, for a key, exactly the rows (those columns) of
    the file before it does not replace it, so the figures keep their first source and date
    and nothing is republished for a resent return."""
    if as_of is not None:
        frame = frame[frame["first_seen"] <= end_of(as_of)]
    if frame.empty:
        return frame
    files = frame[[*keys, "first_seen", "source_file"]].drop_duplicates()
    files = files.sort_values(["first_seen", "source_file"])
    if values:
        files = _without_restatements(frame, files, keys, values)
    winners = files.drop_duplicates(keys, keep="last")
    chosen = frame.merge(winners[[*keys, "source_file"]], on=[*keys, "source_file"], how="inner")
    return chosen.reset_index(drop=True)


def end_of(as_of: str) -> str:
    # A bare date includes the whole day: "2017-06-01" covers 2017-06-01T23:59:59.
    return f"{as_of}T99" if len(as_of) == 10 else as_of


def _without_restatements(
    frame: pd.DataFrame, files: pd.DataFrame, keys: list[str], values: list[str]
) -> pd.DataFrame:
    """`files` (in order received) less each file whose rows for a key equal the previous
    file's rows for that key."""
    blocks = {
        (*key, source): frozenset(map(tuple, rows[values].astype(str).to_numpy()))
        for (*key, source), rows in frame.groupby([*keys, "source_file"], sort=False)
    }
    keep: list[bool] = []
    previous: dict[tuple[object, ...], frozenset[tuple[object, ...]]] = {}
    for row in files.itertuples(index=False):
        key = tuple(getattr(row, k) for k in keys)
        block = blocks[(*key, row.source_file)]
        keep.append(previous.get(key) != block)
        previous[key] = block
    return files[keep]
