"""What was received, and when: each raw file's content (by SHA-256) with the time it was
first received, and every path it was seen under.

A return's identity is its content: moving or copying a file records one more path and
changes nothing else; its first-received time is fixed the first time any run sees those
bytes (or, for returns bundled with the project, taken from the manifest that ships beside
them, so a fresh clone dates them as they were received, whatever the day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from briefings.journal.core import Journal, now, register_schema

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
) -> dict[str, Received]:
    """Record each (sha256, path) seen now, in one transaction, and return when each content
    was first received. Content already in the journal keeps its time; new content is
    received `when` (default now), or at the time the bundled manifest gives for it."""
    stamp = when or now()
    bundled = bundled or {}
    seen = list(files)
    with journal.transaction() as connection:
        for sha256, path in seen:
            if sha256 in bundled:
                first, how = bundled[sha256], BUNDLED
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
