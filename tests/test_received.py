"""When each return was received is a fact of the journal, not of file paths or modification
times: a moved or copied file keeps its first-received time (and so supersedes nothing it did
not supersede before), the bundled returns carry their received dates in a manifest beside
them (so a fresh clone gives the same dates and --as-of results on any day), and deleting
processed/ changes no date.

The store-level tests ingest as a run does (services.ingest, in this process) with a fixed
clock; the raw folder is always a copy, never the project's data/raw/."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from briefings.ingest import file_sha256, list_raw_files
from briefings.store import DataFolders, read_ledger

from .helpers import PROJECT_ROOT, TEST_DATA, briefings, copy_data_folder

BUNDLED = PROJECT_ROOT / "data"
MANIFEST = BUNDLED / "raw" / "received-dates.csv"
WILTSHIRE = "E23000038"
ORIGINAL = "wiltshire-police-foi-response-2017.xlsx"
MOVED = f"2017/{ORIGINAL}"
CORRECTION = "wiltshire-correction-2017.csv"
START = datetime(2019, 1, 7, 10, 0, tzinfo=UTC)
WILTSHIRE_2017_18 = 50  # from the 2018 round, foi-2018-online-flag-returns-compiled.csv
# When each round of bundled returns was received: the 2017 round before the NSPCC's release
# of 1 June 2017; the 2018 round after 2017/18 ended, before the Home Office table (19 July).
ROUNDS = {
    "2017": (datetime(2017, 4, 1, tzinfo=UTC), datetime(2017, 6, 1, tzinfo=UTC)),
    "2018": (datetime(2018, 4, 1, tzinfo=UTC), datetime(2018, 7, 19, tzinfo=UTC)),
}
FIRST, CORRECTED, MOVING, REBUILT, LOST = (START + timedelta(days=7 * n) for n in range(5))


def manifest_dates() -> dict[str, str]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row["received"] for row in csv.DictReader(handle)}


def ingest(data: Path, when: datetime) -> pd.DataFrame:
    """One ingest as a run does it, at `when`; the ledger it leaves, by file."""
    from briefings.services import ingest as run_ingest

    run_ingest(data, now=when, notify=False)
    return read_ledger(DataFolders(data)).set_index("file")


def wiltshire_counts(data: Path) -> dict[str, int]:
    """Wiltshire's online-flagged offences per year, as the figures would use them now."""
    from briefings.store import load_accepted_returns

    rows = load_accepted_returns(DataFolders(data))
    rows = rows[rows["force_code"] == WILTSHIRE]
    return {
        year: int(n) for year, n in rows.groupby("financial_year")["online_flagged"].sum().items()
    }


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, object]:
    """The bundled returns over five runs, a week apart: received; a correction for Wiltshire
    arrives (150 instead of 44); the original is moved into raw/2017/ (copied, then the old
    path removed); processed/ deleted; processed/ and the journal deleted. The ledger and
    Wiltshire's counts after each."""
    data = copy_data_folder(BUNDLED, tmp_path_factory.mktemp("received") / "data")
    raw = data / "raw"
    steps: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")  # files written here are complete
        steps["first"] = (ingest(data, FIRST), wiltshire_counts(data))
        (raw / CORRECTION).write_text(
            "force,financial_year,offence_code,offences,online_flagged\nWiltshire,2016/17,ALL,,150\n"
        )
        steps["corrected"] = (ingest(data, CORRECTED), wiltshire_counts(data))
        (raw / "2017").mkdir()
        shutil.copy(raw / ORIGINAL, raw / MOVED)
        (raw / ORIGINAL).unlink()
        steps["moved"] = (ingest(data, MOVING), wiltshire_counts(data))
        shutil.rmtree(data / "processed")
        steps["rebuilt"] = (ingest(data, REBUILT), wiltshire_counts(data))
        shutil.rmtree(data / "processed")
        steps["journal kept"] = (data / "state" / "journal.sqlite").is_file()
        shutil.rmtree(data / "state", ignore_errors=True)
        steps["lost"] = (ingest(data, LOST), wiltshire_counts(data))
    return steps


