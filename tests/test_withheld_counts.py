"""A force that answers with its count withheld ('<5', '*', '[c]', ...) and no total of its own
has responded, but its count is known only as a range: it is named as responding with the
count withheld, and no figure, change or total is computed from it."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from briefings import services
from briefings.domain.figures import figures_document
from briefings.ingest import read_return
from briefings.store import DataFolders, Status, load_accepted_returns
from briefings.validation import validate_return

from .helpers import TEST_DATA


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "mark", ["<5", "< 5", "*", "[x]", "[c]", "[z]", "..", "-", "n/a", "Withheld"]
)
def test_a_withheld_cell_with_no_total_makes_the_forces_count_withheld(tmp_path, mark):
    path = write(
        tmp_path,
        "dorset.csv",
        f"Force,Offence code,2015/16,2016/17\nDorset,22B,7,12\nDorset,88A,{mark},9\n",
    )
    parsed = read_return(path)
    rows = sorted(
        (row.financial_year, row.offence_code, row.online_flagged)
        for row in parsed.frame.itertuples()
    )
    # 2016/17 is complete and read as given; 2015/16 is one total row, its count withheld.
    assert rows == [
        ("2015/16", "ALL", "withheld"),
        ("2016/17", "22B", "12"),
        ("2016/17", "88A", "9"),
    ]
    assert parsed.notes == (
        f"2015/16: withheld (row 3 (88A) '{mark}') and no total given: the count of Dorset for "
        "2015/16 is withheld, so the force is listed as responding, with no figure",
    )
    assert validate_return(parsed.frame, path.name).passed


def test_a_withheld_total_makes_the_count_withheld_and_a_withheld_all_offences_is_not_known(
    tmp_path,
):
    path = write(
        tmp_path,
        "kent.csv",
        "Offence,2016/17 all offences,2016/17 online flagged\nAll child sexual offences,*,<5\n",
    )
    parsed = read_return(path)
    (row,) = parsed.frame.itertuples()
    assert (row.offence_code, row.online_flagged) == ("ALL", "withheld")
    assert "row 2 (ALL, 2016/17) gives all offences as '*': read as not known" in parsed.notes


def test_a_withheld_cell_under_the_forces_total_still_uses_the_total(tmp_path):
    path = write(
        tmp_path,
        "wiltshire.csv",
        "Force,Offence code,2016/17\nWiltshire,22B,30\nWiltshire,88A,<5\nSum:,,33\n",
    )
    rows = sorted((r.offence_code, r.online_flagged) for r in read_return(path).frame.itertuples())
    assert rows == [("22B", "30"), ("ALL", "33")]


def test_a_force_that_withheld_its_count_is_named_and_counted_nowhere(tmp_path):
    data = tmp_path / "data"
    raw = data / "raw"
    raw.mkdir(parents=True)
    write(raw, "wiltshire.csv", "Force,Offence,2015/16,2016/17\nWiltshire,All,10,44\n")
    write(
        raw,
        "swindon-area.csv",
        "Force,Offence code,2015/16,2016/17\n"
        "Gloucestershire,22B,30,35\nGloucestershire,88A,12,11\n",
    )
    # Dorset withheld one cell for 2016/17 and gave no total; its 2015/16 is complete.
    shutil.copy(TEST_DATA / "foi-shapes" / "withheld-count-no-total.csv", raw / "dorset.csv")
    result = services.ingest(data, now=datetime(2017, 5, 20, tzinfo=UTC), notify=False)
    assert {e.file: e.status for e in result.ledger} == {
        "wiltshire.csv": Status.ACCEPTED,
        "swindon-area.csv": Status.ACCEPTED,
        "dorset.csv": Status.ACCEPTED,
    }
    dorset = next(e for e in result.ledger if e.file == "dorset.csv")
    assert any(
        "the count of Dorset for 2016/17 is withheld" in note for note in dorset.staged.notes
    )
    stored = load_accepted_returns(DataFolders(data))
    assert stored[stored["source_file"] == "dorset.csv"]["online_flagged"].isna().sum() == 1

    figures = services.period_figures(DataFolders(data), "2016/17", threshold=5)
    assert [f.force.name for f in figures.forces] == ["Gloucestershire", "Wiltshire"]
    national = figures.national
    # By hand, over Gloucestershire and Wiltshire only: 46 + 44 now, 42 + 10 before.
    assert national.online_flagged == 90
    assert national.like_for_like is not None
    assert (national.like_for_like.previous, national.like_for_like.current) == (52, 90)
    assert [f.name for f in national.forces_withholding] == ["Dorset"]
    assert "Dorset" not in national.not_responding
    assert len(national.not_responding) == 40
    south_west = figures.region("South West")
    assert [f.name for f in south_west.forces_withholding] == ["Dorset"]
    document = figures_document(figures, {})
    assert document["national"]["forces_count_withheld_by_force"] == ["Dorset"]
    assert "E23000039" not in {f["code"] for f in document["forces"]}  # no Dorset figures

    # The year before, Dorset's count is whole, and it has figures of its own.
    before = services.period_figures(DataFolders(data), "2015/16", threshold=5)
    assert {f.force.name: f.count for f in before.forces}["Dorset"] == 29

    summary = services.publish(
        services.RunRequest(
            data_dir=data, out_dir=tmp_path / "out", period="2016/17", deliver=False
        )
    )
    national_pdf = next(Path(p) for p in summary.pdfs if Path(p).name == "national.pdf")
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(national_pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert (
        "Dorset Police responded but withheld the count, so the force is not included in these "
        "figures." in text
    )
    assert "Responded with the count withheld, so not included (1): Dorset." in text
    assert not any(Path(p).name == "dorset.pdf" for p in summary.pdfs)


def test_a_withheld_cell_in_a_row_with_no_year_is_read_without_a_crash(tmp_path):
    """Found by the fuzzer: a withheld cell where the year is blank is read (and left for
    validation to name the missing year), never a crash."""
    path = write(
        tmp_path,
        "kent.csv",
        "force,financial_year,offence_code,offences,online_flagged\nKent,,22B,,<5\n",
    )
    parsed = read_return(path)
    assert list(parsed.frame["online_flagged"]) == ["withheld"]
    assert not validate_return(parsed.frame, path.name).passed


def test_a_force_whose_only_return_was_refused_replied_and_is_not_said_not_to(tmp_path):
    """An outsider found Surrey listed as 'Not responding' when its return for the year had
    been refused by validation: Surrey replied, and the notes say so."""
    from briefings.domain.briefing import _responding_note
    from briefings.render.publication import refused_forces

    data = tmp_path / "data"
    raw = data / "raw"
    raw.mkdir(parents=True)
    write(raw, "wiltshire.csv", "Force,Offence,2015/16,2016/17\nWiltshire,All,10,44\n")
    header = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
    # 200 flagged of 10 offences: refused.
    write(raw, "surrey.csv", header + "Surrey,2016/17,ALL,All,10,200\n")
    summary = services.publish(
        services.RunRequest(
            data_dir=data, out_dir=tmp_path / "out", period="2016/17", deliver=False
        )
    )
    assert {e.file: e.status for e in summary.ledger}["surrey.csv"] == Status.QUARANTINED
    assert refused_forces(summary.ledger, "2016/17") == {"Surrey"}
    assert refused_forces(summary.ledger, "2015/16") == set()
    national_pdf = summary.period_dir / "national.pdf"
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(national_pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Replied with a return that could not be used, so not included (1): Surrey." in text
    assert "Not responding (41):" in text
    not_responding = text.split("Not responding (41):", 1)[1].split(".", 1)[0]
    assert "Surrey" not in not_responding and "Kent" in not_responding
    figures = services.period_figures(DataFolders(data), "2016/17", threshold=5)
    # Told of no refused return, the note cannot know Surrey replied.
    assert "Not responding (42)" in _responding_note(figures, figures.national)
