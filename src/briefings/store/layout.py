"""Where a data folder keeps things, and one run at a time per data folder.

Every other store module finds its files through DataFolders, so the layout of raw/,
processed/ and state/ is written down once; and every run that writes processed/ holds
store_lock, so two runs never interleave their writes (the second is told, not queued).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from briefings.journal import journal_path

# Report names: letters, digits, '.', '_' and '-' from the path, at most this many of them.
_UNSAFE = re.compile(r"[^\w.-]+")
_SLUG_LENGTH = 80


class StoreBusyError(RuntimeError):
    """Another run holds the store."""


@dataclass(frozen=True)
class DataFolders:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def state(self) -> Path:
        """What cannot be rebuilt from raw/ (the journal): kept, backed up, never cleared."""
        return self.root / "state"

    @property
    def journal(self) -> Path:
        return journal_path(self.root)

    @property
    def ledger(self) -> Path:
        return self.processed / "ledger.csv"

    @property
    def accepted_returns(self) -> Path:
        return self.processed / "online_flag_returns.parquet"

    @property
    def home_office_offences(self) -> Path:
        return self.processed / "home_office_offences.parquet"

    @property
    def child_sexual_offences(self) -> Path:
        return self.processed / "child_sexual_offences.parquet"

    @property
    def accepted_tables(self) -> tuple[Path, Path, Path]:
        return (self.accepted_returns, self.home_office_offences, self.child_sexual_offences)

    @property
    def validation(self) -> Path:
        """GX results, Data Docs and cached outcomes."""
        return self.processed / "validation"

    @property
    def cache(self) -> Path:
        """Derived values reused while their inputs are unchanged (briefings.cache)."""
        return self.processed / "cache"

    def staged(self, sha256: str) -> Path:
        return self.processed / "staged" / f"{sha256}.parquet"

    def quarantine_report(self, file: str) -> Path:
        """The report of a refused file (its path under raw/, as the ledger names it): a
        readable slug of the path and a short hash of the whole path, so any name gives a
        safe file name, short enough for any file system, and two paths never share one
        (raw/a/b.csv and raw/a__b.csv)."""
        slug = _UNSAFE.sub("_", file.replace("/", "__")).strip("._") or "file"
        if len(slug) > _SLUG_LENGTH:  # the start and the file's own name say most
            slug = f"{slug[: _SLUG_LENGTH // 2 - 1]}--{slug[-(_SLUG_LENGTH // 2 - 1) :]}"
        digest = hashlib.sha256(file.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return self.processed / "quarantine" / f"{slug}-{digest}.txt"

    def shown(self, path: Path) -> str:
        """A path as a person knows it: data/processed/ledger.csv."""
        try:
            return f"{self.root.name}/{path.relative_to(self.root).as_posix()}"
        except ValueError:
            return str(path)


@contextmanager
def store_lock(folders: DataFolders) -> Iterator[None]:
    """One run at a time per data folder; a second run is told, not queued."""
    from filelock import FileLock, Timeout

    folders.processed.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folders.processed / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreBusyError(
            f"another run is updating {folders.processed}; try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()