def test_moving_a_return_keeps_when_it_was_received_and_supersedes_nothing_new(history):
    corrected, corrected_counts = history["corrected"]
    moved, moved_counts = history["moved"]
    assert corrected_counts == {"2015/16": 10, "2016/17": 150, "2017/18": WILTSHIRE_2017_18}
    assert moved_counts == corrected_counts  # the correction still counts
    original = corrected.loc[ORIGINAL]
    assert original["status"] == "accepted"
    assert original["detail"].endswith(f"some figures superseded by {CORRECTION}")
    # The moved path is listed, received when the original was: the same return.
    now_at = moved.loc[MOVED]
    assert now_at["sha256"] == original["sha256"]
    assert now_at["first_seen"] == original["first_seen"] == manifest_dates()[ORIGINAL]
    assert (now_at["status"], now_at["detail"]) == (original["status"], original["detail"])
    assert moved.loc[CORRECTION, "status"] == "accepted"
    assert moved.loc[CORRECTION, "first_seen"] == corrected.loc[CORRECTION, "first_seen"]
    assert moved.loc[CORRECTION, "first_seen"] == CORRECTED.isoformat()
    assert moved.loc[ORIGINAL, "detail"].endswith("no longer in raw/")
    # Every other return is as it was.
    others = corrected.index.difference([ORIGINAL])
    columns = ["sha256", "first_seen", "status", "detail"]
    pd.testing.assert_frame_equal(moved.loc[others, columns], corrected.loc[others, columns])


def test_deleting_processed_changes_no_received_date(history):
    moved, counts = history["moved"]
    rebuilt, rebuilt_counts = history["rebuilt"]
    present = moved.index.difference([ORIGINAL])  # a rebuilt ledger lists what raw/ holds
    columns = ["sha256", "first_seen", "status", "detail"]
    pd.testing.assert_frame_equal(rebuilt.loc[present, columns], moved.loc[present, columns])
    assert rebuilt_counts == counts


def test_with_the_journal_lost_too_bundled_returns_date_from_the_manifest_and_others_now(
    history,
):
    rebuilt, _ = history["rebuilt"]
    lost, counts = history["lost"]
    assert history["journal kept"]  # until deleted here: data/state/journal.sqlite
    dates = manifest_dates()
    for file, row in lost.iterrows():
        expected = dates[ORIGINAL] if file == MOVED else dates.get(file, LOST.isoformat())
        assert row["first_seen"] == expected, file
    assert lost.loc[CORRECTION, "first_seen"] == LOST.isoformat()  # received again, now
    assert lost.loc[CORRECTION, "first_seen"] != rebuilt.loc[CORRECTION, "first_seen"]
    # Still received after the original.
    assert counts == {"2015/16": 10, "2016/17": 150, "2017/18": WILTSHIRE_2017_18}


@pytest.mark.parametrize(
    "today", [datetime(2019, 3, 1, tzinfo=UTC), datetime(2031, 12, 25, tzinfo=UTC)]
)
def test_a_fresh_copy_of_the_bundled_returns_dates_them_from_the_manifest_on_any_day(
    tmp_path, monkeypatch, today
):
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")
    data = copy_data_folder(BUNDLED, tmp_path / "data")
    ledger = ingest(data, today)
    assert ledger["first_seen"].to_dict() == manifest_dates()
    assert "received-dates.csv" not in ledger.index  # the manifest is not a return
    assert set(ledger["status"]) == {"accepted"}


