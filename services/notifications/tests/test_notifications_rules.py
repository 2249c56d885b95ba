"""Rules: what they accept, quiet hours, when a digest is due, the texts in four languages, banners."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, Scope
from coachline.envelope import new_event
from coachline_notifications.domain.rules import (
    Channel,
    QuietHours,
    Rule,
    RuleRequest,
    applies,
    digest_due,
    release_time,
)
from coachline_notifications.domain.templates import render, render_digest
from coachline_notifications.service import banner_for_alert

pytestmark = pytest.mark.unit

HELSINKI = "Europe/Helsinki"
NIGHT = QuietHours(start=time(21), end=time(7))
LUNCH = QuietHours(start=time(11, 30), end=time(12, 30))


def at(local: str, zone: str = HELSINKI) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize(("now", "quiet", "expected"), [
    ("2026-11-23T22:15", NIGHT, "2026-11-24T07:00"),
    ("2026-11-24T03:00", NIGHT, "2026-11-24T07:00"),
    ("2026-11-23T07:00", NIGHT, "2026-11-23T07:00"),
    ("2026-11-23T20:59", NIGHT, "2026-11-23T20:59"),
    ("2026-11-23T12:00", LUNCH, "2026-11-23T12:30"),
    ("2026-11-23T12:30", LUNCH, "2026-11-23T12:30"),
    # Summer time ends during the night: the e-mail still waits for 07:00 on the wall clock.
    ("2026-10-24T23:00", NIGHT, "2026-10-25T07:00"),
])
def test_quiet_hours_hold_an_email_until_they_end(now: str, quiet: QuietHours, expected: str) -> None:
    assert release_time(at(now), HELSINKI, quiet) == at(expected)


@given(now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       start=st.times(), end=st.times(), zone=st.sampled_from([HELSINKI, "UTC", "Europe/Oslo", "America/New_York"]))
def test_an_email_is_never_sent_inside_quiet_hours_nor_held_past_a_day(
        now: datetime, start: time, end: time, zone: str) -> None:
    if start == end:
        return
    quiet = QuietHours(start=start, end=end)
    released = release_time(now, zone, quiet)
    assert now <= released <= now + timedelta(hours=25)
    if released != now:
        assert released.astimezone(ZoneInfo(zone)).time() == end


def test_no_quiet_hours_send_at_once() -> None:
    now = at("2026-11-23T03:00")
    assert release_time(now, HELSINKI, None) == now


def test_a_digest_is_due_once_a_day_from_its_hour() -> None:
    assert digest_due(at("2026-11-23T06:59"), HELSINKI, 7, None) is None
    assert digest_due(at("2026-11-23T07:00"), HELSINKI, 7, None) == date(2026, 11, 23)
    assert digest_due(at("2026-11-23T18:00"), HELSINKI, 7, date(2026, 11, 22)) == date(2026, 11, 23)
    assert digest_due(at("2026-11-23T18:00"), HELSINKI, 7, date(2026, 11, 23)) is None
    assert digest_due(at("2026-11-24T07:01"), HELSINKI, 7, date(2026, 11, 23)) == date(2026, 11, 24)


VALID: dict[str, Any] = {"event_type": "qa.evaluation.submitted.v1", "channel": "email",
                         "recipients": ["Lead@Example.com"], "language": "fi", "time_zone": HELSINKI,
                         "quiet_hours": {"start": "21:00", "end": "07:00"}}


def test_a_valid_rule() -> None:
    rule = RuleRequest.model_validate(VALID)
    assert rule.recipients == ["lead@example.com"]
    assert rule.quiet_hours == NIGHT


@pytest.mark.parametrize("change", [
    {"channel": "wallboard", "recipients": []},
    {"channel": "wallboard", "event_type": "coaching.session.recorded.v1", "recipients": []},
    {"channel": "wallboard", "event_type": "kpi.alert.raised.v1"},
    {"recipients": []},
    {"recipients": ["not an address"]},
    {"recipients": ["a@example.com\r\nBcc: everyone@example.com"]},
    {"language": "de"},
    {"time_zone": "Mars/Olympus"},
    {"quiet_hours": {"start": "07:00", "end": "07:00"}},
    {"event_type": "cc.interaction.offered.v1"},
    {"digest_hour": 24},
    {"tenant_id": "globex"},
])
def test_invalid_rules_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RuleRequest.model_validate({**VALID, **change})


def test_a_wallboard_rule_takes_kpi_alerts() -> None:
    rule = RuleRequest.model_validate({"event_type": "kpi.alert.raised.v1", "channel": "wallboard"})
    assert rule.channel is Channel.WALLBOARD


COACHING = {"session_id": "cs-1", "agent_id": "a-17", "coach_id": "tl-3", "held_at": "2026-11-23T09:00:00Z"}


@pytest.mark.parametrize(("language", "subject", "body"), [
    ("en", "Coaching session recorded for a-17", "tl-3 recorded a coaching session with agent a-17 on "),
    ("fi", "Valmennuskeskustelu kirjattu: a-17", "tl-3 kirjasi valmennuskeskustelun agentin a-17 kanssa "),
    ("sv", "Coachningssamtal registrerat: a-17", "tl-3 registrerade ett coachningssamtal med agent a-17 "),
    ("nb", "Coachingsamtale registrert: a-17", "tl-3 registrerte en coachingsamtale med agent a-17 "),
])
def test_each_language_has_its_own_text(language: Any, subject: str, body: str) -> None:
    mail = render("coaching.session.recorded.v1", language, COACHING)
    assert mail.subject == subject
    assert mail.body.startswith(body + "2026-11-23T09:00:00Z.")


@given(event_type=st.text(max_size=40), language=st.sampled_from(["en", "fi", "sv", "nb"]),
       data=st.dictionaries(st.text(max_size=10), st.text() | st.integers() | st.none(), max_size=5))
def test_any_payload_renders_a_one_line_subject(event_type: str, language: Any, data: dict[str, Any]) -> None:
    mail = render(event_type, language, data)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert len(mail.subject) <= 200
    assert mail.body


def test_the_digest_lists_the_days_lines() -> None:
    mail = render_digest("sv", date(2026, 11, 23), ["first", "second"])
    assert mail.subject == "Coachlines dagliga sammanfattning 2026-11-23"
    assert "- first\n- second" in mail.body


def rule(**changes: Any) -> Rule:
    values: dict[str, Any] = {"id": uuid.uuid4(), "tenant_id": "acme", "event_type": "kpi.alert.raised.v1",
                              "channel": "wallboard", "recipients": [], "team_ids": [], "language": "en",
                              "time_zone": "UTC",
                              "quiet_hours": None, "digest_hour": 7, "created_at": datetime.now(UTC)}
    return Rule(**{**values, **changes})


def alert(scope: Scope, level: AlertLevel = AlertLevel.WARNING) -> Any:
    data = KpiAlertRaised(alert_id="al-1", kpi="service_level", scope=scope, scope_id="x-1", level=level,
                          value=None, threshold=0.8, raised_at=datetime.now(UTC))
    return new_event("kpi.alert.raised.v1", "acme", data, source="coachline/kpi")


NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


@pytest.mark.parametrize("scope", [Scope.TEAM, Scope.QUEUE, Scope.TENANT])
def test_an_aggregate_alert_becomes_a_banner_that_expires(scope: Scope) -> None:
    event, wallboard = alert(scope), rule()
    banner = banner_for_alert(event, event.data.model_dump(mode="json"), wallboard, NOW, 1800)
    assert banner is not None and banner.type == "notifications.banner.published.v1"
    assert (banner.data.scope, banner.data.severity, banner.data.kind) == (scope.value, "warning",
                                                                           "service_level_alert")
    assert banner.data.expires_at == NOW + timedelta(minutes=30)
    again = banner_for_alert(event, event.data.model_dump(mode="json"), rule(), NOW, 1800)
    assert (again is not None and again.id != banner.id) or (again is not None and again.data == banner.data)


def test_an_agents_alert_never_becomes_a_banner() -> None:
    event = alert(Scope.AGENT)
    assert banner_for_alert(event, event.data.model_dump(mode="json"), rule(), NOW, 1800) is None


def test_a_cleared_alert_replaces_its_banner_briefly() -> None:
    raised, cleared = alert(Scope.QUEUE), alert(Scope.QUEUE, AlertLevel.CLEARED)
    first = banner_for_alert(raised, raised.data.model_dump(mode="json"), rule(), NOW, 1800)
    second = banner_for_alert(cleared, cleared.data.model_dump(mode="json"), rule(), NOW, 1800)
    assert first is not None and second is not None
    assert first.data.banner_id == second.data.banner_id
    assert second.data.severity == "info"
    assert second.data.expires_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize(("team_ids", "data", "expected"), [
    ([], {"team_id": "t-north"}, True),
    ([], {}, True),
    (["t-north"], {"team_id": "t-north"}, True),
    (["t-north"], {"team_id": "t-south"}, False),
    (["t-north"], {}, False),
    (["t-north"], {"scope": "team", "scope_id": "t-north"}, True),
    (["t-north"], {"scope": "queue", "scope_id": "t-north"}, False),
])
def test_a_team_lead_rule_follows_its_teams_only(team_ids: list[str], data: dict[str, Any], expected: bool) -> None:
    assert applies(rule(team_ids=team_ids), data) is expected
