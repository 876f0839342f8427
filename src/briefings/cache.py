"""Results kept beside the store and reused while their inputs are unchanged.

A scheduled run with nothing new should cost next to nothing (issue 9): ingest's accepted
tables and ledger entries, and a period's figures, are pure functions of the raw files'
contents, the accepted tables, the reference data, the suites and this code. Each is saved
under processed/memo/ with a key made from all of those, and used again only when a run
computes the same key; anything else (a new file, a changed suite or code, a damaged or
rebuilt table, a memo that does not read) computes afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from briefings.atomic import atomic_write
from briefings.ingest import file_sha256
from briefings.resources import GX_PROJECT, PACKAGE_DIR, REFERENCE_DIR, resource_name

log = logging.getLogger(__name__)
# Libraries whose behaviour shapes the results: an upgrade recomputes everything.
LIBRARIES = ("pandas", "numpy", "pyarrow", "great-expectations", "scipy")


@cache
def code_fingerprint() -> str:
    """This code, the suites, the reference data and the libraries' versions."""
    digest = hashlib.sha256()
    for package in LIBRARIES:
        digest.update(f"{package}={version(package)}\n".encode())
    files = [
        *sorted(PACKAGE_DIR.rglob("*.py")),
        *sorted((GX_PROJECT / "gx").rglob("*.json")),
        *sorted(p for p in REFERENCE_DIR.rglob("*") if p.is_file()),
    ]
    for path in files:
        digest.update(f"{resource_name(path)}={file_sha256(path)}\n".encode())
    return digest.hexdigest()


def memo_key(*parts: Any) -> str:
    """A key over JSON-able parts and code_fingerprint()."""
    text = json.dumps([code_fingerprint(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def recall(path: Path, key: str) -> Any | None:
    """What was saved under `key` at `path`, or None (nothing saved, another key, unreadable).
    The memo is a pickle the pipeline wrote itself in its own processed/ folder, which only
    it writes: a reader able to change it could as well change raw/ or this code."""
    try:
        with path.open("rb") as handle:
            saved = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as error:  # a damaged memo is only a cache: compute afresh
        log.info("Ignoring %s (%s): computing afresh", path.name, error)
        return None
    if not isinstance(saved, dict) or saved.get("key") != key:
        return None
    return saved.get("value")


def remember(path: Path, key: str, value: Any) -> None:
    payload = pickle.dumps({"key": key, "value": value}, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write(path, lambda temporary: Path(temporary).write_bytes(payload))


def remembered(path: Path, key: str, compute: Callable[[], Any]) -> Any:
    """The value saved under `key`, else compute() saved under it."""
    value = recall(path, key)
    if value is None:
        value = compute()
        remember(path, key, value)
    return value
