"""Stewards' decisions about returns: what a refused return's review offers, and recording a
decision (accept, keep refused, withdraw) in the journal, for the command line and the review
flow alike. A decision takes effect in the next run (see store.acceptance.accept_returns).

A steward may accept a refused return only when every check that refused it is one a steward
may overrule (the suite's meta says which: a plausibility check the force can confirm); a file
that could not be read, or failed a check that makes its figures unusable, stays refused
whatever anyone decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from briefings.cache import cache_key
from briefings.ingest import Kind
from briefings.journal import Journal
from briefings.journal.decisions import (
    ACCEPT,
    ACKNOWLEDGE,
    WITHDRAW,
    Decision,
    DecisionError,
    latest_decisions,
    record_decision,
    settled_refusals,
)
from briefings.services.runs import cache_of
from briefings.store import DataFolders, Status, read_ledger
from briefings.validation import ValidationOutcome

# Returns whose figures count, or counted once: a steward may withdraw them.
WITHDRAWABLE = (Status.ACCEPTED, Status.SUPERSEDED, Status.DUPLICATE, Status.QUARANTINED)


@dataclass(frozen=True)
class ReturnUnderReview:
    """A refused return as a steward reviews it."""

    file: str  # its name in the ledger (path under raw/)
    sha256: str
    first_seen: str
    detail: str  # why it was refused
    forces: tuple[str, ...]  # the forces it names, by name
    cannot_accept: str  # why no steward may accept it; "" when one may
    report: Path | None  # its quarantine report
    data_docs: str
    earlier: tuple[str, ...]  # accepted returns for the same forces: a steward may withdraw one

    @property
    def may_accept(self) -> bool:
        return not self.cannot_accept


def ledger_rows(data_dir: Path) -> list[dict[str, str]]:
    folders = DataFolders(data_dir)
    ledger = read_ledger(folders)
    if ledger.empty:
        raise DecisionError(f"no ledger in {folders.processed}: run `briefings ingest` first")
    rows: list[dict[str, str]] = ledger.to_dict("records")
    return rows


def row_of(data_dir: Path, sha256: str) -> dict[str, str]:
    """The ledger's row of a return, by content (the path seen first, for copies)."""
    for row in ledger_rows(data_dir):
        if row["sha256"] == sha256 and row["status"] != Status.DUPLICATE:
            return row
    raise DecisionError(f"no return with sha256 {sha256[:12]} in the ledger of {data_dir}")


def cannot_accept(data_dir: Path, row: dict[str, str]) -> str:
    """Why a steward may not accept this refused return ("" when one may): a file that could
    not be read, or one that failed a check no steward may overrule."""
    folders = DataFolders(data_dir)
    staged = folders.staged(row["sha256"])
    if not staged.exists() or not row.get("kind"):
        return f"the file could not be read ({row['detail']}): only a corrected file can replace it"
    outcome = validation_outcome(folders, row, staged)
    if outcome.passed:  # refused before validation (part of a year, say): not a check
        return f"it was refused as read, not by a check ({row['detail']})"
    fixed = [p for p in outcome.problems if not p.steward_may_accept]
    if fixed:
        return "it failed a check no steward may overrule, so its figures cannot be used: " + fixed[
            0
        ].describe(row["file"])
    return ""


def validation_outcome(
    folders: DataFolders, row: dict[str, str], staged: Path
) -> ValidationOutcome:
    """The return's validation outcome as the last run saved it, or validated again (without
    Data Docs) when the cache no longer holds it."""
    from briefings.validation import suite_fingerprint, validate_return

    kind = Kind(row["kind"])
    saved: ValidationOutcome | None = cache_of(folders).get(
        "validation", row["sha256"], cache_key(suite_fingerprint(kind))
    )
    if saved is not None:
        return saved
    return validate_return(pd.read_parquet(staged), row["file"], kind)


def forces_of(data_dir: Path, row: dict[str, str]) -> tuple[str, ...]:
    """The forces a return names, by name (none for a file that could not be read)."""
    from briefings.reference import force_register

    staged = DataFolders(data_dir).staged(row["sha256"])
    if not staged.exists():
        return ()
    frame = pd.read_parquet(staged)
    column = "force_name" if row.get("kind") == Kind.HOME_OFFICE else "force"
    if column not in frame.columns:
        return ()
    register = force_register()
    found = {register.find(str(text)) for text in frame[column].dropna().unique()}
    return tuple(sorted(force.name for force in found if force is not None))


def earlier_returns(data_dir: Path, forces: tuple[str, ...]) -> tuple[str, ...]:
    """The accepted online-flag returns giving figures for any of these forces."""
    from briefings.reference import force_register

    folders = DataFolders(data_dir)
    if not forces or not folders.accepted_returns.exists():
        return ()
    register = force_register()
    codes = {force.code for name in forces if (force := register.find(name)) is not None}
    rows = pd.read_parquet(folders.accepted_returns, columns=["force_code", "source_file"])
    accepted = {r["file"] for r in ledger_rows(data_dir) if r["status"] == Status.ACCEPTED}
    named = set(rows.loc[rows["force_code"].isin(codes), "source_file"])
    return tuple(sorted(named & accepted))


def under_review(data_dir: Path, row: dict[str, str]) -> ReturnUnderReview:
    folders = DataFolders(data_dir)
    report = folders.quarantine_report(row["file"])
    forces = forces_of(data_dir, row)
    return ReturnUnderReview(
        file=row["file"],
        sha256=row["sha256"],
        first_seen=row["first_seen"],
        detail=row["detail"],
        forces=forces,
        cannot_accept=cannot_accept(data_dir, row),
        report=report if report.exists() else None,
        data_docs=row.get("data_docs", ""),
        earlier=tuple(f for f in earlier_returns(data_dir, forces) if f != row["file"]),
    )


def waiting_returns(data_dir: Path) -> list[ReturnUnderReview]:
    """The refused returns that wait for a person: not covered by a later accepted return,
    not acknowledged or withdrawn by a steward."""
    settled = settled_refusals(Journal.of(data_dir))
    return [
        under_review(data_dir, row)
        for row in ledger_rows(data_dir)
        if row["status"] == Status.QUARANTINED
        and "; superseded by " not in row["detail"]
        and row["sha256"] not in settled
    ]


def decide(
    data_dir: Path, row: dict[str, str], action: str, reason: str, decided_by: str
) -> Decision:
    """Record a steward's decision about the return in this ledger row, if it can take
    effect: accept a refused return a steward may accept; keep refused (acknowledge) a
    refused return, or one a steward accepted earlier; withdraw a return that is not
    withdrawn already. Raises DecisionError (one line) if not."""
    file, status = row["file"], row["status"]
    journal = Journal.of(data_dir)
    latest = latest_decisions(journal).get(row["sha256"])
    steward_accepted = latest is not None and latest.action == ACCEPT
    if action == ACCEPT:
        if steward_accepted and latest is not None:
            raise DecisionError(f"{file} is accepted already ({latest.describe()})")
        if status != Status.QUARANTINED:
            raise DecisionError(f"{file} was not refused (it is {status})")
        if why := cannot_accept(data_dir, row):
            raise DecisionError(f"{file} cannot be accepted: {why}")
    elif action == ACKNOWLEDGE and status != Status.QUARANTINED and not steward_accepted:
        raise DecisionError(f"{file} was not refused (it is {status})")
    elif action == WITHDRAW and status not in WITHDRAWABLE:
        raise DecisionError(f"{file} cannot be withdrawn (it is {status})")
    return record_decision(journal, row["sha256"], file, action, reason, decided_by)
