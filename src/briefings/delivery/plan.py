"""Who gets what in this publication, and what changed since they last got it. Pure logic:
the ledger's history comes in as records, a plan and a summary go out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from briefings.delivery.manifest import BriefingFile, Publication
from briefings.delivery.subscriptions import Recipient, Subscriptions

SENDING, SENT, UNDELIVERED, SUPERSEDED = "sending", "sent", "undelivered", "superseded"


@dataclass(frozen=True)
class LedgerRecord:
    """One row of the delivery ledger: a version of one briefing for one subscriber."""

    email: str  # lower case
    pdf: str
    content_hash: str
    status: str  # sending, sent, undelivered or superseded
    figures: dict[str, str]
    attempts: int = 0
    message_id: str | None = None
    sent_at: str | None = None  # ISO time, UTC
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


def plan_deliveries(
    publication: Publication, subscriptions: Subscriptions, history: Iterable[LedgerRecord]
) -> DeliveryPlan:
    """For each subscriber, the briefings in scope whose printed version they have not been
    sent. `history` is the ledger for this period and channel."""
    by_key: dict[tuple[str, str], list[LedgerRecord]] = {}
    for record in history:
        by_key.setdefault((record.email, record.pdf), []).append(record)
    messages, delivered, unmatched = [], [], []
    for subscriber in subscriptions.subscribers:
        wanted = [b for b in publication.briefings if subscriber.wants(b.scope, b.code, b.region)]
        if not wanted:
            unmatched.append(subscriber.name)
        items = []
        for briefing in wanted:
            records = by_key.get((subscriber.email.lower(), briefing.pdf), [])
            item = _plan_item(briefing, records)
            if item is None:
                delivered.append((subscriber.name, briefing.pdf))
            else:
                items.append(item)
        if items:
            messages.append(PlannedMessage(subscriber, tuple(items)))
    return DeliveryPlan(tuple(messages), tuple(delivered), tuple(unmatched))


def _plan_item(briefing: BriefingFile, records: list[LedgerRecord]) -> PlannedItem | None:
    this_version = next((r for r in records if r.content_hash == briefing.content_hash), None)
    if this_version is not None and this_version.status == SENT:
        return None
    earlier = [r for r in records if r.status == SENT and r.content_hash != briefing.content_hash]
    last_sent = max(earlier, key=lambda r: r.sent_at or "", default=None)
    changes = diff_figures(last_sent.figures, briefing.figures) if last_sent else ()
    return PlannedItem(briefing, last_sent, changes, this_version)


@dataclass(frozen=True)
class MessageOutcome:
    recipient: str
    email: str
    pdfs: tuple[str, ...]
    kind: str  # new, correction, update or notice
    status: str  # planned (dry run), sent, undelivered or skipped (sent by an earlier run)
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

    def _with(self, status: str) -> list[MessageOutcome]:
        return [m for m in self.messages if m.status == status]

    @property
    def sent(self) -> list[MessageOutcome]:
        return self._with("sent")

    @property
    def undelivered(self) -> list[MessageOutcome]:
        return self._with("undelivered")

    @property
    def planned(self) -> list[MessageOutcome]:
        return self._with("planned")

    @property
    def corrections(self) -> list[MessageOutcome]:
        return [m for m in self.messages if m.kind == "correction" and m.status != "undelivered"]

    def describe(self) -> str:
        if self.dry_run:
            return (
                f"Would send {len(self.planned)} messages for {self.period} via {self.destination}"
                f" ({len(self.corrections)} corrections); "
                f"{len(self.already_delivered)} briefings already delivered"
            )
        return (
            f"Delivered {len(self.sent)} messages for {self.period} via {self.destination} "
            f"({len(self.corrections)} corrections), {len(self.undelivered)} undelivered; "
            f"{len(self.already_delivered)} briefings already delivered"
        )


def changes_text(item: PlannedItem) -> str:
    return "; ".join(change.describe() for change in item.changes)
