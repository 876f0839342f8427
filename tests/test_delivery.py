"""Delivery: subscriptions, messages, the ledger, and real SMTP on loopback.

Servers are aiosmtpd Controllers on 127.0.0.1 started by each test; what they receive is parsed
back with the email package, so recipients, subjects and attachment bytes are checked as sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import ipaddress
import json
import logging
import os
import socket
import sqlite3
import ssl
import subprocess
import zipfile
from contextlib import closing
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pikepdf
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from briefings.delivery import (
    DeliveryLedger,
    DeliverySettings,
    DeliverySettingsError,
    SubscriptionsError,
    load_manifest,
    load_subscriptions,
)
from briefings.delivery.compose import compose_message, subject_for
from briefings.delivery.plan import FigureChange, diff_figures, plan_deliveries
from briefings.delivery.settings import SmtpSettings
from briefings.reference import force_register

from .helpers import briefings

PASSWORD = "Tr0ub4dor-and-3-horses-staple"
USER = "briefings-relay"
SENDER = "Example Children's Charity <briefings@example.org>"
FAST = (0.05, 0.05)  # retry delays in tests: two retries, quickly

# Counts per force: (2016/17, 2015/16). Region and national figures are summed from them, so
# correcting one force changes its force, region and national briefings and nothing else.
COUNTS = {"Wiltshire": (44, 10), "Dorset": (30, 25), "Gwent": (20, 12)}

SUBSCRIPTIONS = """
zip_attachments_over_mb: 10
subscribers:
  - name: National press office
    email: press@example.org
    scope: {national: true}
    briefings: [national]
  - name: South West press officer
    email: southwest.press@example.org
    scope: {regions: [South West]}
    briefings: [region, force]
  - name: Wiltshire campaigns
    email: wiltshire@example.org
    scope: {forces: [Wiltshire Police]}
    briefings: [force]
  - name: Dorset campaigns
    email: dorset@example.org
    scope: {forces: [E23000039]}
    briefings: [force]
  - name: Wales press officer
    email: wales.press@example.org
    scope: {regions: [wales]}
    briefings: [force, region, national]
stewards:
  - name: Data stewards
    email: stewards@example.org
