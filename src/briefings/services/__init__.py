"""What the application does, as plain functions: ingest, publish, deliver, backfill.

The Prefect flows (flows/), the command line and the tests all call these. Nothing here knows
Prefect: how each step runs (in this process, or as a task run a steward can watch and
retry), how briefings render (one after another here, or in a pool of processes or on a Dask
cluster) and how a message is handed to the transport (with retries) is the `Runner`'s
business. `LocalRunner` runs everything here, in order; flows/pipeline.py has the Prefect one.

- runs: what a run is asked for and gives back, the Runner, where files go;
- journal_guard: the journal opened first, a damaged or lost one stopping the run;
- ingesting: raw files staged, validated and accepted, and what waits for a person;
- publishing: figures, briefings rendered and delivered, holding the data folder's lock;
- delivering: a publication to its subscribers;
- backfilling: a range of periods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from briefings.lazy import lazy_attributes

if TYPE_CHECKING:
    from briefings.services.backfilling import BackfillResult, backfill
    from briefings.services.delivering import deliver
    from briefings.services.ingesting import (
        ingest,
        ingest_key,
        ingest_locked,
        record_replacements,
        tell_stewards,
        validate_and_accept,
        validated,
        validated_store,
        waiting_for_a_person,
    )
    from briefings.services.journal_guard import (
        STARTED_OVER,
        JournalUnavailable,
        check_journal_not_lost,
        open_journal,
        start_journal_over,
        tell_stewards_without_journal,
    )
    from briefings.services.publishing import (
        period_figures,
        publication_folder,
        publish,
        render_briefings,
    )
    from briefings.services.runs import (
        LOCAL,
        IngestResult,
        LocalRunner,
        OutOfDate,
        Publication,
        RequestError,
        RunError,
        Runner,
        RunRequest,
        RunSummary,
        SendOutcome,
        cache_of,
        delivery_ledger,
        explained,
        out_dir_beside,
        outbox_dir,
        render_batch,
        send_once,
        users_mistake,
        writing,
    )

# Each name is imported from its module when first used, so a command or a run imports
# only what it needs (a rerun with nothing new never imports pandas, Great Expectations
# or the renderer).
_MODULES = {
    "BackfillResult": "backfilling",
    "backfill": "backfilling",
    "deliver": "delivering",
    "ingest": "ingesting",
    "ingest_key": "ingesting",
    "ingest_locked": "ingesting",
    "record_replacements": "ingesting",
    "tell_stewards": "ingesting",
    "validate_and_accept": "ingesting",
    "validated": "ingesting",
    "validated_store": "ingesting",
    "waiting_for_a_person": "ingesting",
    "STARTED_OVER": "journal_guard",
    "JournalUnavailable": "journal_guard",
    "check_journal_not_lost": "journal_guard",
    "open_journal": "journal_guard",
    "start_journal_over": "journal_guard",
    "tell_stewards_without_journal": "journal_guard",
    "period_figures": "publishing",
    "publication_folder": "publishing",
    "publish": "publishing",
    "render_briefings": "publishing",
    "LOCAL": "runs",
    "IngestResult": "runs",
    "LocalRunner": "runs",
    "OutOfDate": "runs",
    "Publication": "runs",
    "RequestError": "runs",
    "RunError": "runs",
    "Runner": "runs",
    "RunRequest": "runs",
    "RunSummary": "runs",
    "SendOutcome": "runs",
    "cache_of": "runs",
    "delivery_ledger": "runs",
    "explained": "runs",
    "out_dir_beside": "runs",
    "outbox_dir": "runs",
    "render_batch": "runs",
    "send_once": "runs",
    "users_mistake": "runs",
    "writing": "runs",
}


__getattr__ = lazy_attributes(__name__, _MODULES)


__all__ = [
    "LOCAL",
    "STARTED_OVER",
    "BackfillResult",
    "IngestResult",
    "JournalUnavailable",
    "LocalRunner",
    "OutOfDate",
    "Publication",
    "RequestError",
    "RunError",
    "RunRequest",
    "RunSummary",
    "Runner",
    "SendOutcome",
    "backfill",
    "cache_of",
    "check_journal_not_lost",
    "deliver",
    "delivery_ledger",
    "explained",
    "ingest",
    "ingest_key",
    "ingest_locked",
    "open_journal",
    "out_dir_beside",
    "outbox_dir",
    "period_figures",
    "publication_folder",
    "publish",
    "record_replacements",
    "render_batch",
    "render_briefings",
    "send_once",
    "start_journal_over",
    "tell_stewards",
    "tell_stewards_without_journal",
    "users_mistake",
    "validate_and_accept",
    "validated",
    "validated_store",
    "waiting_for_a_person",
    "writing",
]
