"""A house-style linter over a briefing's text, as read back from its PDF. Pure: text in,
problems out; each problem names the PDF, the line and the rule.

The text is poppler's `pdftotext -raw` output (content order, lines as set, hyphens kept at
line ends), so a word broken across lines can be seen, and each table row keeps its label and
value together where the label fits on one line. The rules (briefings.domain.style says why):

- `article`: "a" before a number said with a vowel sound ("a 88 per cent rise", "a 11"), or
  "an" before one that is not ("an 1 per cent");
- `plural`: "1 <plural>" ("1 PDFs", "one forces"), a count above one with a singular noun
  ("5 force"), or "(s)" ("return(s)");
- `sentence-table`: a figure in a sentence that differs from the same figure in a table at the
  precision each prints it. A sentence's percentage change comes with the two counts it is
  from ("went from 3,903 to 5,653: a 44 per cent rise"; "recorded 61 ..., a 47 per cent fall
  from the 116"), so its exact value is known: the sentence must give it cut toward zero, and
  a table figure for it (a signed figure within 0.1 of the exact value) must print it cut
  toward zero too. A rate ("3.2 for every 10,000 children") must be printed the same in a
  table, where a table gives it (a figure 0.1 either side is the same rate printed another
  way). An average a day ("15 a day") is checked as a percentage is, from the sentence's count
  and the days in its year. A count ("recorded 61 ... in 2016/17") must be the one the table
  gives beside the same year;
- `heading-break`: a word broken across lines in a heading (the headline: "Dyfed-" / "Powys").

Only the body is checked for sentence-table: the notes to editors explain the rule with
examples of their own.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from briefings.domain import style

NOTES = "Notes to editors"
KINDS = re.compile(r"^(?:FORCE|REGIONAL|NATIONAL|PRESS) BRIEFING$")
STANDFIRST = "Figures from "
HYPHENS = "-\u2010\u2011\u00ad"


@dataclass(frozen=True)
class Problem:
    pdf: str
    line: int  # 1-based, in the pdftotext -raw text
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.pdf}:{self.line}: {self.rule}: {self.detail}"


class _Text:
    """The text as one string (lines joined by spaces, so a phrase broken across lines is still
    a phrase) with the line each character came from."""

    def __init__(self, text: str):
        self.lines = text.replace("\f", "\n").split("\n")
        self.starts: list[int] = []
        position = 0
        for line in self.lines:
            self.starts.append(position)
            position += len(line) + 1
        self.joined = " ".join(self.lines)

    def line_of(self, position: int) -> int:
        return bisect_right(self.starts, position)

    def body_end(self) -> int:
        at = self.joined.find(NOTES)
        return len(self.joined) if at < 0 else at


NUMBER = r"\d{1,3}(?:,\d{3})*"
WORD_NUMBERS = {word: n for n, word in enumerate(style.NUMBER_WORDS) if n}
WORD_NUMBERS["no"] = 0
COUNT = rf"(?:{NUMBER}|{'|'.join(WORD_NUMBERS)}|fewer than \d+)"


def _count(text: str) -> int | str:
    """A count as a sentence gives it: 5,653, 'five', 'no', or 'fewer than 5' (kept as text)."""
    if text.startswith("fewer than"):
        return text
    return WORD_NUMBERS[text] if text in WORD_NUMBERS else int(text.replace(",", ""))


# --- articles ---------------------------------------------------------------------------------

_ARTICLE = re.compile(
    rf"\b([Aa]n?) ([+-]?\d[\d,]*(?:\.\d+)?|{'|'.join(style.NUMBER_WORDS[1:])}|"
    r"eleven|twelve|eighteen|eighty|hundred|thousand)\b"
)


def _articles(pdf: str, text: _Text) -> list[Problem]:
    problems = []
    for match in _ARTICLE.finditer(text.joined):
        said, number = match.group(1).lower(), match.group(2)
        if said != style.article(number):
            problems.append(
                Problem(
                    pdf,
                    text.line_of(match.start()),
                    "article",
                    f"'{match.group(0)}' should be '{style.article(number)} {number}'",
                )
            )
    return problems


# --- plurals ----------------------------------------------------------------------------------

NOT_PLURAL = {
    "across",
    "always",
    "as",
    "has",
    "his",
    "is",
    "its",
    "less",
    "perhaps",
    "plus",
    "this",
    "thus",
    "towards",
    "unless",
    "was",
    "whereas",
    "yes",
}
COUNTED_NOUNS = (
    "briefing",
    "day",
    "file",
    "force",
    "message",
    "offence",
    "PDF",
    "problem",
    "region",
    "return",
    "row",
    "year",
)
_ONE_PLURAL = re.compile(r"(?<![\d,.])\b(1|[Oo]ne) ([a-z]{2,}s|[A-Z]{2,}s)\b(?!')")
_MANY_SINGULAR = re.compile(
    rf"(?<![\w.,/])({NUMBER}|{'|'.join(style.NUMBER_WORDS[2:])}) "
    rf"({'|'.join(COUNTED_NOUNS)})\b(?!['\u2019s]| areas?\b| average\b| totals?\b)"
)
_MAYBE_PLURAL = re.compile(r"\w\((?:s|es)\)")


def _plurals(pdf: str, text: _Text) -> list[Problem]:
    problems = []
    for match in _ONE_PLURAL.finditer(text.joined):
        word = match.group(2)
        if word.lower() in NOT_PLURAL or word.endswith(("ss", "us", "is")):
            continue
        problems.append(Problem(pdf, text.line_of(match.start()), "plural", f"'{match.group(0)}'"))
    for match in _MANY_SINGULAR.finditer(text.joined):
        if match.group(1) == "1":
            continue
        problems.append(Problem(pdf, text.line_of(match.start()), "plural", f"'{match.group(0)}'"))
    for match in _MAYBE_PLURAL.finditer(text.joined):
        problems.append(
            Problem(
                pdf,
                text.line_of(match.start()),
                "plural",
                f"'{match.group(0)}': say one or many",
            )
        )
    return problems


# --- sentences against tables -----------------------------------------------------------------

_DECIMAL = re.compile(rf"(?<![\w.,+-])([+-]?){NUMBER}\.\d(?![\d,])")
_SENTENCE_END = re.compile(r"\.(?=\s+[A-Z\u201c\"(]|\s*$)")
_CHANGE = re.compile(
    rf"(?:(?P<less>less than 1)|(?P<percent>{NUMBER})) per cent (?P<way>rise|fall)"
    rf"|(?P<way2>rise|fall) of (?:(?P<less2>less than 1)|(?P<percent2>{NUMBER})) per cent"
)
_WENT = re.compile(rf"went from (?P<before>{NUMBER})(?: in \d{{4}}/\d\d)? to (?P<after>{NUMBER})")
_RECORDED = re.compile(
    rf"\brecorded (?P<after>{COUNT}) [^.]*? in (?P<year>\d{{4}}/\d\d)"
    rf"(?:[^.]*?\bthe (?P<before>{COUNT}) recorded in (?P<byear>\d{{4}}/\d\d))?"
)
_SPAN = re.compile(
    rf"From April (?P<start>\d{{4}}) to March \d{{4}} [^.]*?\brecorded (?P<count>{NUMBER}) "
    rf"(?:[^.]*?on average, (?P<words>{'|'.join(WORD_NUMBERS)}|{NUMBER}) a day)?"
)
_PER_DAY_ROW = re.compile(rf"Average per day(?:, [A-Z][\w ]*?)? ({NUMBER}\.\d)(?![\d,])")
_YEAR_VALUE = r"{year}(?:,? \(Home Office\))?,? (?:\S+ ){{0,2}}?{value}(?![\d,]|\.\d)"


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    text: str


def _sentences(body: str) -> list[_Sentence]:
    """The body cut at full stops that end a sentence (not those inside 6.2 or 2016/17.)."""
    found, start = [], 0
    for match in _SENTENCE_END.finditer(body):
        found.append(_Sentence(start, match.end(), body[start : match.end()]))
        start = match.end()
    return found


def _table_decimals(body: str, prose: list[tuple[int, int]]) -> list[tuple[Fraction, bool]]:
    """Every figure printed with one decimal outside the sentences that give rates: (value,
    signed). Tables, charts' tables and chart labels print them; sentences print only rates
    with a decimal."""
    found = []
    for match in _DECIMAL.finditer(body):
        if any(start <= match.start() < end for start, end in prose):
            continue
        found.append((Fraction(match.group(0).replace(",", "")), bool(match.group(1))))
    return found


def _printed_elsewhere(body: str, sentence: _Sentence, count: int) -> bool:
    """Whether a count is printed outside the sentence (in a table, as a table prints it)."""
    pattern = re.compile(rf"(?<![\w.,]){re.escape(style.thousands(count))}(?![\d,]|\.\d)")
    return any(not (sentence.start <= m.start() < sentence.end) for m in pattern.finditer(body))


def _percent_problems(
    pdf: str, text: _Text, body: str, sentences: list[_Sentence], signed: list[Fraction]
) -> list[Problem]:
    problems = []
    for sentence in sentences:
        for match in _CHANGE.finditer(sentence.text):
            counts = _WENT.search(sentence.text) or _RECORDED.search(sentence.text)
            if not counts or counts.group("before") is None:
                continue  # a percentage without the counts it is from: nothing to recompute
            before, after = _count(counts.group("before")), _count(counts.group("after"))
            if not isinstance(before, int) or not isinstance(after, int) or not before:
                continue
            exact = Fraction(100 * (after - before), before)
            less = match.group("less") or match.group("less2")
            percent = match.group("percent") or match.group("percent2")
            said = 0 if less else int(percent.replace(",", ""))
            # The table's figure for the same change: where the table prints both counts, a
            # signed figure within 0.1 of the exact value.
            in_table = all(_printed_elsewhere(body, sentence, n) for n in (before, after))
            problems += _against_exact(
                pdf,
                text.line_of(sentence.start + match.start()),
                exact,
                said,
                signed if in_table else [],
                said_wrong=f"'{match.group(0)}' from {before:,} to {after:,}: "
                f"{style.decimal(exact, 2)} per cent is '{style.percent_words(exact)}'",
                beside_wrong=f"'{match.group(0)}' ({before:,} to {after:,}) beside a table's "
                "{beside}: cut toward zero it is " + style.decimal(exact, 1, signed=True),
                printed=_signed,
            )
    return problems


def _against_exact(
    pdf: str,
    line: int,
    exact: Fraction,
    said: int,
    table: list[Fraction],
    *,
    said_wrong: str,
    beside_wrong: str,
    printed: Callable[[Fraction], str] = style.decimal,
) -> list[Problem]:
    """A whole number said in a sentence against the exact figure it stands for, and the same
    figure where a table prints it to one decimal (a table value within 0.1 of it must be the
    exact figure cut toward zero). `beside_wrong` names the table's values as {beside}."""
    problems = []
    if said != style.whole(exact):
        problems.append(Problem(pdf, line, "sentence-table", said_wrong))
    beside = [value for value in table if abs(value - exact) < Fraction(1, 10)]
    if beside and style.cut(exact, 1) not in beside:
        values = ", ".join(printed(value) for value in beside)
        problems.append(
            Problem(pdf, line, "sentence-table", beside_wrong.replace("{beside}", values))
        )
    return problems


