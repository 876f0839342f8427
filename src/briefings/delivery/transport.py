"""Two ways out: an SMTP relay (stdlib smtplib), or .eml files in the outbox folder."""

from __future__ import annotations

import re
import smtplib
import ssl
from pathlib import Path
from typing import Protocol

from briefings.atomic import atomic_write
from briefings.delivery.compose import OutgoingMessage
from briefings.delivery.settings import DeliverySettings, SmtpSettings

# Transparency (RFC 5321 4.5.2): a line of the message starting with a dot gets a second one.
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class SendError(RuntimeError):
    """A message that was not accepted; the text is safe to log (no credentials)."""


class UnknownOutcomeError(RuntimeError):
    """The server was given the whole message, then went quiet or away before it replied:
    it may have accepted it. Not a SendError, so nothing retries it: sending again could
    deliver it twice. The text is safe to log."""


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class OutboxTransport:
    """Writes what would have been sent, one .eml per message, for a person to open.

    The file name comes from the Message-ID, so writing the same message again replaces it
    rather than adding a second copy."""

    def __init__(self, directory: Path):
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.directory / message.folder / f"{message.file_stem}.eml"

    def send(self, message: OutgoingMessage) -> None:
        try:
            atomic_write(self.path_for(message), lambda p: Path(p).write_bytes(message.data))
        except OSError as error:
            raise SendError(f"could not write to the outbox {self.directory}: {error}") from None


class SmtpTransport:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=str(self.settings.ca_file))
        return context

    def send(self, message: OutgoingMessage) -> None:
        """Hand one message over, step by step, so a failure before the server has the whole
        message (SendError: not delivered, try again) is told from silence after it
        (UnknownOutcomeError: it may have been delivered)."""
        settings = self.settings
        password = settings.password_value()
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(
                _scrub(f"cannot connect to {settings.host}:{settings.port}: {error!r}", password)
            ) from None
        try:
            if settings.security == "starttls":
                client.starttls(context=self._tls_context())
                client.ehlo()
            if settings.user:
                client.login(settings.user, password or "")
            self._hand_over(client, message)
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(
                _scrub(f"{settings.host} did not accept: {error!r}", password)
            ) from None
        finally:
            # Accepted means accepted: a failing QUIT after the message went does not undo it.
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _hand_over(self, client: smtplib.SMTP, message: OutgoingMessage) -> None:
        """MAIL, RCPT and DATA; smtplib's sendmail cannot say which step failed."""
        code, reply = client.mail(message.envelope_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, message.envelope_from)
        code, reply = client.rcpt(message.recipient_email)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({message.recipient_email: (code, reply)})
        code, reply = client.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        payload = _DOT_AT_LINE_START.sub(b"..", message.data)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        # A failure while sending leaves the message unterminated: the server discards it.
        client.send(payload + b".\r\n")
        try:
            code, reply = client.getreply()
        except (OSError, smtplib.SMTPException) as error:
            host = f"{self.settings.host}:{self.settings.port}"
            raise UnknownOutcomeError(
                f"{host} was given the whole message and did not confirm it within "
                f"{self.settings.timeout:g} s ({type(error).__name__}: {error}); it may have "
                "been delivered"
            ) from None
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=self._tls_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        client.ehlo()
        return client


def transport_for(settings: DeliverySettings) -> Transport:
    return SmtpTransport(settings.smtp) if settings.smtp else OutboxTransport(settings.outbox_dir)


def _scrub(text: str, password: str | None) -> str:
    """Servers do not echo passwords, but an error text is never trusted to be clean."""
    return text.replace(password, "**********") if password else text
