"""Who gets what in this publication, and what changed since they last got it. Pure logic:
the journal's delivery attempts come in as records, a plan and a summary go out.

What a subscriber has is the version they were last sent, whatever came before it: the same
content again is never sent, any other content is (a return to an earlier version is a
correction like any other). A version whose last attempt was not confirmed ('sending' after
a crash, 'undelivered') is tried again; one whose outcome is unknown (the relay went quiet
after it was given the whole message) is held for a steward, never sent again by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from briefings.delivery.manifest import BriefingFile, Publication
from briefings.delivery.subscriptions import Recipient, Subscriptions
from briefings.domain.style import plural

SENDING, SENT, UNDELIVERED, UNKNOWN = "sending", "sent", "undelivered", "unknown"


@dataclass(frozen=True)
class LedgerRecord:
    """One row of the journal's delivery attempts: one version of one briefing for one
    subscriber, at one moment (records come oldest first)."""

    email: str  # lower case
    pdf: str
    content_hash: str
    status: str  # sending, sent, undelivered or unknown
    figures: dict[str, str]
    attempts: int = 0  # the attempt number at this version
    message_id: str | None = None
    sent_at: str | None = None  # ISO time, UTC, of a 'sent' row
    error: str | None = None


@dataclass(frozen=True)
class FigureChange:
    measure: str
    before: str | None  # None: not printed in the earlier version
    after: str | None  # None: no longer printed

    def describe(self) -> str:
        if self.before is None:
            return f"{self.measure}: {self.after} (not in the earlier version)"
        if self.after is None:
            return f"{self.measure}: no longer printed (was {self.before})"
        return f"{self.measure}: {self.after} (was {self.before})"


def diff_figures(before: dict[str, str], after: dict[str, str]) -> tuple[FigureChange, ...]:
    """Measures whose printed value changed, in the new table's order, then those dropped."""
    changes = [
        FigureChange(measure, before.get(measure), value)
        for measure, value in after.items()
        if before.get(measure) != value
    ]
    changes += [FigureChange(m, value, None) for m, value in before.items() if m not in after]
    return tuple(changes)


@dataclass(frozen=True)
class PlannedItem:
    briefing: BriefingFile
    replaces: LedgerRecord | None = None  # the version this subscriber last received
    changes: tuple[FigureChange, ...] = ()
    earlier_attempt: LedgerRecord | None = None  # this version, tried before and not confirmed

    @property
    def kind(self) -> str:
        if self.changes:
            return "correction"
        return "update" if self.replaces else "new"


@dataclass(frozen=True)
class PlannedMessage:
    """One message: everything new or changed for one recipient in this publication."""

    recipient: Recipient
    items: tuple[PlannedItem, ...]

    @property
    def kind(self) -> str:
        kinds = {item.kind for item in self.items}
        return next(k for k in ("correction", "update", "new") if k in kinds)

    @property
    def retry(self) -> bool:
        return any(item.earlier_attempt for item in self.items)


@dataclass(frozen=True)
class DeliveryPlan:
    messages: tuple[PlannedMessage, ...]
    already_delivered: tuple[tuple[str, str], ...]  # (subscriber name, pdf) sent before
    unmatched: tuple[str, ...]  # subscribers with no briefing in this publication
    unknown: tuple[tuple[str, str], ...] = ()  # (subscriber name, pdf): may have gone; held


def plan_deliveries(
    publication: Publication, subscriptions: Subscriptions, history: Iterable[LedgerRecord]
) -> DeliveryPlan:
    """For each subscriber, the briefings in scope whose current version differs from the
    one they were last sent. `history` is the journal's attempts for this period and
    channel, oldest first."""
    by_key: dict[tuple[str, str], list[LedgerRecord]] = {}
    for record in history:
        by_key.setdefault((record.email, record.pdf), []).append(record)
    messages, delivered, unmatched, unknown = [], [], [], []
    for subscriber in subscriptions.subscribers:
        wanted = [b for b in publication.briefings if subscriber.wants(b.scope, b.code, b.region)]
        if not wanted:
            unmatched.append(subscriber.name)
        items = []
        for briefing in wanted:
            records = by_key.get((subscriber.email.lower(), briefing.pdf), [])
            state, item = _plan_item(briefing, records)
            if state == "delivered":
                delivered.append((subscriber.name, briefing.pdf))
            elif state == "held":
                unknown.append((subscriber.name, briefing.pdf))
            elif item is not None:
                items.append(item)
        if items:
            messages.append(PlannedMessage(subscriber, tuple(items)))
    return DeliveryPlan(tuple(messages), tuple(delivered), tuple(unmatched), tuple(unknown))