def _signed(value: Fraction) -> str:
    return style.decimal(value, 1, signed=True)


def _rate_problems(
    pdf: str, text: _Text, rates: list[tuple[int, Fraction]], unsigned: list[Fraction]
) -> list[Problem]:
    """A rate in a sentence must be printed the same where a table gives it: a table figure
    0.1 from it, and none equal to it, is the same rate printed another way."""
    problems = []
    for position, rate in rates:
        if rate in unsigned:
            continue
        near = [v for v in unsigned if abs(v - rate) <= Fraction(1, 10)]
        if near:
            problems.append(
                Problem(
                    pdf,
                    text.line_of(position),
                    "sentence-table",
                    f"a rate of {style.decimal(rate)} for every 10,000 children in a sentence "
                    f"where a table gives {', '.join(style.decimal(v) for v in near)}",
                )
            )
    return problems


def _per_day_problems(pdf: str, text: _Text, body: str) -> list[Problem]:
    problems = []
    per_day = [Fraction(m.group(1).replace(",", "")) for m in _PER_DAY_ROW.finditer(body)]
    for match in _SPAN.finditer(body):
        words = match.group("words")
        if words is None:
            continue
        start = int(match.group("start"))
        leap = (start + 1) % 4 == 0 and ((start + 1) % 100 != 0 or (start + 1) % 400 == 0)
        days = 366 if leap else 365  # 1 April to 31 March: 29 February of the year after
        count = int(match.group("count").replace(",", ""))
        exact = Fraction(count, days)
        said = WORD_NUMBERS.get(words)
        said = int(words.replace(",", "")) if said is None else said
        problems += _against_exact(
            pdf,
            text.line_of(match.start()),
            exact,
            said,
            per_day,
            said_wrong=f"'{words} a day' for {count:,} in {days} days",
            beside_wrong=f"'{words} a day' ({count:,} in {days} days) beside an average a "
            "day of {beside} in a table",
        )
    return problems


