"""What waits for a person, and what the journal holds of stewards' decisions: a refused
return flags runs until a later accepted return covers it or a steward acknowledges it;
stewards hear of each refused return once; a Home Office extract replaces only the forces
and quarters it covers; a damaged journal stops a run before anything is published or sent."""

from __future__ import annotations

import csv
import email
import email.policy
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from .helpers import PROJECT_ROOT, TEST_DATA, briefings, copy_data_folder, tree_digest

HOME_OFFICE_TABLE = (
    PROJECT_ROOT / "data" / "raw" / "home-office" / "prc-pfa-2017-18-homeoffice-open-data.csv"
)
ONLINE_HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
BAD_WARWICKSHIRE = ONLINE_HEADER + (
    "Warwickshire,2015/16,22B,Sexual activity involving child under 16,40,6\n"
    "Warwickshire,2016/17,22B,Sexual activity involving child under 16,45,eleven\n"
)
CORRECTED_WARWICKSHIRE = ONLINE_HEADER + (
    "Warwickshire,2015/16,22B,Sexual activity involving child under 16,40,6\n"
    "Warwickshire,2016/17,22B,Sexual activity involving child under 16,45,11\n"
)
BAD_SUFFOLK = ONLINE_HEADER + (
    "Suffolk,2016/17,22B,Sexual activity involving child under 16,30,-2\n"
)


def clean_data(root: Path) -> Path:
    """tests/data/small without its refused Dorset return."""
    data = copy_data_folder(TEST_DATA / "small", root / "data")
    (data / "raw" / "dorset-return-with-errors.csv").unlink()
    return data


def steward_notices(outbox: Path) -> list[email.message.EmailMessage]:
    """The notices in the outbox, oldest first."""
    files = sorted((outbox / "stewards").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files
    ]


def subscriber_emails(outbox: Path) -> list[Path]:
    return (
        [p for p in outbox.rglob("*.eml") if p.parent.name != "stewards"] if outbox.exists() else []
    )


# A Home Office extract replaces only the forces and quarters it covers --------------------


def home_office_rows(forces: set[str]) -> tuple[list[str], list[list[str]]]:
    with HOME_OFFICE_TABLE.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for row in reader if row[2] in forces]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_a_partial_home_office_extract_replaces_only_the_forces_and_quarters_it_covers(tmp_path):
    """A later extract with two forces for one quarter: those two forces take its figures
    for that quarter; every other force, and the two forces' other quarters, keep the
    national table's."""
    from briefings import services

    data = clean_data(tmp_path)
    forces = {"Wiltshire", "Kent", "Gwent", "Cumbria", "Surrey"}
    header, rows = home_office_rows(forces)
    (data / "raw" / "home-office").mkdir()
    write_csv(data / "raw" / "home-office" / "prc-pfa-2017-18-open-data.csv", header, rows)
    start = datetime(2018, 7, 20, 9, 0, tzinfo=UTC)
    services.ingest(data, now=start, notify=False)
    table = data / "processed" / "child_sexual_offences.parquet"
    before = pd.read_parquet(table).set_index(["force_code", "quarter"])

    extract = [
        [*row[:7], str(int(row[7].strip()) * 2)]
        for row in rows
        if row[2] in {"Wiltshire", "Kent"} and row[1] == "2"
    ]
    write_csv(data / "raw" / "home-office" / "prc-pfa-2017-18-q2-extract.csv", header, extract)
    services.ingest(data, now=start + timedelta(days=30), notify=False)
    after = pd.read_parquet(table).set_index(["force_code", "quarter"])

    wiltshire, kent, gwent, cumbria, surrey = (
        "E23000038",
        "E23000032",
        "W15000002",
        "E23000002",
        "E23000031",
    )
    assert sorted(after.index) == sorted(before.index)  # no force lost a quarter
    for code in (gwent, cumbria, surrey):
        for quarter in (1, 2, 3, 4):
            assert after.loc[(code, quarter)].to_dict() == before.loc[(code, quarter)].to_dict()
    for code in (wiltshire, kent):
        for quarter in (1, 3, 4):
            assert after.loc[(code, quarter)].to_dict() == before.loc[(code, quarter)].to_dict()
        assert after.loc[(code, 2), "child_sexual_offences"] == (
            2 * before.loc[(code, 2), "child_sexual_offences"]
        )
        assert after.loc[(code, 2), "source_file"] == "home-office/prc-pfa-2017-18-q2-extract.csv"

    from briefings.journal import Journal
    from briefings.journal.decisions import supersessions

    (recorded,) = supersessions(Journal.of(data))  # which return replaced which, and where
    assert (recorded.file, recorded.superseded_file) == (
        "home-office/prc-pfa-2017-18-q2-extract.csv",
        "home-office/prc-pfa-2017-18-open-data.csv",
    )
    assert recorded.scope == (("2017/18", "2", kent), ("2017/18", "2", wiltshire))


