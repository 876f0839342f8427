"""House style, written down once: how a briefing prints numbers, names and plurals. Pure.

Every sentence, table, chart label and `figures.json` value goes through these functions, so
a sentence can never contradict its table.

**Rounding: one rule, never overstating.** A figure is cut toward zero at the precision it is
printed at, never rounded up: 44.96 per cent is "44 per cent" in a sentence and 44.9 in a
table; -44.96 (a fall) is "a 44 per cent fall" and -44.9; a rate of 3.27 is 3.2 in both;
15.49 a day is "15 a day" and 15.4; 4.4 times is "more than four times". Cutting the exact
value (a fraction, never a float) at the sentence's precision gives the same digits as
cutting the table's figure, so the two always agree.

**Numbers in prose** (UK press style): one to nine in words, 10 and above in figures with
commas (5,653), except before "per cent" and in tables, which always use figures. "Per cent",
never "%". Folds: "doubled" or "more than doubled", then "three-fold" to "ten-fold" in words
and "15-fold" above ten, with "more than" unless the ratio is exactly whole.

**Articles**: "an" before a number said with a vowel sound ("an 8", "an 11", "an 18", "an 80",
"an 88 per cent rise", "an 800", "an 11,000"), "a" otherwise ("a 1 per cent", "a 100").

**Plurals**: "1 PDF", "2 PDFs", "one force", "all four of its forces"; never "1 PDFs" or
"return(s)".

**Force names** as people say them come from reference/force-spoken-names.csv (Force.spoken):
"the Metropolitan Police", "Devon and Cornwall Police", "police in Durham".
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

Number = Fraction | int | float | Decimal


def exact(value: Number) -> Fraction:
    """A number as an exact fraction; a float is taken as the decimal it prints as."""
    if isinstance(value, Fraction | int):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def cut(value: Number, places: int = 0) -> Fraction:
    """`value` cut toward zero at `places` decimals: cut(44.96, 1) is 44.9, cut(-44.96, 1) is
    -44.9, cut(3.27, 1) is 3.2. The one rounding rule for every printed figure."""
    scale = 10**places
    scaled = exact(value) * scale
    return Fraction(int(scaled), scale)  # int() truncates toward zero, for either sign


def printed(value: Number, places: int = 1) -> float:
    """A figure as printed, for figures.json: cut toward zero, as a float (44.9)."""
    return float(cut(value, places))


def thousands(number: int) -> str:
    return f"{number:,}"


def decimal(value: Number, places: int = 1, signed: bool = False) -> str:
    """A figure as a table prints it: '1,234.5', '3.2'; signed: '+44.9', '-44.9'. Cut toward
    zero, so it agrees with the sentence that gives it in whole numbers. Zero is unsigned."""
    figure = cut(value, places)
    scale = 10**places
    units = abs(int(figure * scale))
    whole, part = divmod(units, scale)
    text = f"{whole:,}" + (f".{part:0{places}d}" if places else "")
    if figure < 0:
        return "-" + text
    return ("+" + text) if signed and figure > 0 else text


def whole(value: Number) -> int:
    """The whole number a sentence gives: cut toward zero, sign dropped (44.96 and -44.96 are
    both 44: the sentence says 'rise' or 'fall')."""
    return abs(int(exact(value)))


def number_words(number: int) -> str:
    """One to nine in words in prose; 0 as 'no'; 10 and above in figures with commas."""
    return NUMBER_WORDS[number] if 0 <= number < 10 else thousands(number)


def capitalised(text: str) -> str:
    """The first letter in capitals, the rest as it is ('the Metropolitan Police' at the start
    of a sentence)."""
    return text[:1].upper() + text[1:]


def plural(count: int, singular: str, plural_form: str | None = None, words: bool = False) -> str:
    """'1 PDF', '2 PDFs', '1 return', '3 returns'; words=True: 'one force', 'five forces'."""
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{number_words(count) if words else thousands(count)} {noun}"


def _group_sounds_like_a_vowel(group: int) -> bool:
    """A group of up to three digits, said aloud: 'eight', 'eleven', 'eighteen', 'eighty-...',
    'eight hundred ...' begin with a vowel sound; every other number does not."""
    if group >= 100:
        return group // 100 == 8
    return group in (8, 11, 18) or 80 <= group <= 89


VOWEL_NUMBER_WORDS = ("eight", "eleven", "eighteen", "eighty")


def starts_with_vowel_sound(phrase: str) -> bool:
    """Whether `phrase` is said beginning with a vowel sound: '88 per cent', '11', '8.5',
    '18,000', 'eight-fold', 'increase' do; '1 per cent', '100', 'one', 'four-fold',
    'unique' do not."""
    first = phrase.strip().split(" ", 1)[0].lower()
    digits = first.lstrip("+-").split(".", 1)[0].replace(",", "")
    if digits.isdigit():
        number = int(digits)
        if number == 0:
            return False  # 'nought' or 'zero'
        while number >= 1000:  # the leading group is said first: 'eleven thousand'
            number //= 1000
        return _group_sounds_like_a_vowel(number)
    word = first.split("-", 1)[0]
    if word.startswith(VOWEL_NUMBER_WORDS):
        return True
    if word.startswith(("one", "once", "uni", "use", "usu", "eu")):
        return False  # 'a one', 'a unique', 'a usual', 'a European'
    return word[:1] in ("a", "e", "i", "o", "u") or word.startswith(("hour", "honest"))


def article(phrase: str) -> str:
    return "an" if starts_with_vowel_sound(phrase) else "a"


def with_article(phrase: str) -> str:
    """'an 88 per cent rise', 'a 44 per cent rise', 'an 11 per cent fall'."""
    return f"{article(phrase)} {phrase}"


def percent_words(percent: Number) -> str:
    """'44 per cent' for 44.96 or -44.96; 'less than 1 per cent' below one."""
    n = whole(percent)
    return "less than 1 per cent" if n == 0 else f"{thousands(n)} per cent"


def folds(ratio: Number) -> tuple[int, bool]:
    """The whole number of folds (cut toward zero) and whether the ratio is exactly that."""
    value = exact(ratio)
    k = int(value)
    return k, value == k


def fold_adjective(k: int) -> str:
    """'three-fold' to 'ten-fold' in words, '15-fold' above ten."""
    return f"{NUMBER_WORDS[k] if k <= 10 else thousands(k)}-fold"


def times_words(k: int) -> str:
    """'four times', '15 times'."""
    return f"{number_words(k)} times"


def all_or_some(part: int, total: int, noun: str, plural_form: str | None = None) -> str:
    """'all four of its forces', 'one of its five forces', '39 of its 43 forces': how many of
    a group, in words to nine; 'its only force' where there is one."""
    nouns = plural_form or noun + "s"
    if total == 1 and part == 1:
        return f"its only {noun}"
    if part == total:
        return f"all {number_words(total)} of its {nouns}"
    return f"{number_words(part)} of its {number_words(total)} {nouns if total != 1 else noun}"
