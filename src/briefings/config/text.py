"""The kinds of text comms teams type into configuration, each checked where it is read.

A single line (a name, the embargo, a subject-like string) goes into email headers and running
headers: a line break there makes every message fail when it is sent, long after the file was
accepted, so it is refused here. Quotes may run over several lines but carry no other control
characters. Every kind has a length limit, so a pasted document is caught too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from email.utils import parseaddr
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Strict
from pydantic_core import PydanticCustomError

NAME_MAX = 120  # a subscriber, a steward, the charity
LINE_MAX = 200  # a logo file name, a title
PHONE_MAX = 40
ADDRESS_MAX = 254  # the longest address SMTP carries
# What is printed in every briefing, measured against its pages (two, four for the national
# one) on the bundled briefings with the share flagged online, the breakdown and the Home
# Office context in them: with every field below at its limit at once, the fullest force
# briefings (Humberside's, West Yorkshire's) ran to a third page from a quote of about 330
# characters (a table is never split, so a page fills in steps). A correction's box takes
# room too: with a quote at its limit and the bundled lines beside it, it fits.
# tests/backtests/test_bundled_briefings.py holds the fullest briefings to their pages.
QUOTE_MAX = 300
PRINTED_LINE_MAX = 80  # an attribution, a contact label
CONTACT_ADDRESS_MAX = 80  # a press contact's address, printed
CHARITY_NAME_MAX = 80  # in the standfirst and the running header of every page
EMBARGO_MAX = 60  # in a banner on page 1, the running header and email subjects

# Deliberately narrower than RFC 5322: the addresses a comms team types, nothing exotic that a
# relay might rewrite. Local part: dot-atoms; domain: at least two DNS labels.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Control characters, and the Unicode line and paragraph separators that also end a line.
_BREAKING = {"Cc", "Zl", "Zp"}


def problem(text: str) -> PydanticCustomError:
    """A validation error whose message is `text`, exactly (braces and all)."""
    return PydanticCustomError("configuration", "{problem}", {"problem": text})


def check_address(address: object) -> str | None:
    """Why `address` is not a plain deliverable address, or None when it is."""
    if not isinstance(address, str) or not address.strip():
        return "an email address is required"
    text = address.strip()
    if any(ch.isspace() for ch in text) or any(ch in text for ch in '<>,;"()[]\\'):
        return f"'{address}' is not a plain email address (no names, spaces or lists)"
    display, parsed = parseaddr(text)
    if display or parsed != text or text.count("@") != 1:
        return f"'{address}' is not an email address like name@example.org"
    if len(text) > ADDRESS_MAX:
        return f"'{text[:40]}...' is longer than {ADDRESS_MAX} characters"
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        return f"'{address}' has an invalid part before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return f"'{address}' has an invalid domain (expected like example.org)"
    if labels[-1].isdigit():
        return f"'{address}' has an invalid domain (expected like example.org)"
    return None


def single_line_problem(text: str, limit: int, why: str = "") -> str | None:
    """Why `text` cannot be used as one line of at most `limit` characters, or None. `why`
    follows the limit in the message."""
    if not text.strip():
        return "must not be empty"
    bad = next((ch for ch in text if unicodedata.category(ch) in _BREAKING), None)
    if bad is not None:
        return (
            f"must be a single line of text, without line breaks or control characters "
            f"(found {bad!r} in {_excerpt(text)})"
        )
    if len(text.strip()) > limit:
        return f"must be at most {limit} characters{why} (found {len(text.strip())})"
    return None


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _single_line(limit: int, reason: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        why = single_line_problem(value, limit, reason)
        if why:
            raise problem(why)
        return value.strip()

    return check


def _at_most(limit: int, why: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise problem(f"must be at most {limit} characters{why} (found {len(value)})")
        return value

    return check


#: Why printed text has a limit, said with it.
PAGES = ", so that every briefing keeps to its pages"


def _paragraph(limit: int, why: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        text = value.strip()
        if not text:
            raise problem("must not be empty")
        bad = next(
            (ch for ch in text if unicodedata.category(ch) in _BREAKING and ch not in "\n\r"),
            None,
        )
        if bad is not None:
            raise problem(f"must not contain control characters (found {bad!r})")
        if len(text) > limit:
            raise problem(f"must be at most {limit} characters{why} (found {len(text)})")
        return text

    return check


def _address(value: Any) -> str:
    why = check_address(value)
    if why:
        raise problem(why)
    return str(value).strip()


def _dates_as_text(value: Any) -> Any:
    """YAML reads `embargo: 2017-06-01` as a date; it is meant as the text written."""
    return value.isoformat() if isinstance(value, date) else value


#: A name: a subscriber, a steward, the charity. One line, at most 120 characters.
Name = Annotated[str, Strict(), AfterValidator(_single_line(NAME_MAX))]
#: One line of text of at most 200 characters (a file name, a title).
Line = Annotated[str, Strict(), AfterValidator(_single_line(LINE_MAX))]
#: One line printed beside the quote (an attribution, a contact's label): at most 80.
PrintedLine = Annotated[str, Strict(), AfterValidator(_single_line(PRINTED_LINE_MAX, PAGES))]
#: One line that YAML may have read as a date (an embargo time).
DateLine = Annotated[
    str, BeforeValidator(_dates_as_text), Strict(), AfterValidator(_single_line(NAME_MAX))
]
#: The charity's name, printed in every briefing: one line, at most 80 characters.
CharityName = Annotated[str, Strict(), AfterValidator(_single_line(CHARITY_NAME_MAX, PAGES))]
#: The embargo line, printed in every briefing: one line, at most 60 characters.
Embargo = Annotated[
    str,
    BeforeValidator(_dates_as_text),
    Strict(),
    AfterValidator(_single_line(EMBARGO_MAX, PAGES)),
]
#: A phone number, written in quotes (YAML reads 01174960000 as an octal number).
Phone = Annotated[str, Strict(), AfterValidator(_single_line(PHONE_MAX))]
#: A quote: may run over lines, at most 300 characters.
QuoteText = Annotated[str, Strict(), AfterValidator(_paragraph(QUOTE_MAX, PAGES))]
#: One plain email address (no display name, no list).
Address = Annotated[str, BeforeValidator(_address)]
#: A press contact's address, printed in every briefing: at most 80 characters.
ContactAddress = Annotated[
    str, BeforeValidator(_address), AfterValidator(_at_most(CONTACT_ADDRESS_MAX, PAGES))
]
