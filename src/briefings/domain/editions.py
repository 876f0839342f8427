"""Editions of a briefing: which printing this is, and what changed since the one before.

An edition is a fact about what was sent. The first version of a briefing (one period, one
area) that anyone was sent is edition 1; each version sent after it whose printed figures
differ from the version sent just before is the next edition: a correction, a correction back
to figures an earlier edition printed included. A version whose figures are those of the last
edition sent is that edition again (its layout or wording changed, not its figures). A
briefing never sent is edition 1.

An edition is dated, never by the clock (the same inputs give the same PDF, on any day): by
the latest date a return behind its figures was received, and never before the edition it
replaces.

Pure: the versions sent come in as values, read from the journal by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from briefings.domain.periods import parse_as_of
from briefings.domain.style import plural

#: Changed figures a correction's box names, in the order the briefing prints them (its own
#: headline figure first); the rest are counted. One: each line the box takes is a line the
#: quote cannot (briefings.config.text), and every changed figure is in the correction email.
CHANGES_NAMED = 1


@dataclass(frozen=True)
class SentVersion:
    """One version of one briefing as the journal says it was sent (oldest first)."""

    figures: Mapping[str, str]  # measure -> value as printed
    sent_at: str  # ISO 8601 time, UTC
    issued: str | None = None  # ISO date its footer printed; None before briefings had editions


@dataclass(frozen=True)
class Edition:
    """Which edition a briefing is, its date, and for a correction what it corrects."""

    number: int = 1
    issued: str = ""  # ISO date; empty only in contexts built by hand
    replaces: int | None = None  # the edition this one corrects
    replaces_issued: str = ""
    changes: tuple[str, ...] = ()  # the changed figures named: 'measure: now (edition 1 said was)'
    other_changes: int = 0  # changed figures not named

    @property
    def correction(self) -> bool:
        return self.replaces is not None

    @property
    def label(self) -> str:
        """'Edition 2 of 5 June 2017', for the footer of every page."""
        issued = date_words(self.issued)
        return f"Edition {self.number}" + (f" of {issued}" if issued else "")

    @property
    def notice(self) -> str:
        """What a correction says under its headline (empty for a first edition)."""
        if self.replaces is None:
            return ""
        earlier = f"edition {self.replaces}"
        if self.replaces_issued:
            earlier += f" of {date_words(self.replaces_issued)}"
        text = f"This is edition {self.number}; it replaces {earlier}."
        if self.changes and not self.other_changes and len(self.changes) == 1:
            text += f" The figure that changed: {self.changes[0]}."
        elif self.changes:
            text += " Figures that changed: " + "; ".join(self.changes)
            if self.other_changes:
                others = plural(self.other_changes, "other", words=True)
                text += f"; and {others} in this briefing"
            text += "."
        return text


def date_words(iso_date: str) -> str:
    """'2017-06-02' as '2 June 2017', as the briefings write dates; '' stays ''."""
    if not iso_date:
        return ""
    day = date.fromisoformat(iso_date[:10])
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class _Sent:
    number: int
    figures: Mapping[str, str]
    issued: str


def editions_sent(sent: Iterable[SentVersion], as_of: str | None = None) -> list[_Sent]:
    """The editions among the versions sent (by `as_of`, when given), in order."""
    by = parse_as_of(as_of, times=True) if as_of is not None else None
    editions: list[_Sent] = []
    for version in sent:
        if by is not None and _moment(version.sent_at) > by:
            continue
        if editions and dict(editions[-1].figures) == dict(version.figures):
            continue  # the same edition again: a layout or wording change, or another reader
        issued = version.issued or version.sent_at[:10]
        editions.append(_Sent(len(editions) + 1, version.figures, issued))
    return editions


def edition_of(
    figures: Mapping[str, str],
    created: str,
    sent: Sequence[SentVersion] = (),
    as_of: str | None = None,
) -> Edition:
    """The edition a briefing printing `figures` is, given the versions of it sent before.
    `created` is the latest date a return behind the figures was received."""
    editions = editions_sent(sent, as_of)
    if editions and dict(editions[-1].figures) == dict(figures):
        current = editions[-1]
        before = editions[-2] if len(editions) > 1 else None
        number, issued = current.number, current.issued
    else:
        before = editions[-1] if editions else None
        number = len(editions) + 1
        issued = max(created[:10], before.issued) if before else created[:10]
    if before is None:
        return Edition(number, issued)
    changes = changed_figures(before.figures, figures, before.number)
    return Edition(
        number,
        issued,
        replaces=before.number,
        replaces_issued=before.issued,
        changes=changes[:CHANGES_NAMED],
        other_changes=max(0, len(changes) - CHANGES_NAMED),
    )


def changed_figures(
    before: Mapping[str, str], after: Mapping[str, str], edition: int
) -> tuple[str, ...]:
    """Each printed figure that differs between an earlier edition and now, in the order the
    briefing prints them (then those no longer printed), as a phrase for a reader."""
    said = f"edition {edition} said"
    changes = [
        f"{measure}: {value} ({said} {before[measure]})"
        if measure in before
        else f"{measure}: {value} (not in edition {edition})"
        for measure, value in after.items()
        if before.get(measure) != value
    ]
    changes += [
        f"{measure}: no longer given ({said} {value})"
        for measure, value in before.items()
        if measure not in after
    ]
    return tuple(changes)


def _moment(iso_time: str) -> datetime:
    moment = datetime.fromisoformat(iso_time)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
