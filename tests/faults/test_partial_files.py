"""Files still being written: a return that grows, or is copied in part, while ingest runs is
not ingested as final (nor refused); it is picked up complete on the next run.

Writes that happen "during" a read or the settle wait are made by a hook at exactly that
moment, so these tests are deterministic and never sleep.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import briefings.ingest.files
import briefings.store.staging
from briefings.ingest import file_sha256
from briefings.store import DataFolders, Status, read_ledger

from ..helpers import TEST_DATA
from .ingesting import accepted_counts, age, ingest, write_return

KENT, WILTSHIRE = "E23000032", "E23000038"
STILL_WRITING = "still being written: will be read on the next run"
WORKBOOK = TEST_DATA / "formats" / "wiltshire-foi-wide-with-title.xlsx"


@pytest.fixture
def folders(tmp_path, monkeypatch) -> DataFolders:
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "2")  # the default, whatever the test run sets
    folders = DataFolders(tmp_path / "data")
    folders.raw.mkdir(parents=True)
    return folders


def grows_while_read(monkeypatch, name: str, more: bytes) -> list[str]:
    """Make the reader find `name` still being appended to, once, as a copy in progress."""
    real, grown = briefings.store.staging.read_return, []

    def reading(path: Path):
        if path.name == name and not grown:
            with path.open("ab") as handle:
                handle.write(more)
            grown.append(name)
        return real(path)

    monkeypatch.setattr(briefings.store.staging, "read_return", reading)
    return grown


def test_a_return_growing_while_it_is_read_is_left_for_the_next_run(folders, monkeypatch):
    write_return(folders, "kent-1.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    # A correction arrives, and is still being copied when the next run reads it.
    write_return(folders, "kent-2.csv", "Kent,2015/16,ALL,,90\n")
    grown = grows_while_read(monkeypatch, "kent-2.csv", b"Kent,2016/17,ALL,,125\n")
    entries = ingest(folders, "2017-06-02T09:00:00")
    assert grown == ["kent-2.csv"]
    partial = entries["kent-2.csv"]
    assert partial.status == Status.INCOMPLETE
    assert partial.detail == f"changed while it was read; {STILL_WRITING}"
    assert partial.staged.staged is None  # not staged
    assert not folders.quarantine_report("kent-2.csv").exists()  # not refused
    # It supersedes nothing: the figures are still the first return's, which stays accepted.
    assert entries["kent-1.csv"].status == Status.ACCEPTED
    assert accepted_counts(folders) == {(KENT, "2016/17"): 120}
    ledger = read_ledger(folders).set_index("file")
    assert ledger.loc["kent-2.csv", "status"] == Status.INCOMPLETE
    assert len(list((folders.processed / "staged").iterdir())) == 1

    # The copy has finished: the next run reads it whole, as final.
    monkeypatch.undo()
    age(folders.raw / "kent-2.csv")
    entries = ingest(folders, "2017-06-03T09:00:00")
    assert entries["kent-2.csv"].status == Status.ACCEPTED
    assert entries["kent-1.csv"].status == Status.SUPERSEDED
    assert accepted_counts(folders) == {(KENT, "2015/16"): 90, (KENT, "2016/17"): 125}
    ledger = read_ledger(folders)
    assert ledger["file"].tolist().count("kent-2.csv") == 1  # one final entry, no leftovers
    final = ledger.set_index("file").loc["kent-2.csv"]
    assert final["sha256"] == file_sha256(folders.raw / "kent-2.csv")
    assert final["first_seen"].startswith("2017-06-03")  # when it was complete, not before


def test_a_file_written_to_during_the_settle_wait_is_incomplete(folders, monkeypatch):
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "5")
    quiet = write_return(folders, "kent.csv", "Kent,2016/17,ALL,,120\n", settled=False)
    busy = write_return(folders, "wiltshire.csv", "Wiltshire,2016/17,ALL,,44\n", settled=False)
    old = write_return(folders, "gwent.csv", "Gwent,2016/17,ALL,,63\n")
    waits = []

    def wait(seconds: float) -> None:  # the copy of wiltshire.csv goes on meanwhile
        waits.append(seconds)
        with busy.open("a") as handle:
            handle.write("Wiltshire,2015/16,ALL,,10\n")

    monkeypatch.setattr(briefings.ingest.files, "wait_for_files", wait)
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert len(waits) == 1 and 4 < waits[0] <= 5  # once, until the newest file is 5 s old
    assert entries["wiltshire.csv"].status == Status.INCOMPLETE
    assert entries["wiltshire.csv"].detail == f"modified during the last 5 s; {STILL_WRITING}"
    # Recent but unchanged over the wait: final, read now rather than on the next run.
    assert entries["kent.csv"].status == Status.ACCEPTED
    assert entries["gwent.csv"].status == Status.ACCEPTED
    assert quiet.exists() and old.exists()
    assert WILTSHIRE not in {code for code, _ in accepted_counts(folders)}


def test_no_wait_when_every_file_has_settled(folders, monkeypatch):
    write_return(folders, "kent.csv", "Kent,2016/17,ALL,,120\n")
    waits = []
    monkeypatch.setattr(briefings.ingest.files, "wait_for_files", waits.append)
    assert ingest(folders, "2017-06-01T09:00:00")["kent.csv"].status == Status.ACCEPTED
    assert waits == []


def test_a_truncated_workbook_being_copied_in_is_read_complete_on_the_next_run(
    folders, monkeypatch
):
    whole = WORKBOOK.read_bytes()
    target = folders.raw / "wiltshire.xlsx"
    target.write_bytes(whole[: len(whole) // 3])  # the copy has begun

    def wait(seconds: float) -> None:  # and goes on while ingest waits for it to settle
        target.write_bytes(whole[: 2 * len(whole) // 3])

    monkeypatch.setattr(briefings.ingest.files, "wait_for_files", wait)
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert entries["wiltshire.xlsx"].status == Status.INCOMPLETE
    assert STILL_WRITING in entries["wiltshire.xlsx"].detail
    assert not folders.quarantine_report("wiltshire.xlsx").exists()

    target.write_bytes(whole)  # the copy completes
    age(target)
    entries = ingest(folders, "2017-06-02T09:00:00")
    assert entries["wiltshire.xlsx"].status == Status.ACCEPTED
    assert accepted_counts(folders) == {(WILTSHIRE, "2015/16"): 10, (WILTSHIRE, "2016/17"): 1234}
    ledger = read_ledger(folders)
    assert ledger["file"].tolist() == ["wiltshire.xlsx"]  # one final, accepted entry
    assert ledger.loc[0, "status"] == Status.ACCEPTED
    assert ledger.loc[0, "sha256"] == file_sha256(WORKBOOK)


def test_a_truncated_workbook_left_alone_is_quarantined_as_damaged(folders):
    shutil.copy(TEST_DATA / "bad" / "truncated.xlsx", folders.raw / "truncated.xlsx")
    age(folders.raw / "truncated.xlsx")
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert entries["truncated.xlsx"].status == Status.QUARANTINED
    assert "damaged or truncated Excel workbook" in entries["truncated.xlsx"].detail
    assert folders.quarantine_report("truncated.xlsx").exists()


def test_a_partial_download_is_incomplete_until_it_has_its_name(folders):
    part = write_return(folders, "kent.csv.part", "Kent,2016/17,ALL,,120\n")
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert entries["kent.csv.part"].status == Status.INCOMPLETE
    assert "partial download" in entries["kent.csv.part"].detail
    part.rename(folders.raw / "kent.csv")  # the download finished
    entries = ingest(folders, "2017-06-02T09:00:00")
    assert entries["kent.csv"].status == Status.ACCEPTED
    assert read_ledger(folders)["file"].tolist() == ["kent.csv"]  # the .part entry is gone


def test_every_raw_file_is_in_the_ledger_whatever_happened_to_it(folders, monkeypatch):
    write_return(folders, "kent.csv", "Kent,2016/17,ALL,,120\n")
    shutil.copy(folders.raw / "kent.csv", folders.raw / "kent-copy.csv")
    write_return(folders, "kent-later.csv", "Kent,2016/17,ALL,,125\n")
    write_return(folders, "bad.csv", "Kentt,2016/17,ALL,,1\n")
    write_return(folders, "growing.csv", "Gwent,2016/17,ALL,,63\n")
    age(folders.raw / "kent-copy.csv")
    grows_while_read(monkeypatch, "growing.csv", b"Gwent,2015/16,ALL,,50\n")
    ingest(folders, "2017-06-01T09:00:00")
    ledger = read_ledger(folders).set_index("file")["status"].to_dict()
    assert set(ledger) == {p.name for p in folders.raw.iterdir()}
    assert sorted(ledger.values()) == sorted(
        [
            Status.SUPERSEDED,
            Status.DUPLICATE,
            Status.ACCEPTED,
            Status.QUARANTINED,
            Status.INCOMPLETE,
        ]
    )
