"""FOI rounds: which forces were asked, when, and which have replied or are overdue.

A round is a YAML file under <data>/rounds/ (one per round, named for it):

    name: online-flag-2017
    requested: 2017-04-10          # the day the requests were sent (and received, by email)
    reference: "FOI.*2017"         # optional: a pattern the replies' FOI reference or subject match
    years: [2015/16, 2016/17]      # optional: the financial years asked for
    forces: [Wiltshire, Dorset]    # names or ONS codes, or 'all' for the 43 forces

A force has replied when a reply it sent (known by the mailbox) was received on or after the
request date and, if the round gives a pattern, quotes a matching reference; or when an
accepted return with its figures (for one of the years asked, if the round names them) was
first received in raw/ on or after that date, however it came (a file a person dropped in,
a spreadsheet attachment, a reply's confirmed figures). The answer is
due by the 20th working day after the request was received (Freedom of Information Act 2000,
s.10): a working day is any day but a Saturday, a Sunday, Christmas Day, Good Friday or a bank
holiday in any part of the United Kingdom (the Act's own definition, s.10(6)), from the
`holidays` package's tables for England, Wales, Scotland and Northern Ireland.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from briefings.domain.periods import Period, PeriodError
from briefings.journal.mailbox import StoredMessage
from briefings.reference import Force, ForceRegister, UnknownForceError
from briefings.store import DataFolders

ROUNDS_FOLDER = "rounds"
WORKING_DAYS = 20
_UK_PARTS = ("ENG", "WLS", "SCT", "NIR")


class RoundError(ValueError):
    """A round file that cannot be used: one line naming the file, key and what is wrong."""


@dataclass(frozen=True)
class Round:
    name: str
    requested: date
    forces: tuple[Force, ...]
    reference: re.Pattern[str] | None
    file: Path
    years: tuple[str, ...] = ()  # the financial years asked for; empty: not said


@dataclass(frozen=True)
class ReturnReceived:
    """An accepted return's figures for one force, as that force's reply."""

    force_code: str
    received: str  # when the file was first received, ISO 8601
    file: str  # under raw/
    years: frozenset[str]


@dataclass(frozen=True)
class ForceReply:
    force: Force
    replied: str | None  # the first reply's date (YYYY-MM-DD), if any
    source: str | None  # that reply's folder or that return's file, under raw/
    due: date
    overdue_days: int  # working days past the deadline, when no reply (0 otherwise)

    @property
    def state(self) -> str:
        if self.replied:
            late = " (after the deadline)" if self.replied > self.due.isoformat() else ""
            return f"replied {self.replied}{late}"
        if self.overdue_days:
            return f"OVERDUE by {self.overdue_days} working days"
        return "waiting"


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    import holidays

    days: set[date] = set()
    for part in _UK_PARTS:
        days |= set(holidays.country_holidays("GB", subdiv=part, years=year))
    return frozenset(days)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def foi_deadline(requested: date, working_days: int = WORKING_DAYS) -> date:
    """The 20th working day after the day a request was received (that day not counted)."""
    day, counted = requested, 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start`, up to and including `end` (0 when end <= start)."""
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(n)))


def read_round(path: Path, register: ForceRegister) -> Round:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RoundError(f"{path}: cannot be read ({' '.join(str(error).split())})") from None
    if not isinstance(loaded, dict):
        raise RoundError(f"{path}: expected keys name, requested, forces (and reference)")
    name = str(loaded.get("name") or path.stem).strip()
    requested = loaded.get("requested")
    if isinstance(requested, datetime):
        requested = requested.date()
    if isinstance(requested, str):
        try:
            requested = date.fromisoformat(requested.strip())
        except ValueError:
            requested = None
    if not isinstance(requested, date):
        raise RoundError(f"{path}: requested: expected the date the requests were sent, YYYY-MM-DD")
    named = loaded.get("forces")
    if named == "all":
        forces = register.forces
    elif isinstance(named, list) and named:
        found = []
        for item in named:
            try:
                found.append(register.resolve(str(item)))
            except UnknownForceError as error:
                raise RoundError(f"{path}: forces: {error}") from None
        forces = tuple(dict.fromkeys(found))
    else:
        raise RoundError(f"{path}: forces: expected a list of force names or codes, or 'all'")
    pattern = loaded.get("reference")
    reference = None
    if pattern is not None:
        try:
            reference = re.compile(str(pattern), re.IGNORECASE)
        except re.error as error:
            raise RoundError(f"{path}: reference: not a pattern ({error})") from None
    years = loaded.get("years")
    if years is None:
        asked: tuple[str, ...] = ()
    elif isinstance(years, list) and years:
        try:
            asked = tuple(Period.parse(str(year)).label for year in years)
        except PeriodError as error:
            raise RoundError(f"{path}: years: {error}") from None
    else:
        raise RoundError(f"{path}: years: expected a list of financial years like 2016/17")
    return Round(name, requested, tuple(forces), reference, path, asked)


