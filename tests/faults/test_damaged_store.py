"""A damaged store: data/processed/ deleted, or its ledger or a Parquet file deleted, cut short
or garbled. The next run notices, says which file and why, and rebuilds from data/raw/ with
the same ledger and the same accepted rows as the undamaged store.

The store is built once, over two runs of the real ingest (a correction and a duplicate
arrive for the second), and copied for each kind of damage.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import briefings.ingest.files
from briefings.store import (
    DataFolders,
    Status,
    check_store,
    read_ledger,
    stage_raw_files,
)
from briefings.store.ledger import LEDGER_COLUMNS
from briefings.store.parquet import parquet_damage

from ..helpers import TEST_DATA, copy_data_folder
from .ingesting import age, ingest, write_return

NOW = datetime.now(UTC).replace(microsecond=0)
FIRST_RUN, SECOND_RUN, THIS_RUN = NOW - timedelta(days=2), NOW - timedelta(hours=1), NOW
LATER_FILES = ("wiltshire-correction.csv", "returns-copy.csv")  # arrived for the second run
LEDGER_FIELDS = [c for c in LEDGER_COLUMNS if c != "data_docs"]  # data_docs: per folder


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    data = copy_data_folder(TEST_DATA / "small", tmp_path_factory.mktemp("clean") / "data")
    folders = DataFolders(data)
    shutil.copy(TEST_DATA / "formats" / "home-office-extract-2017-18.xlsx", folders.raw)
    for path in folders.raw.iterdir():
        age(path, 3 * 86400, NOW.timestamp())  # the returns came in three days ago
    ingest(folders, FIRST_RUN, cached=True)
    write_return(folders, LATER_FILES[0], "Wiltshire,2016/17,ALL,,45\n")
    shutil.copy(folders.raw / "returns-2017.csv", folders.raw / LATER_FILES[1])
    for name in LATER_FILES:
        age(folders.raw / name, 86400, NOW.timestamp())  # a day ago
    ingest(folders, SECOND_RUN, cached=True)
    statuses = read_ledger(folders).set_index("file")["status"].to_dict()
    assert statuses == {
        "dorset-return-with-errors.csv": "quarantined",
        "home-office-extract-2017-18.xlsx": "accepted",
        "returns-2017.csv": "accepted",  # some of its figures superseded by the correction
        "returns-copy.csv": "duplicate",
        "surrey-foi-response.xlsx": "accepted",
        "wiltshire-correction.csv": "accepted",
    }
    return data


def snapshot(folders: DataFolders) -> dict[str, pd.DataFrame]:
    """What a run leaves that the briefings depend on: the ledger and the accepted tables."""
    tables = {"ledger": read_ledger(folders)[LEDGER_FIELDS].sort_values("file")}
    for path in folders.accepted_tables:
        frame = pd.read_parquet(path)
        tables[path.name] = frame.sort_values(list(frame.columns))
    return {name: frame.reset_index(drop=True) for name, frame in tables.items()}


def assert_same(after: dict[str, pd.DataFrame], before: dict[str, pd.DataFrame]) -> None:
    assert after.keys() == before.keys()
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)


@pytest.fixture
def store(clean, tmp_path) -> DataFolders:
    """A copy of the clean store (modification times kept) to damage."""
    shutil.copytree(clean, tmp_path / "data")
    return DataFolders(tmp_path / "data")


def rerun(folders: DataFolders, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="briefings.store"):
        ingest(folders, THIS_RUN, cached=True)
    return [r.getMessage() for r in caplog.records if r.name == "briefings.store"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble(path: Path) -> None:
    """Random bytes over the start of the first column's data pages. (Some other bytes are
    harmless: pyarrow reads the schema's metadata from its own copy, for one; the byte-flip
    test below shows every byte is either harmless or noticed.)"""
    start = pq.read_metadata(path).row_group(0).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + 48] = random.Random(path.name).randbytes(48)  # the same every run
    path.write_bytes(bytes(data))


def staged(folders: DataFolders) -> list[Path]:
    return sorted((folders.processed / "staged").glob("*.parquet"))


def test_an_undamaged_store_is_trusted_and_not_rebuilt(clean, store, caplog):
    before = {p: p.stat().st_mtime_ns for p in staged(store)}
    assert rerun(store, caplog) == []
    assert {p: p.stat().st_mtime_ns for p in staged(store)} == before  # not read again
    assert_same(snapshot(store), snapshot(DataFolders(clean)))


def test_a_table_is_read_whole_again_only_when_its_bytes_changed(clean, store, monkeypatch):
    """A Parquet file that passed is not read again while its bytes hash the same; one flipped
    byte, and it is checked in full (and found damaged) on the next run."""
    import briefings.store.integrity

    checked = []
    real = briefings.store.integrity.parquet_damage

    def counted(path, sha256=None):
        checked.append(path.name)
        return real(path, sha256)

    monkeypatch.setattr(briefings.store.integrity, "parquet_damage", counted)
    # The last run wrote the accepted tables and a staged one after its check: read now.
    assert check_store(store).problems == ()
    assert set(store.accepted_tables) <= {store.processed / n for n in checked}
    assert len(checked) < len(staged(store)) + len(store.accepted_tables)
    checked.clear()
    assert check_store(store).problems == ()
    assert checked == []
    data = bytearray(store.accepted_returns.read_bytes())
    start = pq.read_metadata(store.accepted_returns).row_group(0).column(0).data_page_offset
    data[start + 4] ^= 0xFF
    store.accepted_returns.write_bytes(bytes(data))
    health = check_store(store)
    assert checked == [store.accepted_returns.name]  # the others are as they were
    assert [p for p in health.problems if "online_flag_returns.parquet" in p]


TABLES = [
    "online_flag_returns.parquet",
    "home_office_offences.parquet",
    "child_sexual_offences.parquet",
    "staged",
]


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbled"])
@pytest.mark.parametrize("table", TABLES)
def test_a_damaged_parquet_file_is_noticed_and_the_store_rebuilt(
    clean, store, caplog, table, damage
):
    targets = [store.processed / table] if table != "staged" else staged(store)
    for path in targets:
        {"deleted": Path.unlink, "truncated": truncate, "garbled": garble}[damage](path)
    messages = rerun(store, caplog)
    shown = [f"data/{p.relative_to(store.root).as_posix()}" for p in targets]
    said = "is missing" if damage == "deleted" else "was damaged"
    for name in shown:
        assert any(m.startswith(f"{name} {said} (") for m in messages), messages
    noticed = [m for m in messages if " was damaged (" in m or " is missing (" in m]
    assert noticed and all(m.endswith(": rebuilding from data/raw/") for m in noticed)
    assert_same(snapshot(store), snapshot(DataFolders(clean)))
    assert check_store(store).problems == ()  # and whole again


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbled"])
def test_a_damaged_ledger_is_restored_from_its_copy_and_the_store_rebuilt(
    clean, store, caplog, damage
):
    if damage == "garbled":  # a hash cut short and a status made up
        text = store.ledger.read_text().replace(",accepted,", ",acepted,", 1)
        store.ledger.write_text(text.replace(read_ledger(store).loc[0, "sha256"], "0f00", 1))
    else:
        {"deleted": Path.unlink, "truncated": truncate}[damage](store.ledger)
    damaged_bytes = store.ledger.read_bytes() if store.ledger.exists() else None
    messages = rerun(store, caplog)
    said = "is missing" if damage == "deleted" else "was damaged"
    assert messages[0].startswith(f"data/processed/ledger.csv {said} (")
    assert messages[0].endswith(": rebuilding from data/raw/")
    assert "restored from the copy kept with the accepted tables" in " ".join(messages)
    if damaged_bytes is not None:  # kept for a person to look at
        assert (store.processed / "ledger.damaged.csv").read_bytes() == damaged_bytes
    assert_same(snapshot(store), snapshot(DataFolders(clean)))  # first-seen dates included


def test_a_swapped_staged_table_is_noticed_by_its_hash(clean, store, caplog):
    first, second = staged(store)[:2]
    first.unlink()
    shutil.copy(second, first)  # the right name, another return's table
    messages = rerun(store, caplog)
    assert any(
        f"data/processed/staged/{first.name} was damaged (made from raw bytes" in m
        for m in messages
    ), messages
    assert_same(snapshot(store), snapshot(DataFolders(clean)))


def test_a_garbled_validation_outcome_is_noticed_and_validated_again(clean, store, caplog):
    outcome = sorted((store.cache / "validation").glob("*.pickle"))[0]
    truncate(outcome)
    messages = rerun(store, caplog)
    assert any(
        m.startswith(f"data/processed/cache/validation/{outcome.name} was damaged")
        for m in messages
    ), messages
    assert_same(snapshot(store), snapshot(DataFolders(clean)))


@pytest.mark.parametrize("lost", ["processed/ deleted", "ledger and accepted tables deleted"])
def test_with_no_ledger_left_first_seen_dates_come_from_the_journal(clean, store, caplog, lost):
    """The same statuses, rows and first-seen dates as the undamaged store: when each return
    was received is kept in the journal (data/state/), outside processed/."""
    if lost == "processed/ deleted":
        shutil.rmtree(store.processed)
    else:
        for path in (store.ledger, *store.accepted_tables):
            path.unlink()
    messages = rerun(store, caplog)
    assert any(
        "first-received dates come from the journal, data/state/journal.sqlite" in m
        for m in messages
    ), messages
    assert_same(snapshot(store), snapshot(DataFolders(clean)))  # first-seen dates included
    ledger = read_ledger(store).set_index("file")["first_seen"]
    # Not the files' times: the small returns' manifest dates, and the runs that saw the others.
    assert ledger["returns-2017.csv"] == "2017-05-08T10:00:00+00:00"
    assert ledger["home-office-extract-2017-18.xlsx"] == FIRST_RUN.isoformat()
    assert ledger["wiltshire-correction.csv"] == SECOND_RUN.isoformat()


def test_no_single_byte_of_damage_changes_what_is_read_unnoticed(clean, tmp_path):
    """Flip bytes of a staged table and an accepted table (every byte of the footer, where
    Parquet has no checksums, and a sample of the rest): each flip is either noticed or
    changes nothing a reader gets."""
    folders = DataFolders(clean)
    rng = random.Random(7)
    for source in (staged(folders)[0], folders.accepted_returns):
        path = shutil.copy(source, tmp_path / source.name)
        original, sha256 = path.read_bytes(), source.stem if "staged" in source.parts else None
        expected = pq.read_table(path)
        footer = range(max(0, len(original) - 1500), len(original))
        offsets = sorted({*footer, *rng.sample(range(len(original)), 200)})
        start = time.monotonic()
        for offset in offsets:
            flipped = bytearray(original)
            flipped[offset] ^= 0xFF
            path.write_bytes(bytes(flipped))
            if parquet_damage(path, sha256) is None:
                table = pq.read_table(path)
                assert table.equals(expected, check_metadata=True), (source.name, offset)
        assert time.monotonic() - start < 20


def test_an_incomplete_file_is_not_kept_when_the_ledger_is_restored(
    clean, store, caplog, monkeypatch
):
    """Still-arriving entries in the ledger copy are not taken as first sightings."""
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "2")
    write_return(store, "kent.csv", "Kent,2016/17,ALL,,120\n", settled=False)

    def busy(seconds):  # the copy goes on while ingest waits
        with (store.raw / "kent.csv").open("a") as handle:
            handle.write("Kent,2015/16,ALL,,100\n")

    with monkeypatch.context() as patch:
        patch.setattr(briefings.ingest.files, "wait_for_files", busy)
        ingest(store, THIS_RUN - timedelta(minutes=30), cached=True)
    assert read_ledger(store).set_index("file").loc["kent.csv", "status"] == Status.INCOMPLETE
    store.ledger.unlink()
    age(store.raw / "kent.csv")
    rerun(store, caplog)
    kent = read_ledger(store).set_index("file").loc["kent.csv"]
    assert kent["status"] == Status.ACCEPTED
    assert kent["first_seen"] == THIS_RUN.isoformat()  # seen complete only now


def test_a_first_run_stopped_before_its_ledger_is_not_taken_for_damage(tmp_path, caplog):
    folders = DataFolders(copy_data_folder(TEST_DATA / "small", tmp_path / "data"))
    stage_raw_files(folders, now=FIRST_RUN)  # staged, then stopped: no tables, no ledger
    messages = rerun(folders, caplog)
    assert not [m for m in messages if " was damaged (" in m or " is missing (" in m]
    assert "(a first run, or the store was deleted)" in messages[0]
    returns = {p.name for p in folders.raw.iterdir()} - {"received-dates.csv"}
    assert set(read_ledger(folders)["file"]) == returns
