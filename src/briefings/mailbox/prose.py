"""Counts in a letter's sentences, tied to a financial year, an offence code and a measure
("From 2021 to 2022 there have been 245 recorded crimes under Home Office offence code 88A";
"In 2016/17, 44 offences were flagged as online"). Pure: text in, figures and notes out.

Every figure read here is a candidate a steward confirms, shown with its sentence and how it
was read. A sentence is read only when its counts tie to its years one way; otherwise it is
named in a note and nothing is taken from it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

ONLINE_FLAGGED = "online_flagged"
OFFENCES = "offences"
ALL_CODES = "ALL"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(<])")
_FINANCIAL_YEAR = re.compile(r"\b(?:FY\s*)?(20\d{2})\s*[/-]\s*(20\d{2}|\d{2})\b", re.IGNORECASE)
_FROM_TO = re.compile(
    r"\b(?:from|between)\s+(?:(?:1st|1)\s+)?(?:April\s+)?(20\d{2})\s+(?:to|and|until)\s+"
    r"(?:(?:31st|31)\s+)?(?:March\s+)?(20\d{2})\b",
    re.IGNORECASE,
)
_CALENDAR_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CODE = re.compile(
    r"\b(?:offence\s+|crime\s+|HO\s+|Home\s+Office\s+)*(?:code|classification)s?\s*"
    r"(?:of\s+|number\s+)?[:(]?\s*(\d{1,3}[A-Z]?)\b|\((\d{1,3}[A-Z])\)",
    re.IGNORECASE,
)
_COUNT = re.compile(
    r"(?P<withheld>(?:fewer|less)\s+than\s+(?:5|five)|<\s*\d+)"
    r"|(?<![\w£$/.,-])(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?![\w%/.-]|,\d)",
    re.IGNORECASE,
)
# What a count counts: the words that follow it, within a few words.
_COUNTED = re.compile(
    r"^\W*(?:\w+\W+){0,4}?(?:recorded\s+)?(?:crimes?|offen[cs]es?|incidents?|cases?|"
    r"occurrences?|reports?)\b|^\W*(?:(?:were|was|had|have|has|been|of\s+(?:which|these|them))"
    r"\W+){1,3}(?:\w+\W+){0,2}?(?:flagged|identified|marked|tagged)\b",
    re.IGNORECASE,
)
_ONLINE = re.compile(r"\b(?:online|on-line|cyber|internet)\b", re.IGNORECASE)
_MONTHS = re.compile(
    r"^\s*(?:st|nd|rd|th)?\s*(?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December)\b",
    re.IGNORECASE,
)
_PER_CENT = re.compile(r"^\s*(?:%|per\s*cent|percent)", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    """A count read from a passage, and how it was read."""

    financial_year: str
    offence_code: str  # a Home Office code, or ALL
    measure: str  # online_flagged or offences
    count: str  # digits, or the withheld count as written ('<5', 'fewer than 5')
    location: str  # 'sentence 3'
    passage: str
    reading: str


def sentences(text: str) -> list[str]:
    """A letter's sentences, on one line each. A PDF breaks lines mid-sentence, so lines are
    joined; a short line that ends without punctuation (a heading, a letterhead, an address
    line) stands on its own."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            blocks.append([])
        elif len(line) <= 40 and not re.search(r"[.,;:!?]$", line):
            blocks += [[line], []]
        else:
            blocks[-1].append(line)
    found = []
    for block in blocks:
        flowing = " ".join(" ".join(block).split())
        found += [s.strip() for s in _SENTENCE_END.split(flowing) if s.strip()]
    return found


def figures_in_text(text: str, known_codes: Collection[str]) -> tuple[list[Figure], list[str]]:
    """Figures tied to a year in each sentence, and notes naming sentences with counts that
    could not be tied one way (nothing is taken from those)."""
    figures: list[Figure] = []
    notes: list[str] = []
    for number, sentence in enumerate(sentences(text), start=1):
        found, note = _read_sentence(sentence, f"sentence {number}", known_codes)
        figures += found
        if note:
            notes.append(f'sentence {number} not read ({note}): "{_shorten(sentence)}"')
    return figures, notes


