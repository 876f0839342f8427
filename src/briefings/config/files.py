"""The files comms teams edit, as typed models checked when they are read.

- ``briefing.yaml``: the charity's name, the logo, the embargo line, the small-number threshold;
- ``quotes/national.yaml``, ``quotes/regions.yaml``, ``quotes/forces.yaml``: quotes and press
  contacts by scope;
- ``subscriptions.yaml``: who receives which briefings, and the data stewards.

``load_configuration`` reads and checks them all at once, so a run can refuse a mistake before
it does any work. Every message names the file, the key path and what is expected.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    RootModel,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from briefings.config.errors import ConfigurationError, SettingsError, SubscriptionsError, shown
from briefings.config.problems import ConfigModel, Loc, YamlFileError, key_path, problems, read_yaml
from briefings.config.text import (
    NAME_MAX,
    Address,
    CharityName,
    ContactAddress,
    Embargo,
    Line,
    Name,
    Phone,
    PrintedLine,
    QuoteText,
    check_address,
    problem,
    single_line_problem,
)
from briefings.domain.briefing import BriefingSettings, Contact, Quote, ScopeWords
from briefings.resources import BRANDING_DIR, REPORTS_CONFIG_DIR

if TYPE_CHECKING:
    from briefings.reference import ForceRegister

BRIEFING_FILE = "briefing.yaml"
QUOTES_DIR = "quotes"
SUBSCRIPTIONS_FILE = "subscriptions.yaml"
LOGO_TYPES = {".svg", ".png"}
BRIEFING_KINDS = ("force", "region", "national")
DEFAULT_ZIP_OVER_MB = 10.0


def _register(info: ValidationInfo) -> ForceRegister:
    context = info.context or {}
    if "register" not in context:
        from briefings.reference import force_register

        return force_register()
    register: ForceRegister = context["register"]
    return register


# briefing.yaml and quotes/ ---------------------------------------------------------------


class ContactEntry(ConfigModel):
    """A press contact printed under the quote."""

    label: PrintedLine
    email: ContactAddress
    phone: Phone | None = None


class WordsEntry(ConfigModel):
    """A quote, who it is attributed to (a role, never an invented person), and a contact."""

    incomplete: ClassVar[str | None] = (
        "{owner} needs a quote, an attribution and a contact (missing: {missing})"
    )

    quote: QuoteText
    attribution: PrintedLine
    contact: ContactEntry

    def words(self) -> ScopeWords:
        contact = self.contact
        return ScopeWords(
            quote=Quote(self.quote, self.attribution),
            contact=Contact(contact.label, contact.email, contact.phone),
        )


class BriefingFile(ConfigModel):
    """briefing.yaml: settings for every briefing."""

    keys_name: ClassVar[str] = "top-level "

    charity_name: CharityName = Field(description="The organisation named in every briefing.")
    logo: Line = Field("logo.svg", description="An SVG or PNG file in reports/branding/.")
    embargo: Embargo | None = Field(None, description="Embargo line; empty for none.")
    small_number_threshold: int = Field(
        5,
        ge=1,
        strict=True,
        description='Counts from 1 to one less than this print as "fewer than N".',
        json_schema_extra={"invalid": "small_number_threshold must be a whole number >= 1"},
    )

    @field_validator("charity_name", mode="before")
    @classmethod
    def _charity_name_given(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise problem("'charity_name' is required: the charity's name, on one line")
        return value

    @field_validator("logo", mode="before")
    @classmethod
    def _default_logo(cls, value: Any) -> Any:
        return "logo.svg" if value is None or value == "" else value

    @field_validator("embargo", mode="before")
    @classmethod
    def _no_embargo(cls, value: Any) -> Any:
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    @field_validator("logo")
    @classmethod
    def _logo_in_branding(cls, name: str, info: ValidationInfo) -> str:
        branding_dir = Path((info.context or {}).get("branding_dir", BRANDING_DIR))
        path = (branding_dir / name).resolve()
        if not path.is_relative_to(branding_dir.resolve()) or path.suffix.lower() not in LOGO_TYPES:
            raise problem(f"logo '{name}' must be an SVG or PNG file in {branding_dir}")
        if not path.is_file():
            raise problem(f"logo '{name}' not found in {branding_dir}")
        return name

    def logo_url(self, branding_dir: Path) -> str:
        """The logo as a URL relative to the templates folder."""
        path = (branding_dir / self.logo).resolve()
        return f"../{branding_dir.name}/{path.relative_to(branding_dir.resolve()).as_posix()}"


def _known_force(name: str, info: ValidationInfo) -> str:
    register = _register(info)
    if register.find(name) is None and register.find_alias(name) is None:
        hint = ", ".join(register.nearest(name))
        raise problem(
            f"'{name}' is not a police force in reference/forces.csv"
            + (f"; nearest: {hint}" if hint else "")
        )
    return name


def _known_region(name: str, info: ValidationInfo) -> str:
    regions = _register(info).regions
    if name not in regions:
        raise problem(f"'{name}' is not a region; regions are " + ", ".join(regions))
    return name


class ForceQuotes(RootModel[dict[Annotated[str, AfterValidator(_known_force)], WordsEntry]]):
    """quotes/forces.yaml: by force name (any spelling) or ONS code."""

    root: dict[Annotated[str, AfterValidator(_known_force)], WordsEntry] = {}

    @model_validator(mode="after")
    def _one_entry_per_force(self, info: ValidationInfo) -> ForceQuotes:
        register = _register(info)
        seen: dict[str, str] = {}
        for name in self.root:
            force = register.resolve(name)
            if force.code in seen:
                raise problem(
                    f"{force.name} has more than one entry ('{seen[force.code]}', '{name}')"
                )
            seen[force.code] = name
        return self

    def by_code(self, register: ForceRegister) -> dict[str, ScopeWords]:
        return {register.resolve(name).code: entry.words() for name, entry in self.root.items()}


class RegionQuotes(RootModel[dict[Annotated[str, AfterValidator(_known_region)], WordsEntry]]):
    """quotes/regions.yaml: by region name as in reference/forces.csv."""

    root: dict[Annotated[str, AfterValidator(_known_region)], WordsEntry] = {}


# subscriptions.yaml ----------------------------------------------------------------------


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [value]
    return value


def _names_as_text(value: Any) -> Any:
    value = _as_list(value)
    if isinstance(value, list):
        return [str(v).strip() if isinstance(v, int | str) else v for v in value]
    return value


def _force_code(text: str, info: ValidationInfo) -> str:
    from briefings.reference import UnknownForceError

    try:
        return _register(info).resolve(text).code
    except UnknownForceError as error:
        raise problem(str(error)) from None


def _region(text: str, info: ValidationInfo) -> str:
    by_key = {region.lower(): region for region in _register(info).regions}
    region = by_key.get(" ".join(text.lower().split()))
    if region:
        return region
    close = difflib.get_close_matches(text.lower(), list(by_key), n=3, cutoff=0.5)
    hint = f"; nearest known: {', '.join(by_key[c] for c in close)}" if close else ""
    raise problem(f"unknown region '{text}'{hint}")


def _required_name(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise problem("a name is required")
    return value


def _kinds(value: Any) -> frozenset[str]:
    allowed = ", ".join(BRIEFING_KINDS)
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value:
        raise problem(f"'briefings' must list what they receive ({allowed})")
    kinds = {str(v).strip().lower() for v in value}
    unknown = sorted(kinds - set(BRIEFING_KINDS))
    if unknown:
        raise problem(f"unknown briefing kind(s) {', '.join(unknown)} (allowed: {allowed})")
    return frozenset(kinds)


_NAME_LIST = "a list of names"
_EMPTY_SCOPE = "an empty scope (give forces, regions or national: true)"


class ScopeEntry(ConfigModel):
    """The areas a subscriber covers."""

    keys_name: ClassVar[str] = "scope "

    forces: Annotated[
        tuple[Annotated[str, AfterValidator(_force_code)], ...], BeforeValidator(_names_as_text)
    ] = Field((), json_schema_extra={"invalid": f"forces must be {_NAME_LIST}"})
    regions: Annotated[
        tuple[Annotated[str, AfterValidator(_region)], ...], BeforeValidator(_names_as_text)
    ] = Field((), json_schema_extra={"invalid": f"regions must be {_NAME_LIST}"})
    national: StrictBool = False

    @model_validator(mode="after")
    def _not_empty(self) -> ScopeEntry:
        if not self.forces and not self.regions and not self.national:
            raise problem(_EMPTY_SCOPE)
        return self


class Recipient(ConfigModel):
    """Someone messages are sent to: a role or a team, and one plain address."""

    name: Annotated[Name, BeforeValidator(_required_name)] = Field(
        json_schema_extra={"missing": "a name is required"}
    )
    email: Address = Field(json_schema_extra={"missing": "an email address is required"})


class StewardEntry(Recipient):
    """A data steward: told when a return is quarantined or a scheduled run fails."""


class SubscriberEntry(Recipient):
    """A comms team member and what they receive."""

    scope: ScopeEntry = Field(json_schema_extra={"missing": _EMPTY_SCOPE, "invalid": _EMPTY_SCOPE})
    briefings: Annotated[frozenset[str], BeforeValidator(_kinds)] = Field(
        json_schema_extra={
            "missing": f"'briefings' must list what they receive ({', '.join(BRIEFING_KINDS)})"
        }
    )


_ENTRIES = "must be a list of entries, each starting with '- name:'"


class SubscriptionsFile(ConfigModel):
    """subscriptions.yaml."""

    keys_name: ClassVar[str] = "top-level "

    subscribers: Annotated[tuple[SubscriberEntry, ...], BeforeValidator(_as_list)] = Field(
        (), json_schema_extra={"invalid": f"'subscribers' {_ENTRIES}"}
    )
    stewards: Annotated[tuple[StewardEntry, ...], BeforeValidator(_as_list)] = Field(
        (), json_schema_extra={"invalid": f"'stewards' {_ENTRIES}"}
    )
    zip_attachments_over_mb: float = Field(
        DEFAULT_ZIP_OVER_MB,
        gt=0,
        strict=True,
        description="Attachments larger than this in total are sent as one zip file.",
        json_schema_extra={
            "invalid": "zip_attachments_over_mb must be a number of megabytes above 0"
        },
    )

    @property
    def zip_over_bytes(self) -> int:
        return int(self.zip_attachments_over_mb * 1_000_000)


def _subscription_label(data: dict[str, Any]) -> Any:
    def label(loc: Loc) -> str | None:
        if len(loc) < 2 or loc[0] not in ("subscribers", "stewards") or not isinstance(loc[1], int):
            return None
        kind = "subscriber" if loc[0] == "subscribers" else "steward"
        entries = data.get(loc[0])
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and not single_line_problem(name, NAME_MAX):
            return f"{kind} '{name.strip()}'"
        return f"{kind} {loc[1] + 1}"

    return label


def _duplicates(data: dict[str, Any]) -> list[str]:
    """The same name or address twice among subscribers (or among stewards): one of them is a
    mistake, and a person would get every message twice."""
    found = []
    for key, kind in (("subscribers", "subscriber"), ("stewards", "steward")):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        names: dict[str, str] = {}
        addresses: dict[str, str] = {}
        for number, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            name, email = entry.get("name"), entry.get("email")
            if not isinstance(name, str) or single_line_problem(name, NAME_MAX):
                continue
            if check_address(email):
                continue
            name, email = name.strip(), str(email).strip()
            name_key = " ".join(name.lower().split())
            if name_key in names:
                path = key_path((key, number, "name"))
                found.append(f"{path}: {kind} '{name}': duplicate name (listed twice)")
            names.setdefault(name_key, name)
            if email.lower() in addresses:
                path = key_path((key, number, "email"))
                found.append(
                    f"{path}: {kind} '{name}': duplicate address {email} "
                    f"(already used by '{addresses[email.lower()]}')"
                )
            addresses.setdefault(email.lower(), name)
    return found


def read_subscriptions(
    path: Path | None = None, register: ForceRegister | None = None
) -> SubscriptionsFile:
    """subscriptions.yaml (default the comms teams' own), checked whole: every problem is
    listed in one SubscriptionsError."""
    path = path or REPORTS_CONFIG_DIR / SUBSCRIPTIONS_FILE
    try:
        data = read_yaml(path)
    except YamlFileError as error:
        raise SubscriptionsError(path, [error.problem]) from None
    found: list[str] = []
    model = None
    try:
        model = SubscriptionsFile.model_validate(data, context=_context(register))
    except ValidationError as error:
        found = problems(error, SubscriptionsFile, _subscription_label(data))
    found += _duplicates(data)
    if found or model is None:
        raise SubscriptionsError(path, found)
    return model


# Reading briefing.yaml and quotes/ ---------------------------------------------------------


def _context(register: ForceRegister | None, branding_dir: Path | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if register is not None:
        context["register"] = register
    if branding_dir is not None:
        context["branding_dir"] = branding_dir
    return context


def _read_model(model: Any, path: Path, context: dict[str, Any], optional: bool = False) -> Any:
    """`path` read as `model`, or a SettingsError naming the file and every problem in it."""
    try:
        data = read_yaml(path, optional=optional)
    except YamlFileError as error:
        raise SettingsError(f"{shown(path)}: {error.problem}") from None
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        owner = path.stem if model is WordsEntry else "the file"
        found = problems(error, model, owner_name=owner)
        raise SettingsError(f"{shown(path)}: " + "; ".join(found)) from None


def read_briefing_settings(
    config_dir: Path | None = None,
    branding_dir: Path | None = None,
    register: ForceRegister | None = None,
) -> BriefingSettings:
    """briefing.yaml and quotes/ checked at the door: every problem in every file is named
    (file, key, what is expected) before anything is rendered. Defaults: the comms teams'
    folders (reports/config/, reports/branding/), looked up when called."""
    config_dir = config_dir or REPORTS_CONFIG_DIR
    branding_dir = branding_dir or BRANDING_DIR
    if register is None:
        from briefings.reference import force_register

        register = force_register()
    context = _context(register, branding_dir)
    quotes = config_dir / QUOTES_DIR
    national_file = quotes / "national.yaml"
    errors: list[str] = []
    read: dict[str, Any] = {}
    reads: list[tuple[str, Any, Path, bool]] = [
        ("briefing", BriefingFile, config_dir / BRIEFING_FILE, False),
        ("national", WordsEntry, national_file, False),
        ("forces", ForceQuotes, quotes / "forces.yaml", True),
        ("regions", RegionQuotes, quotes / "regions.yaml", True),
    ]
    for key, model, path, optional in reads:
        if key == "national" and not national_file.is_file():
            errors.append(f"{shown(path)}: the national quote and contact are required")
            continue
        try:
            read[key] = _read_model(model, path, context, optional)
        except SettingsError as error:
            errors.append(str(error))
    if errors:
        raise SettingsError("; ".join(errors))
    briefing: BriefingFile = read["briefing"]
    return BriefingSettings(
        charity_name=briefing.charity_name,
        embargo=briefing.embargo,
        small_number_threshold=briefing.small_number_threshold,
        national=read["national"].words(),
        forces=read["forces"].by_code(register),
        regions={name: entry.words() for name, entry in read["regions"].root.items()},
        logo=briefing.logo_url(branding_dir),
    )


# Everything at once ------------------------------------------------------------------------


@dataclass(frozen=True)
class Configuration:
    """Every file comms teams edit, checked."""

    briefing: BriefingSettings
    subscriptions: SubscriptionsFile
    subscriptions_file: Path


def load_configuration(
    config_dir: Path | None = None,
    branding_dir: Path | None = None,
    subscriptions_file: Path | None = None,
    register: ForceRegister | None = None,
) -> Configuration:
    """Read and check every file comms teams edit, before any work (default: the comms
    teams' folders, looked up when called).

    A problem in one file raises that file's error (SettingsError for briefing.yaml and
    quotes/, SubscriptionsError for subscriptions.yaml); problems in both raise one
    ConfigurationError naming them all."""
    config_dir = config_dir or REPORTS_CONFIG_DIR
    subscriptions_file = subscriptions_file or config_dir / SUBSCRIPTIONS_FILE
    errors: list[ConfigurationError] = []
    briefing = subscriptions = None
    try:
        briefing = read_briefing_settings(config_dir, branding_dir, register)
    except SettingsError as error:
        errors.append(error)
    try:
        subscriptions = read_subscriptions(subscriptions_file, register)
    except SubscriptionsError as error:
        errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigurationError("; ".join(str(error) for error in errors))
    assert briefing is not None and subscriptions is not None
    return Configuration(briefing, subscriptions, subscriptions_file)