def _count_problems(pdf: str, text: _Text, body: str) -> list[Problem]:
    """Each 'recorded N ... in YEAR', 'the N recorded in YEAR' and 'From April ... recorded
    N' against the table's count beside the same year, wherever a table gives that year."""
    said_counts = []
    for match in _RECORDED.finditer(body):
        said_counts.append((match.group("after"), match.group("year"), match.start("after")))
        if match.group("before"):
            said_counts.append((match.group("before"), match.group("byear"), match.start("before")))
    for match in _SPAN.finditer(body):
        start = int(match.group("start"))
        year = f"{start}/{(start + 1) % 100:02d}"
        said_counts.append((match.group("count"), year, match.start("count")))
    problems = []
    for said, year, position in said_counts:
        count = _count(said)
        value = count if isinstance(count, str) else style.thousands(count)
        if not re.search(re.escape(year) + r"(?:,| \d)", body):
            continue  # no table gives that year
        beside = re.compile(_YEAR_VALUE.format(year=re.escape(year), value=re.escape(value)))
        if not beside.search(body):
            problems.append(
                Problem(
                    pdf,
                    text.line_of(position),
                    "sentence-table",
                    f"'recorded {said}' in {year}, but no table gives {value} for {year}",
                )
            )
    return problems


def _sentences_and_tables(pdf: str, text: _Text) -> list[Problem]:
    body = text.joined[: text.body_end()]
    sentences = _sentences(body)
    rated = [s for s in sentences if "for every 10,000 children" in s.text]
    rates = [
        (s.start + m.start(), Fraction(m.group(0).replace(",", "")))
        for s in rated
        for m in _DECIMAL.finditer(s.text)
    ]
    decimals = _table_decimals(body, [(s.start, s.end) for s in rated])
    signed = [value for value, is_signed in decimals if is_signed]
    unsigned = [value for value, is_signed in decimals if not is_signed]
    return (
        _percent_problems(pdf, text, body, sentences, signed)
        + _rate_problems(pdf, text, rates, unsigned)
        + _per_day_problems(pdf, text, body)
        + _count_problems(pdf, text, body)
    )


