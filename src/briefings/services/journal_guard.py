"""The journal opened before a run does anything: damaged, unreadable or lost, the run
stops in one line, and the stewards are told without it."""

from __future__ import annotations

from pathlib import Path

from briefings.config import get_settings
from briefings.delivery.settings import DeliverySettings
from briefings.delivery.subscriptions import DEFAULT_SUBSCRIPTIONS, load_subscriptions
from briefings.delivery.transport import transport_for
from briefings.journal import Journal, JournalError
from briefings.services.runs import (
    LOCAL,
    RunError,
    Runner,
    outbox_dir,
)
from briefings.store import (
    DataFolders,
)


class JournalUnavailable(RunError):
    """The journal cannot be opened: the run stopped before anything was published or sent,
    and the stewards were told without it."""


def open_journal(data_dir: Path, out_dir: Path, runner: Runner = LOCAL) -> Journal:
    """The data folder's journal, opened (and quick-checked) before a run does anything. A
    damaged or unreadable journal stops the run; the stewards are told straight through the
    transport, since the notices' own record lives in the journal."""
    try:
        journal = Journal.of(data_dir)
        check_journal_not_lost(journal, DataFolders(data_dir))
        return journal
    except JournalError as error:
        tell_stewards_without_journal(
            "Briefings: the journal cannot be read; nothing was published or sent",
            f"A run on {data_dir} stopped before doing anything: {error}.\n"
            "Nothing was published or sent. `briefings journal check` says what is wrong; "
            "restore the journal from its latest backup (docs/operators.md) and run again.",
            out_dir,
            runner,
        )
        raise JournalUnavailable(str(error)) from None


STARTED_OVER = "started_over"


def check_journal_not_lost(journal: Journal, folders: DataFolders) -> None:
    """A journal that has never received anything, beside a store that has (a ledger in
    processed/), was deleted or emptied: running on would send every subscriber everything
    again and date every return today. Stop, unless a steward chose to start over."""
    from briefings.journal.received import nothing_received

    if folders.ledger.exists() and nothing_received(journal) and not journal.meta(STARTED_OVER):
        raise JournalError(
            f"the journal {journal.path} is new or empty, but {folders.ledger} shows earlier "
            "runs: nothing was published or sent; restore the journal from its backup, or, if "
            "it is lost for good, `briefings journal start-over` (every subscriber is then "
            "sent the current briefings, and returns are dated by the next run)"
        )


def start_journal_over(data_dir: Path, reason: str, who: str) -> Journal:
    """A steward's decision to go on with a new journal after the old one was lost."""
    from briefings.journal.core import now

    journal = Journal.of(data_dir)
    journal.set_meta(STARTED_OVER, f"{now()} by {who}: {' '.join(reason.split())}")
    return journal


def tell_stewards_without_journal(subject: str, text: str, out_dir: Path, runner: Runner) -> None:
    """A notice handed to the transport directly, recorded nowhere: for when the journal,
    which records notices, is what failed. Sent again by each run until it is repaired."""
    from briefings.delivery.compose import compose_notice
    from briefings.delivery.sending import sender_address, with_password

    try:
        settings = with_password(
            DeliverySettings.from_settings(get_settings(), outbox_dir(out_dir)), runner.secret
        )
        transport = transport_for(settings)
        sender = sender_address(settings, "Briefings")
        for steward in load_subscriptions(DEFAULT_SUBSCRIPTIONS).stewards:
            transport.send(compose_notice(steward, subject, text, sender))
    except Exception as error:  # the run's own failure is what matters: say this and go on
        runner.log.error("Could not tell the stewards (%s): %s", type(error).__name__, error)
