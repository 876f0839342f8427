"""Configuration is checked at start, whole: the files comms teams edit and the BRIEFINGS_*
environment. Each mistake is refused with one line naming the file (or variable), the key and
what is expected; none is accepted only to make a later run fail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefings.config import (
    ConfigurationError,
    Settings,
    SettingsError,
    SubscriptionsError,
    get_settings,
    load_configuration,
    reset_settings,
    unknown_variables,
)
from briefings.resources import REPORTS_CONFIG_DIR

SUBSCRIBER = "  - name: {name}\n    email: {email}\n    scope: {scope}\n    briefings: [national]\n"


def subscriber(name="Press", email="press@example.org", scope="{national: true}") -> str:
    return SUBSCRIBER.format(name=name, email=email, scope=scope)


WORDS = (
    "quote: Words.\n"
    "attribution: Chief executive\n"
    "contact: {label: Press office, email: press@example.org}\n"
)

# (file, its new text, error type, what the message must say besides the file's name)
FILE_MISTAKES = [
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nembargo: |\n  00:01 Thursday\n  1 June 2017\n",
        SettingsError,
        ["embargo: ", "must be a single line"],
        id="two-line embargo",
    ),
    pytest.param(
        "briefing.yaml",
        'charity_name: "Kids\\nFirst"\n',
        SettingsError,
        ["charity_name: ", "must be a single line", r"'Kids\nFirst'"],
        id="newline in charity name",
    ),
    pytest.param(
        "briefing.yaml",
        'charity_name: "Kids\\u0007First"\n',
        SettingsError,
        ["charity_name: ", "control characters"],
        id="control character in charity name",
    ),
    pytest.param(
        "briefing.yaml",
        f"charity_name: {'K' * 81}\n",
        SettingsError,
        ["charity_name: ", "at most 80 characters", "(found 81)"],
        id="charity name too long",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nsmall_number_threshold: .inf\n",
        SettingsError,
        ["small_number_threshold must be a whole number >= 1 (found inf)"],
        id="threshold .inf",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nsmall_number_threshold: .nan\n",
        SettingsError,
        ["small_number_threshold must be a whole number >= 1 (found nan)"],
        id="threshold .nan",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nsmall_number_threshold: '5'\n",
        SettingsError,
        ["small_number_threshold must be a whole number"],
        id="threshold as text",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nembrago: 00:01 Thursday\n",
        SettingsError,
        ["unknown top-level key(s) embrago", "allowed: charity_name, embargo"],
        id="misspelt key",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\ncharity_name: Y\n",
        SettingsError,
        ["line 2", "'charity_name' appears twice (first on line 1)"],
        id="key given twice",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\n  embargo: [\n",
        SettingsError,
        ["line 2", "not valid YAML"],
        id="malformed YAML",
    ),
    pytest.param(
        "quotes/national.yaml",
        WORDS.replace("Words.", "W" * 301),
        SettingsError,
        ["quote: ", "at most 300 characters", "(found 301)"],
        id="quote too long",
    ),
    pytest.param(
        "quotes/national.yaml",
        WORDS.replace("attribution: Chief executive", "attribution: |\n  Chief\n  executive"),
        SettingsError,
        ["attribution: ", "must be a single line"],
        id="two-line attribution",
    ),
    pytest.param(
        "quotes/national.yaml",
        "quote: Words.\n",
        SettingsError,
        ["national needs a quote, an attribution and a contact", "'attribution', 'contact'"],
        id="national entry incomplete",
    ),
    pytest.param(
        "quotes/forces.yaml",
        "Wiltshir:\n" + "".join(f"  {line}\n" for line in WORDS.splitlines()),
        SettingsError,
        ["'Wiltshir' is not a police force in reference/forces.csv; nearest: Wiltshire"],
        id="unknown force",
    ),
    pytest.param(
        "quotes/forces.yaml",
        "Wiltshire:\n"
        + "".join(f"  {line}\n" for line in WORDS.splitlines()).replace(
            "press@example.org", "press.example.org"
        ),
        SettingsError,
        ["Wiltshire.contact.email: ", "'press.example.org' is not an email address"],
        id="malformed contact address",
    ),
    pytest.param(
        "quotes/forces.yaml",
        "Wiltshire:\n"
        + "".join(f"  {line}\n" for line in WORDS.splitlines()).replace(
            "press@example.org}", "press@example.org, phone: 0117}"
        ),
        SettingsError,
        ["Wiltshire.contact.phone: ", "phone must be text (found 79)"],
        id="phone number read as a number",
    ),
    pytest.param(
        "quotes/regions.yaml",
        "South Wst:\n" + "".join(f"  {line}\n" for line in WORDS.splitlines()),
        SettingsError,
        ["'South Wst' is not a region; regions are East Midlands"],
        id="unknown region",
    ),
    pytest.param(
        "briefing.yaml",
        "charity_name: X\nlogo: ../../secrets.png\n",
        SettingsError,
        ["logo '../../secrets.png' must be an SVG or PNG file in"],
        id="logo outside branding",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber(name='"Press\\r\\nBcc: everyone@example.org"'),
        SubscriptionsError,
        ["subscribers[1].name: subscriber 1: must be a single line", r"'\r'"],
        id="CR/LF in subscriber name",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber() + subscriber(name=f"{'N' * 121}", email="n@example.org"),
        SubscriptionsError,
        ["subscribers[2].name: subscriber 2: must be at most 120 characters (found 121)"],
        id="subscriber name too long",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber() + 'stewards:\n  - name: "Data\\nstewards"\n'
        "    email: stewards@example.org\n",
        SubscriptionsError,
        ["stewards[1].name: steward 1: must be a single line"],
        id="newline in steward name",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n  - name: Press\n    email: [press@example.org\n",
        SubscriptionsError,
        ["line 4, column 1: not valid YAML", "expected ',' or ']'"],
        id="malformed subscriptions YAML",
    ),
    pytest.param(
        "subscriptions.yaml",
        "zip_attachments_over_mb: .inf\nsubscribers:\n" + subscriber(),
        SubscriptionsError,
        ["zip_attachments_over_mb must be a number of megabytes above 0 (found inf)"],
        id="zip limit .inf",
    ),
    pytest.param(
        "subscriptions.yaml",
        "zip_attachments_over_mb: .nan\nsubscribers:\n" + subscriber(),
        SubscriptionsError,
        ["zip_attachments_over_mb must be a number of megabytes above 0 (found nan)"],
        id="zip limit .nan",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber() + subscriber("B", "b@example.org", "{forces: [Wiltshre]}"),
        SubscriptionsError,
        [
            "subscribers[2].scope.forces[1]: subscriber 'B': unknown force 'Wiltshre'; "
            "nearest known: Wiltshire"
        ],
        id="unknown force in a scope",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber(scope="{national: 'yes'}"),
        SubscriptionsError,
        ["subscribers[1].scope.national: subscriber 'Press': national must be true or false"],
        id="national as text",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscribers:\n" + subscriber() + subscriber(name="Other", email="PRESS@example.org"),
        SubscriptionsError,
        ["subscribers[2].email: subscriber 'Other': duplicate address PRESS@example.org"],
        id="duplicate address",
    ),
    pytest.param(
        "subscriptions.yaml",
        "subscriber:\n" + subscriber(),
        SubscriptionsError,
        ["unknown top-level key(s) subscriber (allowed: stewards, subscribers"],
        id="misspelt top-level key",
    ),
]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPORTS_CONFIG_DIR, config)
    return config


@pytest.mark.parametrize(("file", "text", "error_type", "expected"), FILE_MISTAKES)
def test_each_mistake_in_a_comms_file_is_named_before_any_work(
    config_dir, file, text, error_type, expected
):
    (config_dir / file).write_text(text, encoding="utf-8")
    with pytest.raises(error_type) as raised:
        load_configuration(config_dir)
    message = str(raised.value)
    assert isinstance(raised.value, ConfigurationError)
    assert message.startswith(f"{config_dir / file}: "), message
    assert "\n" not in message and "\r" not in message  # one line for the terminal
    for part in expected:
        assert part in message, message


def test_the_bundled_configuration_is_valid():
    configuration = load_configuration()
    assert configuration.briefing.charity_name == "Example Children's Charity"
    assert configuration.briefing.embargo is None
    assert configuration.subscriptions.subscribers
    assert configuration.subscriptions.zip_over_bytes == 10_000_000


def test_mistakes_in_several_files_are_all_named_at_once(config_dir):
    (config_dir / "briefing.yaml").write_text("charity_name: X\nembargo: |\n  a\n  b\n")
    (config_dir / "quotes" / "regions.yaml").write_text("Mars: {}\n")
    (config_dir / "subscriptions.yaml").write_text("subscribers:\n" + subscriber(email="x@y"))
    with pytest.raises(ConfigurationError) as raised:
        load_configuration(config_dir)
    message = str(raised.value)
    assert f"{config_dir / 'briefing.yaml'}: embargo: " in message
    assert f"{config_dir / 'quotes' / 'regions.yaml'}: 'Mars' is not a region" in message
    assert f"{config_dir / 'subscriptions.yaml'}: subscribers[1].email: " in message


def test_dates_and_blank_embargoes_read_as_written(config_dir):
    from briefings.config import read_briefing_settings

    (config_dir / "briefing.yaml").write_text("charity_name: ' Kids First '\nembargo: 2017-06-01\n")
    settings = read_briefing_settings(config_dir)
    assert (settings.charity_name, settings.embargo) == ("Kids First", "2017-06-01")
    (config_dir / "briefing.yaml").write_text("charity_name: X\nembargo: '  '\n")
    assert read_briefing_settings(config_dir).embargo is None


# The environment ---------------------------------------------------------------------------

ENVIRONMENT_MISTAKES = [
    ("BRIEFINGS_RENDER_WORKERS", "two", "is not a whole number", "a whole number of processes"),
    ("BRIEFINGS_RENDER_WORKERS", "0", "is out of range", "a whole number of processes from"),
    ("BRIEFINGS_PARALLEL_FROM", "12.5", "is not a whole number", "a whole number of briefings"),
    ("BRIEFINGS_DASK_BATCHES", "eight", "is not a whole number", "a whole number from 1 to"),
    ("BRIEFINGS_MAX_RETURN_MB", "a lot", "is not a number", "megabytes above 0"),
    ("BRIEFINGS_MAX_RETURN_MB", "inf", "is not a finite number", "megabytes above 0"),
    ("BRIEFINGS_MAX_TABLE_MB", "nan", "is not a finite number", "megabytes above 0"),
    ("BRIEFINGS_MAX_TABLE_MB", "0", "is out of range", "megabytes above 0"),
    ("BRIEFINGS_SETTLE_SECONDS", "-1", "is out of range", "seconds from 0 to 3600"),
    ("BRIEFINGS_SMTP_PORT", "70000", "is out of range", "a port number from 1 to 65535"),
    ("BRIEFINGS_SMTP_TIMEOUT", "nan", "is not a finite number", "seconds above 0"),
    ("BRIEFINGS_SMTP_SECURITY", "tls", "is not one of the choices", "starttls, ssl or none"),
    ("BRIEFINGS_SEND_RETRY_DELAYS", "10,inf", "is not valid", "seconds separated by commas"),
    ("BRIEFINGS_SEND_RETRY_DELAYS", "10;60", "is not valid", "seconds separated by commas"),
    ("BRIEFINGS_MAIL_FROM", "a\nb@example.org", "must be a single line", "an address like"),
    ("BRIEFINGS_SMTP_HOST", "smtp://mail.example.org", "a host name only", "a host name"),
]


@pytest.mark.parametrize(("variable", "value", "problem", "expected"), ENVIRONMENT_MISTAKES)
def test_each_bad_variable_is_named_with_its_value_and_what_is_expected(
    variable, value, problem, expected
):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}={value!r} "), message
    assert problem in message and f"{variable} must be {expected}" in message
    assert "\n" not in message


def test_values_are_read_as_an_operator_writes_them():
    settings = Settings.from_environ(
        {
            "BRIEFINGS_RENDER_WORKERS": " 3 ",
            "BRIEFINGS_SEND_RETRY_DELAYS": "1, 2.5 ,3",
            "BRIEFINGS_SMTP_SECURITY": "SSL",
            "BRIEFINGS_DASK_ADDRESS": "   ",  # blank is unset
            "BRIEFINGS_TEST_KILL_AT": "figures",  # the tests' fault injection: not a setting
            "BRIEFINGS_VALIDATION_DIR": "/tmp/v",
        }
    )
    assert settings.render_workers == settings.workers == 3
    assert settings.send_retry_delays == (1.0, 2.5, 3.0)
    assert (settings.smtp_security, settings.port) == ("ssl", 465)
    assert settings.dask_address is None
    assert Settings.from_environ({}) == Settings.from_environ({"BRIEFINGS_SMTP_PORT": ""})


def test_every_setting_is_documented():
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert isinstance(field.json_schema_extra, dict) and field.json_schema_extra["expected"]


def test_a_bad_password_is_never_shown():
    secret = "hunter2\nBcc: x"
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({"BRIEFINGS_SMTP_PASSWORD": secret})
    assert "BRIEFINGS_SMTP_PASSWORD='**********'" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_smtp_settings_are_checked_together():
    with pytest.raises(ConfigurationError, match="BRIEFINGS_MAIL_FROM is required"):
        Settings.from_environ({"BRIEFINGS_SMTP_HOST": "smtp.example.org"})
    with pytest.raises(ConfigurationError, match="a password is set but BRIEFINGS_SMTP_USER"):
        Settings.from_environ(
            {
                "BRIEFINGS_SMTP_HOST": "smtp.example.org",
                "BRIEFINGS_MAIL_FROM": "briefings@example.org",
                "BRIEFINGS_SMTP_PASSWORD": "secret",
            }
        )


def test_delivery_settings_errors_are_configuration_errors():
    from briefings.delivery import DeliverySettings, DeliverySettingsError

    with pytest.raises(DeliverySettingsError) as raised:
        DeliverySettings.from_env({"BRIEFINGS_SMTP_TIMEOUT": "soon"})
    assert isinstance(raised.value, ConfigurationError)
    assert "BRIEFINGS_SMTP_TIMEOUT='soon' is not a number" in str(raised.value)


def test_settings_follow_the_environment_and_are_parsed_once(monkeypatch):
    monkeypatch.setenv("BRIEFINGS_PARALLEL_FROM", "3")
    first = get_settings()
    assert first.parallel_from == 3 and get_settings() is first
    monkeypatch.setenv("BRIEFINGS_PARALLEL_FROM", "4")
    assert get_settings().parallel_from == 4
    monkeypatch.setenv("BRIEFINGS_PARALLEL_FROM", "four")
    with pytest.raises(ConfigurationError, match="BRIEFINGS_PARALLEL_FROM='four'"):
        get_settings()
    monkeypatch.delenv("BRIEFINGS_PARALLEL_FROM")
    reset_settings()
    assert get_settings().parallel_from == 12


def test_a_misspelt_variable_is_pointed_out():
    found = unknown_variables(
        {"BRIEFINGS_SMTP_HOTS": "x", "BRIEFINGS_TEST_PAUSE_AT": "x", "BRIEFINGS_SMTP_HOST": "x"}
    )
    assert found == ["BRIEFINGS_SMTP_HOTS is not a setting; did you mean BRIEFINGS_SMTP_HOST?"]


def test_a_bad_variable_stops_a_command_before_any_work(monkeypatch, small_data):
    from briefings.cli import app

    from .helpers import tree_digest

    before = tree_digest(small_data)
    monkeypatch.setenv("BRIEFINGS_RENDER_WORKERS", "two")
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(small_data)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "briefings: error: BRIEFINGS_RENDER_WORKERS='two' is not a whole number: "
        "BRIEFINGS_RENDER_WORKERS must be a whole number of processes from 1 to 256"
    ]
    assert tree_digest(small_data) == before  # nothing ingested, nothing left behind


# Files the application writes and reads back -------------------------------------------------


def manifest(period_dir: Path, **changes) -> Path:
    pdf = period_dir / "kent.pdf"
    pdf.write_bytes(b"%PDF-1.7 Kent")
    from briefings.delivery.manifest import sha256_file

    entry = {
        "pdf": "kent.pdf",
        "scope": "force",
        "code": "E23000032",
        "name": "Kent",
        "region": "South East",
        "title": "Kent: online child sexual offences, 2016/17",
        "headline": "Headline",
        "content_hash": sha256_file(pdf),
        "figures": {"Kent, 2016/17": "44", "Change": None},
    }
    document = {
        "period": "2016/17",
        "period_slug": "2016-17",
        "embargo": None,
        "charity_name": "Example Children's Charity",
        "briefings": [entry],
    }
    for key, value in changes.items():
        if key in entry:
            entry[key] = value
        else:
            document[key] = value
    (period_dir / "manifest.json").write_text(json.dumps(document))
    return period_dir


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"embargo": "00:01 Thursday\n1 June 2017"}, "embargo: must be a single line"),
        ({"charity_name": "Kids\r\nFirst"}, "charity_name: must be a single line"),
        ({"title": "Kent\nBcc: x@example.org"}, "briefings[1].title: must be a single line"),
        ({"scope": "county"}, "briefings[1].scope: scope must be one of"),
        ({"pdf": "../kent.pdf"}, "briefings[1].pdf: pdf '../kent.pdf' must be a file name"),
        ({"content_hash": "abc"}, "content_hash must be a SHA-256 hex digest"),
        ({"figures": {"Rate": float("nan")}}, "briefings[1].figures.Rate: a figure is printed"),
    ],
)
def test_a_manifest_that_would_break_delivery_is_refused(tmp_path, changes, expected):
    from briefings.delivery import ManifestError, load_manifest

    period_dir = manifest(tmp_path, **changes)
    with pytest.raises(ManifestError) as raised:
        load_manifest(period_dir)
    assert str(raised.value).startswith(f"{period_dir / 'manifest.json'}: ")
    assert expected in str(raised.value)


def test_a_manifest_as_written_reads_back(tmp_path):
    from briefings.delivery import load_manifest

    publication = load_manifest(manifest(tmp_path, embargo="  "))
    assert publication.embargo is None
    [kent] = publication.briefings
    assert kent.figures == {"Kent, 2016/17": "44", "Change": "not published"}
    assert kent.path == tmp_path / "kent.pdf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deployments:\n  - name: x\n", "deployments[1].entrypoint: 'entrypoint' is required"),
        (
            "deployments:\n  - name: x\n    entrypoint: pipeline\n",
            "entrypoint must be like flows/pipeline.py:publish_briefings (found 'pipeline')",
        ),
        (
            "deployments:\n  - name: x\n    entrypoint: flows/a.py:b\n    concurrency_limit: 0\n",
            "deployments[1].concurrency_limit: concurrency_limit must be a whole number, 1 or more",
        ),
        ("deployments: [\n", "cannot read"),
    ],
)
def test_prefect_yaml_mistakes_are_named(tmp_path, text, expected):
    from briefings import operations as ops

    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(text)
    with pytest.raises(ops.OperationsError) as raised:
        ops.deployment_specs(prefect_file)
    assert str(prefect_file) in str(raised.value) and expected in str(raised.value)
