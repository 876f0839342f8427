"""What a publication found and gave, kept so that a rerun that finds nothing new gives the
same back without reading a table, computing a figure or loading the renderer.

A publication depends on: the raw files; the store (processed/: the ledger, the staged and
accepted tables, the quarantine reports, the cached ingest results and validation outcomes);
the journal (when each return was received, stewards' decisions, what was sent); what is
already published in the period's folder, and what the other periods were published with
(their manifests); the comms teams' configuration; the code, the suites, the reference
data, the templates and the libraries; the BRIEFINGS_* environment; the request; and the
calendar (the latest financial year that has ended). At the end of a
publication, before delivery, `keep` hashes all of them and keeps the result under that
hash (processed/cache/receipts/). A run of the same request first hashes them again
(`unchanged`): the same hash means every byte it would read is as the last publication left
it, so a full run would find no new return, compute the same figures, render nothing and
rewrite the same files; the kept result is that run's result. Any difference, however small
(a raw file touched, a byte of the store, a decision in the journal, a PDF removed, a quote
edited, another version of the code) runs everything.

The hashes cover the bytes, as ingest's own checks do: the store's integrity check accepts
a Parquet file whose bytes hash as they did when it last passed, and a file here must hash
as it did at the end of the last publication. A publication that left something unsettled
(a raw file still being written, a refused return whose stewards have not been told) keeps
nothing: the next run does the work.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

from briefings.atomic import file_sha256
from briefings.cache import cache_key, digest
from briefings.config.settings import NOT_SETTINGS, PREFIX
from briefings.domain.periods import Period
from briefings.journal import journal_path
from briefings.resources import FLOWS_DIR, REPORTS_CONFIG_DIR
from briefings.services.runs import (
    IngestResult,
    OutOfDate,
    Publication,
    RunRequest,
    cache_of,
)
from briefings.store import DataFolders, Status

if TYPE_CHECKING:
    from briefings.domain.figures import PeriodFigures

log = logging.getLogger("briefings")

NAMESPACE = "receipts"
# Under processed/, what cannot change a publication: derived values kept under keys of their
# own (a period's figures, artifacts' rows, these receipts), the hashes of the Parquet files
# that passed the integrity check (they spare a second reading of the same bytes, which are
# hashed here), Great Expectations' results and Data Docs, and the store's lock. Everything
# else there is an input.
NOT_READ = (
    "validation",
    "cache/figures",
    "cache/artifacts",
    "cache/integrity",
    f"cache/{NAMESPACE}",
    ".lock",
)
# Environment variables that never shape a publication and must not be hashed.
SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class Receipt:
    """A publication's result, and what a rerun that finds nothing new says and gives."""

    inputs: str  # the hash of everything the publication depends on, at its end
    folder: str  # where it published, under the output folder (2016-17)
    raw_files: int  # raw files found in raw/
    ingested: IngestResult
    figures: PeriodFigures
    publication: Publication  # nothing rendered or withdrawn: a rerun renders nothing
    out_of_date: tuple[OutOfDate, ...] = ()  # other periods published before, now out of date


def unchanged(folders: DataFolders, request: RunRequest) -> Receipt | None:
    """The last publication of this request, if every input is as it left them."""
    if request.force_render:
        return None
    receipt = cache_of(folders).get(NAMESPACE, _slot(request), _request_key(request))
    if not isinstance(receipt, Receipt):
        return None
    if inputs_fingerprint(folders, request, receipt.folder) != receipt.inputs:
        return None
    return receipt


def keep(
    folders: DataFolders,
    request: RunRequest,
    ingested: IngestResult,
    figures: PeriodFigures,
    publication: Publication,
    out_of_date: tuple[OutOfDate, ...] = (),
) -> None:
    """Keep a publication's result for a rerun that finds nothing new, unless something in
    it waits on time or on a person's inbox: a raw file still being written (read when it is
    complete), or a refused return whose stewards were not told (told again by the next run)."""
    from briefings.journal import Journal
    from briefings.journal.decisions import notified_refusals

    cache = cache_of(folders)
    slot = _slot(request)
    arriving = any(
        entry.status == Status.INCOMPLETE or entry.staged.arriving for entry in ingested.ledger
    )
    told = notified_refusals(Journal.of(folders.root)) if ingested.needs_attention else set()
    untold = any(entry.staged.sha256 not in told for entry in ingested.needs_attention)
    folder = publication.period_dir.relative_to(request.out_dir).as_posix()
    inputs = None if arriving or untold else inputs_fingerprint(folders, request, folder)
    try:
        if inputs is None:
            cache.path(NAMESPACE, slot).unlink(missing_ok=True)
            return
        receipt = Receipt(
            inputs=inputs,
            folder=folder,
            raw_files=len(ingested.ledger),  # one entry per raw file found (accept_returns)
            ingested=ingested,
            figures=figures,
            publication=replace(publication, rendered=[], withdrawn=[]),
            out_of_date=out_of_date,
        )
        cache.put(NAMESPACE, slot, _request_key(request), receipt)
    except OSError as error:  # only time is lost: the next run does the work
        log.info("Kept no receipt of this publication (%s): the next run does the work", error)


