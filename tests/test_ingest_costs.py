"""What keeps ingest cheap must not change what it gives: a staged return read again from
memory is the caller's own, and Great Expectations' import leaves the garbage collector on."""

import gc
import os
from pathlib import Path

import pandas as pd
import pytest

import briefings.validation as validation
from briefings.store.staging import StagedReturn, read_staged


def staged(path: Path) -> StagedReturn:
    return StagedReturn(path.name, "0" * 64, 0, "2017-06-01T09:00:00+00:00", path)


def test_a_staged_return_read_twice_is_each_callers_own(tmp_path):
    path = tmp_path / "kent.parquet"
    pd.DataFrame({"force": ["Kent", "Kent"], "online_flagged": ["4", "7"]}).to_parquet(path)
    first = read_staged(staged(path))
    first.loc[0, "online_flagged"] = "400"
    first["added"] = 1
    second = read_staged(staged(path))
    assert second["online_flagged"].tolist() == ["4", "7"]
    assert list(second.columns) == ["force", "online_flagged"]


def test_a_staged_return_written_again_is_read_again(tmp_path):
    path = tmp_path / "kent.parquet"
    pd.DataFrame({"online_flagged": ["4"]}).to_parquet(path)
    assert read_staged(staged(path))["online_flagged"].tolist() == ["4"]
    pd.DataFrame({"online_flagged": ["5"]}).to_parquet(path)
    later = path.stat().st_mtime_ns + 1_000_000_000  # a rewrite within the clock's tick
    os.utime(path, ns=(later, later))
    assert read_staged(staged(path))["online_flagged"].tolist() == ["5"]


@pytest.mark.parametrize("enabled", [True, False])
def test_importing_great_expectations_leaves_the_garbage_collector_as_it_was(monkeypatch, enabled):
    frozen = []
    monkeypatch.setattr(validation, "_imported", False)  # as in a process that has not
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(gc.isenabled()))
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        validation.import_great_expectations()
        assert gc.isenabled() is enabled
        validation.import_great_expectations()  # once a process: nothing more
    finally:
        (gc.enable if was else gc.disable)()
    assert frozen == [enabled]
