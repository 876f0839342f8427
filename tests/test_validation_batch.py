"""validate_returns: many returns in one Great Expectations run, each file's outcome exactly
the one validate_return gives it. Real GX runs, from a copy of the File Data Context."""

import dataclasses
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from briefings.ingest import Kind, ReturnReadError, read_return
from briefings.validation import validate_return, validate_returns

from .helpers import PROJECT_ROOT, TEST_DATA

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"


@pytest.fixture(scope="module")
def gx_project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("gx-project")
    shutil.copytree(PROJECT_ROOT / "gx", project / "gx")
    return project


@pytest.fixture
def gx_runs(monkeypatch) -> list[str]:
    """The names of the validation definitions GX runs (a checkpoint runs one too)."""
    from great_expectations.core.validation_definition import ValidationDefinition

    runs, run = [], ValidationDefinition.run

    def counted(self, *args, **kwargs):
        runs.append(self.name)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(ValidationDefinition, "run", counted)
    return runs


def comparable(outcome) -> dict:
    """The outcome with its Data Docs address reduced to the page's place (a page's path
    holds the time of its run); the page must exist."""
    fields = dataclasses.asdict(outcome)
    if outcome.data_docs is not None:
        page = Path(outcome.data_docs.removeprefix("file://"))
        assert page.exists(), page
        fields["data_docs"] = re.sub(r"/\d{8}T\d{6}\.\d+Z/", "/<run time>/", page.as_posix())
        fields["data_docs"] = fields["data_docs"].split("/data-docs/")[1]
    return fields


def one_by_one(frames, kind, validation_dir, gx_project) -> dict:
    return {n: validate_return(f, n, kind, validation_dir, gx_project) for n, f in frames.items()}


def assert_same_outcomes(frames, kind, tmp_path, gx_project, runs=None):
    batched = validate_returns(frames, kind, tmp_path / "batched", gx_project)
    batch_runs = len(runs) if runs is not None else None
    alone = one_by_one(frames, kind, tmp_path / "alone", gx_project)
    assert list(batched) == list(frames)
    for name in frames:
        assert comparable(batched[name]) == comparable(alone[name]), name
    return batched, batch_runs


def bundled(kind: Kind) -> dict[str, pd.DataFrame]:
    paths = [*(PROJECT_ROOT / "data" / "raw").glob("*.*"), *sorted(TEST_DATA.rglob("*.*"))]
    frames = {}
    for path in sorted(paths):
        try:
            parsed = read_return(path)
        except ReturnReadError:
            continue
        if parsed.kind == kind:
            frames[str(path.relative_to(PROJECT_ROOT))] = parsed.frame
    return frames


def test_bundled_online_flag_returns_get_the_outcomes_validate_return_gives(
    tmp_path, gx_project, gx_runs
):
    frames = bundled(Kind.ONLINE_FLAG)
    assert len(frames) > 20
    outcomes, runs = assert_same_outcomes(frames, Kind.ONLINE_FLAG, tmp_path, gx_project, gx_runs)
    clean = [n for n, o in outcomes.items() if o.passed and not o.warnings]
    assert len(clean) >= 10 and "data/raw/northumbria-foi-2017.csv" in clean
    # One shared run; the others are the returns that fail or warn, each validated alone.
    assert runs < len(frames) - len(clean) + 3


def test_bundled_home_office_tables_are_validated_one_by_one(tmp_path, gx_project):
    frames = bundled(Kind.HOME_OFFICE)
    assert len(frames) >= 4
    assert_same_outcomes(frames, Kind.HOME_OFFICE, tmp_path, gx_project)


def write(folder: Path, name: str, body: str) -> pd.DataFrame:
    path = folder / name
    path.write_text(HEADER + body, encoding="utf-8")
    return read_return(path).frame


def test_broken_returns_in_a_batch_get_their_own_problems_and_clean_ones_pass(tmp_path, gx_project):
    raw = tmp_path / "raw"
    raw.mkdir()
    frames = {
        "clean-a.csv": write(raw, "clean-a.csv", "Kent,2016/17,22B,10,3\nKent,2015/16,22B,8,2\n"),
        # The same force, year and offence as clean-a: no fault in either file.
        "clean-b.csv": write(raw, "clean-b.csv", "Kent,2016/17,22B,10,3\nSurrey,2016/17,88A,5,1\n"),
        # A blank count makes offences float64 here, int64 elsewhere: it still joins the batch.
        "blank-offences.csv": write(raw, "blank-offences.csv", "Wiltshire,2016/17,ALL,,4\n"),
        "duplicated.csv": write(
            raw, "duplicated.csv", "Dorset,2016/17,22B,10,3\nDorset,2016/17,22B,12,4\n"
        ),
        "mostly-online.csv": write(raw, "mostly-online.csv", "Kent,2016/17,88A,10,10\n"),
        "several.csv": write(
            raw,
            "several.csv",
            "Wiltshre,2016/17,22B,10,3\nKent,2016/18,22B,10,3\nKent,2016/17,22B,ten,3\n"
            "Kent,2016/17,88A,5,9\n",
        ),
        "header-only.csv": write(raw, "header-only.csv", ""),
        "markup.csv": write(raw, "markup.csv", 'Kent,2016/17,22B,10,"<script>x</script>"\n'),
    }
    outcomes, _ = assert_same_outcomes(frames, Kind.ONLINE_FLAG, tmp_path, gx_project)
    for name in ("clean-a.csv", "clean-b.csv", "blank-offences.csv"):
        assert outcomes[name].passed and not outcomes[name].warnings, outcomes[name].summary
        assert outcomes[name].data_docs is None
    assert outcomes["duplicated.csv"].problems[0].rows == ("2", "3")
    assert outcomes["mostly-online.csv"].passed and outcomes["mostly-online.csv"].warnings
    assert len(outcomes["several.csv"].problems) >= 4
    assert "at least one row" in outcomes["header-only.csv"].summary
    assert all(outcomes[n].data_docs for n in frames if not n.startswith(("clean", "blank")))


