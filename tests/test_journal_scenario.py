"""One journal through the ordinary operations that used to publish wrong figures or mishandle
email: publish, correct a return, undo the correction, move a file, delete processed/,
rebuild, run again. At each step the outbox holds exactly the messages a subscriber should
have, with the PDFs then current, and the PDFs' bytes are those of the figures then current.

The small round as published once for the session (Wiltshire, Kent, Gwent, Cumbria, Surrey),
copied, and the bundled subscriptions: four subscribers (national press office; South West;
Wales; Wiltshire's campaigns team). Every briefing prints the national total, so a change to
Wiltshire's count changes every PDF, and each subscriber gets one correction.
"""

from __future__ import annotations

import email
import hashlib
import re
import shutil
from email import policy
from pathlib import Path

import pytest

from .helpers import briefings, pdf_text

CORRECTION = (
    "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
    "Wiltshire,2016/17,ALL,All child sexual offences,,150\n"
)
SUBSCRIBERS = {
    "press@example.org",
    "southwest.press@example.org",
    "wales.press@example.org",
    "wiltshire.campaigns@example.org",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Folder:
    """A copy of the published small round: its data folder, briefings and outbox."""

    def __init__(self, published: object):
        self.data = published.data  # type: ignore[attr-defined]
        self.out = published.out  # type: ignore[attr-defined]
        self.outbox = published.outbox  # type: ignore[attr-defined]
        self.seen: set[Path] = set()

    def run(self, *args: str) -> None:
        result = briefings("run", "--data-dir", str(self.data), "--out-dir", str(self.out), *args)
        assert result.returncode == 0, result.stderr

    def pdfs(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.out / "2016-17").glob("*.pdf"))}

    def new_messages(self) -> list[email.message.EmailMessage]:
        """The messages this step put in the outbox, parsed."""
        found = set(self.outbox.rglob("*.eml")) if self.outbox.exists() else set()
        new = sorted(found - self.seen)
        self.seen |= found
        return [
            email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for path in new
            if "stewards" not in path.parts
        ]


def attachments(message: email.message.EmailMessage) -> dict[str, bytes]:
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in message.iter_attachments()
        if part.get_filename()
    }


@pytest.mark.from_published
def test_publish_correct_undo_move_delete_rebuild_rerun(published_small, tmp_path):
    folder = Folder(published_small[0].copy_to(tmp_path))
    last_received: dict[tuple[str, str], str] = {}  # (subscriber, pdf) -> sha256

    def step(expected: int, correction: bool) -> dict[str, bytes]:
        """The messages of this step: `expected` of them, one per subscriber, each
        attaching exactly the briefings that subscriber's last copy differs from, as they
        are now on disk."""
        pdfs = folder.pdfs()
        messages = folder.new_messages()
        assert len(messages) == expected, [m["Subject"] for m in messages]
        recipients = [str(m["To"].addresses[0].addr_spec) for m in messages]
        assert len(set(recipients)) == len(recipients) and set(recipients) <= SUBSCRIBERS
        for message, recipient in zip(messages, recipients, strict=True):
            attached = attachments(message)
            assert attached, message["Subject"]
            for name, data in attached.items():
                assert data == pdfs[name], f"{recipient} got a stale {name}"
                assert last_received.get((recipient, name)) != sha(data), (
                    f"{recipient} was sent {name} again, unchanged"
                )
                last_received[(recipient, name)] = sha(data)
            assert ("Correction" in message["Subject"]) == correction, message["Subject"]
        # Nobody keeps a copy that differs from the current one.
        for (recipient, name), received in last_received.items():
            assert received == sha(pdfs[name]), f"{recipient} keeps an old {name}"
        return pdfs

    first = step(4, correction=False)  # as published
    assert "Wiltshire" in pdf_text(folder.out / "2016-17" / "wiltshire.pdf")
    assert re.search(r"\b44\b", pdf_text(folder.out / "2016-17" / "wiltshire.pdf"))

    # A correcting return: Wiltshire recorded 150, not 44. Everyone is told.
    correcting = folder.data / "raw" / "wiltshire-correction-2017.csv"
    correcting.write_text(CORRECTION)
    folder.run()
    corrected = step(4, correction=True)
    assert corrected["wiltshire.pdf"] != first["wiltshire.pdf"]
    assert re.search(r"\b150\b", pdf_text(folder.out / "2016-17" / "wiltshire.pdf"))

    # The correction withdrawn: back to 44, and everyone is told again (they hold 150): a
    # third edition, correcting the second back to the first edition's figures.
    correcting.unlink()
    folder.run()
    undone = step(4, correction=True)
    wiltshire = " ".join(pdf_text(folder.out / "2016-17" / "wiltshire.pdf").split())
    assert "44 (edition 2 said 150)" in wiltshire and "Edition 3 of" in wiltshire

    # The original Wiltshire return moved into a subfolder: the same return, nothing new.
    original = folder.data / "raw" / "returns-2017.csv"
    (folder.data / "raw" / "2017").mkdir()
    shutil.copy2(original, folder.data / "raw" / "2017" / original.name)
    original.unlink()
    folder.run()
    assert step(0, correction=False) == undone

    # processed/ deleted (it is derived): nothing is sent again, the PDFs are the same.
    shutil.rmtree(folder.data / "processed")
    folder.run()
    assert step(0, correction=False) == undone

    # Rebuilt from raw/ on purpose, then run, then run again: still nothing to send.
    rebuilt = briefings("ingest", "--data-dir", str(folder.data), "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    folder.run()
    assert step(0, correction=False) == undone
    folder.run()
    assert step(0, correction=False) == undone