def _read_sentence(
    sentence: str, location: str, known_codes: Collection[str]
) -> tuple[list[Figure], str | None]:
    masked = sentence
    years: list[tuple[int, str, str]] = []  # (position, label, how it was written)

    def mask(match: re.Match[str]) -> None:
        nonlocal masked
        start, end = match.span()
        masked = masked[:start] + "#" * (end - start) + masked[end:]

    for match in _FROM_TO.finditer(sentence):
        first, second = int(match.group(1)), int(match.group(2))
        if second == first + 1:
            label = f"{first}/{second % 100:02d}"
            years.append((match.start(), label, match.group(0)))
            mask(match)
    for match in _FINANCIAL_YEAR.finditer(masked):
        opening, closing = int(match.group(1)), match.group(2)
        following = opening + 1 if len(closing) == 4 else (opening + 1) % 100
        if int(closing) == following:
            years.append((match.start(), f"{opening}/{(opening + 1) % 100:02d}", match.group(0)))
            mask(match)
    codes: list[str] = []
    for match in _CODE.finditer(masked):
        code = (match.group(1) or match.group(2) or "").upper()
        if code in known_codes and code not in codes:
            codes.append(code)
        if code:
            mask(match)
    counts = []
    for match in _COUNT.finditer(masked):
        after = masked[match.end() :]
        if match.group("number") and (_MONTHS.match(after) or _PER_CENT.match(after)):
            continue
        if not _COUNTED.match(after):
            continue
        written = " ".join(match.group(0).split())
        if match.group("number"):
            count = written.replace(",", "")
        else:  # 'fewer than 5' as a return writes it: a withheld count ingest reads as such
            count = "<" + ("5" if written.lower().endswith("five") else written.split()[-1])
            count = count.replace("<<", "<").replace(" ", "")
        counts.append((match.start(), match.end(), count))
    if not counts:
        return [], None
    if not years:
        left = _CALENDAR_YEAR.sub("", masked) != masked
        return [], "a calendar year, not a financial year" if left else "no financial year"
    years.sort()
    if len(codes) > 1:
        return [], f"{len(codes)} offence codes ({', '.join(codes)}) for its counts"
    code = codes[0] if codes else ALL_CODES
    code_said = (
        f"offence code {code}"
        if codes
        else "no offence code named: read as the force's total (ALL); check the words"
    )
    measures = [_measure(masked, start, end, len(counts)) for start, end, _ in counts]
    if len(years) == 1:
        if len(set(measures)) != len(measures):
            return [], f"{len(counts)} counts of one kind for one year"
        pairs = [
            (years[0], count, measure) for count, measure in zip(counts, measures, strict=True)
        ]
        tie = ""
    elif len(years) == len(counts) and len(set(measures)) == 1:
        pairs = list(zip(years, counts, measures, strict=True))
        tie = "; years and counts paired in the order written"
    else:
        return [], f"{len(counts)} counts and {len(years)} years"
    figures = []
    for (_, label, said), (_, _, count), measure in pairs:
        year_said = "" if said.replace("-", "/") == label else f"'{said}' read as {label}; "
        what = "online-flagged offences" if measure == ONLINE_FLAGGED else "all offences"
        figures.append(
            Figure(
                label,
                code,
                measure,
                count,
                location,
                sentence,
                f"{year_said}{code_said}; {what}{tie}",
            )
        )
    return figures, None


def _measure(masked: str, start: int, end: int, counts: int) -> str:
    """Online-flagged when the words after the count (to the next clause) say online or
    cyber, or, for a sentence with one count, when the sentence does."""
    after = re.split(r"[,;]|\band\b|\bof which\b", masked[end:], maxsplit=1)[0]
    if _ONLINE.search(after) or (counts == 1 and _ONLINE.search(masked)):
        return ONLINE_FLAGGED
    return OFFENCES


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