def round_files(data_dir: Path) -> list[Path]:
    folder = data_dir / ROUNDS_FOLDER
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def find_round(data_dir: Path, name: str) -> Path:
    """A round named by its file's path, or by its name under <data>/rounds/."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in round_files(data_dir):
        if candidate.stem == name:
            return candidate
    known = ", ".join(p.stem for p in round_files(data_dir)) or "none"
    raise RoundError(f"no round '{name}' in {data_dir / ROUNDS_FOLDER} (rounds there: {known})")


def returns_received(data_dir: Path) -> list[ReturnReceived] | None:
    """Each accepted online-flag return's forces, with when it was first received and the
    years it gives; None when no run has read raw/ yet (or the store cannot be read)."""
    import pandas as pd

    path = DataFolders(data_dir).accepted_returns
    if not path.exists():
        return None
    try:
        rows = pd.read_parquet(
            path, columns=["force_code", "financial_year", "source_file", "first_seen"]
        )
    except (OSError, ValueError):  # damaged: the next run repairs it and says so
        return None
    found = []
    for (force_code, file), group in rows.groupby(["force_code", "source_file"], sort=True):
        found.append(
            ReturnReceived(
                str(force_code),
                str(group["first_seen"].min()),
                str(file),
                frozenset(str(year) for year in group["financial_year"]),
            )
        )
    return found


def round_status(
    round_: Round,
    replies: Iterable[StoredMessage],
    today: date,
    returns: Iterable[ReturnReceived] = (),
) -> list[ForceReply]:
    """Each force asked, with its first reply to this round (by email, or an accepted return
    received by `today`), or how overdue it is."""
    due = foi_deadline(round_.requested)
    asked_on, until = round_.requested.isoformat(), today.isoformat()
    first: dict[str, tuple[str, str]] = {}  # force code: (date, where under raw/)

    def heard(force_code: str, when: str, source: str) -> None:
        day = when[:10]
        if asked_on <= day <= until and (force_code not in first or day < first[force_code][0]):
            first[force_code] = (day, source)

    for message in sorted(replies, key=lambda m: m.sent_at or m.fetched_at):
        if message.force_code is None:
            continue
        if round_.reference is not None and not (
            round_.reference.search(message.foi_reference or "")
            or round_.reference.search(message.subject)
        ):
            continue
        heard(message.force_code, message.sent_at or message.fetched_at, message.folder)
    for received in sorted(returns, key=lambda r: (r.received, r.file)):
        if not round_.years or received.years & set(round_.years):
            heard(received.force_code, received.received, received.file)
    status = []
    for force in round_.forces:
        reply = first.get(force.code)
        late = 0 if reply or today <= due else working_days_between(due, today)
        status.append(
            ForceReply(force, reply[0] if reply else None, reply[1] if reply else None, due, late)
        )
    return status


def describe_status(round_: Round, status: list[ForceReply], today: date) -> list[str]:
    """Lines for a steward: the round, its deadline, and each force's state."""
    due = status[0].due if status else foi_deadline(round_.requested)
    replied = sum(1 for s in status if s.replied)
    overdue = sum(1 for s in status if s.overdue_days)
    lines = [
        f"Round {round_.name}: requested {round_.requested.isoformat()}, due "
        f"{due.isoformat()} (20 working days); as of {today.isoformat()}: {replied} of "
        f"{len(status)} forces replied, {overdue} overdue"
    ]
    lines += [f"  {s.force.name}: {s.state}" for s in status]
    return lines