@pytest.mark.parametrize("raw", [BUNDLED / "raw", TEST_DATA / "small" / "raw"], ids=str)
def test_the_manifest_dates_every_bundled_return_byte_for_byte(raw):
    """Editing a bundled return (or the small test returns) without its received date fails
    here."""
    with (raw / "received-dates.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["file", "sha256", "received"]
    listed = {raw_file.relative: raw_file.sha256 for raw_file in list_raw_files(raw)}
    assert {row["file"]: row["sha256"] for row in rows} == listed
    for row in rows:
        assert file_sha256(raw / row["file"]) == row["sha256"]
        received = datetime.fromisoformat(row["received"])
        assert received.utcoffset() == timedelta(0), row
        if row["file"].startswith("home-office/"):
            assert received.date().isoformat() == "2018-07-19"  # its publication date
        else:
            first, last = ROUNDS["2018" if "2018" in row["file"] else "2017"]
            assert first < received < last, row
    assert len({row["received"] for row in rows}) == len(rows)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("file,sha,received\n", "row 1: the header must be file,sha256,received"),
        (f"file,sha256,received\na.csv,{'0' * 63},2017-05-01T09:00:00+00:00\n", "row 2 (a.csv)"),
        (f"file,sha256,received\na.csv,{'0' * 64},2017-05-01T09:00:00\n", "UTC offset"),
        (f"file,sha256,received\na.csv,{'0' * 64},May 2017\n", "row 2 (a.csv): 'May 2017'"),
        (f"file,sha256,received\na.csv,{'0' * 64}\n", "row 2: expected 3 cells, found 2"),
        (
            f"file,sha256,received\na.csv,{'0' * 64},2017-05-01T09:00:00+00:00\n"
            f"b.csv,{'0' * 64},2017-05-02T09:00:00+00:00\n",
            "row 3 (b.csv): the same bytes were given another date above",
        ),
    ],
)
def test_a_malformed_manifest_is_one_line_naming_the_file_and_row(tmp_path, text, says):
    from briefings.journal.received import ReceivedDatesError
    from briefings.store import stage_raw_files

    data = copy_data_folder(BUNDLED, tmp_path / "data")
    manifest = data / "raw" / "received-dates.csv"
    manifest.write_text(text)
    with pytest.raises(ReceivedDatesError) as raised:
        stage_raw_files(DataFolders(data))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{manifest}: ")
    assert says in message


