"""The domain reads and writes no files: figures, wording and briefing contexts are computed from
values handed to them. Imports are held by the import-linter contracts in pyproject.toml; pandas
is allowed there, so its file readers and writers are checked here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import briefings.domain

DOMAIN_DIR = Path(briefings.domain.__file__).parent
# pandas' readers and writers, and the builtin open: what an import contract cannot see.
FILE_IO = re.compile(
    r"read_\w+|to_(csv|parquet|excel|json|pickle|feather|sql|html|xml|hdf|stata|orc|clipboard)"
)


def file_io_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name == "open" or (name and FILE_IO.fullmatch(name)):
            found.append(f"line {node.lineno}: {name}()")
    return found


@pytest.mark.parametrize("module", sorted(DOMAIN_DIR.glob("*.py")), ids=lambda path: path.name)
def test_the_domain_reads_and_writes_no_files(module: Path) -> None:
    """No domain module calls a pandas reader or writer, or opens a file."""
    assert file_io_calls(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "pd.read_csv(path)",
        "frame.to_parquet(path)",
        "open(path)",
        "path.open()",
        "pd.read_excel(path, sheet_name=None)",
    ],
)
def test_the_check_sees_file_io(source: str) -> None:
    """The check finds each kind of file access it is meant to forbid."""
    assert file_io_calls(source)
