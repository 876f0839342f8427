"""Which return counts: for each key (a force and year, or a force, year and quarter), the
rows of the latest return received, as of any date; and which file each force-year total was
first received in. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from briefings.domain.periods import parse_as_of
from briefings.domain.returns import force_year_totals

if TYPE_CHECKING:  # imported where rows are compared
    import pandas as pd

# A later return supersedes an earlier one only where it covers the same keys: a force and
# year (online-flag returns), a force, year and quarter (Home Office tables). So an extract
# for two forces and one quarter replaces those figures and leaves every other force's.
ONLINE_FLAG_KEYS = ["force_code", "financial_year"]
HOME_OFFICE_KEYS = ["financial_year", "quarter", "force_code"]
# A later return whose rows for a force and year have these values unchanged restates them.
RESTATED_VALUES = ["offence_code", "offences", "online_flagged"]


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
        frame = frame[received_by(frame["first_seen"], as_of)]
    if frame.empty:
        return frame
    files = frame[[*keys, "first_seen", "source_file"]].drop_duplicates()
    files = files.sort_values(["first_seen", "source_file"])
    if values:
        files = _without_restatements(frame, files, keys, values)
    winners = files.drop_duplicates(keys, keep="last")
    chosen = frame.merge(winners[[*keys, "source_file"]], on=[*keys, "source_file"], how="inner")
    return chosen.reset_index(drop=True)


def received_by(first_seen: pd.Series, as_of: str) -> pd.Series:
    """Which first-received times (ISO 8601) fall by `as_of`, compared as times: a date
    covers its whole day (UTC, as the times are kept), a time is that moment."""
    import pandas as pd

    moment = parse_as_of(as_of, times=True)
    return pd.to_datetime(first_seen, utc=True, format="ISO8601") <= moment


def _without_restatements(
    frame: pd.DataFrame, files: pd.DataFrame, keys: list[str], values: list[str]
) -> pd.DataFrame:
    """`files` (in order received) less each file whose rows for a key equal the previous
    file's rows for that key."""
    rows: dict[tuple[object, ...], set[tuple[str, ...]]] = {}
    texts = frame[values].astype(str)  # as each file's rows are compared: by their text
    columns = [frame[k] for k in [*keys, "source_file"]] + [texts[v] for v in values]
    for cells in zip(*columns, strict=True):
        rows.setdefault(cells[: len(keys) + 1], set()).add(cells[len(keys) + 1 :])
    blocks = {group: frozenset(found) for group, found in rows.items()}
    keep: list[bool] = []
    previous: dict[tuple[object, ...], frozenset[tuple[object, ...]]] = {}
    for row in files.itertuples(index=False):
        key = tuple(getattr(row, k) for k in keys)
        block = blocks[(*key, row.source_file)]
        keep.append(previous.get(key) != block)
        previous[key] = block
    return files[keep]


def with_total_sources(current: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`current` (the rows in use, from latest_by) with `total_source`: for each force and
    year, the first file in the run of returns, up to the one in use, that gave the same
    total. A later return that corrects only a breakdown changes the force's sources but not
    those of the regional and national totals, which stay as first received.
    `rows`: every accepted row the current ones were chosen from."""
    import pandas as pd

    if current.empty:
        return current.assign(total_source=pd.Series(dtype="str"))
    per_file = force_year_totals(rows, by=("source_file",))  # each file's totals on its own
    first_seen = rows.groupby("source_file")["first_seen"].min()
    chain = per_file.assign(first_seen=per_file["source_file"].map(first_seen)).sort_values(
        ["first_seen", "source_file"]
    )
    first: dict[tuple[str, str], tuple[int, str]] = {}
    origin: dict[tuple[str, str, str], str] = {}
    for row in chain.itertuples(index=False):
        key = (row.force_code, row.financial_year)
        total, source = first.get(key, (None, None))
        if total != row.online_flagged:
            first[key] = (row.online_flagged, row.source_file)
        origin[(*key, row.source_file)] = first[key][1]
    sources = [
        # A withheld count has no total: its own file is its source.
        origin.get((code, year, file), file)
        for code, year, file in zip(
            current["force_code"], current["financial_year"], current["source_file"], strict=True
        )
    ]
    return current.assign(total_source=sources)


@dataclass(frozen=True)
class ReturnScope:
    """What a return covers: its keys (force and year; force, year and quarter for Home Office
    tables), when it was received and its file name."""

    file: str
    received: str
    keys: frozenset[tuple[str, ...]]


def superseding_returns(refused: ReturnScope | None, accepted: Iterable[ReturnScope]) -> list[str]:
    """The accepted returns, received after a refused one, that together cover every force
    and year it covers (a corrected return); [] when they do not, or when what the refused
    return covers could not be read (None, or no keys): then only a steward can settle it."""
    if refused is None or not refused.keys:
        return []
    after = (refused.received, refused.file)
    covering = [
        scope
        for scope in accepted
        if (scope.received, scope.file) > after and scope.keys & refused.keys
    ]
    covered: set[tuple[str, ...]] = set()
    for scope in covering:
        covered |= scope.keys
    return sorted({scope.file for scope in covering}) if refused.keys <= covered else []


def replaced_by(
    rows: pd.DataFrame, current: pd.DataFrame, keys: list[str]
) -> dict[tuple[str, str], frozenset[tuple[str, ...]]]:
    """Which accepted return replaced which: {(later file, earlier file): the keys (forces
    and years; and quarters) for which the later one's rows are in use instead of the
    earlier one's}. `rows`: every accepted row; `current`: the rows in use (latest_by)."""
    if rows.empty or current.empty:
        return {}
    given = rows[[*keys, "source_file", "first_seen"]].drop_duplicates()
    in_use = current[[*keys, "source_file", "first_seen"]].drop_duplicates()
    pairs = given.merge(in_use, on=keys, suffixes=("_earlier", "_later"))
    earlier = pairs["source_file_earlier"] != pairs["source_file_later"]
    before = (pairs["first_seen_earlier"] < pairs["first_seen_later"]) | (
        (pairs["first_seen_earlier"] == pairs["first_seen_later"])
        & (pairs["source_file_earlier"] < pairs["source_file_later"])
    )
    replaced: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for row in pairs[earlier & before].itertuples(index=False):
        record = row._asdict()
        pair = (str(record["source_file_later"]), str(record["source_file_earlier"]))
        replaced.setdefault(pair, set()).add(tuple(str(record[k]) for k in keys))
    return {pair: frozenset(found) for pair, found in replaced.items()}