def test_a_missing_manifest_dates_returns_when_first_seen(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")
    data = copy_data_folder(BUNDLED, tmp_path / "data")
    (data / "raw" / "received-dates.csv").unlink()
    ledger = ingest(data, FIRST)
    assert set(ledger["first_seen"]) == {FIRST.isoformat()}


def test_a_copy_keeps_the_original_as_the_return_and_its_date(tmp_path, monkeypatch):
    """A copy received later under a name that sorts first is the duplicate, not the source."""
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")
    data = copy_data_folder(BUNDLED, tmp_path / "data")
    first = ingest(data, FIRST)
    copy = f"0-copy-of-{ORIGINAL}"
    shutil.copy(data / "raw" / ORIGINAL, data / "raw" / copy)
    again = ingest(data, CORRECTED)
    assert again.loc[copy, "status"] == "duplicate"
    assert again.loc[copy, "detail"] == f"same bytes as {ORIGINAL}; read once"
    assert again.loc[copy, "first_seen"] == first.loc[ORIGINAL, "first_seen"]
    pd.testing.assert_frame_equal(again.drop(index=copy), first)


def test_a_data_folder_ingested_before_the_journal_keeps_its_ledger_dates(tmp_path, monkeypatch):
    """With no journal, content the ledger lists keeps the ledger's first-seen date (an
    upgrade from a version without one: a steward says to start the journal, since the
    store shows earlier runs)."""
    from briefings.services import start_journal_over

    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")
    data = copy_data_folder(BUNDLED, tmp_path / "data")
    (data / "raw" / "received-dates.csv").unlink()
    first = ingest(data, FIRST)
    shutil.rmtree(data / "state", ignore_errors=True)
    start_journal_over(data, "upgrade from a version without a journal", "operator")
    again = ingest(data, CORRECTED)
    pd.testing.assert_frame_equal(again, first)


def test_as_of_the_press_release_publishes_2016_17_from_a_fresh_copy(prefect_api_url, tmp_path):
    """The README's example on a fresh clone: the 2017 round of bundled returns was received
    before 1 June 2017, and the briefings' notes say when; the 2018 round was not yet."""
    data = copy_data_folder(BUNDLED, tmp_path / "data")
    out = tmp_path / "out"
    result = briefings(
        "run", "--data-dir", str(data), "--out-dir", str(out), "--as-of", "2017-06-01",
        "--no-deliver",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # A view of the past goes beside the current briefings, never over them.
    assert not (out / "2016-17").exists()
    figures = json.loads((out / "2016-17-as-of-2017-06-01" / "figures.json").read_text())
    assert figures["period"] == "2016/17"
    wiltshire = next(f for f in figures["forces"] if f["code"] == WILTSHIRE)
    assert wiltshire["online_flagged"] == 44
    # A file name may break at one of its own hyphens at the end of a line: read it whole.
    national = out / "2016-17-as-of-2017-06-01" / "national.pdf"
    raw = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(national), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    text = " ".join(raw.replace("-\n", "-").split())
    dates = manifest_dates()
    for file, received in dates.items():
        if file.startswith("home-office/"):
            continue
        if received < "2017-06-02":
            assert f"{file} (received {received[:10]})" in text
        else:  # the 2018 round, not yet received
            assert file not in text


def test_a_return_removed_from_raw_stays_accounted_for_even_when_processed_is_rebuilt(
    tmp_path, monkeypatch
):
    """Every return ever received is in the ledger: one removed from raw/ is 'removed' (its
    figures no longer used), one moved is 'moved' (listed under its new name), and a ledger
    rebuilt after processed/ was deleted still lists the removed one, from the journal."""
    monkeypatch.setenv("BRIEFINGS_SETTLE_SECONDS", "0")
    data = tmp_path / "data"
    raw = data / "raw"
    raw.mkdir(parents=True)
    head = "force,financial_year,offence_code,offences,online_flagged\n"
    (raw / "wiltshire.csv").write_text(head + "Wiltshire,2016/17,ALL,,44\n")
    (raw / "kent.csv").write_text(head + "Kent,2016/17,ALL,,120\n")
    ingest(data, FIRST)
    (raw / "wiltshire.csv").unlink()
    (raw / "2017").mkdir()
    shutil.move(raw / "kent.csv", raw / "2017" / "kent.csv")
    after = ingest(data, CORRECTED)
    assert after.loc["wiltshire.csv", "status"] == "removed"
    assert after.loc["wiltshire.csv", "detail"] == (
        "was accepted: passed 16 checks; not used; no longer in raw/"
    )
    assert (after.loc["kent.csv", "status"], after.loc["kent.csv", "detail"]) == (
        "moved",
        "its bytes are now 2017/kent.csv; no longer in raw/",
    )
    assert after.loc["2017/kent.csv", "status"] == "accepted"
    assert wiltshire_counts(data) == {}  # its figures are no longer used

    shutil.rmtree(data / "processed")
    rebuilt = ingest(data, MOVING)
    removed = rebuilt.loc["wiltshire.csv"]
    assert (removed["status"], removed["first_seen"]) == ("removed", FIRST.isoformat())
    assert removed["detail"] == f"received {FIRST.date()}; not used; no longer in raw/"
    assert removed["sha256"] == after.loc["wiltshire.csv", "sha256"]
    assert rebuilt.loc["2017/kent.csv", "status"] == "accepted"
    assert "kent.csv" not in rebuilt.index  # its bytes are listed under their new name
    # A later run keeps it as it was.
    again = ingest(data, REBUILT)
    assert again.loc["wiltshire.csv", "detail"] == removed["detail"]
