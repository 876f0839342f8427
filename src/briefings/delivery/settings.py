"""How messages leave: SMTP settings from the environment (or a Prefect Secret block for the
password), else the outbox folder. Never from prefect.yaml, and never printed: the password
is a SecretStr, shown as ********** in any repr, log line or serialised parameter."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from briefings.config.errors import ConfigurationError
from briefings.config.settings import DEFAULT_PORTS as DEFAULT_PORTS
from briefings.config.settings import Settings, get_settings
from briefings.resources import PROJECT_ROOT

DEFAULT_OUTBOX_DIR = PROJECT_ROOT / "reports" / "outbox"
DEFAULT_RETRY_DELAYS = (10.0, 60.0)  # two retries within a run; then the next run retries
OUTBOX_SENDER = "Briefings <briefings@example.org>"


class DeliverySettingsError(ConfigurationError):
    """Delivery settings in the environment that cannot be used as given."""


class SmtpSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    password_block: str | None = None  # name of a Prefect Secret block holding the password
    ca_file: Path | None = None  # a CA to trust besides the system's (a private relay)
    timeout: float = 30.0  # seconds, for connecting and for each command

    def password_value(self) -> str | None:
        """The password itself, only for smtplib.login. A Secret block's password is loaded
        by the run before sending (sending.with_password), never here."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_block:
            raise DeliverySettingsError(
                f"BRIEFINGS_SMTP_PASSWORD_BLOCK: the Secret block '{self.password_block}' "
                "was not loaded before sending"
            )
        return None


class DeliverySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    smtp: SmtpSettings | None = None  # None: write .eml files to the outbox instead
    outbox_dir: Path = DEFAULT_OUTBOX_DIR
    mail_from: str = OUTBOX_SENDER
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS

    @property
    def channel(self) -> str:
        return "smtp" if self.smtp else "outbox"

    @property
    def destination(self) -> str:
        if self.smtp:
            return f"SMTP {self.smtp.host}:{self.smtp.port} ({self.smtp.security})"
        return f"outbox {self.outbox_dir}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, outbox_dir: Path | None = None
    ) -> DeliverySettings:
        """From the environment (or `environ`), checked by briefings.config.Settings."""
        try:
            settings = get_settings() if environ is None else Settings.from_environ(environ)
        except ConfigurationError as error:
            raise DeliverySettingsError(str(error)) from None
        return cls.from_settings(settings, outbox_dir)

    @classmethod
    def from_settings(cls, settings: Settings, outbox_dir: Path | None = None) -> DeliverySettings:
        outbox = outbox_dir or DEFAULT_OUTBOX_DIR
        delays = settings.send_retry_delays
        if settings.smtp_host is None:
            sender = settings.mail_from or OUTBOX_SENDER
            return cls(outbox_dir=outbox, mail_from=sender, retry_delays=delays)
        assert settings.mail_from is not None  # Settings requires it with an SMTP host
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            password_block=settings.smtp_password_block,
            ca_file=settings.smtp_ca_file,
            timeout=settings.smtp_timeout,
        )
        return cls(smtp=smtp, outbox_dir=outbox, mail_from=settings.mail_from, retry_delays=delays)
