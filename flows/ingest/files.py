"""Raw files as found in data/raw/: hashing, and what kind of file the bytes really are."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

RETURN_SUFFIXES = {".csv", ".xlsx"}
# Online-flag returns are a few hundred rows; anything this large is not one.
MAX_RETURN_BYTES = 20 * 1024 * 1024
# Home Office tables are streamed; this only guards against a runaway file.
MAX_TABLE_BYTES = 1024 * 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: .xls, or an encrypted .xlsx


class ReturnReadError(ValueError):
    """A raw file that cannot be read as a return; the message names the file and the cause."""


@dataclass(frozen=True)
class RawFile:
    path: Path
    relative: str  # path under raw/, as the ledger names it
    sha256: str
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_raw_files(raw_dir: Path) -> list[RawFile]:
    """Every file under raw_dir at any depth, hashed. Hidden files (editor locks, .gitkeep) and
    README files are not returns."""
    files = []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(raw_dir)
        if any(part.startswith((".", "~$")) for part in relative.parts):
            continue
        if path.name.lower() in {"readme.md", "readme.txt"}:
            continue
        files.append(RawFile(path, relative.as_posix(), file_sha256(path), path.stat().st_size))
    return files


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
        if "EncryptedPackage".encode("utf-16-le") in path.read_bytes()[: 1 << 20]:
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
