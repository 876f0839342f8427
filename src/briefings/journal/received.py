"""What was received, and when: each raw file's content (by SHA-256) with the time it was
first received, and every path it was seen under.

A return's identity is its content: moving or copying a file records one more path and
changes nothing else; its first-received time is fixed the first time any run sees those
bytes (or, for returns bundled with the project, taken from the manifest that ships beside
them, raw/received-dates.csv, so a fresh clone dates them as they were received, whatever
the day).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from briefings.journal.core import Journal, JournalError, now, register_schema

# The manifest of bundled returns' received dates, at the top of raw/: not a return.
RECEIVED_DATES = "received-dates.csv"
RECEIVED_DATES_COLUMNS = ("file", "sha256", "received")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

register_schema(
    "received",
    """
    CREATE TABLE IF NOT EXISTS received (
        sha256 TEXT PRIMARY KEY,
        first_received TEXT NOT NULL,   -- ISO 8601, UTC
        how TEXT NOT NULL,              -- 'seen by a run' or 'bundled manifest'
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sightings (
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,             -- relative to raw/
        first_seen TEXT NOT NULL,
        PRIMARY KEY (sha256, path)
    );
    """,
)

SEEN = "seen by a run"
BUNDLED = "bundled manifest"
# A data folder ingested before it had a journal: its ledger's first-seen dates are the record.
LEDGER = "ledger before the journal"


class ReceivedDatesError(JournalError):
    """The bundled manifest of received dates cannot be trusted: one line naming file and row."""


@dataclass(frozen=True)
class Received:
    sha256: str
    first_received: str
    how: str


def record_received(
    journal: Journal,
    files: Iterable[tuple[str, str]],
    when: str | None = None,
    bundled: Mapping[str, str] | None = None,
    earlier: Mapping[str, str] | None = None,
) -> dict[str, Received]:
    """Record each (sha256, path) seen now, in one transaction, and return when each content
    was first received. Content already in the journal keeps its time; new content is
    received at the time the bundled manifest gives for it, else at the time `earlier` (a
    ledger written before the journal existed) gives, else `when` (default now)."""
    stamp = when or now()
    bundled = bundled or {}
    earlier = earlier or {}
    seen = list(files)
    with journal.transaction() as connection:
        for sha256, path in seen:
            if sha256 in bundled:
                first, how = bundled[sha256], BUNDLED
            elif sha256 in earlier:
                first, how = earlier[sha256], LEDGER
            else:
                first, how = stamp, SEEN
            connection.execute(
                "INSERT OR IGNORE INTO received VALUES (?, ?, ?, ?)", (sha256, first, how, stamp)
            )
            connection.execute(
                "INSERT OR IGNORE INTO sightings VALUES (?, ?, ?)", (sha256, path, stamp)
            )
        wanted = sorted({sha256 for sha256, _ in seen})
        rows = []
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += connection.execute(
                f"SELECT sha256, first_received, how FROM received WHERE sha256 IN ({marks})",
                chunk,
            ).fetchall()
    return {
        row["sha256"]: Received(row["sha256"], row["first_received"], row["how"]) for row in rows
    }


def paths_seen(journal: Journal, sha256: str) -> list[str]:
    """Every path these bytes were seen under, first seen first."""
    with journal.reading() as connection:
        rows = connection.execute(
            "SELECT path FROM sightings WHERE sha256 = ? ORDER BY first_seen, path", (sha256,)
        ).fetchall()
    return [row["path"] for row in rows]


def everything_received(journal: Journal) -> list[tuple[str, str, str]]:
    """(sha256, the path it was first seen under, when first received) for every content the
    journal has received, first received first."""
    with journal.reading() as connection:
        rows = connection.execute(
            "SELECT r.sha256, r.first_received, "
            "(SELECT s.path FROM sightings s WHERE s.sha256 = r.sha256 "
            " ORDER BY s.first_seen, s.path LIMIT 1) AS path "
            "FROM received r ORDER BY r.first_received, r.sha256"
        ).fetchall()
    return [(row["sha256"], row["path"] or "", row["first_received"]) for row in rows]


def first_sightings(journal: Journal, sha256s: Iterable[str]) -> dict[tuple[str, str], str]:
    """When each path was first seen holding each of these contents, by (sha256, path): of
    two copies of one return, the path seen first stays its name."""
    wanted = sorted(set(sha256s))
    found: dict[tuple[str, str], str] = {}
    with journal.reading() as connection:
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in connection.execute(
                f"SELECT sha256, path, first_seen FROM sightings WHERE sha256 IN ({marks})", chunk
            ):
                found[(row["sha256"], row["path"])] = row["first_seen"]
    return found


def read_received_dates(path: Path) -> dict[str, str]:
    """The bundled manifest (file,sha256,received): when each bundled return was received, by
    content, as UTC ISO 8601 times. No manifest is no bundled dates; a malformed one is
    refused in one line naming the file and row, never half-used."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ReceivedDatesError(f"{path}: cannot be read ({error})") from None
    rows = csv.reader(text.splitlines())
    header = next(rows, [])
    if tuple(name.strip() for name in header) != RECEIVED_DATES_COLUMNS:
        raise ReceivedDatesError(
            f"{path}: row 1: the header must be {','.join(RECEIVED_DATES_COLUMNS)}"
        )
    dates: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(RECEIVED_DATES_COLUMNS):
            raise ReceivedDatesError(f"{path}: row {number}: expected 3 cells, found {len(row)}")
        file, sha256, received = (cell.strip() for cell in row)
        if not _SHA256.match(sha256):
            raise ReceivedDatesError(
                f"{path}: row {number} ({file}): '{sha256}' is not a SHA-256 in lowercase hex"
            )
        moment = _utc_time(received)
        if moment is None:
            raise ReceivedDatesError(
                f"{path}: row {number} ({file}): '{received}' is not an ISO 8601 time with a "
                "UTC offset, such as 2017-05-03T09:15:00+00:00"
            )
        if dates.get(sha256, moment) != moment:
            raise ReceivedDatesError(
                f"{path}: row {number} ({file}): the same bytes were given another date above"
            )
        dates[sha256] = moment
    return dates


def _utc_time(text: str) -> str | None:
    """An ISO 8601 time with an offset, in the journal's form (UTC, to the second)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # a local time would depend on where the clone is
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def nothing_received(journal: Journal) -> bool:
    """Whether the journal has never recorded a received file (a new, or a lost, journal)."""
    with journal.reading() as connection:
        return connection.execute("SELECT 1 FROM received LIMIT 1").fetchone() is None
