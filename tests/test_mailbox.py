"""FOI replies from a mailbox to returns: a Maildir of replies made here (a spreadsheet
attachment, a Word letter with a table, a PDF letter with the count in a sentence, a reply
with a '<5' cell, a duplicate delivery and a reply from an unknown sender), fetched into a
temporary data folder, each ending as a return ingest accepts, figures waiting for a steward,
or a refusal with its reason; then one figure confirmed and others rejected through the
command line, and only the confirmed figures reach the period's figures.

Every document is made by the test (python-docx, WeasyPrint); no person is named."""

from __future__ import annotations

import io
import mailbox
import tempfile
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from briefings import services
from briefings.journal import Journal
from briefings.journal.mailbox import candidates, messages
from briefings.mailbox.fetching import fetch_replies
from briefings.mailbox.prose import figures_in_text
from briefings.mailbox.rounds import foi_deadline
from briefings.mailbox.sources import MaildirSource
from briefings.reference import offence_descriptions
from briefings.store import DataFolders, Status

from .helpers import briefings

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
KENT, WILTSHIRE, DORSET, ESSEX = "E23000032", "E23000038", "E23000039", "E23000028"


def _message(
    sender: str, subject: str, message_id: str, day: int, body: str, html: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "research@charity.example.org"
    message["Subject"] = subject
    message["Date"] = f"Wed, {day:02d} May 2017 09:15:00 +0100"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _word_letter() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Wiltshire Police")
    document.add_paragraph("Freedom of Information request FOI 2017-789")
    document.add_paragraph("The figures you asked for are in the table below.")
    rows = [
        ["Financial year", "Offence code", "Offences", "Online flagged"],
        ["2016/17", "88A", "120", "30"],
        ["2016/17", "19D", "50", "14"],
    ]
    table = document.add_table(rows=len(rows), cols=4)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _pdf_letter(heading: str, sentence: str) -> bytes:
    from weasyprint import HTML

    html = f"<html lang='en'><body><h1>{heading}</h1><p>{sentence}</p></body></html>"
    return HTML(string=html).write_pdf()


def wiltshire_reply() -> EmailMessage:
    """Wiltshire's reply: a Word letter with a table (2016/17: 88A 120 offences, 30 online
    flagged; 19D 50 and 14)."""
    wiltshire = _message(
        "FOI Unit <foi@wiltshire.police.uk>",
        "Your request FOI 2017-789",
        "reply-wiltshire@wiltshire.police.uk",
        3,
        "Please find our response attached.",
    )
    wiltshire.add_attachment(
        _word_letter(),
        maintype=DOCX.split("/")[0],
        subtype=DOCX.split("/")[1],
        filename="FOI 2017-789 response.docx",
    )
    return wiltshire


def _replies() -> list[EmailMessage]:
    kent = _message(
        "Kent Police FOI <foi@kent.police.uk>",
        "FOI 2017-788 response",
        "reply-kent@kent.police.uk",
        2,
        "Please find attached our response.",
    )
    kent.add_attachment(
        b"force,financial_year,offence_code,online_flagged\n"
        b"Kent,2015/16,ALL,80\nKent,2016/17,ALL,120\n",
        maintype="text",
        subtype="csv",
        filename="kent-response.csv",
    )
    wiltshire = wiltshire_reply()
    dorset = _message(
        "Information Rights <disclosure@dorset.police.uk>",
        "FOI 2017-790",
        "reply-dorset@dorset.police.uk",
        4,
        "Our response is attached.",
    )
    dorset.add_attachment(
        _pdf_letter("Dorset Police", "In 2016/17, 44 offences were flagged as online."),
        maintype="application",
        subtype="pdf",
        filename="response.pdf",
    )
    essex = _message(
        "Essex Police <foi@essex.police.uk>",
        "FOI 2017-791",
        "reply-essex@essex.police.uk",
        5,
        "Essex Police. Our response is in the table below.",
        "<html><body><p>Essex Police</p><table><tr><th>Year</th><th>Online flagged</th></tr>"
        "<tr><td>2016/17</td><td>&lt;5</td></tr></table></body></html>",
    )
    unknown = _message(
        "A Sender <someone@mail.example.com>",
        "Re: your request",
        "reply-unknown@mail.example.com",
        6,
        "Thank you for your request.",
    )
    unknown.add_attachment(
        _pdf_letter("Response", "In 2016/17, 12 offences were flagged as online."),
        maintype="application",
        subtype="pdf",
        filename="letter.pdf",
    )
    return [kent, wiltshire, dorset, essex, unknown]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory) -> tuple[Path, Path]:
    """A Maildir with the replies (Dorset's delivered twice) and a data folder fetched into."""
    root = tmp_path_factory.mktemp("mailbox")
    box = mailbox.Maildir(root / "Maildir", create=True)
    replies = _replies()
    for reply in replies:
        box.add(reply)
    again = replies[2]  # a second delivery: another Received line, the same Message-ID
    box.add(b"Received: from relay2.example.org\n" + again.as_bytes())
    data = root / "data"
    (data / "raw").mkdir(parents=True)
    (data / "rounds").mkdir()
    (data / "rounds" / "online-flag-2017.yaml").write_text(
        "name: online-flag-2017\nrequested: 2017-04-10\nreference: 'FOI 2017-7'\n"
        "forces: [Kent, Wiltshire, Dorset, Essex, Norfolk]\n"
    )
    return root / "Maildir", data


