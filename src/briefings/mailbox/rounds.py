"""FOI rounds: which forces were asked, when, and which have replied or are overdue.

A round is a YAML file under <data>/rounds/ (one per round, named for it):

    name: online-flag-2017
    requested: 2017-04-10          # the day the requests were sent (and received, by email)
    reference: "FOI.*2017"         # optional: a pattern the replies' FOI reference or subject match
    forces: [Wiltshire, Dorset]    # names or ONS codes, or 'all' for the 43 forces

A force has replied when a reply it sent (known by the mailbox) was received on or after the
request date and, if the round gives a pattern, quotes a matching reference. The answer is
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

from briefings.journal.mailbox import StoredMessage
from briefings.reference import Force, ForceRegister, UnknownForceError

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


@dataclass(frozen=True)
class ForceReply:
    force: Force
    replied: str | None  # the first reply's date (YYYY-MM-DD), if any
    folder: str | None  # where that reply is stored, under raw/
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
    return Round(name, requested, tuple(forces), reference, path)


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


def round_status(round_: Round, replies: Iterable[StoredMessage], today: date) -> list[ForceReply]:
    """Each force asked, with its first reply to this round, or how overdue it is."""
    due = foi_deadline(round_.requested)
    first: dict[str, StoredMessage] = {}
    for message in sorted(replies, key=lambda m: m.sent_at or m.fetched_at):
        when = (message.sent_at or message.fetched_at)[:10]
        if message.force_code is None or when < round_.requested.isoformat():
            continue
        if round_.reference is not None and not (
            round_.reference.search(message.foi_reference or "")
            or round_.reference.search(message.subject)
        ):
            continue
        first.setdefault(message.force_code, message)
    status = []
    for force in round_.forces:
        reply = first.get(force.code)
        late = 0 if reply or today <= due else working_days_between(due, today)
        status.append(
            ForceReply(
                force,
                (reply.sent_at or reply.fetched_at)[:10] if reply else None,
                reply.folder if reply else None,
                due,
                late,
            )
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
