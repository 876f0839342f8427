"""The processed store: the ledger of raw files, staged returns and the accepted tables.

data/raw/ is only ever read. Everything under data/processed/ can be rebuilt from it
(`briefings ingest --rebuild`):
- ledger.csv: every raw file with its content hash, size, when first seen, kind and layout,
  and its status (accepted, quarantined, superseded, duplicate, or incomplete while it is
  still being written) with the reason; a copy travels in the accepted tables' metadata;
- staged/<sha256>.parquet: each readable file in the canonical layout of its kind;
- quarantine/<file>-<hash>.txt: for each refused file, what failed, in words;
- online_flag_returns.parquet: every row of every accepted online-flag return, with when its
  file was first seen, so figures can be rebuilt as of any date;
- home_office_offences.parquet and child_sexual_offences.parquet: accepted Home Office tables,
  summed per force, quarter and code, and the child sexual offences derived from them.
Every write goes to a temporary name and is renamed into place; the ledger is written last.

One module per job: layout (where things are, one run at a time), parquet (tables written
so damage shows), ledger (the ledger and its spreadsheet escaping), integrity (checking and
rebuilding a damaged store), staging (raw files read once per content hash), acceptance
(ledger entries, supersession, the accepted tables) and crosschecks (the checks across
returns for stewards). Callers import from here.
"""

from typing import TYPE_CHECKING

from briefings.lazy import lazy_attributes

if TYPE_CHECKING:
    from briefings.store.acceptance import (
        accept_returns,
        load_accepted_returns,
        load_child_sexual_offences,
        refused_force_years,
        typed_return,
    )
    from briefings.store.crosschecks import store_checks
    from briefings.store.integrity import (
        StoreHealth,
        check_store,
        clear_derived,
        repair_store,
        store_state,
    )
    from briefings.store.layout import DataFolders, StoreBusyError, store_lock
    from briefings.store.ledger import (
        LEDGER_COLUMNS,
        LedgerEntry,
        LedgerError,
        Status,
        parse_ledger,
        read_ledger,
        spreadsheet_safe,
    )
    from briefings.store.parquet import table_digest, write_parquet
    from briefings.store.staging import StagedReturn, read_staged, stage_raw_files

# Each name comes from its module when first used: reading the ledger's entries or the
# folders' layout does not import pandas, which the tables' modules need.
_MODULES = {
    "accept_returns": "acceptance",
    "load_accepted_returns": "acceptance",
    "refused_force_years": "acceptance",
    "load_child_sexual_offences": "acceptance",
    "typed_return": "acceptance",
    "store_checks": "crosschecks",
    "StoreHealth": "integrity",
    "check_store": "integrity",
    "clear_derived": "integrity",
    "repair_store": "integrity",
    "store_state": "integrity",
    "DataFolders": "layout",
    "StoreBusyError": "layout",
    "store_lock": "layout",
    "LEDGER_COLUMNS": "ledger",
    "LedgerEntry": "ledger",
    "LedgerError": "ledger",
    "Status": "ledger",
    "parse_ledger": "ledger",
    "read_ledger": "ledger",
    "spreadsheet_safe": "ledger",
    "table_digest": "parquet",
    "write_parquet": "parquet",
    "StagedReturn": "staging",
    "read_staged": "staging",
    "stage_raw_files": "staging",
}


__getattr__ = lazy_attributes(__name__, _MODULES)


__all__ = [
    "LEDGER_COLUMNS",
    "DataFolders",
    "LedgerEntry",
    "LedgerError",
    "StagedReturn",
    "Status",
    "StoreBusyError",
    "StoreHealth",
    "accept_returns",
    "check_store",
    "clear_derived",
    "load_accepted_returns",
    "refused_force_years",
    "load_child_sexual_offences",
    "parse_ledger",
    "read_ledger",
    "read_staged",
    "repair_store",
    "spreadsheet_safe",
    "stage_raw_files",
    "store_checks",
    "store_lock",
    "store_state",
    "table_digest",
    "typed_return",
    "write_parquet",
]
