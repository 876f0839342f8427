"""Years beyond doubt and every raw file accounted for: a year that has not ended, or part of
a year, is never published as a year; --as-of is a date, parsed; a raw file with an odd
name, a deep path or no readable bytes is quarantined on its own, and the run goes on."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from briefings.domain.periods import Period
from briefings.ingest import Kind
from briefings.ingest import files as raw_files
from briefings.services import RunRequest, period_figures
from briefings.store import (
    DataFolders,
    load_accepted_returns,
    read_ledger,
    read_staged,
    stage_raw_files,
)
from briefings.validation import validate_return

from .faults.ingesting import ingest  # stage and accept as the flow does, fixed clock
from .helpers import TEST_DATA, briefings, copy_data_folder, tree_digest

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"
# Today's unfinished financial year, whatever the day the tests run.
TODAY = date.today()
RUNNING = Period(TODAY.year if TODAY.month >= 4 else TODAY.year - 1)
ENDED = RUNNING.previous


@pytest.fixture
def folders(tmp_path) -> DataFolders:
    folders = DataFolders(tmp_path / "data")
    folders.raw.mkdir(parents=True)
    return folders


def write(folders: DataFolders, name: str, text: str) -> Path:
    path = folders.raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_year_not_ended_or_part_of_a_year_is_refused_and_never_the_default(folders):
    """Before: with the clock in December 2026 a return for 2026/27 was accepted and became
    the default period; '2016/17 Q1' and '2026/27 (to date)' were read as whole years."""
    # Received on 1 December 2026: 2026/27 runs to 31 March 2027, so these are part-year counts.
    write(folders, "kent.csv", HEADER + "Kent,2025/26,ALL,,120\nKent,2026/27,ALL,,40\n")
    write(folders, "dorset-q1.csv", "Force,2015/16,2016/17 Q1\nDorset,30,8\n")
    write(folders, "surrey-to-date.csv", HEADER + "Surrey,2026/27 (to date),ALL,,12\n")
    write(folders, "essex.csv", HEADER + "Essex,2024/25,ALL,,90\nEssex,2025/26,ALL,,95\n")
    entries = ingest(folders, "2026-12-01T10:00:00")
    assert entries["kent.csv"].status == "quarantined"
    assert (
        "kent.csv row 3, column financial_year: 2026/27 had not ended when this return was "
        "received on 1 December 2026 (it ends 31 March 2027)" in entries["kent.csv"].detail
    )
    assert entries["dorset-q1.csv"].status == "quarantined"
    assert "'2016/17 Q1' is part of a year, not a financial year" in entries["dorset-q1.csv"].detail
    assert entries["surrey-to-date.csv"].status == "quarantined"
    assert "row 2, column financial_year: '2026/27 (to date)' is part of a year" in (
        entries["surrey-to-date.csv"].detail
    )
    assert entries["essex.csv"].status == "accepted"
    # `briefings validate` (validation alone) refuses a year that has not ended, today.
    frame = read_staged(next(s for s in stage_raw_files(folders) if s.file == "essex.csv"))
    running = frame.assign(financial_year=RUNNING.label)
    assert not validate_return(running, "running.csv", Kind.ONLINE_FLAG).passed

    # Today, too: a return received now for the year now running is refused, and the default
    # period is the latest year that has ended with accepted returns.
    write(folders, "norfolk.csv", HEADER + f"Norfolk,{ENDED.label},ALL,,7\n")
    write(folders, "norfolk-now.csv", HEADER + f"Norfolk,{RUNNING.label},ALL,,3\n")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    entries = ingest(folders, now)
    assert entries["norfolk-now.csv"].status == "quarantined"
    assert f"{RUNNING.label} had not ended" in entries["norfolk-now.csv"].detail
    assert period_figures(folders, None, 5).period == ENDED


def test_a_run_for_a_year_that_has_not_ended_is_a_one_line_error(tmp_path):
    """Before: `briefings run --period <the year now running>` went on to publish it."""
    data = copy_data_folder(TEST_DATA / "small", tmp_path / "data")
    result = briefings("run", "--period", RUNNING.label, "--data-dir", str(data))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    end = RUNNING.last_day
    assert f"{RUNNING.label} has not ended (it ends {end.day} {end:%B %Y})" in result.stderr
    assert not (data / "processed").exists()  # refused before any work


@pytest.mark.parametrize("as_of", ["20170601", "2017-6-1", "2017-06-01T10:00", "01/06/2017"])
def test_as_of_takes_iso_dates_only(tmp_path, as_of):
    """Before: `--as-of 20170601` was accepted and then compared with received times as text."""
    data = copy_data_folder(TEST_DATA / "small", tmp_path / "data")
    for command in (["run", "--data-dir", str(data)], ["trigger", "publish"]):
        result = briefings(*command, "--as-of", as_of)
        assert result.returncode == 2, command
        said = f"briefings: error: --as-of '{as_of}' is not a date like 2017-06-01"
        assert result.stderr.strip() == said
    with pytest.raises(ValidationError, match="is not a date like 2017-06-01"):
        RunRequest(data_dir=data, out_dir=tmp_path / "out", as_of=as_of)
    # The flows take a date, or a time with its offset (as the ledger writes first_seen).
    for good in ("2017-06-01", "2017-06-01T09:15:00+00:00"):
        assert RunRequest(data_dir=data, out_dir=tmp_path / "out", as_of=good).as_of == good


def test_as_of_compares_times_not_text(folders):
    """Before: '2017-06-01T23:30:00+00:00' <= '2017-06-02T00:15:00+01:00' as text, so a
    correction received 15 minutes after the moment asked for was used."""
    write(folders, "kent.csv", HEADER + "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    write(folders, "kent-corrected.csv", HEADER + "Kent,2016/17,ALL,,125\n")
    ingest(folders, "2017-06-01T23:30:00")
    then = load_accepted_returns(folders, as_of="2017-06-02T00:15:00+01:00")  # 23:15 UTC
    assert then["online_flagged"].tolist() == [120]
    assert load_accepted_returns(folders, as_of="2017-06-01")["online_flagged"].tolist() == [125]
    assert load_accepted_returns(folders, as_of="2017-05-31").empty


def test_every_raw_file_ends_accounted_for_whatever_its_name_or_permissions(folders, monkeypatch):
    """Before: a name that is not UTF-8 crashed the journal (UnicodeEncodeError), a deep path
    the quarantine report (File name too long), an unreadable file the listing
    (PermissionError); a pipe was silently skipped; raw/a/b.csv and raw/a__b.csv shared one
    quarantine report; a newline in a name went into the ledger and reports as a line break.

    Tests run as root, who can read a mode-000 file: the file is made mode 000 and reading
    it is made to fail as it does for any other user, by patching the hashing of that one
    path (briefings.ingest.files.file_sha256) to raise PermissionError."""

    def unknown(count: int) -> str:  # a force no register knows: refused on validation
        return HEADER + f"Nowhere,2016/17,ALL,,{count}\n"

    write(folders, "kent.csv", HEADER + "Kent,2016/17,ALL,,120\n")
    write(folders, "bad\nname.csv", unknown(1))
    fd = os.open(os.fsencode(folders.raw) + b"/caf\xe9.csv", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, unknown(2).encode())
    os.close(fd)
    deep = "/".join(["d" * 40] * 10) + "/wiltshire-unknown.csv"
    write(folders, deep, unknown(3))
    write(folders, "a/b.csv", unknown(4))
    write(folders, "a__b.csv", HEADER + "Elsewhere,2016/17,ALL,,2\n")
    os.mkfifo(folders.raw / "pipe.csv")
    locked = write(folders, "locked.csv", HEADER + "Kent,2016/17,ALL,,999\n")
    before = tree_digest(folders.raw)
    locked.chmod(0)
    hashing = raw_files.file_sha256

    def refused_for_locked(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return hashing(path)

    monkeypatch.setattr(raw_files, "file_sha256", refused_for_locked)
    try:
        entries = ingest(folders, "2017-06-01T09:00:00")
    finally:
        locked.chmod(0o644)
    assert tree_digest(folders.raw) == before  # raw files untouched

    assert entries["kent.csv"].status == "accepted"  # the rest of the run goes on
    odd = ["bad\\nname.csv", "caf\\xe9.csv", deep, "a/b.csv", "a__b.csv", "pipe.csv", "locked.csv"]
    assert set(entries) == {"kent.csv", *odd}
    assert {name: entries[name].status for name in odd} == dict.fromkeys(odd, "quarantined")
    assert entries["locked.csv"].detail == "locked.csv: cannot be read: permission denied"
    assert entries["pipe.csv"].detail == "pipe.csv: cannot be read: not a file but a named pipe"
    assert entries["bad\\nname.csv"].detail.startswith("bad\\nname.csv row 2, column force")

    reports = [folders.quarantine_report(name) for name in odd]
    assert len({report.name for report in reports}) == len(odd)  # a/b.csv and a__b.csv too
    for name, report in zip(odd, reports, strict=True):
        assert len(os.fsencode(report.name)) <= 255
        assert report.read_text(encoding="utf-8").startswith(f"Return refused: raw/{name}\n")
    assert sorted(p.name for p in (folders.processed / "quarantine").iterdir()) == sorted(
        report.name for report in reports
    )
    # One line per file in the ledger: no name can break a line.
    ledger = read_ledger(folders)
    assert set(ledger["file"]) == set(entries)
    lines = folders.ledger.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(ledger) + 1
