"""A period published earlier whose figures have changed since (a force restated a year in a
later return) is never left silently wrong: the publication of the latest period says which
and how to correct it, and ends NeedsAttention until it is published again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from briefings import services
from flows.pipeline import NEEDS_ATTENTION, RunRequest, publish_briefings

from .helpers import briefings

WIDE = "Force,Offence,{first},{second}\n{force},All,{a},{b}\n"


def _return(raw: Path, name: str, force: str, years: tuple[str, str], counts: tuple[int, int]):
    text = WIDE.format(first=years[0], second=years[1], force=force, a=counts[0], b=counts[1])
    (raw / name).write_text(text, encoding="utf-8")


def _published(out: Path, slug: str) -> dict[str, dict[str, str]]:
    manifest = json.loads((out / slug / "manifest.json").read_text())
    return {entry["pdf"]: entry["figures"] for entry in manifest["briefings"]}


def test_an_earlier_period_whose_figures_changed_is_named_until_published_again(
    tmp_path, prefect_api_url
):
    data, out = tmp_path / "data", tmp_path / "out"
    raw = data / "raw"
    raw.mkdir(parents=True)
    _return(raw, "wiltshire-2018.csv", "Wiltshire", ("2016/17", "2017/18"), (44, 50))
    _return(raw, "kent-2018.csv", "Kent", ("2016/17", "2017/18"), (180, 209))
    first = services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False))
    assert first.period == "2017/18" and first.out_of_date == []
    published_2017 = _published(out, "2017-18")

    # A year later, Wiltshire's return restates 2017/18: 60, where it said 50.
    _return(raw, "wiltshire-2019.csv", "Wiltshire", ("2017/18", "2018/19"), (60, 70))
    _return(raw, "kent-2019.csv", "Kent", ("2017/18", "2018/19"), (209, 230))
    latest = services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False))
    assert latest.period == "2018/19"
    (stale,) = latest.out_of_date
    assert stale.period == "2017/18"
    # Every briefing changed: Wiltshire's, its region's and the nation's printed 50, and every
    # briefing prints the national total (259, now 269) and rate.
    assert stale.pdfs == (
        "kent.pdf",
        "national.pdf",
        "region-south-east.pdf",
        "region-south-west.pdf",
        "wiltshire.pdf",
    )
    assert "`briefings run --period 2017/18`" in stale.describe()
    assert _published(out, "2017-18") == published_2017  # never republished unasked

    # A rerun with nothing new says it again (from its receipt), as a Prefect run too.
    again = services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False))
    assert again.rendered == [] and again.out_of_date == latest.out_of_date
    state = publish_briefings(
        RunRequest(data_dir=data, out_dir=out, deliver=False), return_state=True
    )
    assert state.name == NEEDS_ATTENTION
    assert "2017/18: the figures in 5 of its published briefings" in state.message

    # Published again by hand, 2017/18 prints 60 and is no longer out of date.
    services.publish(RunRequest(data_dir=data, out_dir=out, period="2017/18", deliver=False))
    assert _published(out, "2017-18")["wiltshire.pdf"] != published_2017["wiltshire.pdf"]
    settled = services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False))
    assert settled.out_of_date == []
    state = publish_briefings(
        RunRequest(data_dir=data, out_dir=out, deliver=False), return_state=True
    )
    assert state.is_completed()


def test_a_later_period_whose_returns_are_gone_is_named_until_its_folder_is_removed(
    tmp_path, prefect_api_url
):
    data, out = tmp_path / "data", tmp_path / "out"
    raw = data / "raw"
    raw.mkdir(parents=True)
    _return(raw, "wiltshire-2018.csv", "Wiltshire", ("2016/17", "2017/18"), (44, 50))
    _return(raw, "kent-2018.csv", "Kent", ("2016/17", "2017/18"), (180, 209))
    _return(raw, "wiltshire-2019.csv", "Wiltshire", ("2017/18", "2018/19"), (50, 70))
    _return(raw, "kent-2019.csv", "Kent", ("2017/18", "2018/19"), (209, 230))
    first = services.publish(RunRequest(data_dir=data, out_dir=out))  # sent, to the outbox
    assert first.period == "2018/19" and first.out_of_date == []
    assert first.delivery is not None and first.delivery.messages

    # The returns 2018/19 was published from are taken back out of raw/ (sent in error): the
    # latest period is 2017/18 again, and 2018/19's briefings rest on nothing.
    for name in ("wiltshire-2019.csv", "kent-2019.csv"):
        (raw / name).unlink()
    latest = services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False))
    assert latest.period == "2017/18"
    (stale,) = latest.out_of_date
    assert stale.period == "2018/19" and len(stale.pdfs) == 5
    assert stale.describe().startswith(
        f"2018/19: its 5 published briefings in {out / '2018-19'} can no longer be given (no "
        "accepted returns for 2018/19; periods with data: "
    )
    sent = {pdf for message in first.delivery.messages for pdf in message.pdfs}
    assert stale.sent == len(sent) > 0 and stale.describe().endswith(
        f"; {len(sent)} of them were sent to subscribers, who have not been told: tell them"
    )
    assert (out / "2018-19" / "wiltshire.pdf").is_file()  # never removed unasked
    state = publish_briefings(
        RunRequest(data_dir=data, out_dir=out, deliver=False), return_state=True
    )
    assert state.name == NEEDS_ATTENTION
    assert "published earlier, now out of date: 2018/19: its 5 published" in state.message

    # Nor is it sent, asked for by name or as the latest published period.
    for period in (["--period", "2018/19"], []):
        result = briefings("deliver", "--data-dir", str(data), "--out-dir", str(out), *period)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"briefings: error: 2018/19 has no accepted returns now (taken out of {raw} or "
            f"withdrawn since it was published): its briefings in {out / '2018-19'} can no "
            "longer be given, and none is sent"
        )

    # A steward removes the folder: nothing is out of date any more.
    shutil.rmtree(out / "2018-19")
    assert services.publish(RunRequest(data_dir=data, out_dir=out, deliver=False)).out_of_date == []
