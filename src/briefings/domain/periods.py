"""Financial years (1 April to 31 March), the periods every figure is counted over."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

# "2016/17" is canonical; the slug "2016-17" (as in reports/out/2016-17/) is accepted too.
_PERIOD_PATTERN = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{2})\s*$")


class PeriodError(ValueError):
    """A text that is not a financial year like 2016/17."""


@dataclass(frozen=True, order=True)
class Period:
    start_year: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_PATTERN.match(str(text))
        if not match:
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