def _plan_item(
    briefing: BriefingFile, records: list[LedgerRecord]
) -> tuple[str, PlannedItem | None]:
    """("delivered", None) when the subscriber has this version, ("held", None) when it may
    have reached them, else ("send", what to send)."""
    last = max((i for i, r in enumerate(records) if r.status == SENT), default=None)
    last_sent = records[last] if last is not None else None
    if last_sent is not None and last_sent.content_hash == briefing.content_hash:
        return "delivered", None
    since = records[last + 1 :] if last is not None else records
    tried = [r for r in since if r.content_hash == briefing.content_hash]
    earlier_attempt = tried[-1] if tried else None
    if earlier_attempt is not None and earlier_attempt.status == UNKNOWN:
        return "held", None
    changes = diff_figures(last_sent.figures, briefing.figures) if last_sent else ()
    return "send", PlannedItem(briefing, last_sent, changes, earlier_attempt)


@dataclass(frozen=True)
class MessageOutcome:
    recipient: str
    email: str
    pdfs: tuple[str, ...]
    kind: str  # new, correction, update or notice
    # planned (dry run), sent, undelivered, or unknown (the relay went quiet after it was
    # given the whole message: it may have gone, so it is not sent again by itself)
    status: str
    message_id: str | None = None
    attempts: int = 0
    detail: str = ""  # changed figures, or why it was not delivered


@dataclass(frozen=True)
class DeliverySummary:
    period: str
    channel: str  # smtp or outbox
    destination: str  # host and port, or the outbox folder; never credentials
    dry_run: bool
    messages: tuple[MessageOutcome, ...] = ()
    already_delivered: tuple[tuple[str, str], ...] = ()
    unmatched: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    held: tuple[tuple[str, str], ...] = ()  # (subscriber, pdf) whose last outcome is unknown

    def _with(self, status: str) -> list[MessageOutcome]:
        return [m for m in self.messages if m.status == status]

    @property
    def sent(self) -> list[MessageOutcome]:
        return self._with("sent")

    @property
    def undelivered(self) -> list[MessageOutcome]:
        return self._with("undelivered")

    @property
    def unknown(self) -> list[MessageOutcome]:
        return self._with("unknown")

    @property
    def planned(self) -> list[MessageOutcome]:
        return self._with("planned")

    @property
    def corrections(self) -> list[MessageOutcome]:
        return [m for m in self.messages if m.kind == "correction" and m.status != "undelivered"]

    def describe(self) -> str:
        if self.dry_run:
            line = (
                f"Would send {plural(len(self.planned), 'message')} for {self.period} via "
                f"{self.destination} ({plural(len(self.corrections), 'correction')}); "
                f"{plural(len(self.already_delivered), 'briefing')} already delivered"
            )
        else:
            done = (
                f"Emailed {plural(len(self.sent), 'message')} for {self.period} via "
                f"{self.destination}"
                if self.channel == "smtp"
                else f"Wrote {plural(len(self.sent), 'message')} for {self.period} to the "
                f"{self.destination}, not emailed (no SMTP server is set)"
            )
            line = (
                f"{done} ({plural(len(self.corrections), 'correction')}), "
                f"{len(self.undelivered)} undelivered; "
                f"{plural(len(self.already_delivered), 'briefing')} already delivered"
            )
        if self.unknown:
            line += (
                f"; {plural(len(self.unknown), 'message')} with an unknown outcome (the relay "
                "did not "
                "confirm them): not sent again, stewards told"
            )
        if self.held:
            line += (
                f"; {plural(len(self.held), 'briefing')} held, their last message's outcome "
                "unknown: "
                "a steward decides"
            )
        return line


def changes_text(item: PlannedItem) -> str:
    return "; ".join(change.describe() for change in item.changes)
