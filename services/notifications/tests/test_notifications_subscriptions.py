"""What a webhook registration must look like."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from coachline_notifications.domain.subscriptions import (
    MAX_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
    SubscriptionRequest,
)

pytestmark = pytest.mark.unit

VALID: dict[str, Any] = {
    "url": "https://hr.example/hooks/coaching",
    "event_types": ["coaching.session.recorded.v1"],
}


def test_a_valid_request() -> None:
    request = SubscriptionRequest.model_validate(VALID)
    assert str(request.url) == VALID["url"]
    assert request.event_types == ["coaching.session.recorded.v1"]


def test_webhooks_carry_coaching_evaluations_and_alerts() -> None:
    assert {"coaching.session.recorded.v1", "qa.evaluation.submitted.v1", "kpi.alert.raised.v1"} <= set(
        WEBHOOK_EVENT_TYPES)


def test_a_repeated_event_type_counts_once() -> None:
    request = SubscriptionRequest.model_validate({**VALID, "event_types": ["coaching.session.recorded.v1"] * 2})
    assert request.event_types == ["coaching.session.recorded.v1"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "ftp://hr.example/hooks"),
        ("url", "file:///etc/passwd"),
        ("url", "hr.example/hooks"),
        ("url", "https://hr.example/" + "a" * 2100),
        ("url", 42),
        ("event_types", []),
        ("event_types", ["cc.interaction.offered.v1"]),
        ("event_types", ["no.such.type.v1"]),
        ("event_types", "coaching.session.recorded.v1"),
        ("event_types", ["coaching.session.recorded.v1"] * (MAX_EVENT_TYPES + 1)),
    ],
)
def test_invalid_fields_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        SubscriptionRequest.model_validate({**VALID, field: value})
    assert caught.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("extra", [{"secret": "whsec_mine"}, {"tenant_id": "globex"}])
def test_unknown_fields_are_refused(extra: dict[str, str]) -> None:
    # The tenant comes from the caller's token, never from the body.
    with pytest.raises(ValidationError):
        SubscriptionRequest.model_validate({**VALID, **extra})


@pytest.mark.parametrize("missing", sorted(VALID))
def test_every_field_is_required(missing: str) -> None:
    with pytest.raises(ValidationError):
        SubscriptionRequest.model_validate({k: v for k, v in VALID.items() if k != missing})