# A refused return waits for a person until a corrected return covers it, or a steward ---


def run(data: Path, *args: str):
    """`briefings run` on this data folder, briefings beside it (reports/out, reports/outbox)."""
    out = data.parent / "reports" / "out"
    return briefings("run", "--data-dir", str(data), "--out-dir", str(out), *args)


def outbox_of(data: Path) -> Path:
    return data.parent / "reports" / "outbox"


def test_a_corrected_return_stops_a_refused_one_flagging_runs(prefect_api_url, tmp_path):
    """A refused Warwickshire return flags the run (exit 4); once a corrected return for the
    same force and years is accepted, runs end Completed (exit 0), and the ledger says what
    superseded the refused one."""
    data = clean_data(tmp_path)
    (data / "raw" / "warwickshire-2017.csv").write_text(BAD_WARWICKSHIRE)
    # One briefing each time is enough: what is refused, and whether a person is needed,
    # does not depend on which briefings a run renders.
    wiltshire = ("--force", "Wiltshire", "--no-deliver")
    first = run(data, *wiltshire)
    assert first.returncode == 4, first.stdout + first.stderr
    (notice,) = steward_notices(outbox_of(data))
    assert "warwickshire-2017.csv" in notice["Subject"]

    (data / "raw" / "warwickshire-2017-corrected.csv").write_text(CORRECTED_WARWICKSHIRE)
    second = run(data, *wiltshire)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 quarantined" in second.stdout  # the file is still refused, and listed
    third = run(data, *wiltshire)
    assert third.returncode == 0, third.stdout + third.stderr
    assert len(steward_notices(outbox_of(data))) == 1  # nobody told again

    listed = briefings("returns", "list", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    assert (
        "warwickshire-2017.csv (received " in listed.stdout
        and "superseded by warwickshire-2017-corrected.csv" in listed.stdout
    )
    assert "1 refused return, 0 waiting for a person" in listed.stdout


def test_a_correction_for_some_of_the_years_leaves_the_refused_return_waiting(tmp_path):
    """A later return covering Warwickshire 2016/17 only does not cover a refused return
    that also gave 2015/16."""
    from briefings import services

    data = clean_data(tmp_path)
    (data / "raw" / "warwickshire-2017.csv").write_text(BAD_WARWICKSHIRE)
    start = datetime(2017, 6, 1, 9, 0, tzinfo=UTC)
    services.ingest(data, now=start, notify=False)
    partial = ONLINE_HEADER + CORRECTED_WARWICKSHIRE.splitlines(keepends=True)[2]
    (data / "raw" / "warwickshire-2016-17-only.csv").write_text(partial)
    result = services.ingest(data, now=start + timedelta(days=1), notify=False)
    assert [e.file for e in result.needs_attention] == ["warwickshire-2017.csv"]


def test_stewards_hear_of_each_refused_return_once(tmp_path):
    """A second refused return is notified by itself; the first is not repeated."""
    from briefings import services

    data = clean_data(tmp_path)
    (data / "raw" / "warwickshire-2017.csv").write_text(BAD_WARWICKSHIRE)
    start = datetime(2017, 6, 1, 9, 0, tzinfo=UTC)
    services.ingest(data, now=start)
    services.ingest(data, now=start + timedelta(hours=1))  # nothing new: nobody told
    (notice,) = steward_notices(outbox_of(data))
    assert "warwickshire-2017.csv" in notice["Subject"]

    (data / "raw" / "suffolk-2017.csv").write_text(BAD_SUFFOLK)
    result = services.ingest(data, now=start + timedelta(days=1))
    first, second = steward_notices(outbox_of(data))
    assert "suffolk-2017.csv" in second["Subject"]
    assert "warwickshire" not in second["Subject"] + second.get_content()
    assert sorted(e.file for e in result.needs_attention) == [  # both still wait
        "suffolk-2017.csv",
        "warwickshire-2017.csv",
    ]


def test_an_acknowledged_refused_return_no_longer_flags_runs(prefect_api_url, tmp_path):
    """`briefings returns acknowledge FILE --reason ...` records the steward's decision in
    the journal; the next ingest ends Completed (exit 0). Unknown or accepted files, and a
    missing reason, are one-line errors (exit 2)."""
    data = clean_data(tmp_path)
    (data / "raw" / "suffolk-2017.csv").write_text(BAD_SUFFOLK)
    first = briefings("ingest", "--data-dir", str(data))
    assert first.returncode == 4, first.stdout + first.stderr

    unknown = briefings(
        "returns", "acknowledge", "nowhere.csv", "--reason", "x", "--data-dir", str(data)
    )
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip() == f"briefings: error: no return nowhere.csv in the ledger of {data}"
    )
    accepted = briefings(
        "returns", "acknowledge", "returns-2017.csv", "--reason", "x", "--data-dir", str(data)
    )
    assert accepted.returncode == 2
    assert accepted.stderr.strip() == (
        "briefings: error: returns-2017.csv was not refused (it is accepted)"
    )
    blank = briefings(
        "returns", "acknowledge", "suffolk-2017.csv", "--reason", "  ", "--data-dir", str(data)
    )
    assert blank.returncode == 2
    assert "needs a reason" in blank.stderr
    # raw/<file>, as the stewards' guide writes it, is under the data folder, wherever the
    # command runs from (here the project folder, whose own raw/ has no such file).
    under_raw = briefings(
        "returns", "acknowledge", "raw/suffolk-2017.csv", "--reason", " ", "--data-dir", str(data)
    )
    assert under_raw.returncode == 2 and "needs a reason" in under_raw.stderr, under_raw.stderr

    acknowledged = briefings(
        "returns",
        "acknowledge",
        str(data / "raw" / "suffolk-2017.csv"),
        "--reason",
        "Suffolk will resend\nin July",
        "--by",
        "A Steward",
        "--data-dir",
        str(data),
    )
    assert acknowledged.returncode == 0, acknowledged.stderr
    assert "Acknowledged suffolk-2017.csv" in acknowledged.stdout

    from briefings.journal import Journal
    from briefings.journal.decisions import decisions

    (decision,) = decisions(Journal.of(data))
    assert (decision.file, decision.action, decision.reason, decision.decided_by) == (
        "suffolk-2017.csv",
        "acknowledge",
        "Suffolk will resend in July",
        "A Steward",
    )
    second = briefings("ingest", "--data-dir", str(data))
    assert second.returncode == 0, second.stdout + second.stderr
    listed = briefings("returns", "list", "--data-dir", str(data))
    assert "acknowledged by A Steward" in listed.stdout
    assert "0 waiting for a person" in listed.stdout
    # Deciding again says what it replaces; the journal keeps both.
    again = briefings(
        "returns", "acknowledge", "suffolk-2017.csv", "--reason", "resent", "--by", "B",
        "--data-dir", str(data),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "This replaces the earlier decision (acknowledged by A Steward on " in again.stdout
    assert "Suffolk will resend in July); the journal keeps both" in again.stdout
    assert len(decisions(Journal.of(data))) == 2


def test_a_return_named_without_its_folder_is_suggested_and_named_once(prefect_api_url, tmp_path):
    """A refused return in a subfolder: the run names it by its place in raw/ once; asked for
    by its bare name, the error suggests where it is; a removed return is counted."""
    data = clean_data(tmp_path)
    (data / "raw" / "incoming").mkdir()
    (data / "raw" / "incoming" / "suffolk-2017.csv").write_text(BAD_SUFFOLK)
    first = briefings("ingest", "--data-dir", str(data))
    assert first.returncode == 4, first.stdout + first.stderr
    (quarantined,) = [line for line in first.stderr.splitlines() if "Quarantined" in line]
    assert quarantined.startswith("Quarantined: incoming/suffolk-2017.csv: "), quarantined
    assert quarantined.count("suffolk-2017.csv") == 1, quarantined
    bare = briefings(
        "returns", "acknowledge", "suffolk-2017.csv", "--reason", "x", "--data-dir", str(data)
    )
    assert bare.returncode == 2
    assert bare.stderr.strip().endswith(
        "no return suffolk-2017.csv in the ledger of "
        f"{data}; did you mean incoming/suffolk-2017.csv?"
    ), bare.stderr
    (data / "raw" / "returns-2017.csv").unlink()
    second = briefings("ingest", "--data-dir", str(data))
    assert ", 1 removed (ledger: " in second.stdout, second.stdout


# A damaged journal stops the run before anything is published or sent ---------------------


def test_a_damaged_journal_stops_the_run_before_anything_is_published(
    prefect_api_url, published_small, tmp_path
):
    """A journal that is not a database: `briefings run` exits 1 with one line naming the
    journal; no PDF is written or changed, no subscriber is emailed, and the stewards get a
    notice (sent without the journal)."""
    publication, _ = published_small
    copy = publication.copy_to(tmp_path)
    (copy.data / "raw" / "warwickshire-2017.csv").write_text(CORRECTED_WARWICKSHIRE)
    journal = copy.data / "state" / "journal.sqlite"
    journal.parent.mkdir(exist_ok=True)
    for leftover in journal.parent.glob("journal.sqlite*"):
        leftover.unlink()
    journal.write_bytes(b"this is not a database, it is garbage\n" * 200)
    before = tree_digest(copy.out)
    emails_before = subscriber_emails(copy.outbox)

    result = briefings("run", "--data-dir", str(copy.data), "--out-dir", str(copy.out))
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"briefings: error: the journal {journal} is damaged")
    assert tree_digest(copy.out) == before
    assert subscriber_emails(copy.outbox) == emails_before
    notices = [n for n in steward_notices(copy.outbox) if "journal" in n["Subject"]]
    assert len(notices) == len(notices_for_each_steward())
    assert "nothing was published or sent" in notices[0].get_content()

    check = briefings("journal", "check", "--data-dir", str(copy.data))
    assert check.returncode == 1
    assert check.stderr.startswith(f"briefings: error: the journal {journal} is damaged")