"""

FIRST_RUN = {
    "press@example.org": ["national.pdf"],
    "southwest.press@example.org": ["wiltshire.pdf", "dorset.pdf", "region-south-west.pdf"],
    "wiltshire@example.org": ["wiltshire.pdf"],
    "dorset@example.org": ["dorset.pdf"],
    "wales.press@example.org": ["gwent.pdf", "region-wales.pdf", "national.pdf"],
}


# Fixtures: a publication in the manifest's shape, with small real PDFs


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF printing `lines`; the same lines give the same bytes."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=pdf.make_stream(f"BT /F1 12 Tf 72 770 Td {text} ET".encode()),
    )
    pdf.pages.append(pikepdf.Page(page))
    buffer = io.BytesIO()
    pdf.save(buffer, static_id=True)
    return buffer.getvalue()


def _change(now: int, before: int) -> str:
    return f"{(now - before) / before * 100:+.1f}"


def publish(out_dir: Path, counts: dict = COUNTS, embargo: str | None = None) -> Path:
    """Write PDFs and manifest.json for 2016/17 as the publish step does."""
    register = force_register()
    period_dir = out_dir / "2016-17"
    period_dir.mkdir(parents=True, exist_ok=True)
    entries = []

    def add(pdf, scope, code, name, region, figures):
        lines = [f"{name}: online child sexual offences, 2016/17"]
        lines += [f"{m}: {v}" for m, v in figures.items()]
        data = make_pdf(lines)
        (period_dir / pdf).write_bytes(data)
        entries.append(
            {
                "pdf": pdf,
                "scope": scope,
                "code": code,
                "name": name,
                "region": region,
                "title": f"{name}: online child sexual offences, 2016/17",
                "headline": f"{name} recorded {figures[f'{name}, 2016/17']} offences.",
                "content_hash": hashlib.sha256(data).hexdigest(),
                "figures": figures,
            }
        )

    regions: dict[str, list[int]] = {}
    for name, (now, before) in counts.items():
        force = register.resolve(name)
        figures = {
            f"{name}, 2016/17": str(now),
            f"{name}, 2015/16": str(before),
            "Change (per cent)": _change(now, before),
        }
        add(f"{force.slug}.pdf", "force", force.code, force.name, force.region, figures)
        totals = regions.setdefault(force.region, [0, 0])
        totals[0] += now
        totals[1] += before
    for region, (now, before) in sorted(regions.items()):
        slug = region.lower().replace(" ", "-")
        figures = {f"{region}, 2016/17": str(now), f"{region}, 2015/16": str(before)}
        add(f"region-{slug}.pdf", "region", None, region, region, figures)
    now = sum(c[0] for c in counts.values())
    before = sum(c[1] for c in counts.values())
    national = {
        "England and Wales, 2016/17": f"{now:,}",
        "England and Wales, 2015/16": f"{before:,}",
        "Change (per cent)": _change(now, before),
        "Forces responding": str(len(counts)),
    }
    add("national.pdf", "national", None, "England and Wales", None, national)
    manifest = {
        "period": "2016/17",
        "period_slug": "2016-17",
        "embargo": embargo,
        "charity_name": "Example Children's Charity",
        "briefings": entries,
    }
    (period_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return period_dir


@pytest.fixture(autouse=True)
def no_delivery_environment(monkeypatch):
    """Tests say exactly which settings they use; nothing leaks in from the shell."""
    for name in list(os.environ):
        if name.startswith("BRIEFINGS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def subscriptions_file(tmp_path: Path) -> Path:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(SUBSCRIPTIONS)
    return path


@pytest.fixture
def period_dir(tmp_path: Path) -> Path:
    return publish(tmp_path / "out", embargo="00:01 Thursday 1 June 2017")


# A real SMTP server on loopback


class Recorder:
    """An aiosmtpd handler keeping what it accepted; refuses the first `refuse` messages."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.attempts = 0
        self.accepted: list[tuple[str, list[str], bytes, bool, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        tls = session.ssl is not None
        self.accepted.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.content,
                tls,
                session.authenticated,
            )
        )
        return "250 2.0.0 OK"

    def messages(self) -> dict[str, list[EmailMessage]]:
        by_recipient: dict[str, list[EmailMessage]] = {}
        for _, recipients, content, _, _ in self.accepted:
            assert len(recipients) == 1, "one message per subscriber"
            parsed = message_from_bytes(content, policy=policy.default)
            by_recipient.setdefault(recipients[0], []).append(parsed)
        return by_recipient


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """start(handler, **smtp_options) -> port; every server started is stopped afterwards."""
    controllers = []

    def start(handler: Recorder, **options) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now; the client is told to trust it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def secure_server(smtp_server, certificate, handler: Recorder) -> int:
    """STARTTLS required before anything else, then AUTH required before MAIL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    return smtp_server(
        handler,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )


def settings_for(
    port: int, tmp_path: Path, security: str = "none", ca_file: Path | None = None, **smtp
) -> DeliverySettings:
    return DeliverySettings(
        smtp=SmtpSettings(
            host="127.0.0.1", port=port, security=security, ca_file=ca_file, timeout=5, **smtp
        ),
        outbox_dir=tmp_path / "outbox",
        mail_from=SENDER,
        retry_delays=FAST,
    )


def deliver(period_dir: Path, subscriptions_file: Path, ledger: Path, settings, dry_run=False):
    """deliver_publication inside a flow, as the publish flow calls it."""
    from prefect import flow

    from flows.delivery import deliver_publication

    if dry_run:  # no Prefect at all
        return deliver_publication(period_dir, subscriptions_file, ledger, settings, dry_run=True)

    @flow(name="test-delivery", validate_parameters=False)
    def in_a_flow(settings):
        return deliver_publication(period_dir, subscriptions_file, ledger, settings)

    return in_a_flow(settings)


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def body_text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# Subscriptions file


def test_the_bundled_subscriptions_file_is_valid():
    subscriptions = load_subscriptions()  # reports/config/subscriptions.yaml
    people = {s.name: s for s in subscriptions.subscribers}
    assert people["National press office"].national
    assert "national" in people["National press office"].briefings
    assert people["South West press officer"].regions == {"South West"}
    assert any(s.force_codes == {"E23000038"} for s in subscriptions.subscribers)
    assert subscriptions.stewards
    assert all(s.email.endswith("@example.org") for s in subscriptions.subscribers)


def test_scope_resolves_spellings_codes_and_regions(subscriptions_file):
    subscriptions = load_subscriptions(subscriptions_file)
    people = {s.name: s for s in subscriptions.subscribers}
    assert people["Wiltshire campaigns"].force_codes == {"E23000038"}
    assert people["Dorset campaigns"].force_codes == {"E23000039"}
    assert people["Wales press officer"].regions == {"Wales"}
    assert [s.email for s in subscriptions.stewards] == ["stewards@example.org"]
    assert subscriptions.zip_over_bytes == 10_000_000


def _entry(name="Press", email="press@example.org", scope="{national: true}", kinds="[national]"):
    return f"  - name: {name}\n    email: {email}\n    scope: {scope}\n    briefings: {kinds}\n"


@pytest.mark.parametrize(
    ("subscribers", "message"),
    [
        (
            _entry(scope="{forces: [Wiltshre]}", kinds="[force]"),
            "subscriber 'Press': unknown force 'Wiltshre'; nearest known: Wiltshire",
        ),
        (
            _entry(scope="{regions: [South Wst]}", kinds="[region]"),
            "subscriber 'Press': unknown region 'South Wst'; nearest known: South West",
        ),
        (_entry(email="press.example.org"), "subscriber 'Press': 'press.example.org' is not"),
        (_entry(email="'Press <press@example.org>'"), "is not a plain email address"),
        (_entry(email="'a@b@example.org'"), "is not an email address"),
        (_entry(email="press@example"), "has an invalid domain"),
        (_entry(email="press@-example.org"), "has an invalid domain"),
        (_entry(email="'pre ss@example.org'"), "is not a plain email address"),
        (_entry(email="'.press@example.org'"), "invalid part before the @"),
        (_entry(email=""), "subscriber 'Press': an email address is required"),
        (_entry() + _entry(email="other@example.org"), "subscriber 'Press': duplicate name"),
        (
            _entry() + _entry(name="Other", email="PRESS@example.org"),
            "subscriber 'Other': duplicate address PRESS@example.org (already used by 'Press')",
        ),
        (_entry(scope="{}"), "subscriber 'Press': an empty scope"),
        (_entry(scope="{forces: []}"), "subscriber 'Press': an empty scope"),
        (_entry(kinds="[natonal]"), "subscriber 'Press': unknown briefing kind(s) natonal"),
        (_entry(kinds="[]"), "subscriber 'Press': 'briefings' must list what they receive"),
        (_entry(scope="{nation: true}"), "unknown scope key(s) nation"),
        (_entry(name=""), "subscriber 1: a name is required"),
    ],
)
def test_subscription_mistakes_are_named(tmp_path, subscribers, message):
    path = tmp_path / "subscriptions.yaml"
    path.write_text("subscribers:\n" + subscribers)
    with pytest.raises(SubscriptionsError) as raised:
        load_subscriptions(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_every_mistake_is_reported_at_once(tmp_path):
    path = tmp_path / "subscriptions.yaml"
    path.write_text(
        "subscribers:\n"
        + _entry(name="A", email="a@example", kinds="[force]", scope="{forces: [Atlantis]}")
        + _entry(name="B", email="b@example.org", scope="{regions: [Mars]}")
        + "stewards:\n  - name: Steward\n    email: steward@@example.org\n"
    )
    with pytest.raises(SubscriptionsError) as raised:
        load_subscriptions(path)
    problems = raised.value.problems
    assert any("subscriber 'A'" in p and "invalid domain" in p for p in problems)
    assert any("subscriber 'B': unknown region 'Mars'" in p for p in problems)
    assert any("steward 'Steward'" in p for p in problems)


# Pure logic: figures, plans, subjects


def test_diff_figures_names_changed_added_and_dropped_measures():
    before = {"Wiltshire, 2016/17": "40", "Change (per cent)": "+300.0", "Rank": "5"}
    after = {"Wiltshire, 2016/17": "44", "Change (per cent)": "+300.0", "Per day": "0.1"}
    changes = diff_figures(before, after)
    assert changes == (
        FigureChange("Wiltshire, 2016/17", "40", "44"),
        FigureChange("Per day", None, "0.1"),
        FigureChange("Rank", "5", None),
    )
    assert changes[0].describe() == "Wiltshire, 2016/17: 44 (was 40)"
    assert diff_figures(after, after) == ()


def test_plan_sends_each_subscriber_their_scope(period_dir, subscriptions_file):
    plan = plan_deliveries(load_manifest(period_dir), load_subscriptions(subscriptions_file), [])
    planned = {m.recipient.email: [i.briefing.pdf for i in m.items] for m in plan.messages}
    assert planned == FIRST_RUN
    assert all(m.kind == "new" for m in plan.messages)


def test_subject_carries_embargo_and_correction(period_dir, subscriptions_file):
    publication = load_manifest(period_dir)
    plan = plan_deliveries(publication, load_subscriptions(subscriptions_file), [])
    one = next(m for m in plan.messages if m.recipient.email == "wiltshire@example.org")
    assert subject_for(one, publication) == (
        "[Embargoed until 00:01 Thursday 1 June 2017] "
        "Wiltshire: online child sexual offences, 2016/17"
    )
    several = next(m for m in plan.messages if m.recipient.email.startswith("southwest"))
    assert subject_for(several, publication).endswith(
        "Example Children's Charity briefings, 2016/17: Wiltshire, Dorset, South West"
    )


def test_manifest_out_of_step_with_its_pdf_is_refused(period_dir):
    from briefings.delivery import ManifestError

    (period_dir / "dorset.pdf").write_bytes(make_pdf(["something else"]))
    with pytest.raises(ManifestError, match="dorset.pdf does not match its content_hash"):
        load_manifest(period_dir)


# Settings from the environment


def test_settings_from_environment_hide_the_password():
    settings = DeliverySettings.from_env(
        {
            "BRIEFINGS_SMTP_HOST": "smtp.example.org",
            "BRIEFINGS_SMTP_USER": USER,
            "BRIEFINGS_SMTP_PASSWORD": PASSWORD,
            "BRIEFINGS_MAIL_FROM": SENDER,
            "BRIEFINGS_SEND_RETRY_DELAYS": "1,2,3",
        }
    )
    assert settings.channel == "smtp"
    assert (settings.smtp.port, settings.smtp.security) == (587, "starttls")
    assert settings.retry_delays == (1.0, 2.0, 3.0)
    assert settings.smtp.password_value() == PASSWORD
    for shown in (repr(settings), str(settings), settings.model_dump_json(), settings.destination):
        assert PASSWORD not in shown
    assert DeliverySettings.from_env({}).channel == "outbox"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"BRIEFINGS_SMTP_HOST": "smtp.example.org"}, "BRIEFINGS_MAIL_FROM is required"),
        (
            {
                "BRIEFINGS_SMTP_HOST": "h.example.org",
                "BRIEFINGS_MAIL_FROM": SENDER,
                "BRIEFINGS_SMTP_SECURITY": "none",
                "BRIEFINGS_SMTP_USER": "u",
            },
            "would send the password unencrypted",
        ),
        (
            {
                "BRIEFINGS_SMTP_HOST": "h.example.org",
                "BRIEFINGS_MAIL_FROM": SENDER,
                "BRIEFINGS_SMTP_SECURITY": "tls",
            },
            "BRIEFINGS_SMTP_SECURITY must be starttls, ssl or none",
        ),
        (
            {
                "BRIEFINGS_SMTP_HOST": "h.example.org",
                "BRIEFINGS_MAIL_FROM": SENDER,
                "BRIEFINGS_SMTP_PORT": "smtp",
            },
            "BRIEFINGS_SMTP_PORT='smtp' is not a whole number: BRIEFINGS_SMTP_PORT must be a port",
        ),
        ({"BRIEFINGS_SEND_RETRY_DELAYS": "soon"}, "BRIEFINGS_SEND_RETRY_DELAYS must be seconds"),
    ],
)
def test_bad_settings_name_the_variable(environment, message):
    with pytest.raises(DeliverySettingsError, match=message):
        DeliverySettings.from_env(environment)


# Delivery against real SMTP servers


def test_right_subscribers_get_right_attachments_and_a_rerun_sends_nothing(
    prefect_api_url, period_dir, subscriptions_file, smtp_server, tmp_path
):
    handler = Recorder()
    settings = settings_for(smtp_server(handler), tmp_path)
    ledger = tmp_path / "deliveries.sqlite"

    summary = deliver(period_dir, subscriptions_file, ledger, settings)

    received = handler.messages()
    assert {rcpt: len(messages) for rcpt, messages in received.items()} == dict.fromkeys(
        FIRST_RUN, 1
    )
    for rcpt, pdfs in FIRST_RUN.items():
        message = received[rcpt][0]
        assert list(attachments(message)) == pdfs
        for name, data in attachments(message).items():
            assert data == (period_dir / name).read_bytes()
        assert message["Subject"].startswith("[Embargoed until 00:01 Thursday 1 June 2017] ")
        assert "EMBARGOED until 00:01 Thursday 1 June 2017" in body_text(message)
        assert message["From"] == SENDER
        assert message.get_body(preferencelist=("html",)) is not None
    wiltshire = received["wiltshire@example.org"][0]
    assert wiltshire["To"] == "Wiltshire campaigns <wiltshire@example.org>"
    assert "Wiltshire recorded 44 offences." in body_text(wiltshire)
    assert "Wiltshire, 2016/17: 44" in body_text(wiltshire)
    assert {a[0] for a in handler.accepted} == {"briefings@example.org"}  # envelope sender
    assert len(summary.sent) == 5 and not summary.undelivered and not summary.corrections

    rows = DeliveryLedger(ledger).rows()
    assert len(rows) == sum(len(pdfs) for pdfs in FIRST_RUN.values())
    assert {(r["status"], r["attempts"], r["channel"]) for r in rows} == {("sent", 1, "smtp")}

    again = deliver(period_dir, subscriptions_file, ledger, settings)
    assert len(handler.accepted) == 5  # nothing new
    assert again.messages == () and len(again.already_delivered) == len(rows)
    assert DeliveryLedger(ledger).rows() == rows


def test_a_corrected_return_sends_corrections_only_to_subscribers_of_affected_briefings(
    prefect_api_url, tmp_path, subscriptions_file, smtp_server
):
    handler = Recorder()
    settings = settings_for(smtp_server(handler), tmp_path)
    ledger = tmp_path / "deliveries.sqlite"
    period_dir = publish(tmp_path / "out")
    deliver(period_dir, subscriptions_file, ledger, settings)
    handler.accepted.clear()

    publish(tmp_path / "out", {**COUNTS, "Wiltshire": (45, 10)})  # Wiltshire's return corrected
    summary = deliver(period_dir, subscriptions_file, ledger, settings)

    received = handler.messages()
    corrected = {rcpt: list(attachments(m[0])) for rcpt, m in received.items()}
    assert corrected == {
        "press@example.org": ["national.pdf"],
        "southwest.press@example.org": ["wiltshire.pdf", "region-south-west.pdf"],
        "wiltshire@example.org": ["wiltshire.pdf"],
        "wales.press@example.org": ["national.pdf"],
    }  # Dorset's subscribers, and Wales's own briefings, are untouched
    assert all(len(messages) == 1 for messages in received.values())
    wiltshire = received["wiltshire@example.org"][0]
    assert wiltshire["Subject"] == "Correction: Wiltshire: online child sexual offences, 2016/17"
    assert wiltshire["X-Briefings-Kind"] == "correction"
    text = body_text(wiltshire)
    assert "CORRECTION" in text
    assert "Wiltshire, 2016/17: 45 (was 44)" in text
    assert "Change (per cent): +350.0 (was +340.0)" in text
    assert [line for line in text.splitlines() if line.startswith("  - ")] == [
        "  - Wiltshire, 2016/17: 45 (was 44)",
        "  - Change (per cent): +350.0 (was +340.0)",
    ]  # only what changed; the 2015/16 figure did not
    national = body_text(received["press@example.org"][0])
    assert "England and Wales, 2016/17: 95 (was 94)" in national
    assert attachments(wiltshire)["wiltshire.pdf"] == (period_dir / "wiltshire.pdf").read_bytes()
    assert len(summary.corrections) == 4 and len(summary.sent) == 4

    rows = DeliveryLedger(ledger).rows()
    wiltshire_rows = [r for r in rows if r["email"] == "wiltshire@example.org"]
    assert [(r["status"], r["correction"]) for r in wiltshire_rows] == [("sent", 0), ("sent", 1)]
    assert json.loads(wiltshire_rows[1]["figures"])["Wiltshire, 2016/17"] == "45"

    handler.accepted.clear()
    assert deliver(period_dir, subscriptions_file, ledger, settings).messages == ()
    assert handler.accepted == []


def test_auth_and_starttls(prefect_api_url, period_dir, tmp_path, smtp_server, certificate):
    handler = Recorder()
    port = secure_server(smtp_server, certificate, handler)
    subscriptions = tmp_path / "one.yaml"
    subscriptions.write_text("subscribers:\n" + _entry(email="press@example.org"))
    ledger = tmp_path / "deliveries.sqlite"
    good = settings_for(
        port, tmp_path, "starttls", certificate[0], user=USER, password=SecretStr(PASSWORD)
    )

    wrong = good.model_copy(
        update={"smtp": good.smtp.model_copy(update={"password": SecretStr("not-it")})}
    )
    refused = deliver(period_dir, subscriptions, ledger, wrong)
    assert handler.accepted == [] and len(refused.undelivered) == 1
    assert "535" in refused.undelivered[0].detail  # authentication refused, said so

    untrusted = good.model_copy(update={"smtp": good.smtp.model_copy(update={"ca_file": None})})
    not_verified = deliver(period_dir, subscriptions, ledger, untrusted)
    assert "CERTIFICATE_VERIFY_FAILED" in not_verified.undelivered[0].detail

    summary = deliver(period_dir, subscriptions, ledger, good)
    assert len(summary.sent) == 1
    [(_, recipients, content, tls, authenticated)] = handler.accepted
    assert recipients == ["press@example.org"] and tls and authenticated
    message = message_from_bytes(content, policy=policy.default)
    assert attachments(message) == {"national.pdf": (period_dir / "national.pdf").read_bytes()}
    [row] = DeliveryLedger(ledger).rows()
    assert (row["status"], row["attempts"]) == ("sent", 7)  # 3 + 3 refused, then one


def test_a_server_refusing_twice_delivers_on_the_third_attempt_with_one_ledger_entry(
    prefect_api_url, period_dir, tmp_path, smtp_server
):
    handler = Recorder(refuse=2)
    settings = settings_for(smtp_server(handler), tmp_path)
    subscriptions = tmp_path / "one.yaml"
    subscriptions.write_text("subscribers:\n" + _entry(scope="{forces: [Dorset]}", kinds="[force]"))
    ledger = tmp_path / "deliveries.sqlite"

    summary = deliver(period_dir, subscriptions, ledger, settings)

    assert handler.attempts == 3
    assert [rcpt for _, [rcpt], *_ in handler.accepted] == ["press@example.org"]
    assert [m.status for m in summary.messages] == ["sent"]
    [row] = DeliveryLedger(ledger).rows()
    assert (row["pdf"], row["status"], row["attempts"], row["error"]) == (
        "dorset.pdf",
        "sent",
        3,
        None,
    )
    message = message_from_bytes(handler.accepted[0][2], policy=policy.default)
    assert row["message_id"] == message["Message-ID"]


def test_a_server_that_is_down_leaves_an_undelivered_entry_the_next_run_sends(
    prefect_api_url, period_dir, subscriptions_file, tmp_path, smtp_server
):
    ledger = tmp_path / "deliveries.sqlite"
    down = settings_for(free_port(), tmp_path)  # nothing listens there
    summary = deliver(period_dir, subscriptions_file, ledger, down)
    assert len(summary.undelivered) == 5 and not summary.sent
    assert "cannot connect to 127.0.0.1" in summary.undelivered[0].detail
    rows = DeliveryLedger(ledger).rows()
    assert {(r["status"], r["attempts"]) for r in rows} == {("undelivered", 3)}

    preview = deliver(period_dir, subscriptions_file, ledger, down, dry_run=True)
    assert [m.attempts for m in preview.messages] == [3] * 5  # shown as retries

    handler = Recorder()
    up = settings_for(smtp_server(handler), tmp_path)
    summary = deliver(period_dir, subscriptions_file, ledger, up)
    assert {rcpt: list(attachments(m[0])) for rcpt, m in handler.messages().items()} == FIRST_RUN
    assert all(m.kind == "new" for m in summary.sent)  # a retry, not a correction
    rows = DeliveryLedger(ledger).rows()
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 4)}
    assert deliver(period_dir, subscriptions_file, ledger, up).messages == ()


def test_a_send_interrupted_before_it_was_recorded_goes_again_with_the_same_message_id(
    prefect_api_url, period_dir, subscriptions_file, tmp_path, smtp_server
):
    """The one window exactly-once cannot close: resent, but recognisably the same message."""
    ledger_path = tmp_path / "deliveries.sqlite"
    publication = load_manifest(period_dir)
    plan = plan_deliveries(publication, load_subscriptions(subscriptions_file), [])
    planned = next(m for m in plan.messages if m.recipient.email == "dorset@example.org")
    message = compose_message(planned, publication, SENDER, 10_000_000)
    DeliveryLedger(ledger_path).claim("smtp", message)  # then the process died

    handler = Recorder()
    deliver(
        period_dir, subscriptions_file, ledger_path, settings_for(smtp_server(handler), tmp_path)
    )
    dorset = handler.messages()["dorset@example.org"]
    assert [m["Message-ID"] for m in dorset] == [message.message_id]
    assert len(handler.accepted) == 5


def test_large_attachments_go_as_one_zip(prefect_api_url, period_dir, tmp_path, smtp_server):
    handler = Recorder()
    settings = settings_for(smtp_server(handler), tmp_path)
    subscriptions = tmp_path / "zip.yaml"
    size = sum((period_dir / name).stat().st_size for name in FIRST_RUN["dorset@example.org"])
    subscriptions.write_text(
        f"zip_attachments_over_mb: {size * 1.5 / 1_000_000}\nsubscribers:\n"
        + _entry(
            name="SW",
            email="sw@example.org",
            scope="{regions: [South West]}",
            kinds="[force, region]",
        )
        + _entry(
            name="Dorset", email="dorset@example.org", scope="{forces: [Dorset]}", kinds="[force]"
        )
    )
    deliver(period_dir, subscriptions, tmp_path / "deliveries.sqlite", settings)

    received = handler.messages()
    assert list(attachments(received["dorset@example.org"][0])) == ["dorset.pdf"]  # under
    [(name, data)] = attachments(received["sw@example.org"][0]).items()
    assert name == "briefings-2016-17.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == FIRST_RUN["southwest.press@example.org"]
        for pdf in archive.namelist():
            assert archive.read(pdf) == (period_dir / pdf).read_bytes()
    assert "briefings-2016-17.zip" in body_text(received["sw@example.org"][0])


def test_without_smtp_messages_go_to_the_outbox_once(
    prefect_api_url, period_dir, subscriptions_file, tmp_path
):
    settings = DeliverySettings.from_env({}, outbox_dir=tmp_path / "outbox")
    ledger = tmp_path / "deliveries.sqlite"
    summary = deliver(period_dir, subscriptions_file, ledger, settings)
    files = sorted((tmp_path / "outbox" / "2016-17").glob("*.eml"))
    assert len(files) == 5 and len(summary.sent) == 5
    by_recipient = {}
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        by_recipient[message["To"].addresses[0].addr_spec] = list(attachments(message))
    assert by_recipient == FIRST_RUN
    assert not list((tmp_path / "outbox").rglob("*.part"))

    stamps = [p.stat().st_mtime_ns for p in files]
    assert deliver(period_dir, subscriptions_file, ledger, settings).messages == ()
    assert [p.stat().st_mtime_ns for p in files] == stamps

    # The outbox is not a delivery to people: configuring SMTP later sends everything for real.
    smtp_plan = deliver(
        period_dir, subscriptions_file, ledger, settings_for(1, tmp_path), dry_run=True
    )
    assert len(smtp_plan.messages) == 5


def test_stewards_are_notified_once_and_an_undelivered_notice_is_sent_later(
    prefect_api_url, subscriptions_file, tmp_path, smtp_server
):
    from briefings.delivery.compose import quarantine_notice
    from flows.delivery import notify_stewards

    ledger = tmp_path / "deliveries.sqlite"
    subject, text = quarantine_notice([("dorset-return.csv", "row 2, column force: unknown")])
    down = settings_for(free_port(), tmp_path)
    failed = notify_stewards(subject, text, subscriptions_file, ledger, down)
    assert [m.status for m in failed.messages] == ["undelivered"]

    handler = Recorder()
    up = settings_for(smtp_server(handler), tmp_path)
    summary = notify_stewards("Briefings: run failed", "It failed.", subscriptions_file, ledger, up)
    assert [m.status for m in summary.messages] == ["sent", "sent"]
    received = handler.messages()
    assert list(received) == ["stewards@example.org"]  # stewards only, no subscriber
    subjects = [m["Subject"] for m in received["stewards@example.org"]]
    assert subjects == [subject, "Briefings: run failed"]
    assert "dorset-return.csv: row 2, column force: unknown" in body_text(
        received["stewards@example.org"][0]
    )
    again = notify_stewards(subject, text, subscriptions_file, ledger, up)
    assert again.messages == () and len(handler.accepted) == 2


def test_a_failed_run_notifies_the_stewards(prefect_api_url, subscriptions_file, tmp_path):
    from types import SimpleNamespace

    from flows.delivery import steward_failure_hook

    hook = steward_failure_hook(subscriptions_file, tmp_path / "ledger.sqlite", tmp_path / "box")
    hook(
        SimpleNamespace(name="publish-briefings"),
        SimpleNamespace(name="lean-limpet", id="0b1e"),
        SimpleNamespace(name="Failed", message="no accepted returns for 2017/18"),
    )
    [path] = (tmp_path / "box" / "stewards").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "Data stewards <stewards@example.org>"
    assert message["Subject"] == "Briefings: run 'lean-limpet' of publish-briefings failed"
    assert "ended Failed: no accepted returns for 2017/18." in message.get_content()


def test_one_delivery_at_a_time(period_dir, subscriptions_file, tmp_path):
    from briefings.delivery import DeliveryBusyError
    from briefings.delivery.ledger import ledger_lock
    from flows.delivery import deliver_publication

    ledger = tmp_path / "deliveries.sqlite"
    settings = DeliverySettings.from_env({}, outbox_dir=tmp_path / "outbox")
    with ledger_lock(ledger), pytest.raises(DeliveryBusyError, match="another delivery"):
        deliver_publication(period_dir, subscriptions_file, ledger, settings)
    assert not (tmp_path / "outbox").exists()


def test_implicit_tls_with_auth(prefect_api_url, period_dir, tmp_path, smtp_server, certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    handler = Recorder()
    # aiosmtpd counts only STARTTLS as TLS for AUTH; here the whole connection is TLS.
    port = smtp_server(
        handler,
        ssl_context=context,
        auth_required=True,
        auth_require_tls=False,
        authenticator=authenticator,
    )
    subscriptions = tmp_path / "one.yaml"
    subscriptions.write_text("subscribers:\n" + _entry())
    settings = settings_for(
        port, tmp_path, "ssl", certificate[0], user=USER, password=SecretStr(PASSWORD)
    )
    summary = deliver(period_dir, subscriptions, tmp_path / "deliveries.sqlite", settings)
    assert [m.status for m in summary.messages] == ["sent"]
    [(_, recipients, _, _, authenticated)] = handler.accepted
    assert recipients == ["press@example.org"] and authenticated


def test_the_smtp_password_never_appears_in_logs_artifacts_ledger_or_outbox(
    prefect_api_url,
    period_dir,
    subscriptions_file,
    tmp_path,
    smtp_server,
    certificate,
    monkeypatch,
    caplog,
    capsys,
):
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    from flows.delivery import deliver_briefings, notify_stewards

    handler = Recorder(refuse=1)  # one refusal, so failure paths log too
    port = secure_server(smtp_server, certificate, handler)
    environment = {
        "BRIEFINGS_SMTP_HOST": "127.0.0.1",
        "BRIEFINGS_SMTP_PORT": str(port),
        "BRIEFINGS_SMTP_SECURITY": "starttls",
        "BRIEFINGS_SMTP_USER": USER,
        "BRIEFINGS_SMTP_PASSWORD": PASSWORD,
        "BRIEFINGS_SMTP_CA_FILE": str(certificate[0]),
        "BRIEFINGS_MAIL_FROM": SENDER,
        "BRIEFINGS_SEND_RETRY_DELAYS": "0.05,0.05",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    captured = logging.Handler(logging.DEBUG)
    records: list[str] = []
    captured.emit = lambda record: records.append(record.getMessage() + str(record.exc_info))
    for name in ("prefect", "briefings", ""):
        logging.getLogger(name).addHandler(captured)
    caplog.set_level(logging.DEBUG, logger="briefings")
    prefect_level = logging.getLogger("prefect").level
    logging.getLogger("prefect").setLevel(logging.DEBUG)  # debug lines must be clean too
    ledger = tmp_path / "deliveries.sqlite"
    try:
        state = deliver_briefings(
            period_dir, subscriptions_file, ledger, tmp_path / "outbox", return_state=True
        )
        summary = state.result()
        notify_stewards("Briefings: run failed", "It failed.", subscriptions_file, ledger)
        monkeypatch.setenv("BRIEFINGS_SMTP_PASSWORD", "wrong-" + PASSWORD)  # error path
        notify_stewards("Briefings: another", "Refused.", subscriptions_file, ledger)
        monkeypatch.delenv("BRIEFINGS_SMTP_HOST")  # the outbox, password still in environment
        deliver_briefings(period_dir, subscriptions_file, ledger, tmp_path / "outbox")
    finally:
        logging.getLogger("prefect").setLevel(prefect_level)
        for name in ("prefect", "briefings", ""):
            logging.getLogger(name).removeHandler(captured)
    assert len(summary.sent) == 5 and handler.accepted

    APILogHandler().flush()  # logs reach the API in batches
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
        logs = _every(client.read_logs)
        artifacts = _every(client.read_artifacts)
        task_runs = _every(client.read_task_runs)
    # This run's (another test's runs share the server); the password is looked for in all.
    assert any("Sent new to" in log.message for log in logs if log.flow_run_id == flow_run.id)
    assert any(a.key == "deliveries-2016-17" for a in artifacts if a.flow_run_id == flow_run.id)
    assert any(
        run.name.startswith("send message") for run in task_runs if run.flow_run_id == flow_run.id
    )
    outbox = [p.read_bytes() for p in (tmp_path / "outbox").rglob("*") if p.is_file()]
    assert outbox  # the outbox run wrote messages
    ledger_bytes = [p.read_bytes() for p in tmp_path.glob("deliveries.sqlite*") if p.is_file()]
    places = {
        "log records": "\n".join(records) + caplog.text,
        "Prefect logs": "\n".join(log.message for log in logs),
        "artifacts": "\n".join(f"{a.data} {a.description}" for a in artifacts),
        "flow run parameters": json.dumps(flow_run.parameters, default=str),
        "task runs": "\n".join(run.model_dump_json() for run in task_runs),
        "summary": repr(summary),
        "console": "".join(capsys.readouterr()),
        "sent messages": b"".join(content for _, _, content, _, _ in handler.accepted).decode(),
    }
    assert "535" in places["log records"]  # the wrong password was refused and logged...
    for place, text in places.items():
        assert PASSWORD not in text, place  # ...but never the password itself
    for data in outbox + ledger_bytes:
        assert PASSWORD.encode() not in data
    with closing(sqlite3.connect(ledger)) as connection:
        rows = connection.execute("SELECT channel, count(*) FROM deliveries GROUP BY channel")
        assert dict(rows.fetchall()) == {"outbox": 9, "smtp": 9}


def _every(read) -> list:
    """Every row a Prefect client listing returns, page by page."""
    rows, offset = [], 0
    while page := read(limit=200, offset=offset):
        rows += page
        offset += len(page)
    return rows


# Command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`briefings deliver` as a user runs it, with none of the test run's settings."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BRIEFINGS_")}
    return briefings("deliver", *args, env=unset)


def _cli_in_process(*args: str):
    """The same command in this process: no second start-up of pandas and Prefect."""
    from typer.testing import CliRunner

    from briefings.cli import app

    return CliRunner().invoke(app, ["deliver", *args])


def test_cli_dry_run_shows_who_gets_what_and_writes_nothing(
    period_dir, subscriptions_file, tmp_path
):
    data_dir, outbox = tmp_path / "data", tmp_path / "outbox"
    result = _cli(
        "--dry-run",
        "--out-dir",
        str(period_dir.parent),
        "--data-dir",
        str(data_dir),
        "--subscriptions",
        str(subscriptions_file),
        "--outbox",
        str(outbox),
    )
    assert result.returncode == 0, result.stderr
    assert "South West press officer" in result.stdout
    assert "region-south-west.pdf" in result.stdout
    assert "Would send 5 messages for 2016/17 via outbox" in result.stdout
    assert not data_dir.exists() and not outbox.exists()


def test_cli_bad_arguments_are_one_line_errors(period_dir, tmp_path):
    bad = _cli_in_process("--period", "2016/18", "--out-dir", str(period_dir.parent))
    assert bad.exit_code == 2
    assert bad.stderr.startswith("briefings: error: '2016/18' is not a financial year")
    empty = _cli_in_process("--out-dir", str(tmp_path / "nothing"))
    assert (empty.exit_code, empty.stderr.strip()) == (
        2,
        f"briefings: error: nothing published in {tmp_path / 'nothing'}: run `briefings run` first",
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("subscribers:\n" + _entry(scope="{forces: [Wiltshre]}", kinds="[force]"))
    result = _cli_in_process("--out-dir", str(period_dir.parent), "--subscriptions", str(broken))
    assert result.exit_code == 2
    assert "subscriber 'Press': unknown force 'Wiltshre'; nearest known: Wiltshire" in result.stderr


def test_cli_delivers_to_the_outbox(prefect_api_url, period_dir, subscriptions_file, tmp_path):
    data_dir, outbox = tmp_path / "data", tmp_path / "outbox"
    args = ["--period", "2016-17", "--out-dir", str(period_dir.parent), "--data-dir"]
    args += [str(data_dir), "--subscriptions", str(subscriptions_file), "--outbox", str(outbox)]
    result = _cli_in_process(*args)
    assert result.exit_code == 0, result.stderr
    assert (
        "sent: new to Wiltshire campaigns <wiltshire@example.org>: wiltshire.pdf" in result.stdout
    )
    assert len(list((outbox / "2016-17").glob("*.eml"))) == 5
    assert (data_dir / "state" / "journal.sqlite").exists()  # the journal, not processed/
    again = _cli_in_process(*args)
    assert again.exit_code == 0
    assert "Wrote 0 messages for 2016/17 to the outbox" in again.stdout
