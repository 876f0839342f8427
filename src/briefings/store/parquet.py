"""Parquet files of the store, written so that damage shows and checked for it.

Staged and accepted tables are written with page checksums and, in their metadata, a digest
of everything a reader gets from them; a staged table also says which raw bytes it was made
from. Writing and checking live together here because each check undoes exactly what the
writer put in: the ledger's copy, the integrity check and the store's state all rely on it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from briefings.atomic import atomic_write

DIGEST_KEY = b"briefings-digest"
STAGED_KEY = b"briefings"  # a staged table's description of the raw file it was made from


def write_parquet(target: Path, table: Any) -> None:
    """Parquet with page checksums and, in its metadata, a digest of everything a reader gets
    from it (see table_digest): damage anywhere that would change what is read shows."""
    import pyarrow.parquet as pq

    def write(path: str) -> None:
        pq.write_table(table, path, write_page_checksum=True)
        digest = table_digest(pq.read_table(path))  # the data as it reads back
        metadata = {**(table.schema.metadata or {}), DIGEST_KEY: digest.encode()}
        pq.write_table(table.replace_schema_metadata(metadata), path, write_page_checksum=True)

    atomic_write(target, write)


def table_digest(table: Any) -> str:
    """sha256 of a table's data (Arrow IPC bytes) and schema metadata, the digest excepted.
    Bytes of the file that change neither (statistics, padding) are harmless."""
    import pyarrow as pa

    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != DIGEST_KEY}
    bare = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, bare.schema) as stream:
        stream.write_table(bare)
    digest = hashlib.sha256(sink.getvalue())
    for key in sorted(metadata):
        digest.update(b"%d:%s%d:%s" % (len(key), key, len(metadata[key]), metadata[key]))
    return digest.hexdigest()


def parquet_damage(path: Path, sha256: str | None = None) -> str | None:
    """Why a Parquet file of ours cannot be trusted, or None. Read whole, so truncation,
    garbled pages (checksums) and a garbled footer all show. With `sha256`, it is a staged
    table and must say it was made from those raw bytes."""
    import pyarrow.parquet as pq

    from briefings.ingest import Kind

    try:
        table = pq.read_table(path, page_checksum_verification=True)
        metadata = table.schema.metadata or {}
        if b"pandas" not in metadata:  # every table of ours has it
            return "its description of its columns is missing"
        written = metadata.get(DIGEST_KEY)  # absent from stores written before digests
        if written is not None and written.decode() != table_digest(table):
            return "its contents do not match the digest written with them"
    except Exception as error:  # pyarrow's errors for a damaged file vary with the damage
        return f"unreadable: {' '.join(str(error).split())[:120]}"
    if sha256 is None:
        return None
    try:
        meta = json.loads((table.schema.metadata or {})[STAGED_KEY])
        kind, layout, notes = meta["kind"], meta["layout"], meta["notes"]
        Kind(kind)
    except Exception:
        return "no readable description of the raw file it was made from"
    if not isinstance(layout, str) or not isinstance(notes, list):
        return "no readable description of the raw file it was made from"
    if meta.get("sha256", sha256) != sha256:
        return f"made from raw bytes {str(meta['sha256'])[:12]}..., not those its name says"
    if meta.get("rows", table.num_rows) != table.num_rows:
        return f"{table.num_rows} rows where {meta['rows']} were written"
    return None
