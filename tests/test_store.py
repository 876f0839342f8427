"""The ledger and the processed store: every raw file accounted for, nothing lost or altered."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

import briefings.store
from briefings.store import (
    DataFolders,
    StoreBusyError,
    load_accepted_returns,
    read_ledger,
    spreadsheet_safe,
    store_checks,
    store_lock,
)
from briefings.store.crosschecks import file_totals

from .faults.ingesting import ingest  # stage and accept as the flow does, fixed clock
from .helpers import PROJECT_ROOT, TEST_DATA, tree_digest

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"


@pytest.fixture
def folders(tmp_path) -> DataFolders:
    folders = DataFolders(tmp_path / "data")
    folders.raw.mkdir(parents=True)
    return folders


def write(folders: DataFolders, name: str, body: str) -> Path:
    path = folders.raw / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)
    return path


def test_every_file_is_in_the_ledger_with_kind_layout_and_status(folders):
    for path in (TEST_DATA / "formats").iterdir():
        shutil.copy(path, folders.raw / path.name)
    shutil.copy(TEST_DATA / "bad" / "unknown-force.csv", folders.raw / "nested-bad.csv")
    (folders.raw / "2017").mkdir()
    shutil.copy(TEST_DATA / "bad" / "truncated.xlsx", folders.raw / "2017" / "truncated.xlsx")
    before = tree_digest(folders.raw)
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert tree_digest(folders.raw) == before
    ledger = read_ledger(folders).set_index("file")
    assert set(ledger.index) == set(before)
    assert ledger.loc["2017/truncated.xlsx", "status"] == "quarantined"
    assert "damaged or truncated" in ledger.loc["2017/truncated.xlsx", "detail"]
    assert ledger.loc["nested-bad.csv", "status"] == "quarantined"
    assert ledger.loc["home-office-extract-2017-18.xlsx", "kind"] == "Home Office table"
    assert ledger.loc["wide-years.csv", "layout"].startswith("wide")
    # The online-flag files all give Wiltshire's 2015/16 and 2016/17: the last wins.
    online = sorted(p for p in (TEST_DATA / "formats").iterdir() if "home-office" not in p.name)
    statuses = ledger.loc[ledger["kind"] == "online-flag return", "status"].value_counts()
    assert statuses.to_dict() == {
        "superseded": len(online) - 1,
        "accepted": 1,
        "quarantined": 1,
    }
    assert entries["2017/truncated.xlsx"].problems
    report = folders.quarantine_report("2017/truncated.xlsx").read_text()
    assert "Return refused: raw/2017/truncated.xlsx" in report


def test_the_same_bytes_under_a_new_name_are_a_duplicate_read_once(folders):
    write(folders, "kent.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    shutil.copy(folders.raw / "kent.csv", folders.raw / "kent-copy.csv")
    entries = ingest(folders, "2017-06-02T09:00:00")
    assert entries["kent-copy.csv"].status == "duplicate"
    assert "same bytes as kent.csv" in entries["kent-copy.csv"].detail
    assert entries["kent.csv"].status == "accepted"
    assert len(list((folders.processed / "staged").iterdir())) == 1


def test_a_later_return_supersedes_and_figures_can_be_rebuilt_as_of_an_earlier_date(folders):
    write(folders, "round-1.csv", "Kent,2016/17,ALL,,120\nWiltshire,2016/17,ALL,,44\n")
    ingest(folders, "2017-06-01T09:00:00")
    write(folders, "kent-correction.csv", "Kent,2016/17,ALL,,125\n")
    entries = ingest(folders, "2017-07-15T09:00:00")
    assert entries["round-1.csv"].status == "accepted"
    assert "some figures superseded by kent-correction.csv" in entries["round-1.csv"].detail
    now = load_accepted_returns(folders).set_index("force_code")["online_flagged"]
    assert now.to_dict() == {"E23000032": 125, "E23000038": 44}
    then = load_accepted_returns(folders, as_of="2017-06-30").set_index("force_code")
    assert then["online_flagged"].to_dict() == {"E23000032": 120, "E23000038": 44}
    # The first-seen dates survive later runs.
    ledger = read_ledger(folders).set_index("file")
    assert ledger.loc["round-1.csv", "first_seen"].startswith("2017-06-01")


def test_the_accepted_returns_are_read_again_whenever_the_table_changes(folders, monkeypatch):
    """Kept per process under the digest the table carries: a table replaced by another
    process, even between reading its digest and its rows, never puts its rows under the
    earlier digest (the store put back as it was then reads as it was)."""
    import os

    import pyarrow.parquet as pq

    write(folders, "round-1.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    first = folders.accepted_returns.read_bytes()
    assert load_accepted_returns(folders)["online_flagged"].tolist() == [120]
    write(folders, "kent-correction.csv", "Kent,2016/17,ALL,,125\n")
    ingest(folders, "2017-07-15T09:00:00")
    later = folders.accepted_returns.read_bytes()
    assert load_accepted_returns(folders)["online_flagged"].tolist() == [125]  # read again

    # Another process's ingest replaces the table just after its digest was read.
    folders.accepted_returns.write_bytes(first)
    briefings.store.acceptance._LOADED.clear()
    read_schema = pq.read_schema

    def replaced_meanwhile(where, *args, **kwargs):
        schema = read_schema(where, *args, **kwargs)
        swap = folders.accepted_returns.with_suffix(".swap")
        swap.write_bytes(later)
        os.replace(swap, folders.accepted_returns)
        monkeypatch.setattr(pq, "read_schema", read_schema)
        return schema

    monkeypatch.setattr(pq, "read_schema", replaced_meanwhile)
    assert load_accepted_returns(folders)["online_flagged"].tolist() == [120]  # as opened
    folders.accepted_returns.write_bytes(first)  # the store put back as it was
    assert load_accepted_returns(folders)["online_flagged"].tolist() == [120]
    folders.accepted_returns.write_bytes(later)
    assert load_accepted_returns(folders)["online_flagged"].tolist() == [125]


def test_a_wholly_superseded_return_is_marked_superseded(folders):
    write(folders, "kent-1.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    write(folders, "kent-2.csv", "Kent,2016/17,ALL,,125\n")
    entries = ingest(folders, "2017-06-02T09:00:00")
    assert entries["kent-1.csv"].status == "superseded"
    assert entries["kent-1.csv"].detail == "superseded by kent-2.csv"


def test_rebuild_regenerates_the_store_from_raw_and_keeps_first_seen(folders):
    write(folders, "kent.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    before = pd.read_parquet(folders.accepted_returns)
    (folders.processed / "staged").joinpath("stray.parquet").write_bytes(b"junk")
    ingest(folders, "2018-01-01T09:00:00", rebuild=True)
    after = pd.read_parquet(folders.accepted_returns)
    pd.testing.assert_frame_equal(before, after)
    assert read_ledger(folders).loc[0, "first_seen"].startswith("2017-06-01")


def test_a_second_run_on_the_same_store_is_told_to_wait(folders):
    with (
        store_lock(folders),
        pytest.raises(StoreBusyError, match="another run is updating"),
        store_lock(folders),
    ):
        pass
    with store_lock(folders):  # released after the first run
        pass


def test_ledger_cells_that_look_like_formulas_are_escaped(folders):
    write(folders, "=cmd.csv", "Wessex,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    text = folders.ledger.read_text()
    assert "\n'=cmd.csv," in text
    assert read_ledger(folders).loc[0, "file"] == "=cmd.csv"  # read back unescaped


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("Kent", "Kent")],
)
def test_spreadsheet_safe(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_a_run_killed_before_the_ledger_leaves_the_store_consistent(folders, monkeypatch):
    write(folders, "kent.csv", "Kent,2016/17,ALL,,120\n")
    ingest(folders, "2017-06-01T09:00:00")
    write(folders, "wiltshire.csv", "Wiltshire,2016/17,ALL,,44\n")
    import briefings.store.acceptance

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for a kill between the data and the ledger

    monkeypatch.setattr(briefings.store.acceptance, "write_ledger", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(folders, "2017-06-02T09:00:00")
    assert set(read_ledger(folders)["file"]) == {"kent.csv"}  # the old ledger, intact
    assert not list(folders.processed.rglob("*.part"))  # no half-written files
    monkeypatch.undo()
    entries = ingest(folders, "2017-06-03T09:00:00")
    assert entries["wiltshire.csv"].status == "accepted"


def test_the_bundled_data_folder_is_unchanged_by_ingest(tmp_path):
    raw = PROJECT_ROOT / "data" / "raw"
    before = tree_digest(raw)
    folders = DataFolders(tmp_path)
    shutil.copytree(raw, folders.raw)
    entries = ingest(folders, "2017-06-01T09:00:00")
    assert {e.status for e in entries.values()} == {"accepted"}
    assert tree_digest(raw) == before
    children = pd.read_parquet(folders.child_sexual_offences)
    assert set(children["financial_year"]) == {"2017/18"}
    assert children["force_code"].nunique() == 43


def test_checks_across_returns_count_each_file_by_the_figures_rule():
    """A file's total for a force and year is its ALL row where it gives one (beside a
    breakdown), else the sum of its breakdown: an earlier return is said to differ only when
    the figure it gave, counted that way, differs from the one in use."""
    rows = pd.DataFrame(
        [
            ("E23000038", "2016/17", code, n, file, seen)
            for file, seen, counts in [
                ("early.csv", "2017-01-01", {"19D": 10, "88A": 5}),
                ("middle.csv", "2017-02-01", {"ALL": 20, "19D": 9, "88A": 9}),
                ("late.csv", "2017-03-01", {"19D": 12, "88A": 8}),
            ]
            for code, n in counts.items()
        ],
        columns=[
            "force_code",
            "financial_year",
            "offence_code",
            "online_flagged",
            "source_file",
            "first_seen",
        ],
    )
    totals = file_totals(rows).set_index("source_file")["online_flagged"].to_dict()
    assert totals == {"early.csv": 15, "middle.csv": 20, "late.csv": 20}
    checks = store_checks(rows)
    assert checks["restated_from"].tolist() == ["15 in early.csv"]
    assert checks["current_total"].tolist() == [20.0]
    assert checks["description"].tolist() == [
        "Wiltshire 2016/17: 20; an earlier return gave 15 in early.csv"
    ]


def test_the_store_does_not_import_the_figures():
    """The store comes before the figures in the flow of data: it takes the counting rule and
    the supersession rule from the domain modules that own them, never from figures."""
    import ast

    store = Path(briefings.store.__file__).parent
    imported = {
        name: {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        for name, path in ((p.name, p) for p in sorted(store.glob("*.py")))
    }
    assert len(imported) > 1
    assert {
        name: sorted(m for m in modules if m and m.startswith("briefings.domain.figures"))
        for name, modules in imported.items()
    } == {name: [] for name in imported}


def test_home_office_figures_as_of_a_date_come_only_from_tables_received_by_then(tmp_path):
    """A briefing as of a date never prints a Home Office figure published after it: the
    table received in July is not used as of June, and a revision received later is used
    only from its date."""
    import pandas as pd

    from briefings.store import DataFolders, load_child_sexual_offences, write_parquet

    folders = DataFolders(tmp_path)
    folders.processed.mkdir(parents=True)

    def table(offences: int, file: str, first_seen: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "financial_year": "2017/18",
                "quarter": ["Q1", "Q2", "Q3", "Q4"],
                "force_code": "E23000038",
                "police_force_area": True,
                "offence_code": "22B",  # a child sexual offence (reference table)
                "offences": offences,
                "source_file": file,
                "first_seen": first_seen,
            }
        )

    import pyarrow as pa

    rows = pd.concat(
        [
            table(10, "ho-july.csv", "2018-07-19T09:00:00+00:00"),
            table(11, "ho-oct.csv", "2018-10-18T09:00:00+00:00"),
        ]
    )
    write_parquet(folders.home_office_offences, pa.Table.from_pandas(rows, preserve_index=False))
    assert load_child_sexual_offences(folders, "2018-06-01") is None
    july = load_child_sexual_offences(folders, "2018-08-01")
    assert july is not None and july["child_sexual_offences"].sum() == 40
    assert set(july["source_file"]) == {"ho-july.csv"}
    october = load_child_sexual_offences(folders, "2018-10-18")
    assert october is not None and october["child_sexual_offences"].sum() == 44