def _by_force(data: Path) -> dict[str | None, object]:
    return {m.force_code: m for m in messages(Journal.of(data))}


def test_each_reply_is_stored_once_exactly_as_received(fetched):
    maildir, data = fetched
    first = fetch_replies(data, MaildirSource(maildir))
    assert (len(first.stored), first.duplicates) == (5, 1)
    again = fetch_replies(data, MaildirSource(maildir))
    assert (len(again.stored), again.duplicates) == (0, 6)
    folders = sorted(p for p in (data / "raw" / "mailbox").iterdir())
    assert len(folders) == 5 and not [p for p in folders if p.name.startswith(".")]
    stored = {(f / "message.eml").read_bytes() for f in folders}
    originals = {bytes(message.as_bytes()) for message in _replies()}
    delivered = {
        mailbox.Maildir(maildir, create=False).get_bytes(key)
        for key in mailbox.Maildir(maildir, create=False).iterkeys()
    }
    assert stored <= delivered and len(stored) == 5
    assert len(originals) == 5
    kent = next(f for f in folders if "reply-kent" in f.name)
    assert (kent / "kent-response.csv").read_bytes().startswith(b"force,financial_year")
    recorded = _by_force(data)
    assert recorded[KENT].foi_reference == "FOI 2017-788"
    assert recorded[WILTSHIRE].force_how == "sender domain wiltshire.police.uk"
    refused = recorded[None]
    assert refused.sender == "someone@mail.example.com"
    assert "mail.example.com is not a force's" in refused.force_how
    assert "names no force" in refused.force_how


def test_letters_give_candidates_with_their_passages(fetched):
    _, data = fetched
    found = candidates(Journal.of(data), pending_only=True)
    summary = {c.figure.key: (c.figure.count, c.figure.passage) for c in found}
    assert summary[(WILTSHIRE, "2016/17", "88A", "online_flagged")][0] == "30"
    assert summary[(WILTSHIRE, "2016/17", "19D", "online_flagged")][0] == "14"
    assert summary[(WILTSHIRE, "2016/17", "19D", "offences")][0] == "50"
    count, passage = summary[(DORSET, "2016/17", "ALL", "online_flagged")]
    assert count == "44" and passage == "In 2016/17, 44 offences were flagged as online."
    count, passage = summary[(ESSEX, "2016/17", "ALL", "online_flagged")]
    assert count == "withheld" and "<5" in passage
    assert not [c for c in found if c.figure.force_code == KENT]  # a spreadsheet is ingest's
    assert len(found) == 6  # nothing from the unknown sender's letter