def test_an_all_clean_batch_is_one_gx_run(tmp_path, gx_project, gx_runs):
    raw = tmp_path / "raw"
    raw.mkdir()
    frames = {
        f"force-{i}.csv": write(raw, f"force-{i}.csv", f"Kent,2016/17,22B,{10 + i},{i}\n")
        for i in range(6)
    }
    frames["blank-offences.csv"] = write(raw, "blank-offences.csv", "Wiltshire,2016/17,ALL,,4\n")
    frames["northumbria.csv"] = read_return(
        PROJECT_ROOT / "data" / "raw" / "northumbria-foi-2017.csv"
    ).frame
    outcomes = validate_returns(frames, Kind.ONLINE_FLAG, tmp_path / "validation", gx_project)
    assert gx_runs == ["online_flag_return"]
    assert all(o.passed and not o.warnings and o.data_docs is None for o in outcomes.values())
    assert {o.checks_run for o in outcomes.values()} == {
        validate_return(frames["force-0.csv"], "force-0.csv", gx_project=gx_project).checks_run
    }


def test_returns_that_cannot_share_a_run_are_validated_alone(tmp_path, gx_project, gx_runs):
    raw = tmp_path / "raw"
    raw.mkdir()
    clean = write(raw, "a.csv", "Kent,2016/17,22B,10,3\n")
    frames = {
        "a.csv": clean,
        "b.csv": write(raw, "b.csv", "Surrey,2016/17,22B,10,3\n"),
        "extra-column.csv": clean.assign(notes="checked"),
        "numbered-force.csv": clean.assign(force=[38]),  # not text: its own column type
    }
    outcomes, runs = assert_same_outcomes(frames, Kind.ONLINE_FLAG, tmp_path, gx_project, gx_runs)
    assert runs == 1 + 1 + 2  # the batch of a and b; extra-column alone; numbered-force failing
    assert outcomes["a.csv"].passed and not outcomes["numbered-force.csv"].passed


@pytest.mark.parametrize(
    "dropped",
    ["offence_description", "financial_year"],  # a table check fails; checks cannot run
)
def test_a_check_failing_for_the_whole_batch_sends_every_file_to_be_validated_alone(
    dropped, tmp_path, gx_project, gx_runs
):
    raw = tmp_path / "raw"
    raw.mkdir()
    frames = {
        name: write(raw, name, body).drop(columns=[dropped])
        for name, body in [
            ("a.csv", "Kent,2016/17,22B,10,3\n"),
            ("b.csv", "Kent,2016/17,22B,9,3\n"),
        ]
    }
    outcomes, runs = assert_same_outcomes(frames, Kind.ONLINE_FLAG, tmp_path, gx_project, gx_runs)
    assert not any(o.passed for o in outcomes.values())
    assert runs == 1 + 2 * 2  # the batch, then each file alone (without, then with docs)


def test_random_batches_get_the_outcomes_validate_return_gives(tmp_path, gx_project):
    """Returns of good rows, some with one bad value, in three batches."""
    import random

    good = {
        "force": ["Kent", "Surrey", "E23000038", "Dorset"],
        "year": ["2015/16", "2016/17"],
        "code": ["22B", "88A", "19D", "ALL"],
        "offences": ["10", "25", ""],
        "flagged": ["0", "3", "9"],
    }
    bad = {
        "force": ["Wiltshre", ""],
        "year": ["2016/18", "2014/15", ""],
        "code": [""],
        "offences": ["ten", "-1", "2"],
        "flagged": ["x", "", "-3", "10"],
    }
    chosen = random.Random(20170401)
    raw = tmp_path / "raw"
    raw.mkdir()
    for batch in range(3):
        frames = {}
        for i in range(10):
            rows = []
            for _ in range(chosen.randint(0, 4)):
                row = {field: chosen.choice(values) for field, values in good.items()}
                if chosen.random() < 0.15:
                    field = chosen.choice(list(bad))
                    row[field] = chosen.choice(bad[field])
                rows.append(",".join(row.values()) + "\n")
            name = f"{batch}-{i}.csv"
            frames[name] = write(raw, name, "".join(rows))
        batched = validate_returns(frames, Kind.ONLINE_FLAG, None, gx_project)
        alone = one_by_one(frames, Kind.ONLINE_FLAG, None, gx_project)
        assert {n: comparable(o) for n, o in batched.items()} == {
            n: comparable(o) for n, o in alone.items()
        }
        assert any(o.passed and not o.warnings for o in alone.values())
        assert not all(o.passed for o in alone.values())
