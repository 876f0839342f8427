"""Raw files as found in data/raw/: hashing, size limits, what kind of file the bytes really
are, and whether a file is still being written.

Limits, from the settings in force at each call (briefings.config.Settings: a deployment or a
test that changes the environment is heard at the next call):

- BRIEFINGS_MAX_RETURN_MB (default 20): the largest online-flag return, as a file. Returns
  are a few hundred rows; anything this large is not one. It also bounds each part of a
  workbook that is read whole into memory once unzipped (shared strings, styles).
- BRIEFINGS_MAX_TABLE_MB (default 1024): the largest file of any kind (Home Office tables are
  streamed, so only a runaway file reaches it), and the most a workbook may unzip to.
- BRIEFINGS_SETTLE_SECONDS (default 2): a file modified less than this long ago may still be
  being copied in. Ingest waits (at most this long) for such files and then reads only those
  that did not change meanwhile; the others are left for the next run.

Over-limit files are refused from their size on disk (or the sizes a zip's directory
declares), before anything is read whole.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from briefings.atomic import file_sha256
from briefings.config.settings import get_settings
from briefings.journal.received import RECEIVED_DATES

RETURN_SUFFIXES = {".csv", ".xlsx"}
# Names download and copy tools give a file until it is complete.
PARTIAL_SUFFIXES = {".part", ".partial", ".crdownload", ".download", ".tmp"}
# Replies fetched from the charity's mailbox are kept whole under raw/mailbox/<reply>/: the
# message, its letters and any logo beside its spreadsheets. Only the spreadsheets (and files
# named as one, which ingest refuses by name) are returns; the letters are read by the
# mailbox, and their figures count only once a steward confirms them.
MAIL_FOLDER = "mailbox"
MAIL_SPREADSHEETS = {".csv", ".xlsx", ".xls", ".xlsm", ".ods"}
DEFAULT_MAX_RETURN_MB = 20
DEFAULT_MAX_TABLE_MB = 1024
DEFAULT_SETTLE_SECONDS = 2.0
# Kept for callers that want the defaults; the limits in force come from the functions below.
MAX_RETURN_BYTES = DEFAULT_MAX_RETURN_MB * 1024 * 1024
MAX_TABLE_BYTES = DEFAULT_MAX_TABLE_MB * 1024 * 1024
STILL_ARRIVING = "still being written: will be read on the next run"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: .xls, or an encrypted .xlsx
_OLE_SCAN_BYTES = 1 << 20  # an encrypted workbook names its EncryptedPackage stream early


class ReturnReadError(ValueError):
    """A raw file that cannot be read as a return; the message names the file and the cause."""


def max_return_bytes() -> int:
    """The largest online-flag return (BRIEFINGS_MAX_RETURN_MB, default 20)."""
    return get_settings().max_return_bytes


def max_table_bytes() -> int:
    """The largest raw file of any kind (BRIEFINGS_MAX_TABLE_MB, default 1024)."""
    return get_settings().max_table_bytes


def settle_seconds() -> float:
    """How long a file must be left unchanged before it is read as final
    (BRIEFINGS_SETTLE_SECONDS, default 2; 0 reads every file at once)."""
    return get_settings().settle_seconds


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


@dataclass(frozen=True)
class FileState:
    """What changes when a file is written to: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class RawFile:
    path: Path
    relative: str  # path under raw/, as the ledger names it (printable_name)
    sha256: str
    size_bytes: int
    state: FileState | None = None  # taken before hashing; compared after reading
    # Why its bytes cannot be read at all (permissions, not a regular file); then `sha256`
    # names its path, not its content (unreadable_sha256), since there is no content to hash.
    unreadable: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def changed(self) -> bool:
        """Written to (or removed) since it was listed and hashed."""
        try:
            return self.state is not None and FileState.of(self.path) != self.state
        except FileNotFoundError:
            return True


def printable_name(relative: str, backslashes: bool = True) -> str:
    r"""A path under raw/ as the ledger, reports and messages show it: one line of text
    whatever bytes the name holds. Bytes that are not UTF-8 are written \xe9, control and
    other unprintable characters \n, \t, \u2028, and a backslash \\, so two different names
    never show alike. An ordinary name is shown as it is. Without `backslashes`, for a
    message that names a file: one line, backslashes left as they are."""
    shown = []
    for char in relative:  # undecodable bytes arrive as U+DC80 to U+DCFF (surrogateescape)
        if char == "\\" and backslashes:
            shown.append("\\\\")
        elif 0xDC80 <= ord(char) <= 0xDCFF:
            shown.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif not char.isprintable():
            shown.append(char.encode("unicode_escape").decode("ascii"))
        else:
            shown.append(char)
    return "".join(shown)


def unreadable_sha256(relative: str) -> str:
    """The ledger's key for a file whose bytes cannot be read: a hash of its path under raw/
    (never of content, which no return can share), so each such file is its own entry."""
    return hashlib.sha256(b"unreadable raw file\0" + os.fsencode(relative)).hexdigest()


