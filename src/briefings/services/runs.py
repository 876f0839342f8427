"""What a run is asked for and gives back, how its steps run (the Runner), and where its
files go."""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field, field_validator

from briefings.cache import Cache
from briefings.config import ConfigurationError
from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.ledger import AlreadySentError, DeliveryLedger
from briefings.delivery.plan import DeliverySummary
from briefings.delivery.settings import DeliverySettings, DeliverySettingsError
from briefings.delivery.transport import SendError, UnknownOutcomeError, transport_for
from briefings.domain.figures import PeriodFigures
from briefings.domain.forces import UnknownForceError
from briefings.domain.periods import (
    AsOfError,
    Period,
    PeriodError,
    parse_as_of,
)
from briefings.domain.style import plural
from briefings.journal import JournalError
from briefings.render.publication import PreparedBriefing, render_prepared, rendering_dir
from briefings.store import (
    DataFolders,
    LedgerEntry,
    Status,
    StoreBusyError,
)

T = TypeVar("T")
log = logging.getLogger("briefings")


class RunError(RuntimeError):
    """A run that cannot produce what was asked for; the message is for the person who asked."""


class RequestError(RunError):
    """What was asked cannot be done with the returns there (a period or a force without
    accepted returns, a year not ended): the person who asked changes the request. Not a
    problem with the data, so a run started by hand tells no steward of it."""


def explained(error: BaseException) -> bool:
    """A failure whose one-line message says all there is to say (what to change, or what
    went wrong and what happens next): shown as that line, never as a traceback."""
    return isinstance(
        error, RunError | JournalError | StoreBusyError | ConfigurationError | UnknownForceError
    )


def users_mistake(error: BaseException) -> bool:
    """A failure the person who started the run fixes by asking differently, or by waiting
    for another run to finish: not a problem with the data and not a fault, so stewards need
    not hear of it from a run started by hand (they do from a scheduled or triggered run)."""
    return isinstance(error, RequestError | StoreBusyError | ConfigurationError | UnknownForceError)


class RunRequest(BaseModel):
    """What to publish: one period (default the latest with data), some or all forces."""

    data_dir: Path = Field(description="Folder holding raw/ (returns) and processed/")
    out_dir: Path = Field(description="Briefings go to <out_dir>/<period-slug>/")
    period: str | None = Field(default=None, description="Financial year like 2016/17")
    forces: list[str] | None = Field(default=None, description="Force names or ONS codes")
    as_of: str | None = Field(
        default=None,
        description="Use only returns first seen by this date (YYYY-MM-DD), or by this time "
        "(ISO 8601 with its offset, as the ledger's first_seen)",
    )
    force_render: bool = Field(
        default=False, description="Render every briefing, even those whose inputs are unchanged"
    )
    deliver: bool = Field(
        default=True,
        description="Email the briefings to subscribers (reports/config/subscriptions.yaml); "
        "without SMTP settings in the environment, write them to the outbox",
    )
    next_period: str | None = Field(
        default=None,
        description="The period this process publishes next, as a backfill does: its briefings "
        "start rendering while this period's finish (its own run uses only those rendered "
        "from the inputs it finds itself)",
    )

    @field_validator("period", "next_period")
    @classmethod
    def _a_financial_year(cls, value: str | None) -> str | None:
        try:
            return None if value is None else Period.parse(value).label
        except PeriodError as error:
            raise ValueError(str(error)) from None

    @field_validator("as_of")
    @classmethod
    def _a_date(cls, value: str | None) -> str | None:
        # Parsed here, so a run never compares '20170601' with received times as text.
        if value is None:
            return None
        try:
            parse_as_of(value, times=True)
        except AsOfError as error:
            raise ValueError(str(error)) from None
        return value.strip()


