"""The fetch-replies flow: new FOI replies from the mailbox into raw/mailbox/, and a summary
for the stewards (what arrived, the figures waiting for them, each round's overdue forces).

Thin: one call to briefings.mailbox.fetching.fetch_replies, and an artifact.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from briefings.config import get_settings
from briefings.journal import Journal
from briefings.mailbox.fetching import FetchSummary, fetch_replies
from briefings.mailbox.report import steward_summary
from briefings.mailbox.sources import MailboxError, configured_source
from briefings.resources import DEFAULT_DATA_DIR


def load_mailbox_secret(name: str) -> str:
    """The mailbox password from a Prefect Secret block (BRIEFINGS_IMAP_PASSWORD_BLOCK)."""
    from prefect.blocks.system import Secret

    try:
        # Outside an event loop the block loads synchronously: a Secret, not a coroutine.
        return str(cast(Secret, Secret.load(name)).get())
    except ValueError as error:
        raise MailboxError(f"BRIEFINGS_IMAP_PASSWORD_BLOCK: no Secret block '{name}'") from error


@flow(name="fetch-replies")
def fetch_new_replies(data_dir: Path = DEFAULT_DATA_DIR) -> FetchSummary | None:
    """Fetch new replies; with no mailbox set, say so and fetch nothing."""
    logger = get_run_logger()
    settings = get_settings()
    if settings.imap_host is None and settings.maildir is None:
        logger.info("No mailbox set (BRIEFINGS_IMAP_HOST or BRIEFINGS_MAILDIR): nothing fetched")
        return None
    source = configured_source(Journal.of(data_dir), None, load_mailbox_secret)
    summary = fetch_replies(data_dir, source)
    logger.info(summary.describe())
    create_markdown_artifact(
        key="mailbox-summary", markdown=steward_summary(data_dir, summary, date.today())
    )
    return summary
