"""What an accepted online-flag return holds and how its rows add up to a force's count.

The store keeps every accepted row in these columns, and both the figures and the store's
checks across returns total them by the same rule: where a force gave a total (offence code
ALL) that total is its count, even beside a breakdown; otherwise the breakdown is summed.
One rule in one place, so a briefing and a steward's check never count a return differently.
Pure pandas: no files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where rows are totalled
    import pandas as pd

# Columns of the accepted returns store (data/processed/online_flag_returns.parquet).
RETURN_COLUMNS = (
    "force_code",
    "financial_year",
    "offence_code",
    "offence_description",
    "offences",
    "online_flagged",
    "source_file",
    "source_row",
)
TOTAL_CODE = "ALL"  # a force that gave only a total per year
FORCE_YEAR = ["force_code", "financial_year"]
# Every count in a return is below this, whatever it counts: a force records a few thousand
# child sexual offences a year, all England and Wales under a few million crimes of all kinds.
# A larger number is a slip (a reference, a pasted phone number), not a count: refused by name.
# Sums of counts stay exact in int64 and float64 far beyond it.
COUNT_BOUND = 10_000_000


def counted_rows(returns: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows that make up the count of each group of `keys` (a force and year, say): the
    total row where the group has one, else every row of its breakdown."""
    is_total = returns["offence_code"] == TOTAL_CODE
    has_total = is_total.groupby([returns[key] for key in keys]).transform("any")
    return returns[~has_total | is_total]


def withheld_force_years(returns: pd.DataFrame) -> set[tuple[str, str]]:
    """(force_code, financial_year) of each force and year whose count the force withheld:
    a counted row with no online-flagged count (ingest writes one for a withheld cell with no
    total). The force responded, but no figure may be computed from that year."""
    if returns.empty:
        return set()
    counted = counted_rows(returns, FORCE_YEAR)
    missing = counted[counted["online_flagged"].isna()]
    return set(zip(missing["force_code"], missing["financial_year"], strict=True))


def force_year_totals(returns: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per force and year (and `by`: per file, say): the online-flagged count and the
    files it came from.

    Where a force gave a total (offence code ALL) it is the count, even if it also gave a
    breakdown; otherwise the count is the sum over offence codes. A force and year whose
    count was withheld (withheld_force_years) has no total: it is left out.
    """
    import pandas as pd

    keys = [*FORCE_YEAR, *by]
    columns = [
        "force_code",
        "financial_year",
        "online_flagged",
        "offences",
        "sources",
        "total_sources",
        *by,
    ]
    if returns.empty:
        return pd.DataFrame(columns=columns)
    if "offences" not in returns.columns:
        returns = returns.assign(offences=pd.NA)
    counted = counted_rows(returns, keys)
    groups = [counted[key] for key in keys]
    withheld = counted["online_flagged"].isna().groupby(groups).transform("any")
    counted = counted[~withheld]
    if counted.empty:
        return pd.DataFrame(columns=columns)
    groups = [counted[key] for key in keys]
    totals = counted.groupby(keys, as_index=False).agg(online_flagged=("online_flagged", "sum"))
    # All offences only where every counted row gives them; else unknown (None).
    unknown = counted["offences"].isna().groupby(groups).any()
    offences = counted["offences"].groupby(groups).sum()
    known = pd.Series(
        [None if gap else int(n) for gap, n in zip(unknown, offences, strict=True)],
        index=totals.index,
        dtype=object,
    )
    try:  # in the column's own type where it holds them (Int64: None is <NA>), as pandas would
        totals["offences"] = known.astype(counted["offences"].dtype)
    except (TypeError, ValueError):
        totals["offences"] = known
    total_column = "total_source" if "total_source" in counted.columns else "source_file"
    for column, source in (("sources", "source_file"), ("total_sources", total_column)):
        files: dict[tuple[object, ...], set[str]] = {}
        for *key, file in zip(*groups, counted[source], strict=True):
            files.setdefault(tuple(key), set()).add(file)
        totals[column] = pd.Series(
            [
                tuple(sorted(files[tuple(key)]))
                for key in zip(*(totals[k] for k in keys), strict=True)
            ],
            index=totals.index,
            dtype=object,
        )
    totals["online_flagged"] = totals["online_flagged"].astype(int)
    return totals[columns]
