"""Where replies are fetched from: an IMAP folder (standard library imaplib) or a Maildir
folder (standard library mailbox). Both hand over each message's bytes as received, and ask
first whether its Message-ID is already stored, so a stored message is never fetched again.
The mailbox itself is only read: IMAP folders are opened read-only (no message is marked
seen or moved), Maildir messages are left where they are."""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Literal, Protocol

from briefings.journal import Journal
from briefings.journal.mailbox import record_source_position, source_position


class MailboxError(RuntimeError):
    """The mailbox cannot be read: one line naming it and why (never the password)."""


def header_message_id(headers: bytes) -> str:
    """The Message-ID in a message's headers, without angle brackets ('' when none)."""
    value = BytesHeaderParser().parsebytes(headers).get("Message-ID", "")
    return str(value).strip().strip("<>").strip()


class Source(Protocol):
    @property
    def name(self) -> str: ...

    def messages(self, known: Callable[[str], bool]) -> Iterator[bytes]:
        """Each message not known by its Message-ID, as bytes; the position is kept only
        after the caller has taken the message (the generator resumed)."""
        ...


@dataclass
class MaildirSource:
    path: Path

    @property
    def name(self) -> str:
        return f"maildir:{self.path}"

    def messages(self, known: Callable[[str], bool]) -> Iterator[bytes]:
        if not (self.path / "cur").is_dir() and not (self.path / "new").is_dir():
            raise MailboxError(f"{self.path}: not a Maildir folder (no cur/ or new/ inside)")
        box = mailbox.Maildir(self.path, create=False)
        for key in sorted(box.keys(), key=lambda k: (self._time(box, k), k)):
            try:
                with box.get_file(key) as handle:
                    data = handle.read()
            except (FileNotFoundError, KeyError):  # moved by a mail client while we read
                continue
            if known(header_message_id(data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])):
                continue
            yield data

    @staticmethod
    def _time(box: mailbox.Maildir, key: str) -> float:
        try:
            return box.get_message(key).get_date()
        except (KeyError, OSError):
            return 0.0


@dataclass
class ImapSource:
    host: str
    user: str
    password: str
    journal: Journal
    port: int | None = None
    security: Literal["ssl", "starttls", "none"] = "ssl"
    folder: str = "INBOX"
    timeout: float = 30.0
    ca_file: Path | None = None

    @property
    def name(self) -> str:
        return f"imap:{self.user}@{self.host}/{self.folder}"

    def messages(self, known: Callable[[str], bool]) -> Iterator[bytes]:
        connection = self._connect()
        try:
            status, _ = connection.select(_quoted(self.folder), readonly=True)
            if status != "OK":
                raise MailboxError(f"{self.name}: no folder '{self.folder}'")
            validity = (connection.response("UIDVALIDITY")[1] or [b""])[0]
            uidvalidity = (validity or b"").decode("ascii", "replace")
            position = source_position(self.journal, self.name)
            last = position[1] if position and position[0] == uidvalidity else 0
            status, found = connection.uid("SEARCH", f"UID {last + 1}:*")
            if status != "OK":
                raise MailboxError(f"{self.name}: the server refused to list messages")
            uids = sorted(int(uid) for uid in (found[0] or b"").split() if int(uid) > last)
            for uid in uids:
                headers = self._fetch(connection, uid, "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
                if not known(header_message_id(headers)):
                    yield self._fetch(connection, uid, "BODY.PEEK[]")
                record_source_position(self.journal, self.name, uidvalidity, uid)
        except (imaplib.IMAP4.error, OSError) as error:
            raise MailboxError(f"{self.name}: {error}") from None
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                connection.logout()

    def _connect(self) -> imaplib.IMAP4:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        try:
            if self.security == "ssl":
                connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.host, self.port or 993, ssl_context=context, timeout=self.timeout
                )
            else:
                connection = imaplib.IMAP4(self.host, self.port or 143, timeout=self.timeout)
                if self.security == "starttls":
                    connection.starttls(ssl_context=context)
            connection.login(self.user, self.password)
        except imaplib.IMAP4.error as error:
            raise MailboxError(f"{self.name}: the server refused the login ({error})") from None
        except (OSError, ssl.SSLError) as error:
            raise MailboxError(f"{self.name}: cannot connect ({error})") from None
        return connection

    @staticmethod
    def _fetch(connection: imaplib.IMAP4, uid: int, what: str) -> bytes:
        status, data = connection.uid("FETCH", str(uid), f"({what})")
        if status != "OK":
            raise MailboxError(f"message UID {uid} could not be fetched")
        for part in data:
            if isinstance(part, tuple):
                return bytes(part[1])
        return b""


def _quoted(folder: str) -> str:
    return (
        folder
        if re.fullmatch(r"[A-Za-z0-9._/-]+", folder)
        else '"' + folder.replace('"', r"\"") + '"'
    )


def configured_source(
    journal: Journal,
    maildir: Path | None = None,
    load_secret: Callable[[str], str] | None = None,
) -> Source:
    """The source the settings name: `maildir` if given, else BRIEFINGS_MAILDIR, else the
    IMAP folder of BRIEFINGS_IMAP_HOST, its password from BRIEFINGS_IMAP_PASSWORD or the
    Prefect Secret block BRIEFINGS_IMAP_PASSWORD_BLOCK (read by `load_secret`)."""
    from briefings.config.settings import get_settings

    settings = get_settings()
    folder = maildir or settings.maildir
    if folder is not None:
        return MaildirSource(folder)
    if settings.imap_host is None or settings.imap_user is None:
        raise MailboxError(
            "no mailbox set: BRIEFINGS_IMAP_HOST and BRIEFINGS_IMAP_USER, or BRIEFINGS_MAILDIR "
            "(or --maildir PATH)"
        )
    if settings.imap_password is not None:
        password = settings.imap_password.get_secret_value()
    elif settings.imap_password_block and load_secret is not None:
        password = load_secret(settings.imap_password_block)
    elif settings.imap_password_block:
        raise MailboxError(
            "BRIEFINGS_IMAP_PASSWORD_BLOCK is set, but Prefect blocks are not read here"
        )
    else:
        raise MailboxError(
            "no password for the mailbox: BRIEFINGS_IMAP_PASSWORD or "
            "BRIEFINGS_IMAP_PASSWORD_BLOCK (a Prefect Secret block)"
        )
    return ImapSource(
        settings.imap_host,
        settings.imap_user,
        password,
        journal,
        port=settings.imap_port,
        security=settings.imap_security,
        folder=settings.imap_folder,
        timeout=settings.imap_timeout,
    )