@dataclass(frozen=True)
class IngestResult:
    ledger: list[LedgerEntry]
    warnings: list[str]  # checks across returns and per-return warnings, for stewards
    data_docs: str | None = None  # the Data Docs page of the checks across returns
    # Refused returns waiting for a person: neither covered by a later accepted return nor
    # acknowledged by a steward in the journal (see waiting_for_a_person).
    needs_attention: list[LedgerEntry] = field(default_factory=list)
    data_dir: Path | None = None  # the data folder it describes (its reports are under it)

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]

    def tell(self, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        """Each return's status and why, and the warnings, as a run logs them (whether it
        validated anything or found nothing new)."""
        for entry in self.ledger:
            if entry.status == Status.QUARANTINED:
                logger.warning("Quarantined %s: %s", entry.file, entry.detail)
            else:
                logger.info("%s %s: %s", entry.status.capitalize(), entry.file, entry.detail)
        for warning in self.warnings:
            logger.warning("Warning: %s", warning)


@dataclass(frozen=True)
class Publication:
    period_dir: Path
    pdfs: list[Path]  # every briefing of this run, rendered now or unchanged
    rendered: list[Path]  # those rendered by this run
    withdrawn: list[Path]
    figures_json: Path
    manifest: Path


@dataclass(frozen=True)
class RunSummary:
    period: str
    period_dir: Path
    pdfs: list[Path]
    figures_json: Path
    ledger: list[LedgerEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rendered: list[Path] = field(default_factory=list)  # the PDFs this run rendered
    manifest: Path | None = None
    delivery: DeliverySummary | None = None
    needs_attention: list[LedgerEntry] = field(default_factory=list)  # see IngestResult
    # Other periods published before, now out of date (a force restated a year in a later
    # return, or the returns a period came from are gone): each waits for a person.
    out_of_date: list[OutOfDate] = field(default_factory=list)

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [e for e in self.ledger if e.status == Status.QUARANTINED]


@dataclass(frozen=True)
class OutOfDate:
    """A period published before whose briefings would now print other figures, or could not
    be published at all."""

    period: str  # 2017/18
    pdfs: tuple[str, ...]  # its published briefings whose figures changed or went
    why: str = ""  # when the period can no longer be published at all
    folder: str = ""  # where its briefings are (given when it can no longer be published)
    sent: int = 0  # how many of them were sent to subscribers (likewise)

    def describe(self) -> str:
        again = f"`briefings run --period {self.period}`"
        if self.why:
            sent = ""
            if self.sent:
                sent = (
                    f"; {self.sent} of them were sent to subscribers, who have not been told: "
                    "tell them"
                )
            return (
                f"{self.period}: its {plural(len(self.pdfs), 'published briefing')} in "
                f"{self.folder or Period.parse(self.period).slug} can no longer be given "
                f"({self.why}); they stand as published until the period has accepted returns "
                f"again ({again} then publishes it again, sending corrections if its figures "
                f"changed) or that folder is removed by hand{sent}"
            )
        shown = ", ".join(self.pdfs[:3]) + (
            f" and {len(self.pdfs) - 3} more" if len(self.pdfs) > 3 else ""
        )
        return (
            f"{self.period}: the figures in {len(self.pdfs)} of its published briefings "
            f"({shown}) have changed since; {again} publishes it again and sends the "
            "corrections"
        )


# How steps run -------------------------------------------------------------------------------

# status ("sent", "undelivered", or "unknown": given to the server, not confirmed), attempts,
# error
SendOutcome = tuple[str, int, str]


class Runner(Protocol):
    """How the services' steps run. Each method has a plain meaning; a runner decides where."""

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter[Any]: ...

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run one named step (ingest returns, validate returns, compute figures)."""
        ...

    def render(
        self,
        pending: list[PreparedBriefing],
        period_dir: Path,
        ahead: Callable[[], list[PreparedBriefing]] | None = None,
    ) -> list[Path]:
        """Render the briefings into the period's .rendering/ folder; the paths written.
        `ahead`: what prepares the briefings this process renders next (the next period's
        of a backfill), which a runner with worker processes may start rendering meanwhile."""
        ...

    def expect_rendering(self) -> None:
        """Briefings will render soon (new returns are being read): a runner that renders in
        worker processes may start them now, so they are ready when the figures are."""
        ...

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        """Hand one message to the transport, retrying as the settings say."""
        ...

    def secret(self, name: str) -> str:
        """The value of a named secret (the SMTP password's Secret block)."""
        ...

    def ingested(self, result: IngestResult, again: bool = False) -> None:
        """Ingest's outcome, for the stewards (artifacts in the Prefect UI). `again`: a rerun
        that found nothing new, whose outcome the stewards may have been shown already."""
        ...

    def published(
        self, publication: Publication, figures: PeriodFigures, again: bool = False
    ) -> None:
        """A publication's outcome, for the stewards (`again`: as for ingested)."""
        ...


class LocalRunner:
    """Everything in this process, in order; retries of a send wait between attempts."""

    log: logging.Logger | logging.LoggerAdapter[Any] = log

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)

    def render(
        self,
        pending: list[PreparedBriefing],
        period_dir: Path,
        ahead: Callable[[], list[PreparedBriefing]] | None = None,
    ) -> list[Path]:
        return render_batch(pending, period_dir)  # one at a time: nothing to gain ahead

    def expect_rendering(self) -> None:
        pass

    def send(
        self, message: OutgoingMessage, ledger_path: Path, settings: DeliverySettings
    ) -> SendOutcome:
        attempts = len(settings.retry_delays) + 1
        for delay in [*settings.retry_delays, None]:
            try:
                return send_once(message, ledger_path, settings, self.log)
            except SendError as error:
                if delay is None:
                    return "undelivered", attempts, str(error)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt returns either way

    def secret(self, name: str) -> str:
        raise DeliverySettingsError(
            f"BRIEFINGS_SMTP_PASSWORD_BLOCK names the Secret block '{name}', which only a "
            "Prefect run can load: run `briefings run`, or set BRIEFINGS_SMTP_PASSWORD"
        )

    def ingested(self, result: IngestResult, again: bool = False) -> None:
        pass

    def published(
        self, publication: Publication, figures: PeriodFigures, again: bool = False
    ) -> None:
        pass


def send_once(
    message: OutgoingMessage,
    ledger_path: Path,
    settings: DeliverySettings,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> SendOutcome:
    """One attempt to hand one message over (`ledger_path`: the data folder's journal):
    ("sent", attempt, "") once accepted, attempt 0 when it was sent before. The journal says
    'sending' before the transport is called and 'sent' after it returns. A failure is
    recorded 'undelivered' and raised as SendError (a retry may help); a server that was
    given the whole message and did not confirm it is recorded 'unknown' and returned as
    ("unknown", attempt, why), never retried: it may have delivered it."""
    ledger = DeliveryLedger(ledger_path)
    try:
        attempt = ledger.claim(settings.channel, message)
    except AlreadySentError as settled:
        logger.info("Already %s to %s: %s", settled.status, message.recipient_name, message.subject)
        return settled.status, 0, ""
    try:
        transport_for(settings).send(message)
    except UnknownOutcomeError as error:
        ledger.mark_unknown(settings.channel, message, str(error))
        logger.warning("Attempt %d to %s: %s", attempt, message.recipient_name, error)
        return "unknown", attempt, str(error)
    except Exception as error:  # every failure is recorded, so nothing is lost
        reason = str(error) if isinstance(error, SendError) else f"{type(error).__name__}"
        ledger.mark_undelivered(settings.channel, message, reason)
        logger.warning("Attempt %d to %s failed: %s", attempt, message.recipient_name, reason)
        raise SendError(reason) from None
    try:
        ledger.mark_sent(settings.channel, message)
    except JournalError as error:
        # Do not raise: a retry would send it twice. The row stays 'sending', and the next
        # run sends it once more under the same Message-ID (see briefings/delivery/ledger.py).
        logger.error("Sent to %s but not recorded (%s)", message.recipient_name, error)
    logger.info(
        "Sent %s to %s <%s> (%s): %s",
        message.kind,
        message.recipient_name,
        message.recipient_email,
        message.message_id,
        ", ".join(message.pdfs) or message.subject,
    )
    return "sent", attempt, ""


LOCAL = LocalRunner()


# Where things go ---------------------------------------------------------------------------


def outbox_dir(out_dir: Path) -> Path:
    """Where messages go without SMTP: beside the briefings (reports/out -> reports/outbox)."""
    return out_dir.parent / "outbox"


def out_dir_beside(data_dir: Path) -> Path:
    """Briefings of a data folder with no out_dir given: <data>/../reports/out, as the
    project lays them out (data/ -> reports/out/); only ingest, whose notices go to the
    outbox beside it, uses this."""
    return data_dir.parent / "reports" / "out"


def delivery_ledger(data_dir: Path) -> Path:
    """What each subscriber was sent: the data folder's journal, <data>/state/journal.sqlite
    (never under processed/, which is rebuildable)."""
    from briefings.journal import journal_path

    return journal_path(data_dir)


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@contextmanager
def writing(what: str) -> Iterator[None]:
    """A full disk (or a file size limit) said in one line naming what was being written.
    Every file is written to a temporary name and renamed, the ledger and manifest last, so
    what is there is whole: the last complete run's, and the next run finishes the work."""
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        raise RunError(
            f"could not write {what}: {os.strerror(error.errno)}; files already there are "
            "whole, and the next run with room finishes the work"
        ) from None


def cache_of(folders: DataFolders) -> Cache:
    """The data folder's cache: processed/cache/."""
    return Cache(folders.cache)


def render_batch(batch: list[PreparedBriefing], period_dir: Path) -> list[Path]:
    """Some briefings, one after another in this process (fonts and styles loaded once),
    into the period's .rendering/ folder. A PDF is written whole or not at all."""
    rendered = []
    for item in batch:
        with writing(f"{item.briefing.pdf_name} in {period_dir}"):
            rendered.append(render_prepared(item, rendering_dir(period_dir)))
    return rendered
