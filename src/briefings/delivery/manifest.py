"""The publish step's manifest: reports/out/<period-slug>/manifest.json, what was rendered.

Each briefing's content_hash is checked against its PDF's bytes here: the ledger's promise
(a subscriber gets each printed version exactly once) rests on that hash being true.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "manifest.json"
SCOPES = ("force", "region", "national")


class ManifestError(ValueError):
    """A manifest that is missing, malformed, or out of step with the PDFs beside it."""


@dataclass(frozen=True)
class BriefingFile:
    pdf: str  # file name inside the period folder
    scope: str  # force, region or national
    code: str | None  # ONS code for a force
    name: str
    region: str | None
    title: str
    headline: str
    content_hash: str  # sha256 of the PDF bytes
    figures: dict[str, str]  # measure -> value as printed, in table order
    path: Path


@dataclass(frozen=True)
class Publication:
    period: str
    period_slug: str
    embargo: str | None
    charity_name: str
    briefings: tuple[BriefingFile, ...]
    directory: Path

    def briefing(self, pdf: str) -> BriefingFile:
        return next(b for b in self.briefings if b.pdf == pdf)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(period_dir: Path) -> Publication:
    path = period_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_NAME} in {period_dir}: publish first") from None
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: not valid JSON ({error})") from None
    try:
        briefings = tuple(_briefing(entry, period_dir) for entry in data["briefings"])
        publication = Publication(
            period=str(data["period"]),
            period_slug=str(data["period_slug"]),
            embargo=(str(data["embargo"]).strip() or None) if data.get("embargo") else None,
            charity_name=str(data["charity_name"]),
            briefings=briefings,
            directory=period_dir,
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ManifestError(f"{path}: missing or malformed entry ({error!r})") from None
    names = [b.pdf for b in briefings]
    if len(set(names)) != len(names):
        raise ManifestError(f"{path}: a PDF is listed twice")
    for briefing in briefings:
        if briefing.scope not in SCOPES:
            raise ManifestError(f"{path}: {briefing.pdf} has unknown scope '{briefing.scope}'")
        if not briefing.path.is_file():
            raise ManifestError(f"{path}: {briefing.pdf} is listed but not in {period_dir}")
        if sha256_file(briefing.path) != briefing.content_hash:
            raise ManifestError(
                f"{path}: {briefing.pdf} does not match its content_hash; "
                "the manifest is out of date, publish again"
            )
    return publication


def _briefing(entry: dict, period_dir: Path) -> BriefingFile:
    pdf = str(entry["pdf"])
    if Path(pdf).name != pdf:  # a name inside the period folder, never a path out of it
        raise TypeError(f"pdf '{pdf}' must be a file name")
    return BriefingFile(
        pdf=pdf,
        scope=str(entry["scope"]),
        code=entry.get("code"),
        name=str(entry["name"]),
        region=entry.get("region"),
        title=str(entry["title"]),
        headline=str(entry.get("headline") or ""),
        content_hash=str(entry["content_hash"]).lower(),
        figures={str(k): _printed(v) for k, v in (entry.get("figures") or {}).items()},
        path=period_dir / pdf,
    )


def _printed(value: object) -> str:
    return "not published" if value is None else str(value)
