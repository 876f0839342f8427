"""The one cache: values derived from the data, kept in processed/cache/ and reused while
their inputs are unchanged.

One key scheme everywhere: `digest(*parts)` is a SHA-256 over the JSON of the parts, and
`cache_key(*parts)` adds `code_fingerprint()` (this package's code, the Great Expectations
suites, the reference data and the versions of the libraries that shape results), so a code
or library upgrade recomputes everything. One store: `Cache` keeps each value in a slot
(`<namespace>/<name>.pickle`) together with its key; a slot read with another key, or that
does not read, is a miss. Slots are overwritten, not accumulated, so the cache does not grow
with the number of runs.

What uses it: ingest's results (ledger entries, cross-return warnings), each return's and the
store's validation outcome, a period's figures, and the bytes of Parquet files that passed the
store's integrity check. The render step keys each briefing on `digest()` of what shapes its PDF
(its context, the templates, branding, fonts and renderer versions), kept in the
publication's manifest.json: a PDF is rendered again when that differs, not when unrelated
code changes.

Everything here is derived: deleting processed/ loses time, never a figure, date or email.
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
from typing import Any, TypeVar

from briefings.atomic import atomic_write, file_sha256
from briefings.resources import GX_PROJECT, PACKAGE_DIR, REFERENCE_DIR, resource_name

log = logging.getLogger(__name__)
T = TypeVar("T")

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


def digest(*parts: Any) -> str:
    """The one key scheme: SHA-256 over the JSON of the parts (anything else by its str)."""
    text = json.dumps(list(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(*parts: Any) -> str:
    """The key of a value computed from `parts` by this code: digest() with the code's
    fingerprint, so another version of the code computes afresh."""
    return digest(code_fingerprint(), *parts)


class Cache:
    """Slots of derived values under one folder (processed/cache/ of a data folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, namespace: str, name: str) -> Path:
        return self.root / namespace / f"{name}.pickle"

    def get(self, namespace: str, name: str, key: str) -> Any | None:
        """The value kept in the slot under `key`, or None (empty, another key, unreadable).
        The slots are pickles this pipeline wrote in its own processed/ folder, which only it
        writes: a reader able to change them could as well change raw/ or this code."""
        path = self.path(namespace, name)
        try:
            with path.open("rb") as handle:
                saved = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception as error:  # a damaged slot is only a miss: compute afresh
            log.info("Ignoring cached %s/%s (%s): computing afresh", namespace, name, error)
            return None
        if not isinstance(saved, dict) or saved.get("key") != key:
            return None
        return saved.get("value")

    def put(self, namespace: str, name: str, key: str, value: Any) -> None:
        payload = pickle.dumps({"key": key, "value": value}, protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(self.path(namespace, name), lambda tmp: Path(tmp).write_bytes(payload))

    def get_or_compute(self, namespace: str, name: str, key: str, compute: Callable[[], T]) -> T:
        """The value under `key`, else compute() kept under it."""
        value = self.get(namespace, name, key)
        if value is None:
            value = compute()
            self.put(namespace, name, key, value)
        return value  # type: ignore[no-any-return]

    def unreadable(self, namespace: str) -> list[tuple[Path, str]]:
        """The slots of a namespace that do not read back, with why: for the store's
        integrity check, which reports damage by name before rebuilding."""
        folder = self.root / namespace
        damaged = []
        for path in sorted(folder.glob("*.pickle")) if folder.is_dir() else []:
            try:
                with path.open("rb") as handle:
                    saved = pickle.load(handle)
                if not isinstance(saved, dict) or "key" not in saved:
                    raise ValueError("not a cache slot")
            except Exception as error:
                damaged.append((path, f"unreadable: {type(error).__name__}"))
        return damaged