def say_nothing_new(
    receipt: Receipt, folders: DataFolders, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> IngestResult:
    """What ingest says when no raw file has changed, and its result: the ledger as it
    stands, told as a run that validated returns tells it."""
    result = receipt.ingested
    logger.info("Found %d raw files in %s", receipt.raw_files, folders.raw)
    logger.info("No raw file has changed since the last run: the store stands as it was")
    result.tell(logger)
    return result


# What a publication depends on ------------------------------------------------------------


def inputs_fingerprint(folders: DataFolders, request: RunRequest, folder: str) -> str | None:
    """One hash of everything a publication of `request` into `folder` depends on (see the
    module's docstring); None if something cannot be hashed for certain (a link, a pipe, a
    file that cannot be read), which leaves the decision to a full run."""
    from briefings.render import publication

    today = date.today()
    trees = {
        "raw": _tree(folders.raw, with_times=True),
        "processed": _tree(folders.processed, skip=NOT_READ),
        "published": _tree(request.out_dir / folder),
        # A publication of the latest period says which earlier ones are out of date: what
        # they were published with is an input (one published again is no longer so).
        "other periods": (
            _other_manifests(request.out_dir, folder)
            if request.period is None and request.as_of is None
            else []
        ),
        "configuration": _tree(REPORTS_CONFIG_DIR),
        "flows": _tree(FLOWS_DIR, pattern=".py"),
    }
    journal = _journal(journal_path(folders.root))
    if journal is None or any(tree is None for tree in trees.values()):
        return None
    environment = sorted(
        (name.upper(), value)
        for name, value in os.environ.items()
        if name.upper().startswith(PREFIX)
        and name.upper() not in NOT_SETTINGS  # written by a run, for Great Expectations
        and not SECRET.search(name)
    )
    return cache_key(  # with the code, the suites, the reference data and the libraries
        "publication inputs",
        _request(request),
        [Period.latest_ended(today).label, Period(_financial_year(today)).label],
        environment,
        publication.resources_fingerprint(),  # templates, branding, fonts, the renderer
        trees,
        journal,
    )


def _tree(
    root: Path, skip: tuple[str, ...] = (), with_times: bool = False, pattern: str = ""
) -> list[tuple[Any, ...]] | None:
    """Each file under `root` by its path and the sha256 of its bytes (and its size and
    modification time, `with_times`), except those under `skip`; None if a link, something
    other than a file, or a file that cannot be read is there."""
    if not root.exists():
        return []
    if not root.is_dir() or root.is_symlink():
        return None
    found: list[tuple[Any, ...]] = []
    for folder, folders, files in os.walk(root):
        here = Path(folder)
        relative = here.relative_to(root).as_posix()
        if any((here / name).is_symlink() for name in folders):
            return None
        folders[:] = sorted(name for name in folders if _relative(relative, name) not in skip)
        for name in sorted(files):
            path = here / name
            shown = _relative(relative, name)
            if shown in skip or (pattern and not name.endswith(pattern)):
                continue
            try:
                info = path.lstat()
                if not S_ISREG(info.st_mode):  # a link, a pipe: ingest's to judge
                    return None
                entry: tuple[Any, ...] = (shown, file_sha256(path))
            except OSError:
                return None
            found.append((*entry, info.st_size, info.st_mtime_ns) if with_times else entry)
    return found


def _other_manifests(out_dir: Path, folder: str) -> list[tuple[Any, ...]] | None:
    from briefings.render.publication import MANIFEST_JSON

    found: list[tuple[Any, ...]] = []
    for manifest in sorted(out_dir.glob(f"*/{MANIFEST_JSON}")):
        if manifest.parent.name == folder:
            continue
        try:
            found.append((manifest.parent.name, file_sha256(manifest)))
        except OSError:
            return None
    return found


def _relative(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def _journal(path: Path) -> list[str] | None:
    """The journal's bytes as they are on disk: the database, and its write-ahead log if a
    connection left one (its frames are part of the journal until they are checkpointed)."""
    try:
        parts = [file_sha256(path)]
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            parts.append(file_sha256(wal))
        return parts
    except OSError:
        return None


def _request(request: RunRequest) -> dict[str, Any]:
    # Neither changes what a publication is: rendering all again, or some ahead of need.
    return request.model_dump(mode="json", exclude={"force_render", "next_period"})


def _request_key(request: RunRequest) -> str:
    return cache_key("publication receipt", _request(request))


def _slot(request: RunRequest) -> str:
    period = (request.period or "latest").replace("/", "-")
    return f"{period}-{digest(_request(request))[:16]}"


def _financial_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1
