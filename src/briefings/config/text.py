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

NAME_MAX = 120  # a subscriber, a contact, the charity
LINE_MAX = 200  # an attribution, a contact label, a logo file name
QUOTE_MAX = 1200
PHONE_MAX = 40
ADDRESS_MAX = 254  # the longest address SMTP carries

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


def single_line_problem(text: str, limit: int) -> str | None:
    """Why `text` cannot be used as one line of at most `limit` characters, or None."""
    if not text.strip():
        return "must not be empty"
    bad = next((ch for ch in text if unicodedata.category(ch) in _BREAKING), None)
    if bad is not None:
        return (
            f"must be a single line of text, without line breaks or control characters "
            f"(found {bad!r} in {_excerpt(text)})"
        )
    if len(text.strip()) > limit:
        return f"must be at most {limit} characters (found {len(text.strip())})"
    return None


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _single_line(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        why = single_line_problem(value, limit)
        if why:
            raise problem(why)
        return value.strip()

    return check


def _paragraph(limit: int) -> Callable[[str], str]:
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
            raise problem(f"must be at most {limit} characters (found {len(text)})")
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
#: One line of text of at most 200 characters (an attribution, a label).
Line = Annotated[str, Strict(), AfterValidator(_single_line(LINE_MAX))]
#: One line that YAML may have read as a date (an embargo time).
DateLine = Annotated[
    str, BeforeValidator(_dates_as_text), Strict(), AfterValidator(_single_line(NAME_MAX))
]
#: A phone number, written in quotes (YAML reads 01174960000 as an octal number).
Phone = Annotated[str, Strict(), AfterValidator(_single_line(PHONE_MAX))]
#: A quote: may run over lines, at most 1,200 characters.
QuoteText = Annotated[str, Strict(), AfterValidator(_paragraph(QUOTE_MAX))]
#: One plain email address (no display name, no list).
Address = Annotated[str, BeforeValidator(_address)]
