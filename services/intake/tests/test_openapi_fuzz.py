"""schemathesis against intake's OpenAPI document: signed requests of every shape the schema allows,
and beyond it, never get a server error, and what is accepted is valid canonical input."""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from coachline.contracts.registry import EVENT_TYPES

from .helpers import make_app, signed

pytestmark = pytest.mark.component

APP, PUBLISHED = make_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schemathesis.serializer("application/x-ndjson")
def ndjson_lines(ctx: Any, value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def body_of(kwargs: dict[str, Any]) -> bytes:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data", b"")
    if isinstance(data, dict):
        return urlencode(data).encode()
    return data if isinstance(data, bytes) else str(data).encode()


@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_intake_answers_every_request_without_a_server_error(case: Any) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://intake")
    body = body_of(kwargs)
    content_type = kwargs["headers"].get("Content-Type", "application/json")
    before = len(PUBLISHED.events)
    with TestClient(APP, raise_server_exceptions=False) as client:
        answer = client.post(kwargs["url"].removeprefix("http://intake"), content=body,
                             headers={**{k: v for k, v in kwargs["headers"].items() if k.isascii()},
                                      **signed(body, content_type)})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
        assert len(PUBLISHED.events) == before
        return
    assert answer.status_code == 202
    result = answer.json()
    published = PUBLISHED.events[before:]
    assert result["accepted"] >= 1 and [e.id for e in published] == result["event_ids"]
    for event in published:  # what intake accepted is valid canonical input, checked again from the bytes
        EVENT_TYPES[event.type].model.model_validate_json(event.body())
