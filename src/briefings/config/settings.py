"""Settings from the environment: every variable the application reads, under one prefix,
``BRIEFINGS_``, each with its type, default, bounds and meaning.

Only the environment is read (no .env file): secrets stay where the operator put them, and a
deployment, a container or a test sets exactly what it means. ``get_settings()`` parses the
environment once per distinct set of ``BRIEFINGS_*`` values, so a changed variable (a
deployment's, a test's ``monkeypatch.setenv``) is seen at the next call and an unchanged one
costs nothing. A value that cannot be used raises ``ConfigurationError`` with one line naming
the variable, the value found and what is expected.

Fault injection for tests (``BRIEFINGS_TEST_*``) and ``BRIEFINGS_VALIDATION_DIR`` (written by
the validation step for the Great Expectations context to read) are not settings.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from contextvars import ContextVar
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as SourceError
from pydantic_settings.sources.utils import parse_env_vars

from briefings.config.errors import ConfigurationError
from briefings.config.text import check_address, problem, single_line_problem

PREFIX = "BRIEFINGS_"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# Read by other parts of the system, not settings of the application.
NOT_SETTINGS = {"BRIEFINGS_VALIDATION_DIR"}
NOT_SETTINGS_PREFIXES = ("BRIEFINGS_TEST_",)

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("briefings_environ", default=None)


def _expected(text: str, **extra: Any) -> Any:
    return {"expected": text, **extra}


class Settings(BaseSettings):
    """The application's settings; each field is the environment variable BRIEFINGS_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        allow_inf_nan=False,
    )

    # Ingest ---------------------------------------------------------------------------
    max_return_mb: float = Field(
        20.0,
        gt=0,
        description="The largest online-flag return, in MB; also bounds each workbook part "
        "read whole into memory once unzipped.",
        json_schema_extra=_expected("megabytes above 0, like 20"),
    )
    max_table_mb: float = Field(
        1024.0,
        gt=0,
        description="The largest raw file of any kind, in MB, and the most a workbook may "
        "unzip to.",
        json_schema_extra=_expected("megabytes above 0, like 1024"),
    )
    settle_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="A file modified less than this long ago may still be being copied in; "
        "ingest waits for it (0 reads every file at once).",
        json_schema_extra=_expected("seconds from 0 to 3600"),
    )

    # Rendering ------------------------------------------------------------------------
    render_workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Processes rendering briefings in parallel; unset: one per core.",
        json_schema_extra=_expected("a whole number of processes from 1 to 256"),
    )
    parallel_from: int = Field(
        12,
        ge=1,
        description="Fewer briefings than this render in the running process.",
        json_schema_extra=_expected("a whole number of briefings, 1 or more"),
    )
    dask_address: str | None = Field(
        None,
        description="A Dask scheduler (tcp://host:8786): rendering fans out on that cluster.",
        json_schema_extra=_expected("a scheduler address like tcp://host:8786"),
    )
    dask_batches: int = Field(
        8,
        ge=1,
        le=1000,
        description="Batches of briefings sent to the Dask cluster.",
        json_schema_extra=_expected("a whole number from 1 to 1000"),
    )

    # Delivery -------------------------------------------------------------------------
    smtp_host: str | None = Field(
        None,
        description="The SMTP relay; unset: messages are written to the outbox folder.",
        json_schema_extra=_expected("a host name like smtp.example.org"),
    )
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="The relay's port; unset: 587 for starttls, 465 for ssl, 25 for none.",
        json_schema_extra=_expected("a port number from 1 to 65535"),
    )
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="How the connection is encrypted: starttls, ssl or none.",
        json_schema_extra=_expected("starttls, ssl or none"),
    )
    smtp_user: str | None = Field(
        None,
        description="The user name to log in with (needs starttls or ssl).",
        json_schema_extra=_expected("a user name on one line"),
    )
    smtp_password: SecretStr | None = Field(
        None,
        description="The password; never printed or logged.",
        json_schema_extra=_expected("the password on one line", secret=True),
    )
    smtp_password_block: str | None = Field(
        None,
        description="Name of a Prefect Secret block holding the password, instead of "
        "BRIEFINGS_SMTP_PASSWORD.",
        json_schema_extra=_expected("the name of a Prefect Secret block"),
    )
    smtp_ca_file: Path | None = Field(
        None,
        description="A CA certificate to trust besides the system's (a private relay).",
        json_schema_extra=_expected("the path of a CA certificate file"),
    )
    smtp_timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds allowed for connecting and for each SMTP command.",
        json_schema_extra=_expected("seconds above 0, at most 600"),
    )
    mail_from: str | None = Field(
        None,
        description="The sender, like 'Briefings <briefings@example.org>'; required with "
        "BRIEFINGS_SMTP_HOST.",
        json_schema_extra=_expected("an address like Briefings <briefings@example.org>"),
    )
    send_retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        (10.0, 60.0),
        description="Seconds to wait before each retry of a message within a run; the next "
        "run retries what is still undelivered.",
        json_schema_extra=_expected("seconds separated by commas, like 10,60"),
    )

    # The mailbox: FOI replies fetched from IMAP or a Maildir folder --------------------
    imap_host: str | None = Field(
        None,
        description="The IMAP server replies are fetched from; unset: no IMAP fetching.",
        json_schema_extra=_expected("a host name like imap.example.org"),
    )
    imap_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="The IMAP port; unset: 993 for ssl, 143 for starttls and none.",
        json_schema_extra=_expected("a port number from 1 to 65535"),
    )
    imap_security: Literal["ssl", "starttls", "none"] = Field(
        "ssl",
        description="How the IMAP connection is encrypted: ssl, starttls or none (none only "
        "to a server on this machine).",
        json_schema_extra=_expected("ssl, starttls or none"),
    )
    imap_user: str | None = Field(
        None,
        description="The mailbox's user name; required with BRIEFINGS_IMAP_HOST.",
        json_schema_extra=_expected("a user name on one line"),
    )
    imap_password: SecretStr | None = Field(
        None,
        description="The mailbox's password; never printed or logged.",
        json_schema_extra=_expected("the password on one line", secret=True),
    )
    imap_password_block: str | None = Field(
        None,
        description="Name of a Prefect Secret block holding the mailbox's password, instead "
        "of BRIEFINGS_IMAP_PASSWORD.",
        json_schema_extra=_expected("the name of a Prefect Secret block"),
    )
    imap_folder: str = Field(
        "INBOX",
        description="The IMAP folder replies arrive in; it is only read, never changed.",
        json_schema_extra=_expected("a folder name like INBOX"),
    )
    imap_timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds allowed for connecting and for each IMAP command.",
        json_schema_extra=_expected("seconds above 0, at most 600"),
    )
    maildir: Path | None = Field(
        None,
        description="A Maildir folder replies are read from, instead of IMAP.",
        json_schema_extra=_expected("the path of a Maildir folder (holding cur/ and new/)"),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvironSource(settings_cls)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        cleaned = {}
        for key, value in values.items():
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            cleaned[key] = value
        return cleaned

    @field_validator("smtp_security", "imap_security", mode="before")
    @classmethod
    def _security_in_any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "smtp_host",
        "smtp_user",
        "smtp_password_block",
        "dask_address",
        "mail_from",
        "imap_host",
        "imap_user",
        "imap_password_block",
        "imap_folder",
    )
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None:
            why = single_line_problem(value, 254)
            if why:
                raise problem(why)
        return value

    @field_validator("smtp_host", "imap_host")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is not None and any(ch.isspace() or ch in "/@:" for ch in value):
            raise problem("a host name only, without scheme, port or user")
        return value

    @field_validator("mail_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value is not None and check_address(parseaddr(value)[1]):
            raise problem("not an email address")
        return value

    @field_validator("smtp_password", "imap_password")
    @classmethod
    def _password_one_line(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and single_line_problem(value.get_secret_value(), 1024):
            raise problem("a single line, without line breaks or control characters")
        return value

    @field_validator("send_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            delays = tuple(float(part) for part in value.split(","))
        except ValueError:
            raise problem("not seconds separated by commas") from None
        if any(not math.isfinite(d) or d < 0 or d > 3600 for d in delays):
            raise problem("each delay must be from 0 to 3600 seconds")
        return delays

    @model_validator(mode="after")
    def _smtp_is_usable(self) -> Settings:
        if self.smtp_host is None:
            return self
        if self.mail_from is None:
            raise problem("BRIEFINGS_MAIL_FROM is required with BRIEFINGS_SMTP_HOST")
        if self.smtp_user and self.smtp_security == "none":
            raise problem(
                "BRIEFINGS_SMTP_USER with BRIEFINGS_SMTP_SECURITY=none would send the password "
                "unencrypted: use starttls or ssl"
            )
        if (self.smtp_password or self.smtp_password_block) and not self.smtp_user:
            raise problem("a password is set but BRIEFINGS_SMTP_USER is not")
        if self.smtp_ca_file and not self.smtp_ca_file.is_file():
            raise problem(f"BRIEFINGS_SMTP_CA_FILE: no such file {self.smtp_ca_file}")
        return self

    @model_validator(mode="after")
    def _imap_is_usable(self) -> Settings:
        if self.imap_host is None:
            return self
        if not self.imap_user:
            raise problem("BRIEFINGS_IMAP_USER is required with BRIEFINGS_IMAP_HOST")
        if self.imap_security == "none" and self.imap_host not in ("localhost", "127.0.0.1", "::1"):
            raise problem(
                "BRIEFINGS_IMAP_SECURITY=none would send the mailbox's password unencrypted to "
                f"{self.imap_host}: use ssl or starttls (none only for a server on this machine)"
            )
        return self

    @property
    def port(self) -> int:
        """The SMTP port in force: the one given, else the usual one for the security."""
        return self.smtp_port or DEFAULT_PORTS[self.smtp_security]

    @property
    def max_return_bytes(self) -> int:
        return int(self.max_return_mb * 1024 * 1024)

    @property
    def max_table_bytes(self) -> int:
        return int(self.max_table_mb * 1024 * 1024)

    @property
    def workers(self) -> int:
        """Render processes: BRIEFINGS_RENDER_WORKERS, else one per core."""
        return self.render_workers or os.cpu_count() or 1

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from `environ` (only), or a ConfigurationError naming every bad variable."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except ValidationError as error:
            raise ConfigurationError(describe(error, environ)) from None
        except SourceError as error:
            raise ConfigurationError(str(error)) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def variable(cls, field: str) -> str:
        return PREFIX + field.upper()


class _EnvironSource(EnvSettingsSource):
    """The environment, or the mapping Settings.from_environ was given."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        return parse_env_vars(
            os.environ if environ is None else environ,
            self.case_sensitive,
            self.env_ignore_empty,
            self.env_parse_none_str,
        )


_PROBLEMS = {
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "finite_number": "not a finite number",
    "greater_than": "out of range",
    "greater_than_equal": "out of range",
    "less_than": "out of range",
    "less_than_equal": "out of range",
    "literal_error": "not one of the choices",
}


def describe(error: ValidationError, environ: Mapping[str, str]) -> str:
    """One line: each bad variable with the value found and what is expected."""
    by_upper = {name.upper(): value for name, value in environ.items()}
    lines = []
    for detail in error.errors(include_url=False):
        if not detail["loc"]:  # a rule across variables: its message names them
            lines.append(str(detail["msg"]))
            continue
        field = str(detail["loc"][0])
        variable = Settings.variable(field)
        extra = Settings.model_fields[field].json_schema_extra
        extra = extra if isinstance(extra, dict) else {}
        value = by_upper.get(variable, detail.get("input"))
        shown = "'**********'" if extra.get("secret") else repr(value)
        what = _PROBLEMS.get(detail["type"], "not valid")
        if detail["type"] == "configuration":
            what = f"not valid ({detail['msg']})"
        lines.append(f"{variable}={shown} is {what}: {variable} must be {extra['expected']}")
    return "; ".join(lines)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """BRIEFINGS_* variables that are not settings (a typo, most likely), each with the
    nearest setting's name when there is one."""
    environ = os.environ if environ is None else environ
    known = [Settings.variable(field) for field in Settings.model_fields]
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in known or upper in NOT_SETTINGS:
            continue
        if upper.startswith(NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.7)
        found.append(f"{name} is not a setting" + (f"; did you mean {close[0]}?" if close else ""))
    return found


def _snapshot(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    names = {Settings.variable(field) for field in Settings.model_fields}
    return tuple(sorted((k, v) for k, v in environ.items() if k.upper() in names))


@lru_cache(maxsize=16)
def _settings_for(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_environ(dict(snapshot))


def get_settings() -> Settings:
    """The settings in force: parsed once per distinct set of BRIEFINGS_* values."""
    return _settings_for(_snapshot(os.environ))


def reset_settings() -> None:
    """Forget parsed settings (for tests that change the environment behind our back)."""
    _settings_for.cache_clear()