# --- headings ---------------------------------------------------------------------------------


def _heading_lines(text: _Text, headings: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each heading: where given, found by their words; else
    the headline, between the briefing's kind in the masthead and the standfirst."""
    found = []
    for heading in headings:
        words = heading.split()
        # The heading's words with any line breaks between them, or inside them after a hyphen.
        pattern = r"\s+".join(
            "".join(re.escape(ch) + (r"\n?" if ch in HYPHENS else "") for ch in word)
            for word in words
        )
        match = re.search(pattern, "\n".join(text.lines))
        if match:
            first = "\n".join(text.lines)[: match.start()].count("\n")
            found.append((first + 1, match.group(0).split("\n")))
    if headings:
        return found
    for index, line in enumerate(text.lines):
        if KINDS.match(line.strip()):
            block = []
            for following in text.lines[index + 1 :]:
                if following.startswith((STANDFIRST, "Correction.")):
                    break
                block.append(following)
            found.append((index + 2, block))
            break
    return found


def _headings(pdf: str, text: _Text, headings: tuple[str, ...]) -> list[Problem]:
    problems = []
    for first, lines in _heading_lines(text, headings):
        for offset, (line, after) in enumerate(zip(lines, lines[1:], strict=False)):
            if line.rstrip()[-1:] in HYPHENS and after.lstrip()[:1].isalpha():
                word = line.split()[-1] + after.split()[0]
                problems.append(
                    Problem(
                        pdf,
                        first + offset,
                        "heading-break",
                        f"'{word}' broken across lines in a heading",
                    )
                )
    return problems


def lint(pdf: str, text: str, headings: tuple[str, ...] = ()) -> list[Problem]:
    """Every house-style problem in one PDF's text (`pdftotext -raw`). `headings`: the
    headings to check for words broken across lines (the headline, from manifest.json); by
    default the headline is found between the masthead and the standfirst."""
    read = _Text(text)
    problems = (
        _articles(pdf, read)
        + _plurals(pdf, read)
        + _sentences_and_tables(pdf, read)
        + _headings(pdf, read, headings)
    )
    return sorted(problems, key=lambda p: (p.line, p.rule, p.detail))
