"""Financial years (1 April to 31 March), the periods every figure is counted over; and the
dates figures are taken as of.

A figure is published for a financial year only once that year has ended: a year still
running, or part of a year ('2016/17 Q1', '2026/27 (to date)'), is refused by name, never
counted as a whole year. Whether a year has ended depends on the day, which callers pass in:
this module reads no clock.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

# "2016/17" is canonical; the slug "2016-17" (as in reports/out/2016-17/) is accepted too.
_PERIOD_PATTERN = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{2})\s*$")
# How returns label a year: '2015/16', '2016-17', '2016/2017', 'FY2016/17', and in a column
# header with the measure after it ('2016/17 online flagged').
_YEAR_LABEL = re.compile(r"^\s*(?:fy\s*)?(\d{4})\s*[/-]\s*(\d{4}|\d{2})\b(.*)$", re.I | re.S)
# Words that make a year label part of a year: quarters, halves, 'to date', months. 'April
# to March' is the whole year, so it is taken out before looking for months.
_WHOLE_YEAR_MONTHS = re.compile(r"\bapr(?:il)?\s*(?:-|–|to)\s*mar(?:ch)?\b", re.I)
_PART_OF_A_YEAR = re.compile(
    r"\b(?:q[1-4]|quarters?|qtrs?|h[12]|half|halves|ytd|to[\s-]+date|so\s+far|part(?:ial)?|"
    r"incomplete|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|"
    r"july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    re.I,
)
# An as-of date is written YYYY-MM-DD; a time (as the ledger's first-seen times are written)
# is YYYY-MM-DDTHH:MM[:SS[.ffffff]] with its offset from UTC.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
)


class PeriodError(ValueError):
    """A text that is not a financial year like 2016/17."""


class UnfinishedPeriodError(PeriodError):
    """A financial year that has not ended on the day asked about."""


class AsOfError(ValueError):
    """A text that is not a date like 2017-06-01 (or, where a time is allowed, an ISO 8601
    time with its offset)."""


@dataclass(frozen=True, order=True)
class Period:
    start_year: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_PATTERN.match(str(text))
        if not match:
            year_label(str(text))  # part of a year is refused as such, by name
            raise PeriodError(f"'{text}' is not a financial year like 2016/17")
        start, end = int(match.group(1)), int(match.group(2))
        if (start + 1) % 100 != end:
            raise PeriodError(
                f"'{text}' is not a financial year: {start} is followed by {(start + 1) % 100:02d}"
            )
        return cls(start)

    @property
    def label(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    @property
    def slug(self) -> str:
        return self.label.replace("/", "-")

    @property
    def previous(self) -> Period:
        return Period(self.start_year - 1)

    @property
    def first_day(self) -> date:
        return date(self.start_year, 4, 1)

    @property
    def last_day(self) -> date:
        return date(self.start_year + 1, 3, 31)

    def has_ended(self, today: date) -> bool:
        """Whether the year is over on `today` (2026/27 ends on 31 March 2027)."""
        return today > self.last_day

    def ended_by(self, today: date) -> Period:
        """This period, if it has ended on `today`; else UnfinishedPeriodError naming it."""
        if not self.has_ended(today):
            raise UnfinishedPeriodError(
                f"{self.label} has not ended (it ends {self.last_day.day} "
                f"{self.last_day:%B %Y}): figures are published for whole financial years"
            )
        return self

    @classmethod
    def latest_ended(cls, today: date) -> Period:
        """The latest financial year that has ended on `today` (2025/26 on 1 December 2026)."""
        return cls(today.year - 1 if today.month >= 4 else today.year - 2)

    @property
    def days(self) -> int:
        """366 when the year contains 29 February (2015/16, 2019/20), else 365."""
        return 366 if calendar.isleap(self.start_year + 1) else 365

    @property
    def span(self) -> str:
        """'April 2016 to March 2017', the wording a reader needs."""
        return f"April {self.start_year} to March {self.start_year + 1}"

    @property
    def population_mid_year(self) -> int:
        """The mid-year population estimate that falls inside the period (mid-2016 for 2016/17)."""
        return self.start_year

    def __str__(self) -> str:
        return self.label


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every financial year from `first` to `last`, both included."""
    return [Period(year) for year in range(first.start_year, last.start_year + 1)]


def year_label(text: str) -> Period | None:
    """The financial year a label in a return names: '2015/16', '2016-17', '2016/2017',
    'FY2016/17', or a column header such as '2016/17 online flagged'. None when it names no
    year; PeriodError, by name, when it names part of a year ('2016/17 Q1', '2026/27 (to
    date)', '2016/17 April to June'): a person would not read that as the whole year."""
    match = _YEAR_LABEL.match(text)
    if not match:
        return None
    start, end, rest = int(match.group(1)), match.group(2), match.group(3)
    if int(end) % 100 != (start + 1) % 100 or (len(end) == 4 and int(end) != start + 1):
        return None
    if _PART_OF_A_YEAR.search(_WHOLE_YEAR_MONTHS.sub(" ", rest)):
        raise PeriodError(f"'{text.strip()}' is part of a year, not a financial year")
    return Period(start)


def parse_as_of(text: str, times: bool = False) -> datetime:
    """The last moment an as-of date covers, in UTC, as the first-received times are kept:
    'YYYY-MM-DD' covers that whole day (to 23:59:59.999999 UTC). With `times`, an ISO 8601
    time with its offset ('2017-06-01T09:15:00+00:00') is taken as that moment. Anything
    else, '20170601' included, is AsOfError: the date is compared as a date, never as text."""
    text = str(text).strip()
    try:
        if _ISO_DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        if times and _ISO_TIME.match(text):
            return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        pass  # the shape of a date, but not a day of the calendar (2017-02-30)
    wanted = "a date like 2017-06-01" + (" or a time like 2017-06-01T09:15:00+00:00" * times)
    raise AsOfError(f"'{text}' is not {wanted}")
