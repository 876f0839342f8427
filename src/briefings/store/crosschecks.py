"""Checks across returns: what no single return shows, but the accepted store does.

A count that jumps from one year to the next, a force that stops reporting after a year it
reported, a later return that gives another figure for the same force and year: each is a
question for a data steward, not a reason to refuse a return, so the validation suite for the
store (online_flag_store) only warns. This module turns the accepted rows into one row per
force and year for that suite, totalling each file's rows by the same counting rule as the
figures (briefings.domain.returns), so a steward is shown the figure a briefing would print.
"""

from __future__ import annotations

import pandas as pd

from briefings.domain.returns import counted_rows, withheld_force_years
from briefings.domain.supersession import ONLINE_FLAG_KEYS, latest_by

CHECK_COLUMNS = ["label", "description", "fold_change", "current_total", "restated_from"]
FILE_FORCE_YEAR = ["force_code", "financial_year", "source_file"]
MINIMUM_FOR_FOLD_CHANGE = 20  # the year before's count, below which a fold change means little


def file_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Each file's own online-flagged total for each force and year it gives: one row per
    force_code, financial_year and source_file."""
    if rows.empty:
        return pd.DataFrame(columns=[*FILE_FORCE_YEAR, "online_flagged"])
    counted = counted_rows(rows, FILE_FORCE_YEAR)
    # A count the force withheld is no total to compare: that file's force and year is left out.
    withheld = (
        counted["online_flagged"]
        .isna()
        .groupby([counted[key] for key in FILE_FORCE_YEAR])
        .transform("any")
    )
    counted = counted[~withheld]
    if counted.empty:
        return pd.DataFrame(columns=[*FILE_FORCE_YEAR, "online_flagged"])
    totals = counted.groupby(FILE_FORCE_YEAR, as_index=False)["online_flagged"].sum()
    totals["online_flagged"] = totals["online_flagged"].astype(int)
    return totals


def store_checks(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per force and year for the checks across returns (suite online_flag_store):
    the change from the year before where that year's count is at least 20 (fold_change),
    a force missing for a year after one it reported (current_total is null), and a figure
    an earlier return gave differently for the same force and year (restated_from)."""
    from briefings.domain.periods import Period
    from briefings.reference import force_register

    if rows.empty:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    register = force_register()
    # latest_by keeps one file per force and year: its total is the one in use.
    in_use_rows = latest_by(rows, ONLINE_FLAG_KEYS)
    current = file_totals(in_use_rows)
    withheld = withheld_force_years(in_use_rows)
    totals = {(r.force_code, r.financial_year): int(r.online_flagged) for r in current.itertuples()}
    in_use = {(r.force_code, r.financial_year): r.source_file for r in current.itertuples()}
    every_file = file_totals(rows)
    years = {label for _, label in totals}
    records = []
    for (code, year), total in sorted(totals.items()):
        name = register.by_code(code).name
        previous_year = Period.parse(year).previous.label
        previous = totals.get((code, previous_year))
        earlier = every_file[
            (every_file["force_code"] == code)
            & (every_file["financial_year"] == year)
            & (every_file["source_file"] != in_use[(code, year)])
            & (every_file["online_flagged"] != total)
        ]
        restated = "; ".join(
            f"{n:,} in {f}"
            for f, n in zip(earlier["source_file"], earlier["online_flagged"], strict=True)
        )
        description = f"{name} {year}: {total:,}"
        if previous is not None:
            description += f" against {previous:,} in {previous_year}"
        if restated:
            description += f"; an earlier return gave {restated}"
        records.append(
            {
                "label": f"{name} {year}",
                "description": description,
                "fold_change": total / previous
                if previous is not None and previous >= MINIMUM_FOR_FOLD_CHANGE
                else None,
                "current_total": float(total),
                "restated_from": restated or None,
            }
        )
        following = Period.parse(year).start_year + 1
        next_year = Period(following).label
        if next_year in years and (code, next_year) not in totals:
            records.append(
                {
                    "label": f"{name} {next_year}",
                    "description": f"{name} {next_year}: "
                    + (
                        "count withheld by the force"
                        if (code, next_year) in withheld
                        else "no figure"
                    )
                    + f", after {total:,} in {year}",
                    "fold_change": None,
                    "current_total": None,
                    "restated_from": None,
                }
            )
    return pd.DataFrame.from_records(records, columns=CHECK_COLUMNS).astype(
        {"fold_change": "float64", "current_total": "float64", "restated_from": "str"}
    )