def test_review_confirm_and_reject_decide_what_reaches_the_figures(fetched):
    _, data = fetched
    journal = Journal.of(data)
    result = services.ingest(data, notify=False)
    ledger = {entry.file: entry for entry in result.ledger}
    assert [e.status for f, e in ledger.items() if f.endswith("kent-response.csv")] == [
        Status.ACCEPTED
    ]
    assert not [f for f in ledger if f.endswith((".eml", ".pdf", ".docx"))]

    listing = briefings("mailbox", "review", "--data-dir", str(data))
    assert listing.returncode == 0, listing.stderr
    assert "44 offences were flagged as online" in listing.stdout
    assert "6 figures wait for a decision" in listing.stdout
    assert "Force not known" in listing.stdout and "names no force" in listing.stdout

    pending = {
        (c.figure.force_code, c.figure.offence_code, c.figure.measure): c.id
        for c in candidates(journal, pending_only=True)
    }
    dorset = pending[(DORSET, "ALL", "online_flagged")]
    confirmed = briefings(
        "mailbox", "confirm", str(dorset), "--by", "A Steward", "--data-dir", str(data)
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert "Return written: raw/mailbox/confirmed/" in confirmed.stdout
    wrong = briefings("mailbox", "reject", str(dorset), "--reason", "x", "--data-dir", str(data))
    assert wrong.returncode == 2 and "already decided" in wrong.stderr

    for key in [(WILTSHIRE, "88A", "online_flagged"), (WILTSHIRE, "88A", "offences")]:
        rejected = briefings(
            "mailbox",
            "reject",
            str(pending[key]),
            "--reason",
            "Force says this row is a draft",
            "--by",
            "A Steward",
            "--data-dir",
            str(data),
        )
        assert rejected.returncode == 0, rejected.stderr
    briefings(
        "mailbox", "confirm", str(pending[(WILTSHIRE, "19D", "offences")]), "--data-dir", str(data)
    )
    corrected = briefings(
        "mailbox",
        "confirm",
        str(pending[(WILTSHIRE, "19D", "online_flagged")]),
        "--correct",
        "15",
        "--reason",
        "The force corrected its letter by phone",
        "--data-dir",
        str(data),
    )
    assert corrected.returncode == 0, corrected.stderr
    assert "confirmed as 15" in corrected.stdout and "Return written" in corrected.stdout

    services.ingest(data, notify=False)
    figures = services.period_figures(DataFolders(data), "2016/17", 5)
    counts = {f.force.code: f.count for f in figures.forces}
    assert counts[DORSET] == 44
    assert counts[KENT] == 120
    assert counts[WILTSHIRE] == 15  # the rejected 30 never counts
    assert ESSEX not in counts  # still waiting for a steward: not a return yet


def test_round_status_names_the_overdue_forces(fetched):
    _, data = fetched
    status = briefings("round", "status", "--today", "2017-06-01", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith("Round online-flag-2017: requested 2017-04-10, due 2017-05-11")
    assert "  Kent: replied 2017-05-02" in lines
    assert "  Norfolk: OVERDUE by 14 working days" in lines


def test_a_force_replies_by_email_or_by_an_accepted_return_for_a_year_asked(tmp_path):
    """The first reply counts, by email or return, from the request date to the day asked
    about; a return counts only for a year the round asked for."""
    from briefings.journal.mailbox import StoredMessage
    from briefings.mailbox.rounds import ReturnReceived, read_round, round_status
    from briefings.reference import force_register

    (tmp_path / "round.yaml").write_text(
        "requested: 2017-04-10\nyears: [2016-17]\nforces: [Kent, Wiltshire, Dorset, Essex]\n"
    )
    round_ = read_round(tmp_path / "round.yaml", force_register())
    assert round_.years == ("2016/17",)

    def reply(force: str, sent: str) -> StoredMessage:
        return StoredMessage(
            f"{force}-{sent}", sent, f"mailbox/{force}", (), "foi@x", sent, "FOI", None,
            force, "sender domain", "maildir:/x", "2017-06-30T00:00:00+00:00",
        )  # fmt: skip

    def received(force: str, when: str, year: str) -> ReturnReceived:
        return ReturnReceived(force, f"{when}T10:00:00+00:00", f"{force}.csv", frozenset([year]))

    status = round_status(
        round_,
        [reply(KENT, "2017-05-20T09:00:00+00:00"), reply(DORSET, "2017-06-02T09:00:00+00:00")],
        date(2017, 6, 1),
        [
            received(KENT, "2017-05-02", "2016/17"),  # earlier than its email
            received(WILTSHIRE, "2017-03-01", "2016/17"),  # before the request
            received(WILTSHIRE, "2017-05-15", "2015/16"),  # a year not asked for
            received(ESSEX, "2017-05-09", "2016/17"),
        ],
    )
    assert [(s.force.name, s.replied, s.source, s.overdue_days) for s in status] == [
        ("Kent", "2017-05-02", f"{KENT}.csv", 0),
        ("Wiltshire", None, None, 14),
        ("Dorset", None, None, 14),  # its email came after the day asked about
        ("Essex", "2017-05-09", f"{ESSEX}.csv", 0),
    ]


def test_the_bundled_round_is_read_and_says_when_no_return_was_read_yet(tmp_path):
    """data/rounds/ holds the bundled returns' (illustrative) round: every force asked on
    10 April 2017. Before any run has read raw/, round status says first that only replies
    from the mailbox count."""
    import shutil

    from .helpers import PROJECT_ROOT

    shutil.copytree(PROJECT_ROOT / "data" / "rounds", tmp_path / "data" / "rounds")
    status = briefings(
        "round", "status", "--today", "2017-06-01", "--data-dir", str(tmp_path / "data")
    )
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith("Note: no return in ") and "may show as overdue" in lines[0]
    assert lines[1] == (
        "Round online-flag-2017: requested 2017-04-10, due 2017-05-11 (20 working days); as of "
        "2017-06-01: 0 of 43 forces replied, 43 overdue"
    )
    assert len(lines) == 2 + 43 and "  Wiltshire: OVERDUE by 14 working days" in lines


@pytest.mark.parametrize(
    "requested, due",
    [
        (date(2017, 4, 10), date(2017, 5, 11)),  # Good Friday, Easter Monday and 1 May
        (date(2023, 12, 20), date(2024, 1, 23)),  # Christmas, and 2 January in Scotland
    ],
)
def test_foi_deadline_counts_working_days_in_any_part_of_the_uk(requested, due):
    assert foi_deadline(requested) == due


@pytest.mark.parametrize(
    "sentence, read",
    [
        (
            "From 2021 to 2022 there have been 245 recorded crimes under Home Office offence "
            "code 88A.",
            [("2021/22", "88A", "offences", "245")],
        ),
        (
            "In 2016/17, 44 offences were flagged as online.",
            [("2016/17", "ALL", "online_flagged", "44")],
        ),
        (
            "In 2016-17 there were 1,245 recorded crimes, of which 44 were flagged as online.",
            [("2016/17", "ALL", "offences", "1245"), ("2016/17", "ALL", "online_flagged", "44")],
        ),
        (
            "Between 1 April 2016 and 31 March 2017, fewer than 5 offences had a cyber flag.",
            [("2016/17", "ALL", "online_flagged", "<5")],
        ),
        ("In 2017 there were 12 crimes.", []),  # a calendar year is not a financial year
        ("We wrote on 31 March 2017 about 3 matters.", []),
    ],
)
def test_sentences_are_read_only_when_count_and_year_tie(sentence, read):
    figures, _ = figures_in_text(sentence, offence_descriptions())
    assert [(f.financial_year, f.offence_code, f.measure, f.count) for f in figures] == read


def test_a_fetch_killed_before_the_journal_leaves_no_half_file(tmp_path, monkeypatch):
    """A reply's folder appears whole or not at all; a fetch that dies after storing it and
    before the journal records it is finished by the next fetch, storing nothing twice."""
    import briefings.mailbox.fetching as fetching

    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(_replies()[1])
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fetching, "record_message", killed)
    with pytest.raises(KeyboardInterrupt):
        fetch_replies(data, MaildirSource(tmp_path / "Maildir"))
    monkeypatch.undo()
    written = list((data / "raw" / "mailbox").iterdir())
    assert [p.name.startswith(".") for p in written] == [False]
    assert fetch_replies(data, MaildirSource(tmp_path / "Maildir")).stored
    assert list((data / "raw" / "mailbox").iterdir()) == written
    assert len(messages(Journal.of(data))) == 1


# A real IMAP server: Debian's Dovecot on loopback, started by the test --------------------

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_CONF = """
base_dir = {root}/run
state_dir = {root}/run/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = static
  args = password=test-only-password
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot(tmp_path_factory):
    """Dovecot serving one mailbox on a free loopback port; stopped after the test."""
    import os
    import pwd
    import shutil
    import socket
    import subprocess
    import time

    if not DOVECOT.exists():
        pytest.skip("Debian's dovecot-imapd is not installed (make env installs it)")
    if os.geteuid() != 0:
        pytest.skip("Dovecot runs its mail processes as the dovecot user: needs root to start")
    try:
        user = pwd.getpwnam("dovecot")
    except KeyError:
        pytest.skip("no dovecot user (the dovecot-core package creates it)")
    root = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
    (root / "home" / "charity" / "Maildir").mkdir(parents=True)
    os.chmod(root, 0o755)
    for folder in [root / "home", *(root / "home").rglob("*")]:
        os.chown(folder, user.pw_uid, user.pw_gid)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, port=port))
    subprocess.run([str(DOVECOT), "-c", str(conf)], check=True, timeout=20)
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port
    finally:
        pid = (root / "run" / "master.pid").read_text().strip()
        os.kill(int(pid), 15)  # the master we started, by its own pid file
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.integration
def test_imap_replies_are_fetched_once_and_the_folder_left_as_it_was(
    dovecot, tmp_path, monkeypatch
):
    import imaplib

    from briefings.config.settings import reset_settings
    from briefings.mailbox.sources import configured_source

    server = imaplib.IMAP4("127.0.0.1", dovecot, timeout=10)
    server.login("charity", "test-only-password")
    replies = _replies()
    for reply in [replies[0], replies[2], replies[2]]:  # Dorset's delivered twice
        server.append("INBOX", None, None, reply.as_bytes())
    for name, value in {
        "BRIEFINGS_IMAP_HOST": "127.0.0.1",
        "BRIEFINGS_IMAP_PORT": str(dovecot),
        "BRIEFINGS_IMAP_SECURITY": "none",
        "BRIEFINGS_IMAP_USER": "charity",
        "BRIEFINGS_IMAP_PASSWORD": "test-only-password",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    journal = Journal.of(data)
    first = fetch_replies(data, configured_source(journal))
    assert (len(first.stored), first.duplicates) == (2, 1)
    assert {r.force for r in first.stored} == {"Kent", "Dorset"}
    kent = next(r for r in first.stored if r.force == "Kent")
    assert (data / "raw" / kent.folder / "message.eml").read_bytes().replace(b"\r\n", b"\n") == (
        replies[0].as_bytes().replace(b"\r\n", b"\n")
    )
    server.append("INBOX", None, None, replies[3].as_bytes())
    later = fetch_replies(data, configured_source(journal))
    assert [r.force for r in later.stored] == ["Essex"]
    assert later.duplicates == 0  # the messages fetched before are not asked for again
    server.select("INBOX", readonly=True)
    status, unseen = server.search(None, "UNSEEN")
    assert status == "OK" and len(unseen[0].split()) == 4  # nothing marked read
    server.logout()
    reset_settings()


@pytest.mark.parametrize("name", ["letter.docx", "letter.pdf"])
def test_a_damaged_letter_is_named_not_read(name):
    from briefings.mailbox.documents import DocumentError, read_document

    with pytest.raises(DocumentError, match=f"^{name}: not a"):
        read_document(name, b"PK\x03\x04 not a whole file")
