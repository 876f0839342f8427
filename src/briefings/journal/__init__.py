"""The journal: the facts that cannot be rebuilt from raw/, in one durable, transactional place.

What each raw file's content was first received (and every path it was seen under), what a
steward decided about a return, and what each subscriber was sent. Everything under
processed/ is derived from raw/ plus this journal, so deleting processed/ changes no figure,
no date and sends nothing; the journal itself is precious (back it up: `briefings journal
backup`).

It lives beside the data it describes, at <data>/state/journal.sqlite: SQLite in WAL mode,
one transaction per fact, append-only tables (a fact is never updated away; the current
state is the latest row). The access layer is the `Journal` class and the modules beside
this one (received, decisions, deliveries, mailbox), each holding its own tables and queries
over a DB-API connection, so a server database could take SQLite's place behind the same
methods.
"""

from briefings.journal.core import (
    JOURNAL_FILE,
    Journal,
    JournalError,
    journal_path,
)

__all__ = ["JOURNAL_FILE", "Journal", "JournalError", "journal_path"]

# Each concern's tables register with the core when their module is imported.
from briefings.journal import (
    decisions,  # noqa: E402,F401
    deliveries,  # noqa: E402,F401
    mailbox,  # noqa: E402,F401
    received,  # noqa: E402,F401
)
