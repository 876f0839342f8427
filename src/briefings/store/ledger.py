"""The ledger: every raw file ever seen, with its content hash, when it was first seen and
what became of it (accepted, quarantined, superseded, duplicate, or still arriving).

It is written as ledger.csv for stewards to open in a spreadsheet, so cells that a
spreadsheet would run as a formula are escaped on writing and unescaped on reading; and a
copy travels in the accepted tables' metadata, so a damaged ledger can be restored with its
first-seen dates. Reading is strict row by row: a truncated or garbled ledger is refused
here (LedgerError), never half-used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from briefings.atomic import atomic_write
from briefings.store.layout import DataFolders
from briefings.store.parquet import parquet_damage

if TYPE_CHECKING:
    import pandas as pd  # imported where the ledger is read or written

    from briefings.store.staging import StagedReturn

LEDGER_COLUMNS = [
    "file",
    "sha256",
    "size_bytes",
    "first_seen",
    "kind",
    "layout",
    "status",
    "detail",
    "rows",
    "periods",
    "forces",
    "warnings",
    "data_docs",
]
LEDGER_COPY_KEY = b"briefings-ledger"  # the ledger, in the accepted tables' schema metadata
ESCAPED_COLUMNS = ("file", "detail", "layout", "warnings")  # free text, from files or people
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Status:
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"
    INCOMPLETE = "incomplete"  # still being written: read on a later run, never used
    WITHDRAWN = "withdrawn"  # a steward withdrew it (the journal says who and why): not used
    MOVED = "moved"  # its bytes are now under another name in raw/, listed there
    REMOVED = "removed"  # received once (the journal says when), no longer in raw/: not used
    ALL = (ACCEPTED, QUARANTINED, SUPERSEDED, DUPLICATE, INCOMPLETE, WITHDRAWN, MOVED, REMOVED)


@dataclass(frozen=True)
class LedgerEntry:
    staged: StagedReturn
    status: str
    detail: str
    rows: int = 0
    periods: str = ""
    forces: int = 0
    problems: tuple[str, ...] = field(default_factory=tuple)  # why it was refused, in words
    warnings: tuple[str, ...] = field(default_factory=tuple)  # shown to stewards, not refusing
    data_docs: str = ""  # the Data Docs page of its validation
    force_codes: tuple[str, ...] = ()  # forces the file names (also when refused)
    superseded_by: str = ""  # a refused return: the later accepted returns covering it

    @property
    def file(self) -> str:
        return self.staged.file


class LedgerError(ValueError):
    """ledger.csv exists but cannot be trusted; the message says why."""


def read_ledger(folders: DataFolders) -> pd.DataFrame:
    """The ledger; if ledger.csv is damaged, the copy kept with the accepted tables; else
    an empty ledger. Never raises for a damaged file: check_store says what was wrong."""
    try:
        return parse_ledger(folders.ledger)
    except FileNotFoundError:
        return empty_ledger()
    except LedgerError:
        copy = ledger_copy(folders)
        return copy if copy is not None else empty_ledger()


def parse_ledger(path: Path) -> pd.DataFrame:
    """ledger.csv, checked row by row: a hash, a known status and an ISO first-seen time in
    every row (a truncated or garbled ledger fails here, not later)."""
    import pandas as pd

    try:
        ledger = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as error:  # pandas' ParserError included
        raise LedgerError(
            f"not a readable CSV table: {' '.join(str(error).split())[:120]}"
        ) from None
    return _checked_ledger(ledger)


def _checked_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    required = ["file", "sha256", "first_seen", "status"]
    missing = [c for c in required if c not in ledger.columns]
    if missing:
        raise LedgerError(f"no column(s) {', '.join(missing)} in its header")
    for column in LEDGER_COLUMNS:
        if column not in ledger.columns:  # a ledger written by an earlier version
            ledger[column] = ""
    for number, row in enumerate(ledger[required].itertuples(index=False), start=2):
        if not row.file or not SHA256.match(row.sha256) or row.status not in Status.ALL:
            raise LedgerError(f"row {number} is incomplete or garbled")
        try:
            datetime.fromisoformat(row.first_seen)
        except ValueError:
            raise LedgerError(
                f"row {number}: first_seen '{row.first_seen}' is not a time"
            ) from None
    for column in ESCAPED_COLUMNS:
        ledger[column] = ledger[column].map(_unescape_cell)
    return ledger[LEDGER_COLUMNS].reset_index(drop=True)


def empty_ledger() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=LEDGER_COLUMNS, dtype=str)


def ledger_copy(folders: DataFolders) -> pd.DataFrame | None:
    """The ledger as written with the accepted tables by the last complete run, if any of
    them holds a readable copy."""
    import pandas as pd
    import pyarrow.parquet as pq

    for path in folders.accepted_tables:
        if not path.exists() or parquet_damage(path):
            continue
        try:
            metadata = pq.read_schema(path).metadata or {}
            records = json.loads(metadata[LEDGER_COPY_KEY])
            ledger = pd.DataFrame.from_records(records, columns=LEDGER_COLUMNS).astype(str)
            return _checked_ledger(ledger)
        except Exception:  # no copy (an earlier version), or a garbled one: try the next
            continue
    return None


def ledger_copy_metadata(ledger: pd.DataFrame) -> dict[bytes, bytes]:
    """The ledger as the accepted tables carry it in their schema metadata (see ledger_copy)."""
    return {LEDGER_COPY_KEY: _escaped(ledger).to_json(orient="records").encode()}


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def ledger_table(
    folders: DataFolders,
    entries: list[LedgerEntry],
    received: list[tuple[str, str, str]] | None = None,
) -> pd.DataFrame:
    """The ledger to write: this run's entries, then files gone from raw/ since, kept and
    marked: moved (its bytes are listed under their new name) or removed (no longer used).
    `received`: every content the journal has received (sha256, first path, when), so that a
    ledger rebuilt after processed/ was deleted still lists the returns removed from raw/. A
    file that was still arriving and has gone (renamed, or completed under other bytes) is
    simply dropped: it was never used."""
    import pandas as pd

    current = pd.DataFrame(
        [
            {
                "file": e.file,
                "sha256": e.staged.sha256,
                "size_bytes": str(e.staged.size_bytes),
                "first_seen": e.staged.first_seen,
                "kind": e.staged.kind,
                "layout": "; ".join([e.staged.layout, *e.staged.notes]).strip("; "),
                "status": e.status,
                "detail": e.detail,
                "rows": str(e.rows),
                "periods": e.periods,
                "forces": str(e.forces),
                "warnings": " | ".join(e.warnings),
                "data_docs": e.data_docs,
            }
            for e in entries
        ],
        columns=LEDGER_COLUMNS,
    )
    previous = read_ledger(folders)
    listed = set(zip(current["file"], current["sha256"], strict=True))
    still_listed = [
        (f, h) in listed for f, h in zip(previous["file"], previous["sha256"], strict=True)
    ]
    gone = previous.loc[
        ~pd.Series(still_listed, index=previous.index, dtype=bool)
        & (previous["status"] != Status.INCOMPLETE)
    ].copy()
    now_at = dict(zip(current["sha256"], current["file"], strict=False))
    details, statuses = [], []
    for row in gone.itertuples(index=False):
        if row.sha256 in now_at:
            statuses.append(Status.MOVED)
            details.append(f"its bytes are now {now_at[row.sha256]}; no longer in raw/")
        elif row.status == Status.REMOVED:
            statuses.append(row.status)
            details.append(row.detail)
        else:
            was = "" if row.status == Status.MOVED else f"was {row.status}: "
            was += row.detail.removesuffix("; no longer in raw/") if was else ""
            statuses.append(Status.REMOVED)
            details.append(f"{was}{'; ' if was else ''}not used; no longer in raw/")
    gone["status"] = statuses
    gone["detail"] = details
    listed_contents = set(current["sha256"]) | set(gone["sha256"])
    # Earlier bytes of a file still in raw/ under the same name (changed as it was copied or
    # read, then complete) are not a return removed: that name is listed with its bytes now.
    listed_names = set(current["file"])
    forgotten = pd.DataFrame(
        [
            {
                "file": path,
                "sha256": sha256,
                "size_bytes": "",
                "first_seen": first_received,
                "kind": "",
                "layout": "",
                "status": Status.REMOVED,
                "detail": f"received {first_received[:10]}; not used; no longer in raw/",
                "rows": "0",
                "periods": "",
                "forces": "0",
                "warnings": "",
                "data_docs": "",
            }
            for sha256, path, first_received in received or []
            if sha256 not in listed_contents and path and path not in listed_names
        ],
        columns=LEDGER_COLUMNS,
    )
    table = pd.concat(
        [frame for frame in (current, gone, forgotten) if not frame.empty] or [current],
        ignore_index=True,
    ).sort_values(["first_seen", "file"])
    return table.reset_index(drop=True)


def _escaped(table: pd.DataFrame) -> pd.DataFrame:
    """The ledger as written: formula-like cells escaped (read_ledger undoes it)."""
    table = table.copy()
    for column in ESCAPED_COLUMNS:
        table[column] = table[column].fillna("").map(spreadsheet_safe)
    return table


def write_ledger(folders: DataFolders, table: pd.DataFrame) -> None:
    escaped = _escaped(table)
    atomic_write(folders.ledger, lambda path: escaped.to_csv(path, index=False))


def named_once(file: str, detail: str) -> str:
    """'incoming/x.csv: row 2 ...': a return named by its ledger name, once (a reader's
    message names the file by its own name first)."""
    own = file.rsplit("/", 1)[-1]
    for prefix in (f"{file}: ", f"{own}: ", f"{file} ", f"{own} "):
        if detail.startswith(prefix):
            detail = detail[len(prefix) :]
            break
    return f"{file}: {detail}"
