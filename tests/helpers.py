"""Helpers shared by the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TESTS_DIR = Path(__file__).parent
TEST_DATA = TESTS_DIR / "data"
PROJECT_ROOT = TESTS_DIR.parent


def copy_data_folder(source: Path, target: Path) -> Path:
    """A data folder holding only raw/, as a user would hand one over."""
    shutil.copytree(source / "raw", target / "raw")
    return target


def pdf_text(path: Path) -> str:
    """A PDF read back as text by poppler's pdftotext, whitespace collapsed."""
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(text.split())


def tree_digest(folder: Path) -> dict[str, str]:
    from briefings.ingest import file_sha256

    return {
        str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }
