"""Rules send e-mail through a real local SMTP server (aiosmtpd) that requires STARTTLS and AUTH.

Each language's rule gets its own message; quiet hours hold one back; a digest rule collects the
day's events into one message once its hour has come; a KPI alert becomes a wallboard banner.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, Scope
from coachline.envelope import CloudEvent, new_event
from coachline.testing import Identity, eventually, free_port
from coachline_notifications.app import create_app
from coachline_notifications.settings import Settings

pytestmark = pytest.mark.integration

TENANT = "acme"
USER, PASSWORD = "coachline", "smtp-test-password"


@dataclass
class Mailbox:
    """What the SMTP server accepted: envelope recipients and the parsed message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (USER.encode(),
                                                                                          PASSWORD.encode())
    return AuthResult(success=ok)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Mailbox, int, Path]]:
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
                            auth_required=True, authenticator=authenticate)
    controller.start()
    yield mailbox, port, cert
    controller.stop()


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def session_recorded(session_id: str, held_at: dt.datetime) -> CloudEvent:
    data = CoachingSessionRecorded(session_id=session_id, agent_id="a-17", coach_id="tl-3",
                                   kind=SessionKind.ONE_TO_ONE, held_at=held_at, summary="Agreed on one next step.")
    return new_event("coaching.session.recorded.v1", TENANT, data, source="coachline/coaching")


async def test_rules_send_email_in_each_language_hold_quiet_hours_and_digest_the_day(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    smtp: tuple[Mailbox, int, Path],
    publish: Callable[[CloudEvent], Awaitable[None]],
    topic_reader: Callable[[str], Awaitable[Any]],
    identity: Identity,
) -> None:
    mailbox, port, cert = smtp
    # The service's clock: real time (so e-mails are due in the database), digest hour still ahead.
    real = dt.datetime.now(dt.UTC)
    clock = Clock(real)
    settings = settings_for(Settings, smtp_port=port, smtp_ca_file=str(cert), smtp_username=USER,
                            smtp_password=PASSWORD, email_poll_interval_s=0.1)
    base_url = await run_app(create_app(settings, clock=clock))
    outcomes = await topic_reader("notifications.v1")
    coaching = "coaching.session.recorded.v1"
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        for language in ("en", "fi", "sv", "nb"):
            created = await http.post("/v1/rules", json={"event_type": coaching, "channel": "email",
                                                         "recipients": [f"lead-{language}@example.com"],
                                                         "language": language})
            assert created.status_code == 201, created.text
        # Quiet from an hour ago to an hour from now, in UTC: its e-mail waits.
        quiet = {"start": (real - dt.timedelta(hours=1)).time().isoformat("minutes"),
                 "end": (real + dt.timedelta(hours=1)).time().isoformat("minutes")}
        held = await http.post("/v1/rules", json={"event_type": coaching, "channel": "email",
                                                  "recipients": ["night@example.com"], "quiet_hours": quiet})
        assert held.status_code == 201, held.text
        digest_hour = (real + dt.timedelta(hours=1)).hour
        digest_day = (real + dt.timedelta(hours=1)).date()
        digest = await http.post("/v1/rules", json={"event_type": coaching, "channel": "digest",
                                                    "recipients": ["team-lead@example.com"], "language": "nb",
                                                    "digest_hour": digest_hour})
        assert digest.status_code == 201, digest.text
        other_team = await http.post("/v1/rules", json={"event_type": coaching, "channel": "email",
                                                        "recipients": ["south-lead@example.com"],
                                                        "team_ids": ["t-south"]})
        assert other_team.status_code == 201, other_team.text
        wallboard = await http.post("/v1/rules", json={"event_type": "kpi.alert.raised.v1", "channel": "wallboard"})
        assert wallboard.status_code == 201, wallboard.text
        rules = (await http.get("/v1/rules")).json()["items"]
        assert len(rules) == 8
        assert (await http.get("/v1/rules", headers=identity.headers("globex", "admin"))).json() == {"items": []}
        lead = identity.headers(TENANT, "team_lead", teams=("t-north",))
        assert (await http.post("/v1/rules", headers=lead, json={"event_type": coaching, "channel": "email",
                                                                 "recipients": ["x@example.com"]})).status_code == 403

    held_at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    first, second = session_recorded("cs-1", held_at), session_recorded("cs-2", held_at)
    await publish(first)
    await publish(second)

    async def all_languages_arrived() -> bool:
        return all(len(mailbox.to(f"lead-{lang}@example.com")) == 2 for lang in ("en", "fi", "sv", "nb"))

    await eventually(all_languages_arrived, timeout=60)
    expected = {
        "en": ("Coaching session recorded for a-17", "tl-3 recorded a coaching session with agent a-17 on "),
        "fi": ("Valmennuskeskustelu kirjattu: a-17", "tl-3 kirjasi valmennuskeskustelun agentin a-17 kanssa "),
        "sv": ("Coachningssamtal registrerat: a-17", "tl-3 registrerade ett coachningssamtal med agent a-17 "),
        "nb": ("Coachingsamtale registrert: a-17", "tl-3 registrerte en coachingsamtale med agent a-17 "),
    }
    for language, (subject, body) in expected.items():
        address = f"lead-{language}@example.com"
        for message in mailbox.to(address):
            assert message["To"] == address
            assert message["Subject"] == subject
            assert message.get_content().startswith(body + "2026-11-23T09:00:00Z.")
            assert message["From"] == settings.smtp_sender
        # One message per event, each with its own stable id.
        assert len({m["Message-ID"] for m in mailbox.to(address)}) == 2

    async def rows(query: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
        try:
            return await conn.fetch(query)
        finally:
            await conn.close()

    held_rows = await rows("SELECT status, next_attempt_at FROM emails WHERE 'night@example.com' = ANY (recipients)")
    assert [r["status"] for r in held_rows] == ["pending", "pending"]
    release = dt.datetime.combine(real.date(), dt.time.fromisoformat(quiet["end"]), tzinfo=dt.UTC)
    if release < real:
        release += dt.timedelta(days=1)
    assert {r["next_attempt_at"] for r in held_rows} == {release}
    assert mailbox.to("night@example.com") == []
    # The south team's lead follows t-south only: nothing about a session of no known team was queued for them.
    assert await rows("SELECT 1 FROM emails WHERE 'south-lead@example.com' = ANY (recipients)") == []
    assert mailbox.to("team-lead@example.com") == []

    # The digest hour comes: one message with both sessions, in Norwegian.
    clock.now = dt.datetime.combine(digest_day, dt.time(digest_hour, 5), tzinfo=dt.UTC)

    async def digest_arrived() -> list[EmailMessage]:
        return mailbox.to("team-lead@example.com")

    [digest_mail] = await eventually(digest_arrived, timeout=60)
    assert digest_mail["Subject"] == f"Coachlines daglige oppsummering {digest_day.isoformat()}"
    assert digest_mail.get_content().count("- Coachingsamtale registrert: a-17") == 2

    # A queue's KPI alert becomes a wallboard banner; an agent's never does.
    for scope in (Scope.AGENT, Scope.QUEUE):
        alert = KpiAlertRaised(alert_id=f"al-{scope.value}", kpi="service_level", scope=scope,
                               scope_id="billing", level=AlertLevel.ALERT, value=Decimal("0.61"),
                               threshold=Decimal("0.80"), raised_at=real)
        await publish(new_event("kpi.alert.raised.v1", TENANT, alert, source="coachline/kpi"))

    # Eight e-mails and one digest delivered, and one banner.
    published = await outcomes.events(10, timeout=60)
    assert sorted(e.data.channel for e in published if e.type == "notifications.delivered.v1") == ["email"] * 9
    [banner] = [e.data for e in published if e.type == "notifications.banner.published.v1"]
    assert (banner.scope, banner.scope_id, banner.severity, banner.kind) == ("queue", "billing", "alert",
                                                                            "service_level_alert")
    assert banner.title == "KPI alert: service_level alert for queue billing"
    assert banner.expires_at > banner.published_at