def notices_for_each_steward() -> list[object]:
    from briefings.delivery import DEFAULT_SUBSCRIPTIONS, load_subscriptions

    return list(load_subscriptions(DEFAULT_SUBSCRIPTIONS).stewards)


def test_journal_check_and_a_backup_restored(tmp_path):
    """`journal check` counts what the journal holds; `journal backup` writes a copy that,
    copied into place, is the journal again."""
    from briefings.journal import Journal
    from briefings.journal.decisions import record_decision
    from briefings.journal.received import record_received

    data = tmp_path / "data"
    journal = Journal.of(data)
    record_received(journal, [("a" * 64, "one.csv"), ("b" * 64, "two.csv")])
    record_decision(journal, "a" * 64, "one.csv", "acknowledge", "resent", "A Steward")
    check = briefings("journal", "check", "--data-dir", str(data))
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "journal ok: 2 received, 1 decision, 0 deliveries"

    backup = tmp_path / "backups" / "journal-2017-06-01.sqlite"
    result = briefings("journal", "backup", str(backup), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    record_decision(journal, "b" * 64, "two.csv", "acknowledge", "after the backup", "B")

    for leftover in (data / "state").glob("journal.sqlite*"):
        leftover.unlink()
    shutil.copyfile(backup, data / "state" / "journal.sqlite")  # the documented restore
    check = briefings("journal", "check", "--data-dir", str(data))
    assert check.stdout.strip() == "journal ok: 2 received, 1 decision, 0 deliveries"

    missing = briefings("journal", "check", "--data-dir", str(tmp_path / "elsewhere"))
    assert missing.returncode == 1
    assert "no journal at" in missing.stderr


def test_a_decision_needs_a_known_action_and_a_one_line_reason(tmp_path):
    from briefings.journal import Journal
    from briefings.journal.decisions import DecisionError, record_decision, settled_refusals

    journal = Journal.of(tmp_path)
    with pytest.raises(DecisionError, match="unknown decision 'ignore'"):
        record_decision(journal, "a" * 64, "one.csv", "ignore", "because", "A")
    with pytest.raises(DecisionError, match="needs a reason"):
        record_decision(journal, "a" * 64, "one.csv", "acknowledge", " \n ", "A")
    record_decision(journal, "a" * 64, "one.csv", "acknowledge", "resent\nlater", "A")
    record_decision(journal, "b" * 64, "two.csv", "accept", "checked by hand", "A")
    settled = settled_refusals(journal)
    assert list(settled) == ["a" * 64]
    assert settled["a" * 64].reason == "resent later"


@pytest.mark.from_published
@pytest.mark.parametrize("lost", ["deleted", "emptied"])
def test_a_lost_journal_stops_the_run_until_a_steward_starts_over(published_small, tmp_path, lost):
    """A journal deleted (or emptied) beside a store that shows earlier runs would date every
    return today and send every subscriber everything again: the run stops in one line and
    sends nothing, until a steward restores it or says, with a reason, to start over."""
    copy = published_small[0].copy_to(tmp_path)
    journal = copy.data / "state" / "journal.sqlite"

    def subscribers_mail() -> dict[str, bytes]:
        return {
            str(p): p.read_bytes() for p in copy.outbox.rglob("*.eml") if "stewards" not in p.parts
        }

    before = subscribers_mail()
    for leftover in journal.parent.glob("journal.sqlite*"):
        leftover.unlink()
    if lost == "emptied":
        journal.write_bytes(b"")
    args = ("--data-dir", str(copy.data), "--out-dir", str(copy.out))

    stopped = briefings("run", *args)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    (line,) = stopped.stderr.strip().splitlines()
    assert f"the journal {journal} is new or empty, but" in line and "start-over" in line
    assert subscribers_mail() == before  # no subscriber was sent anything

    refused = briefings("journal", "start-over", "--reason", " ", "--data-dir", str(copy.data))
    assert refused.returncode == 2
    started = briefings(
        "journal", "start-over", "--reason", "disk lost, no backup", "--data-dir", str(copy.data)
    )
    assert started.returncode == 0, started.stderr
    again = briefings("run", *args)
    assert again.returncode == 0, again.stdout + again.stderr
    # A new journal knows of no delivery: every subscriber is sent the current briefings.
    assert "Wrote 4 messages" in again.stdout, again.stdout


# A steward accepts a refused return the force confirmed, or withdraws a return ----------------

FLAGGED_ABOVE_OFFENCES = TEST_DATA / "bad" / "flagged-above-offences.csv"  # Wiltshire 2016/17


def test_an_accepted_refused_return_counts_from_the_next_run_and_a_withdrawn_one_does_not(
    tmp_path,
):
    """A return refused only because more offences were flagged online than recorded (a check
    a steward may overrule once the force confirms) counts after `returns accept`: the ledger
    says who accepted it and why, and its figures replace the earlier return's. A file that
    could not be read, or one with a count that is not a number, cannot be accepted (exit 2,
    one line). `returns withdraw` then leaves it out, and the earlier figures count again."""
    from briefings import services
    from briefings.store import DataFolders, load_accepted_returns

    data = clean_data(tmp_path)
    shutil.copyfile(FLAGGED_ABOVE_OFFENCES, data / "raw" / "wiltshire-2017-resent.csv")
    (data / "raw" / "suffolk-2017.csv").write_text(BAD_SUFFOLK)  # a count below zero
    (data / "raw" / "scan.csv").write_bytes(b"\x00\x01binary\x02" * 40)  # cannot be read
    start = datetime(2017, 6, 1, 9, 0, tzinfo=UTC)
    first = services.ingest(data, now=start, notify=False)
    assert sorted(e.file for e in first.needs_attention) == [
        "scan.csv",
        "suffolk-2017.csv",
        "wiltshire-2017-resent.csv",
    ]

    def wiltshire_2016_17() -> dict[str, int]:
        rows = load_accepted_returns(DataFolders(data))
        rows = rows[(rows["force_code"] == "E23000038") & (rows["financial_year"] == "2016/17")]
        return dict(zip(rows["offence_code"], rows["online_flagged"].astype(int), strict=True))

    assert wiltshire_2016_17() == {"22B": 30, "88A": 14}  # returns-2017.csv's

    listed = briefings("returns", "list", "--data-dir", str(data))
    assert "wiltshire-2017-resent.csv (received 2017-06-01): WAITS FOR A PERSON (the force may" in (
        listed.stdout
    )
    args = ("--by", "A Steward", "--data-dir", str(data))
    for name, why in [
        ("scan.csv", "the file could not be read (scan.csv: binary data"),
        ("suffolk-2017.csv", "it failed a check no steward may overrule"),
    ]:
        refused = briefings("returns", "accept", name, "--reason", "looks fine", *args)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith(f"briefings: error: {name} cannot be accepted: {why}"), line
    accepted = briefings(
        "returns",
        "accept",
        "raw/wiltshire-2017-resent.csv",
        "--reason",
        "Wiltshire confirmed 9 online of 5 recorded: the flag counts linked crimes",
        *args,
    )
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("Accepted wiltshire-2017-resent.csv (sha256 ")
    again = briefings("returns", "accept", "wiltshire-2017-resent.csv", "--reason", "x", *args)
    assert again.returncode == 2 and "was not refused" not in again.stderr  # nothing re-run yet
    assert "is accepted already" in again.stderr

    second = services.ingest(data, now=start + timedelta(days=1), notify=False)
    entry = next(e for e in second.ledger if e.file == "wiltshire-2017-resent.csv")
    assert entry.status == "accepted"
    assert entry.detail.startswith(
        "accepted by A Steward on " + datetime.now(UTC).date().isoformat() + ": Wiltshire "
        "confirmed 9 online of 5 recorded: the flag counts linked crimes; refused by validation: "
        "wiltshire-2017-resent.csv row 3, column online_flagged: expected no more online-flagged"
    ), entry.detail
    assert wiltshire_2016_17() == {"22B": 30, "88A": 9}  # the accepted return's
    assert sorted(e.file for e in second.needs_attention) == ["scan.csv", "suffolk-2017.csv"]
    ledger = pd.read_csv(data / "processed" / "ledger.csv", dtype=str, keep_default_na=False)
    assert ledger.set_index("file").loc["wiltshire-2017-resent.csv", "status"] == "accepted"

    withdrawn = briefings(
        "returns",
        "withdraw",
        "wiltshire-2017-resent.csv",
        "--reason",
        "Wiltshire withdrew it",
        *args,
    )
    assert withdrawn.returncode == 0, withdrawn.stderr
    third = services.ingest(data, now=start + timedelta(days=2), notify=False)
    entry = next(e for e in third.ledger if e.file == "wiltshire-2017-resent.csv")
    assert (entry.status, entry.detail.split(" on ")[0]) == ("withdrawn", "withdrawn by A Steward")
    assert wiltshire_2016_17() == {"22B": 30, "88A": 14}  # the earlier return's again
    listed = briefings("returns", "list", "--data-dir", str(data))
    assert "wiltshire-2017-resent.csv: withdrawn by A Steward on " in listed.stdout
    assert "2 refused returns, 2 waiting for a person" in listed.stdout


def test_the_returns_ledger_artifact_puts_what_needs_a_steward_first(tmp_path):
    """The returns-ledger artifact: refused returns first, each row starting with its status
    and why, forces by name (a long list cut short), and links to the quarantine report and
    the Data Docs page."""
    from briefings.reference import force_register
    from briefings.services import IngestResult
    from briefings.store import DataFolders, LedgerEntry, StagedReturn
    from flows.pipeline import returns_ledger_rows

    def entry(file: str, status: str, detail: str, codes: tuple[str, ...], docs: str = ""):
        staged = StagedReturn(file, "0" * 64, 10, "2017-06-01T09:00:00+00:00", None, "csv")
        return LedgerEntry(staged, status, detail, force_codes=codes, data_docs=docs)

    every_force = tuple(force.code for force in force_register().forces)
    refused = entry(
        "wiltshire-2017.csv", "quarantined", "row 3: 9 flagged of 5", ("E23000038",), "file:///d"
    )
    report = DataFolders(tmp_path).quarantine_report(refused.file)
    report.parent.mkdir(parents=True)
    report.write_text("Return refused")
    ledger = [
        entry("home-office.csv", "accepted", "passed 11 checks", every_force),
        entry("kent-surrey.csv", "accepted", "passed 16 checks", ("E23000032", "E23000031")),
        refused,
    ]
    rows = returns_ledger_rows(IngestResult(ledger, [], data_dir=tmp_path))
    assert [row["file"] for row in rows] == [
        "wiltshire-2017.csv",
        "home-office.csv",
        "kent-surrey.csv",
    ]
    assert list(rows[0])[:4] == ["status", "why", "file", "forces"]
    assert rows[0]["forces"] == "Wiltshire"
    assert rows[0]["quarantine report"] == f"[report]({report.resolve().as_uri()})"
    assert rows[0]["data docs"] == "[Data Docs](file:///d)"
    assert rows[1]["forces"] == "all 43 forces"
    assert rows[2]["forces"] == "Kent and Surrey"
    assert rows[2]["quarantine report"] == rows[2]["data docs"] == ""
