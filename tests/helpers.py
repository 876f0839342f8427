"""Helpers shared by the tests."""

from __future__ import annotations

import os
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


def briefings(
    *args: str, env: dict[str, str | None] | None = None, cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess:
    """The `briefings` command run in this process, as a user would run it from `cwd`: its
    exit status, and what it wrote to stdout and to stderr. `env` is set for the command only
    (None unsets a variable); an exception it did not turn into an exit status is raised here.

    What the command sets in os.environ stays, as it would for the rest of its process: the
    validation context, made once per process, reads its folder from there."""
    from prefect.logging.configuration import ensure_logging_setup
    from typer.testing import CliRunner

    from briefings.cli import app

    # Prefect's log handlers write to the stderr of the moment they are made: this process's,
    # not the stream one command's output is captured in (closed when the command ends).
    ensure_logging_setup()
    folder = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner(env=env).invoke(app, list(args))
    finally:
        os.chdir(folder)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["briefings", *args], result.exit_code, result.stdout, result.stderr
    )
