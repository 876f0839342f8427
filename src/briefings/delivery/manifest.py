"""The publish step's manifest: reports/out/<period-slug>/manifest.json, what was rendered.

Each briefing's content_hash is checked against its PDF's bytes here: the ledger's promise
(a subscriber gets each printed version exactly once) rests on that hash being true.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from briefings.config.problems import problems
from briefings.config.text import DateLine, Line, Name, problem

MANIFEST_NAME = "manifest.json"
SCOPES = ("force", "region", "national")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    edition: int = 1  # the edition the PDF prints (briefings.domain.editions)
    issued: str | None = None  # its date, ISO; None in a manifest from before editions
    correction: str | None = None  # what a corrected edition says it corrects


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


def _printed(value: object) -> object:
    if value is None:
        return "not published"
    if isinstance(value, float) and not math.isfinite(value):
        raise problem(f"a figure is printed text or null, never {value}")
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _file_name(pdf: str) -> str:
    if Path(pdf).name != pdf or pdf in ("", ".", ".."):  # never a path out of the folder
        raise problem(f"pdf '{pdf}' must be a file name")
    return pdf


def _blank_as_none(value: object) -> object:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


class ManifestEntry(BaseModel):
    """One briefing in manifest.json. Names and titles go into email subjects: one line."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    pdf: Annotated[str, AfterValidator(_file_name)]
    scope: Literal["force", "region", "national"]
    code: str | None = None
    name: Name
    region: str | None = None
    title: Line
    headline: Annotated[str, BeforeValidator(lambda v: "" if v is None else v)] = ""
    content_hash: Annotated[str, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)]
    figures: Annotated[
        dict[str, Annotated[str, BeforeValidator(_printed)]],
        BeforeValidator(lambda v: {} if v is None else v),
    ] = {}
    edition: Annotated[int, Field(ge=1, strict=True)] = 1
    issued: Annotated[date | None, BeforeValidator(_blank_as_none)] = None
    correction: Annotated[str | None, BeforeValidator(_blank_as_none)] = None

    @field_validator("content_hash")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise problem("content_hash must be a SHA-256 hex digest")
        return value


class ManifestFile(BaseModel):
    """manifest.json as the publish step writes it."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    period: str
    period_slug: Annotated[str, AfterValidator(_file_name)]
    embargo: Annotated[DateLine | None, BeforeValidator(_blank_as_none)] = None
    charity_name: Name
    briefings: list[ManifestEntry]

    @field_validator("briefings")
    @classmethod
    def _each_pdf_once(cls, briefings: list[ManifestEntry]) -> list[ManifestEntry]:
        names = [b.pdf for b in briefings]
        if len(set(names)) != len(names):
            raise problem("a PDF is listed twice")
        return briefings


def load_manifest(period_dir: Path) -> Publication:
    path = period_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_NAME} in {period_dir}: publish first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: not valid JSON ({error})") from None
    try:
        manifest = ManifestFile.model_validate(data)
    except ValidationError as error:
        found = "; ".join(problems(error, ManifestFile, owner_name=MANIFEST_NAME))
        raise ManifestError(f"{path}: {found}") from None
    briefings = tuple(
        BriefingFile(
            **entry.model_dump(exclude={"issued"}),
            issued=entry.issued.isoformat() if entry.issued else None,
            path=period_dir / entry.pdf,
        )
        for entry in manifest.briefings
    )
    for briefing in briefings:
        if not briefing.path.is_file():
            raise ManifestError(f"{path}: {briefing.pdf} is listed but not in {period_dir}")
        if sha256_file(briefing.path) != briefing.content_hash:
            raise ManifestError(
                f"{path}: {briefing.pdf} does not match its content_hash; "
                "the manifest is out of date, publish again"
            )
    return Publication(
        period=manifest.period,
        period_slug=manifest.period_slug,
        embargo=manifest.embargo,
        charity_name=manifest.charity_name,
        briefings=briefings,
        directory=period_dir,
    )
