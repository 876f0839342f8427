"""How messages leave: SMTP settings from the environment (or a Prefect Secret block for the
password), else the outbox folder. Never from prefect.yaml, and never printed: the password
is a SecretStr, shown as ********** in any repr, log line or serialised parameter."""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from briefings.delivery.subscriptions import check_address
from briefings.resources import PROJECT_ROOT

DEFAULT_OUTBOX_DIR = PROJECT_ROOT / "reports" / "outbox"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_RETRY_DELAYS = (10.0, 60.0)  # two retries within a run; then the next run retries
OUTBOX_SENDER = "Briefings <briefings@example.org>"


class DeliverySettingsError(ValueError):
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
        """The password itself, only for smtplib.login; loads the Secret block when named."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_block:
            from prefect.blocks.system import Secret

            try:
                return str(Secret.load(self.password_block).get())
            except ValueError as error:
                raise DeliverySettingsError(
                    f"BRIEFINGS_SMTP_PASSWORD_BLOCK: no Secret block '{self.password_block}'"
                ) from error
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
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"BRIEFINGS_{name}", "").strip()
            return value or None

        delays = DEFAULT_RETRY_DELAYS
        if get("SEND_RETRY_DELAYS") is not None:
            try:
                delays = tuple(float(d) for d in get("SEND_RETRY_DELAYS").split(","))
            except ValueError:
                raise DeliverySettingsError(
                    "BRIEFINGS_SEND_RETRY_DELAYS must be seconds separated by commas, like 10,60"
                ) from None
            if any(d < 0 for d in delays):
                raise DeliverySettingsError("BRIEFINGS_SEND_RETRY_DELAYS cannot be negative")
        outbox = outbox_dir or DEFAULT_OUTBOX_DIR
        host = get("SMTP_HOST")
        if host is None:
            return cls(
                outbox_dir=outbox, mail_from=get("MAIL_FROM") or OUTBOX_SENDER, retry_delays=delays
            )
        sender = get("MAIL_FROM")
        if sender is None:
            raise DeliverySettingsError("BRIEFINGS_MAIL_FROM is required with BRIEFINGS_SMTP_HOST")
        if check_address(parseaddr(sender)[1]):
            raise DeliverySettingsError(f"BRIEFINGS_MAIL_FROM '{sender}' is not an email address")
        security = (get("SMTP_SECURITY") or "starttls").lower()
        if security not in DEFAULT_PORTS:
            raise DeliverySettingsError("BRIEFINGS_SMTP_SECURITY must be starttls, ssl or none")
        try:
            port = int(get("SMTP_PORT") or DEFAULT_PORTS[security])
            timeout = float(get("SMTP_TIMEOUT") or 30)
        except ValueError:
            raise DeliverySettingsError(
                "BRIEFINGS_SMTP_PORT and BRIEFINGS_SMTP_TIMEOUT must be numbers"
            ) from None
        user, password = get("SMTP_USER"), get("SMTP_PASSWORD")
        block = get("SMTP_PASSWORD_BLOCK")
        if user and security == "none":
            raise DeliverySettingsError(
                "BRIEFINGS_SMTP_USER with BRIEFINGS_SMTP_SECURITY=none would send the password "
                "unencrypted: use starttls or ssl"
            )
        if (password or block) and not user:
            raise DeliverySettingsError("a password is set but BRIEFINGS_SMTP_USER is not")
        ca_file = Path(get("SMTP_CA_FILE")) if get("SMTP_CA_FILE") else None
        if ca_file and not ca_file.is_file():
            raise DeliverySettingsError(f"BRIEFINGS_SMTP_CA_FILE: no such file {ca_file}")
        smtp = SmtpSettings(
            host=host,
            port=port,
            security=security,
            user=user,
            password=SecretStr(password) if password else None,
            password_block=block,
            ca_file=ca_file,
            timeout=timeout,
        )
        return cls(smtp=smtp, outbox_dir=outbox, mail_from=sender, retry_delays=delays)
