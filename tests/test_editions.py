"""Editions and corrections in the PDF: every page's footer carries the edition and its date; a
briefing whose figures changed after an edition was sent says "Correction" in its title and
what changed, from the journal of what was sent. Dates are facts (when returns were
received), never the clock: the same inputs give the same PDF, with or without processed/."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from email import message_from_bytes, policy
from pathlib import Path

import pikepdf
import pytest

from briefings import services
from briefings.delivery.compose import compose_message
from briefings.delivery.manifest import BriefingFile, Publication
from briefings.delivery.plan import LedgerRecord, PlannedItem, PlannedMessage
from briefings.delivery.subscriptions import Recipient
from briefings.domain.editions import Edition, SentVersion, date_words, edition_of
from briefings.journal import Journal, journal_path
from briefings.journal import deliveries as journal
from briefings.store import DataFolders

from .faults.ingesting import ingest
from .helpers import pdf_text

BEFORE = {"Wiltshire, 2016/17": "44", "Change": "+34", "Assessment": "rose"}
AFTER = {"Wiltshire, 2016/17": "45", "Change": "+35", "Assessment": "rose"}


def sent(figures: dict[str, str], when: str, issued: str | None) -> SentVersion:
    return SentVersion(figures, f"{when}T10:00:00+00:00", issued)


# The rule, as pure cases


def test_a_briefing_never_sent_is_edition_1_dated_by_its_latest_return():
    edition = edition_of(AFTER, "2017-05-08")
    assert edition == Edition(1, "2017-05-08")
    assert not edition.correction and edition.notice == ""
    assert edition.label == "Edition 1 of 8 May 2017"


def test_the_same_figures_as_the_edition_sent_are_that_edition_with_its_printed_date():
    history = [sent(BEFORE, "2017-05-20", "2017-05-08")]
    # A later return with the same figures, or a layout change: still edition 1 of 8 May.
    assert edition_of(BEFORE, "2017-05-30", history) == Edition(1, "2017-05-08")


def test_figures_that_differ_from_the_edition_sent_are_a_correction_naming_what_changed():
    edition = edition_of(AFTER, "2017-06-02", [sent(BEFORE, "2017-05-20", "2017-05-08")])
    assert (edition.number, edition.issued, edition.correction) == (2, "2017-06-02", True)
    assert edition.label == "Edition 2 of 2 June 2017"
    assert edition.notice == (
        "This is edition 2; it replaces edition 1 of 8 May 2017. Figures that changed: "
        "Wiltshire, 2016/17: 45 (edition 1 said 44); and one other in this briefing."
    )  # the change, +35; the assessment did not change, so it is not counted
    only_the_count = edition_of(
        {**BEFORE, "Wiltshire, 2016/17": "45"}, "2017-06-02", [sent(BEFORE, "2017-05-20", None)]
    )
    assert only_the_count.notice.endswith(
        "The figure that changed: Wiltshire, 2016/17: 45 (edition 1 said 44)."
    )


def test_a_correction_sent_is_the_same_edition_on_every_later_run():
    history = [sent(BEFORE, "2017-05-20", "2017-05-08"), sent(AFTER, "2017-06-03", "2017-06-02")]
    again = edition_of(AFTER, "2017-06-02", history)
    assert again == edition_of(AFTER, "2017-06-02", history[:1])  # as rendered before sending


def test_a_correction_undone_is_a_third_edition_correcting_back_not_the_first_again():
    history = [sent(BEFORE, "2017-05-20", "2017-05-08"), sent(AFTER, "2017-06-03", "2017-06-02")]
    back = edition_of(BEFORE, "2017-05-08", history)
    assert (back.number, back.replaces) == (3, 2)
    assert back.changes[0] == "Wiltshire, 2016/17: 44 (edition 2 said 45)"
    # Its date is never before the edition it replaces, though its returns are older.
    assert back.issued == "2017-06-02"
    sent_back = [*history, sent(BEFORE, "2017-06-04", "2017-06-02")]
    assert edition_of(BEFORE, "2017-05-08", sent_back) == back  # and stays edition 3


def test_the_same_version_sent_to_many_readers_is_one_edition():
    history = [sent(BEFORE, "2017-05-20", "2017-05-08")] * 3 + [
        sent(AFTER, "2017-06-03", "2017-06-02")
    ] * 2
    assert edition_of(AFTER, "2017-06-02", history).number == 2


def test_a_version_sent_before_briefings_had_editions_is_dated_the_day_it_was_sent():
    edition = edition_of(AFTER, "2017-06-02", [sent(BEFORE, "2017-05-20", None)])
    assert edition.notice.startswith("This is edition 2; it replaces edition 1 of 20 May 2017.")


def test_as_of_a_date_only_what_was_sent_by_then_counts():
    history = [sent(BEFORE, "2017-05-20", "2017-05-08"), sent(AFTER, "2017-06-03", "2017-06-02")]
    assert edition_of(BEFORE, "2017-05-08", history, as_of="2017-05-31").number == 1
    assert edition_of(BEFORE, "2017-05-08", history, as_of="2017-06-03").number == 3


def test_the_first_changed_figure_is_named_and_the_rest_counted_in_words():
    before = {f"Row {i}": str(i) for i in range(6)}
    after = {**{f"Row {i}": str(i + 1) for i in range(5)}, "New row": "7"}
    edition = edition_of(after, "2017-06-02", [sent(before, "2017-05-20", "2017-05-08")])
    assert edition.changes == ("Row 0: 1 (edition 1 said 0)",)  # first as the briefing prints
    assert edition.other_changes == 6  # rows 1 to 4, the new row, and row 5 no longer given
    assert edition.notice.endswith(
        "Figures that changed: Row 0: 1 (edition 1 said 0); and six others in this briefing."
    )


@pytest.mark.parametrize(
    ("iso", "words"), [("2017-06-02", "2 June 2017"), ("2017-05-08T10:00:00+00:00", "8 May 2017")]
)
def test_dates_are_written_as_the_briefings_write_them(iso, words):
    assert date_words(iso) == words


# The journal


def test_a_journal_from_before_editions_is_upgraded_and_its_sends_read_as_editions(tmp_path):
    path = tmp_path / "state" / "journal.sqlite"
    path.parent.mkdir()
    with sqlite3.connect(path) as old:  # the version 1 tables, with one message sent
        old.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE delivery_attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT "
            "NOT NULL, email TEXT NOT NULL, recipient TEXT NOT NULL, period TEXT NOT NULL, pdf "
            "TEXT NOT NULL, content_hash TEXT NOT NULL, replaces TEXT, correction INTEGER NOT "
            "NULL, figures TEXT NOT NULL, message_id TEXT NOT NULL, attempt INTEGER NOT NULL, "
            "status TEXT NOT NULL, at TEXT NOT NULL, error TEXT);"
        )
        old.execute(
            "INSERT INTO delivery_attempts (channel, email, recipient, period, pdf, content_hash, "
            "correction, figures, message_id, attempt, status, at) "
            "VALUES ('outbox', 'a@example.org', 'A', '2016-17', 'wiltshire.pdf', 'h1', 0, ?, "
            "'<m1@x>', 1, 'sent', '2017-05-20T10:00:00+00:00')",
            (json.dumps(BEFORE),),
        )
    with journal.read_only(path) as connection:  # read before any run opened it
        assert journal.sent_versions(connection, "outbox", "2016-17") == {
            "wiltshire.pdf": [SentVersion(BEFORE, "2017-05-20T10:00:00+00:00", None)]
        }
    opened = Journal(path).open()
    assert opened.meta("schema_version") == "2"
    version = journal.CarriedVersion(
        "wiltshire.pdf", "h2", "h1", True, json.dumps(AFTER), 2, "2017-06-02"
    )
    journal.begin_delivery(opened, "outbox", "a@example.org", "A", "2016-17", "<m2@x>", [version])
    journal.end_delivery(opened, "outbox", "<m2@x>", "sent")
    history = journal.read_sent_versions(path, "outbox", "2016-17")["wiltshire.pdf"]
    assert [(v.figures, v.issued) for v in history] == [(BEFORE, None), (AFTER, "2017-06-02")]
    assert journal.read_sent_versions(path, "smtp", "2016-17") == {}  # a channel of its own
    assert journal.read_sent_versions(tmp_path / "none.sqlite", "outbox", "2016-17") == {}


# The email


def _briefing(edition: int, correction: str | None) -> BriefingFile:
    return BriefingFile(
        "wiltshire.pdf",
        "force",
        "E23000038",
        "Wiltshire",
        "South West",
        "Wiltshire: online child sexual offences, 2016/17",
        "",
        "0" * 64,
        AFTER,
        Path("/nonexistent/wiltshire.pdf"),
        edition,
        "2017-06-02",
        correction,
    )


def _message(item: PlannedItem, monkeypatch) -> object:
    from briefings.delivery import compose

    monkeypatch.setattr(compose, "_pdf_bytes", lambda item: b"%PDF-1.7 test")
    publication = Publication("2016/17", "2016-17", None, "Example", (item.briefing,), Path("."))
    recipient = Recipient("New reader", "new@example.org")
    outgoing = compose_message(
        PlannedMessage(recipient, (item,)), publication, "b@example.org", 10**7
    )
    return message_from_bytes(outgoing.data, policy=policy.default)


def test_a_reader_first_sent_a_corrected_edition_is_told_it_is_a_correction(monkeypatch):
    notice = "This is edition 2; it replaces edition 1 of 8 May 2017. Figures that changed: ..."
    message = _message(PlannedItem(_briefing(2, notice)), monkeypatch)
    assert message["Subject"] == "Correction: Wiltshire: online child sexual offences, 2016/17"
    assert message["X-Briefings-Kind"] == "correction"
    text = message.get_body(("plain",)).get_content()
    assert "a briefing attached corrects an edition sent before" in text
    assert f"Correction: {notice}" in text
    assert "(wiltshire.pdf, edition 2 of 2 June 2017)" in text


def test_a_first_edition_to_a_new_reader_is_no_correction(monkeypatch):
    message = _message(PlannedItem(_briefing(1, None)), monkeypatch)
    assert message["Subject"] == "Wiltshire: online child sexual offences, 2016/17"
    text = message.get_body(("plain",)).get_content()
    assert "CORRECTION" not in text and "(wiltshire.pdf, edition 1 of 2 June 2017)" in text


def test_a_reader_sent_the_earlier_edition_gets_the_changes_against_what_they_had(monkeypatch):
    earlier = LedgerRecord("new@example.org", "wiltshire.pdf", "1" * 64, "sent", BEFORE)
    from briefings.delivery.plan import diff_figures

    item = PlannedItem(_briefing(2, "..."), earlier, diff_figures(BEFORE, AFTER))
    text = _message(item, monkeypatch).get_body(("plain",)).get_content()
    assert "CORRECTION: figures you were sent earlier have changed" in text
    assert "  - Wiltshire, 2016/17: 45 (was 44)" in text


def test_an_update_claims_only_what_was_compared(monkeypatch):
    earlier = LedgerRecord("new@example.org", "wiltshire.pdf", "1" * 64, "sent", BEFORE)
    text = _message(PlannedItem(_briefing(1, None), earlier), monkeypatch)
    text = text.get_body(("plain",)).get_content()
    # Numbers printed only in sentences are not compared: "the figures are unchanged" would
    # claim more than is known.
    assert "no figure in its tables or chart has changed" in text
    assert "figures are unchanged" not in text


# Whole runs: render, deliver to the outbox, a return corrected, render again

CORRECTED = (
    "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
    "Wiltshire,2016/17,22B,Sexual activity involving child under 16,170,31\n"
    "Wiltshire,2016/17,88A,Sexual grooming,52,14\n"
    "Kent,2016/17,ALL,All child sexual offences,,1151\n"
)


def _run(data: Path, out: Path) -> services.RunSummary:
    return services.publish(services.RunRequest(data_dir=data, out_dir=out))


def _pages(pdf: Path) -> int:
    with pikepdf.open(pdf) as document:
        return len(document.pages)


def _title(pdf: Path) -> str:
    with pikepdf.open(pdf) as document:
        return str(document.docinfo["/Title"])


@pytest.fixture
def no_smtp(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BRIEFINGS_SMTP"):
            monkeypatch.delenv(name)


@pytest.mark.from_published
def test_a_corrected_return_gives_a_second_edition_marked_as_a_correction(
    published_small, tmp_path, no_smtp
):
    copy = published_small[0].copy_to(tmp_path)
    period = copy.out / "2016-17"
    wiltshire, kent = period / "wiltshire.pdf", period / "kent.pdf"
    for pdf in (wiltshire, kent):  # as first published and sent (Kent to nobody)
        text = pdf_text(pdf)
        assert text.count("Briefing for 2016/17. Edition 1 of 8 May 2017") == _pages(pdf)
        assert "Correction" not in text
    sent_before = set(copy.outbox.rglob("*.eml"))

    # Wiltshire corrects 30 to 31 (44 to 45 in all); Kent, whose briefing went to nobody, too.
    (copy.data / "raw" / "corrections.csv").write_text(CORRECTED)
    ingest(DataFolders(copy.data), "2017-06-02T09:00:00")  # received on 2 June 2017
    _run(copy.data, copy.out)

    text = pdf_text(wiltshire)
    assert text.count("Briefing for 2016/17. Edition 2 of 2 June 2017") == _pages(wiltshire)
    assert (
        "Correction. This is edition 2; it replaces edition 1 of 8 May 2017. Figures that "
        "changed: Wiltshire, 2016/17: 45 (edition 1 said 44); and" in text
    )
    assert _title(wiltshire) == "Correction: Wiltshire: online child sexual offences, 2016/17"
    kent_text = pdf_text(kent)  # never sent: its first edition, whatever changed
    assert kent_text.count("Briefing for 2016/17. Edition 1 of 2 June 2017") == _pages(kent)
    assert "Correction" not in kent_text and "1,151" in kent_text

    messages = {
        path: message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in set(copy.outbox.rglob("*.eml")) - sent_before
    }
    team = next(m for m in messages.values() if "wiltshire.campaigns" in m["To"])
    assert team["Subject"].startswith("Correction: Wiltshire")
    body = " ".join(team.get_body(("plain",)).get_content().split())
    assert "(wiltshire.pdf, edition 2 of 2 June 2017)" in body
    assert "Wiltshire, 2016/17: 45 (was 44)" in body
    with Journal.of(copy.data).reading() as connection:
        printed = connection.execute(
            "SELECT pdf, edition, issued FROM printed_editions ORDER BY pdf, edition"
        ).fetchall()
    assert ("wiltshire.pdf", 2, "2017-06-02") in [tuple(row) for row in printed]

    # processed/ is derived: deleting it changes no PDF and sends nothing.
    pdfs = {pdf.name: pdf.read_bytes() for pdf in period.glob("*.pdf")}
    shutil.rmtree(copy.data / "processed")
    again = _run(copy.data, copy.out)
    assert {pdf.name: pdf.read_bytes() for pdf in period.glob("*.pdf")} == pdfs
    assert again.delivery is not None and again.delivery.messages == ()

    # The correction withdrawn: the figures go back to edition 1's, as a third edition.
    (copy.data / "raw" / "corrections.csv").unlink()
    _run(copy.data, copy.out)
    text = pdf_text(wiltshire)
    assert text.count("Edition 3 of 2 June 2017") == _pages(wiltshire)
    assert "replaces edition 2 of 2 June 2017" in text
    assert "Wiltshire, 2016/17: 44 (edition 2 said 45)" in text
    assert journal_path(copy.data).exists()