def list_raw_files(raw_dir: Path) -> list[RawFile]:
    """Every file under raw_dir at any depth, hashed. Hidden files (editor locks, .gitkeep),
    README files, the bundled returns' received dates (RECEIVED_DATES, at the top) and the
    mailbox's messages and letters (MAIL_FOLDER) are not returns. A file that disappears while
    being listed (a copy tool's temporary name) is left out: it is no longer there. One whose
    bytes cannot be read (no permission; a pipe, socket or device, or a link to nothing, where
    a file was expected) is listed with why, to be quarantined on its own while the rest are
    read."""
    files = []
    for path in sorted(p for p in raw_dir.rglob("*") if not _is_folder(p)):
        relative = path.relative_to(raw_dir)
        if any(part.startswith((".", "~$")) for part in relative.parts):
            continue
        if path.name.lower() in {"readme.md", "readme.txt"}:
            continue
        if relative.as_posix() == RECEIVED_DATES:
            continue
        if relative.parts[0] == MAIL_FOLDER and path.suffix.lower() not in MAIL_SPREADSHEETS:
            continue
        shown = printable_name(relative.as_posix())
        try:
            state = FileState.of(path)  # before hashing, so a write during hashing shows
            if not stat.S_ISREG(path.stat().st_mode):
                raise _NotRegular(_kind_of(path))
            files.append(RawFile(path, shown, file_sha256(path), state.size, state))
        except FileNotFoundError:
            if path.is_symlink():  # a link to nothing: there, but it holds no return
                files.append(_unreadable(path, shown, "a link to a file that is not there"))
            continue
        except _NotRegular as error:
            files.append(_unreadable(path, shown, f"not a file but {error}"))
        except OSError as error:
            files.append(_unreadable(path, shown, _os_reason(error)))
    return files


class _NotRegular(Exception):
    pass


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _kind_of(path: Path) -> str:
    mode = path.stat().st_mode
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "something other than a file"


def _os_reason(error: OSError) -> str:
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (error.strerror or type(error).__name__).lower()


def _unreadable(path: Path, shown: str, why: str) -> RawFile:
    return RawFile(path, shown, unreadable_sha256(shown), 0, None, f"cannot be read: {why}")


def unsettled(files: list[RawFile], seconds: float | None = None) -> dict[str, str]:
    """Files that may still be being written, by `relative` name, with why.

    A file modified within the last `seconds` (settle_seconds()) is watched until it is that
    old, waiting once for all of them and at most `seconds`; one that changed meanwhile is
    still arriving. Files named as partial downloads (.part, .crdownload) are always arriving.
    """
    seconds = settle_seconds() if seconds is None else seconds
    arriving = {
        f.relative: f"named as a partial download ('{f.path.suffix}'): {STILL_ARRIVING}"
        for f in files
        if f.path.suffix.lower() in PARTIAL_SUFFIXES
    }
    now = time.time()
    recent = [
        f
        for f in files
        if f.relative not in arriving
        and f.state is not None
        and now - f.state.mtime_ns / 1e9 < seconds
    ]
    if not recent:
        return arriving
    # A modification time in the future (clock skew, a share) gives no age: watch it in full.
    newest = max(min(f.state.mtime_ns / 1e9, now) for f in recent if f.state is not None)
    wait_for_files(min(seconds, newest + seconds - now))
    for f in recent:
        if f.changed():
            arriving[f.relative] = f"modified during the last {seconds:g} s; {STILL_ARRIVING}"
    return arriving


def wait_for_files(seconds: float) -> None:
    """Sleep while recently modified files settle (a seam for tests to act meanwhile)."""
    if seconds > 0:
        time.sleep(seconds)


def check_container(path: Path, head: bytes) -> None:
    """Refuse, with the reason, bytes that cannot be the table the file name promises."""
    suffix = path.suffix.lower()
    name = path.name
    if suffix == ".xls":
        raise ReturnReadError(
            f"{name}: an old-style Excel .xls workbook; please save it as .xlsx or .csv"
        )
    if suffix not in RETURN_SUFFIXES:
        raise ReturnReadError(
            f"{name}: not a police return (expected .csv or .xlsx, found '{suffix or 'none'}')"
        )
    if not head:
        raise ReturnReadError(f"{name}: the file is empty")
    if head.startswith(_OLE_MAGIC):
        with path.open("rb") as handle:  # the start only: the file may be huge
            start = handle.read(_OLE_SCAN_BYTES)
        if "EncryptedPackage".encode("utf-16-le") in start:
            raise ReturnReadError(
                f"{name}: a password-protected workbook; ask the force for an unprotected copy"
            )
        raise ReturnReadError(f"{name}: an old-style Excel workbook; please save it as .xlsx")
    if suffix == ".csv":
        if head.startswith(_ZIP_MAGIC):
            raise ReturnReadError(f"{name}: an Excel workbook named .csv; rename it to .xlsx")
        if b"\x00" in head or _control_share(head) > 0.05:
            raise ReturnReadError(f"{name}: binary data, not a CSV text table")
    if suffix == ".xlsx" and not head.startswith(_ZIP_MAGIC):
        raise ReturnReadError(f"{name}: not an Excel workbook (the bytes are not .xlsx)")


def _control_share(head: bytes) -> float:
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    return controls / len(head)
