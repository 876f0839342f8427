"""Whether processed/ can be trusted, and rebuilding it from raw/ when it cannot.

Everything under processed/ is derived, so damage is never patched: it is named in the log
and the derived files are cleared for ingest to rebuild. Each run first checks that the
ledger parses, that every Parquet file reads whole (page checksums and digest) and matches
the raw file it was made from, and that the tables the ledger needs are all there. What
cannot be rebuilt, when each return was first received, lives in the journal, outside
processed/; a damaged ledger is still set aside for a person and restored from its copy in
the accepted tables, for the files it lists that are no longer in raw/. store_state is the
cheap fingerprint of what the store holds, for reusing results while it is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from briefings.atomic import file_sha256
from briefings.cache import Cache, cache_key
from briefings.store.layout import DataFolders
from briefings.store.ledger import (
    SHA256,
    LedgerError,
    Status,
    empty_ledger,
    ledger_copy,
    parse_ledger,
    write_ledger,
)
from briefings.store.parquet import DIGEST_KEY, parquet_damage

if TYPE_CHECKING:
    import pandas as pd

# One logger for the whole store: stewards and operators follow "briefings.store", whichever
# of its modules speaks.
log = logging.getLogger("briefings.store")


@dataclass(frozen=True)
class StoreHealth:
    ledger: pd.DataFrame  # the best ledger found (see read_ledger); empty if none
    problems: tuple[str, ...] = ()  # "data/processed/<file> was damaged (<reason>)"
    ledger_damaged: bool = False
    ledger_from_copy: bool = False


def check_store(folders: DataFolders) -> StoreHealth:
    """What in processed/ cannot be trusted: a ledger that does not parse, or that lists
    returns while its tables are missing; a Parquet file that does not read whole (page
    checksums verified) or was not made from the raw file its name says; a staged table the
    ledger needs that is gone; a cached validation outcome that does not read. A Parquet
    file is read whole once; while its bytes hash the same as when it passed, it is not read
    again (the cache's integrity/verified slot): any changed byte means a full check."""
    problems: list[str] = []
    verified = _VerifiedBytes(folders)

    def problem(path: Path, what: str, why: str) -> None:
        problems.append(f"{folders.shown(path)} {what} ({why})")

    ledger, damaged, from_copy = empty_ledger(), False, False
    try:
        ledger = parse_ledger(folders.ledger)
    except FileNotFoundError:
        # Accepted tables are written just before the ledger: without it they are orphans.
        # Staged tables alone are a first run stopped early, and are checked one by one.
        if any(path.exists() for path in folders.accepted_tables):
            problem(folders.ledger, "is missing", "the accepted tables are there, the ledger not")
            damaged = True
    except LedgerError as error:
        problem(folders.ledger, "was damaged", str(error))
        damaged = True
    if damaged:
        copy = ledger_copy(folders)
        if copy is not None:
            ledger, from_copy = copy, True
    if not ledger.empty:
        for path in folders.accepted_tables:
            if not path.exists():
                problem(path, "is missing", "the ledger lists returns but this table is gone")
    for path in folders.accepted_tables:
        if path.exists() and (why := verified.damage(path)):
            problem(path, "was damaged", why)
    staged_dir = folders.processed / "staged"
    for path in sorted(staged_dir.glob("*.parquet")) if staged_dir.is_dir() else []:
        if SHA256.match(path.stem) and (why := verified.damage(path, sha256=path.stem)):
            problem(path, "was damaged", why)
    # Every file that was read has a staged table (those refused on reading have no kind).
    read = ledger[
        (ledger["kind"] != "")
        & (ledger["status"] != Status.INCOMPLETE)
        & ~ledger["detail"].str.endswith("no longer in raw/")
    ]
    for sha256, group in read.groupby("sha256"):
        if not folders.staged(sha256).exists():
            files = ", ".join(sorted(group["file"]))
            problem(folders.staged(sha256), "is missing", f"the staged table of {files}")
    for path, why in Cache(folders.cache).unreadable("validation"):
        problem(path, "was damaged", why)
    if not problems:
        verified.save()
    return StoreHealth(ledger, tuple(problems), damaged, from_copy)


class _VerifiedBytes:
    """The sha256 of each Parquet file's bytes when it last passed parquet_damage: the same
    bytes need no second reading (a run with nothing new checks the store in milliseconds)."""

    SLOT = ("integrity", "verified")

    def __init__(self, folders: DataFolders):
        self.cache = Cache(folders.cache)
        self.key = cache_key("parquet files that passed the integrity check")
        self.root = folders.processed
        known = self.cache.get(*self.SLOT, self.key)
        self.known: dict[str, str] = known if isinstance(known, dict) else {}
        self.passed: dict[str, str] = {}

    def damage(self, path: Path, sha256: str | None = None) -> str | None:
        name = path.relative_to(self.root).as_posix()
        digest = file_sha256(path)
        why = None if self.known.get(name) == digest else parquet_damage(path, sha256)
        if why is None:
            self.passed[name] = digest
        return why

    def save(self) -> None:
        if self.passed != self.known:
            self.cache.put(*self.SLOT, self.key, self.passed)


def repair_store(folders: DataFolders, health: StoreHealth) -> None:
    """Say what was damaged, keep a damaged ledger beside the store for a person to look at,
    restore the ledger from its copy if there is one, and clear everything derived."""
    import shutil

    raw = folders.shown(folders.raw)
    for problem in health.problems:
        log.warning("%s: rebuilding from %s/", problem, raw)
    if health.ledger_damaged:
        if folders.ledger.exists():
            kept = folders.ledger.with_name("ledger.damaged.csv")
            shutil.copyfile(folders.ledger, kept)
            folders.ledger.unlink()
            log.warning("The damaged ledger is kept as %s", folders.shown(kept))
        if health.ledger_from_copy:
            write_ledger(folders, health.ledger)
            log.warning("The ledger was restored from the copy kept with the accepted tables")
        else:
            log.warning(
                "No copy of the ledger survived: first-received dates come from the journal "
                "(%s), and files no longer in %s/ are no longer listed",
                folders.shown(folders.journal),
                raw,
            )
    clear_derived(folders)


def clear_derived(folders: DataFolders) -> None:
    """Remove what ingest derives (staged tables, accepted tables, quarantine reports) so it
    is rebuilt from raw/. The ledger stays, keeping the files no longer in raw/."""
    import shutil

    for folder in (
        folders.processed / "staged",
        folders.processed / "quarantine",
        folders.cache,
    ):
        shutil.rmtree(folder, ignore_errors=True)
    for path in (
        folders.accepted_returns,
        folders.home_office_offences,
        folders.child_sexual_offences,
    ):
        path.unlink(missing_ok=True)


def store_state(folders: DataFolders) -> dict[str, str | None]:
    """What the store holds now, cheaply: the digest each accepted table carries (checked
    against its data by check_store), the ledger's hash and the quarantine reports' names.
    Part of the key under which ingest's results are reused (briefings.cache)."""
    import pyarrow.parquet as pq

    state: dict[str, str | None] = {}
    for path in folders.accepted_tables:
        try:
            state[path.name] = (pq.read_schema(path).metadata or {})[DIGEST_KEY].decode()
        except (KeyError, OSError, ValueError):  # missing, or damaged (check_store says)
            state[path.name] = None
    try:
        state["ledger"] = file_sha256(folders.ledger)
    except FileNotFoundError:
        state["ledger"] = None
    reports = folders.processed / "quarantine"
    state["quarantine"] = "|".join(sorted(p.name for p in reports.glob("*.txt")))
    return state
