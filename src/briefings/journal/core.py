"""Opening, checking and backing up the journal; transactions. The tables belong to the
modules that use them (received, decisions, deliveries): each registers its schema here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

JOURNAL_FILE = Path("state") / "journal.sqlite"
# 2: printed_editions (journal/deliveries.py). Tables are only ever added (below), so a
# journal of any earlier version is upgraded by opening it.
SCHEMA_VERSION = 2
SQLITE_IOERR, SQLITE_FULL = 10, 13  # primary result codes: the disk, not the journal

# Each concern's tables, created when a journal is opened. CREATE ... IF NOT EXISTS only: a
# table is never dropped or rewritten, so a journal written by an older version still opens.
_SCHEMAS: dict[str, str] = {
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
}


def register_schema(name: str, sql: str) -> None:
    """Tables a module keeps in the journal (called when the module is imported)."""
    _SCHEMAS[name] = sql


class JournalError(RuntimeError):
    """The journal cannot be read or written: the message is one line for a person."""


def journal_path(data_dir: Path) -> Path:
    """Where a data folder's journal lives: <data>/state/journal.sqlite."""
    return data_dir / JOURNAL_FILE


def now() -> str:
    """The time facts are stamped with: UTC, to the second, ISO 8601."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Journal:
    """One data folder's journal. Cheap to open; every method opens its own connection, so
    a Journal can be passed to worker processes and used from threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened = False

    @classmethod
    def of(cls, data_dir: Path) -> Journal:
        return cls(journal_path(data_dir)).open()

    def open(self) -> Journal:
        """Create the journal if it does not exist; refuse, in one line, one that is damaged
        (not SQLite, failing SQLite's quick check) or unreadable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as connection:
                problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise JournalError(self._damaged("; ".join(problems[:3])))
                connection.execute("PRAGMA journal_mode=WAL")
                for sql in _SCHEMAS.values():
                    connection.executescript(sql)
                connection.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value "
                    "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.DatabaseError as error:
            raise JournalError(self._failed(error)) from None
        except OSError as error:
            raise JournalError(
                f"cannot open the journal {self.path}: {error.strerror or error}"
            ) from None
        self._opened = True
        return self

    def _failed(self, error: sqlite3.DatabaseError) -> str:
        """A write that failed: a full disk (or a file size limit) is not damage."""
        if getattr(error, "sqlite_errorcode", 0) & 0xFF in (SQLITE_FULL, SQLITE_IOERR):
            return (
                f"could not write the journal {self.path} ({error}: is the disk full?); "
                "nothing was half-recorded, and the next run with room finishes the work"
            )
        return self._damaged(str(error))

    def _damaged(self, why: str) -> str:
        return (
            f"the journal {self.path} is damaged ({why}): nothing was published or sent; "
            "restore it from its backup (see `briefings journal backup`) and run again"
        )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is recorded, or none of it."""
        if not self._opened:
            self.open()
        try:
            with closing(self._connect()) as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise JournalError(self._failed(error)) from None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        if not self._opened:
            self.open()
        try:
            with closing(self._connect()) as connection:
                yield connection
        except sqlite3.DatabaseError as error:
            raise JournalError(self._failed(error)) from None

    def meta(self, key: str) -> str | None:
        """A fact about the journal itself (schema_version, started_over)."""
        with self.reading() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def check(self) -> list[str]:
        """SQLite's full integrity check: [] when all is well, else what it found."""
        try:
            with closing(self._connect()) as connection:
                problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as error:
            return [str(error)]
        return [] if problems == ["ok"] else problems

    def backup(self, target: Path) -> Path:
        """A consistent copy, taken while runs may be writing (SQLite's online backup)."""
        if not self._opened:
            self.open()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        with closing(self._connect()) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)
        partial.replace(target)
        return target
