"""The HTTP boundary: signatures, limits, line-by-line answers and problem documents, without Kafka."""

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.signing import new_secret
from coachline_intake.settings import Settings

from .helpers import NEXT_SECRET, SECRET, Published, make_app, make_settings, signed

pytestmark = pytest.mark.component

CORPUS = Path(__file__).parent / "corpus"
URL = "/v1/sources/{}/events"


def offered(i: int = 1, **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"pbx-{i}", "source": "pbx", "type": "cc.interaction.offered.v1",
            "tenantid": "acme", "data": {"interaction_id": f"c-{i}", "queue_id": "billing", "channel": "voice",
                                         "occurred_at": "2026-11-23T09:00:00Z", **data}}


def ndjson(items: list[Any]) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode()


async def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


@pytest.fixture
async def intake() -> AsyncIterator[tuple[httpx.AsyncClient, Published]]:
    app, published = make_app()
    async with await client_for(app) as client:
        yield client, published


async def post(client: httpx.AsyncClient, source: str, body: bytes, content_type: str = "application/x-ndjson",
               **sign: Any) -> httpx.Response:
    return await client.post(URL.format(source), content=body, headers=signed(body, content_type, **sign))


def is_problem(answer: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    if field is not None:
        assert problem["field"] == field, problem
    return problem


async def test_a_mixed_batch_publishes_good_lines_and_dead_letters_bad_ones(intake) -> None:
    client, published = intake
    body = ndjson([offered(1), offered(2, channel="carrier-pigeon"), offered(3)]) + b"\n{not json\n"
    answer = await post(client, "generic", body)
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (2, 2)
    assert [line["status"] for line in result["lines"]] == ["accepted", "rejected", "accepted", "rejected"]
    assert result["lines"][1]["field"] == "channel" and "channel" in result["lines"][1]["reason"]
    assert result["lines"][3]["line"] == 4 and "not JSON" in result["lines"][3]["reason"]
    assert result["event_ids"] == [e.id for e in published.events]
    assert [(d.line, d.source, d.tenant_id) for d in published.dead_letters] == [(2, "generic", "acme"),
                                                                                 (4, "generic", "acme")]
    assert all(d.reason for d in published.dead_letters)


async def test_every_body_shape_is_read(intake) -> None:
    client, _ = intake
    one = await post(client, "generic", json.dumps(offered(1)).encode(), "application/json")
    array = await post(client, "generic", json.dumps([offered(2), offered(3)]).encode(), "application/json")
    lines = await post(client, "asterisk", (CORPUS / "asterisk.queue_log").read_bytes(), "text/plain")
    form = await post(client, "twilio-taskrouter", httpx.QueryParams(json.loads(
        (CORPUS / "twilio-taskrouter.ndjson").read_text().splitlines()[2])).__str__().encode(),
        "application/x-www-form-urlencoded")
    assert [a.status_code for a in (one, array, lines, form)] == [202] * 4
    assert (one.json()["accepted"], array.json()["accepted"], form.json()["accepted"]) == (1, 2, 1)
    assert lines.json()["accepted"] == 16 and len(lines.json()["event_ids"]) == 16
    assert form.json()["lines"][0]["event_ids"]


async def test_a_batch_with_nothing_mappable_is_422_listing_every_line(intake) -> None:
    client, published = intake
    answer = await post(client, "asterisk", b"just words\n1|2|3\n", "text/plain")
    problem = is_problem(answer, 422, "line")
    assert [line["line"] for line in problem["lines"]] == [1, 2]
    assert len(published.dead_letters) == 2 and not published.events


@pytest.mark.parametrize("change", ["no-tenant", "other-tenant", "no-signature", "wrong-secret", "stale", "future",
                                    "body-changed"])
async def test_requests_that_do_not_prove_their_origin_get_401(intake, change: str) -> None:
    client, published = intake
    body = ndjson([offered()])
    headers = signed(body, "application/x-ndjson")
    source = "generic"
    if change == "no-tenant":
        del headers["coachline-tenant"]
    elif change == "other-tenant":
        headers["coachline-tenant"] = "globex"
    elif change == "no-signature":
        del headers["webhook-signature"]
    elif change == "wrong-secret":
        headers = signed(body, "application/x-ndjson", secret=new_secret())
    elif change == "stale":
        headers = signed(body, "application/x-ndjson", now=time.time() - 310)
    elif change == "future":
        headers = signed(body, "application/x-ndjson", now=time.time() + 310)
    elif change == "body-changed":
        body = ndjson([offered(2)])
    answer = await client.post(URL.format(source), content=body, headers=headers)
    problem = is_problem(answer, 401)
    assert problem["field"] in ("coachline-tenant", "webhook-id", "webhook-timestamp", "webhook-signature")
    assert not published.events and not published.dead_letters


async def test_two_secrets_are_valid_during_a_rotation() -> None:
    app, _ = make_app(make_settings(source_secrets={"acme": {"generic": [SECRET, NEXT_SECRET]}}))
    async with await client_for(app) as client:
        for secret in (SECRET, NEXT_SECRET, [SECRET, NEXT_SECRET]):
            assert (await post(client, "generic", ndjson([offered()]), secret=secret)).status_code == 202
        is_problem(await post(client, "generic", ndjson([offered()]), secret=new_secret()), 401)


async def test_secrets_come_from_a_mounted_file_and_a_rotation_needs_no_restart(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"acme": {"generic": [SECRET]}}))
    app, _ = make_app(Settings(source_secrets_file=secrets_file))
    async with await client_for(app) as client:
        assert (await post(client, "generic", ndjson([offered()]))).status_code == 202
        is_problem(await post(client, "generic", ndjson([offered()]), secret=NEXT_SECRET), 401)
        secrets_file.write_text(json.dumps({"acme": {"generic": [SECRET, NEXT_SECRET]}}))
        import os
        os.utime(secrets_file, (time.time() + 5, time.time() + 5))
        assert (await post(client, "generic", ndjson([offered()]), secret=NEXT_SECRET)).status_code == 202


async def test_a_body_over_the_limit_is_413_before_it_is_read(intake) -> None:
    client, _ = intake
    declared = await client.post(URL.format("generic"), content=b"x" * (1024 * 1024 + 1),
                                 headers={"content-type": "application/x-ndjson", "coachline-tenant": "acme"})
    is_problem(declared, 413, "body")

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(2048):
            yield b"y" * 1024

    # Chunked, without a length: refused once the limit is passed.
    streamed = await client.post(URL.format("generic"), content=endless(),
                                 headers={"content-type": "application/x-ndjson", "coachline-tenant": "acme"})
    is_problem(streamed, 413, "body")


async def test_more_than_1000_records_is_413(intake) -> None:
    client, published = intake
    lines = "\n".join(f"1795424400|c.{i}|billing|NONE|ENTERQUEUE||unknown|1" for i in range(1001)).encode()
    is_problem(await post(client, "asterisk", lines, "text/plain"), 413, "body")
    lines = b"\n".join(lines.split(b"\n")[:1000])
    assert (await post(client, "asterisk", lines, "text/plain")).json()["accepted"] == 1000
    assert not published.dead_letters


async def test_a_tenant_over_its_rate_gets_429_with_retry_after() -> None:
    app, published = make_app(make_settings(rate_limit_events_per_s=1.0, rate_limit_burst=5))
    async with await client_for(app) as client:
        assert (await post(client, "generic", ndjson([offered(i) for i in range(5)]))).status_code == 202
        answer = await post(client, "generic", ndjson([offered(9)]))
        is_problem(answer, 429)
        assert int(answer.headers["retry-after"]) >= 1
        assert len(published.events) == 5


async def test_kafka_unavailable_is_503_and_nothing_is_accepted(intake) -> None:
    client, published = intake
    published.kafka_down = True
    answer = await post(client, "generic", ndjson([offered(1), offered(2, channel="x")]))
    is_problem(answer, 503)
    assert answer.headers["retry-after"]
    assert not published.events and not published.dead_letters


async def test_a_repeated_webhook_id_is_answered_200_and_taken_once(intake) -> None:
    client, published = intake
    body = ndjson([offered(1), offered(2)])
    headers = signed(body, "application/x-ndjson", msg_id="msg-retried")
    published.kafka_down = True  # the first try fails: the sender retries with the same id, which is then taken
    is_problem(await client.post(URL.format("generic"), content=body, headers=headers), 503)
    published.kafka_down = False
    first = await client.post(URL.format("generic"), content=body, headers=headers)
    assert first.status_code == 202, first.text
    # A retry (new timestamp, as Standard Webhooks senders sign each attempt) or a replay of the same bytes.
    for repeat in (signed(body, "application/x-ndjson", msg_id="msg-retried"), headers):
        again = await client.post(URL.format("generic"), content=body, headers=repeat)
        assert again.status_code == 200, again.text
        assert again.json() == {"status": "already-taken", "webhook_id": "msg-retried"}
    assert len(published.events) == 2
    other_source = await post(client, "asterisk", b"1795424400|c.1|billing|NONE|ENTERQUEUE||unknown|1", "text/plain",
                              msg_id="msg-retried")
    assert other_source.status_code == 202


@pytest.mark.parametrize(("source", "content_type"), [("asterisk", "application/json"),
                                                       ("generic", "text/plain"), ("generic", "image/png")])
async def test_a_media_type_the_source_does_not_read_is_415(intake, source: str, content_type: str) -> None:
    client, _ = intake
    is_problem(await post(client, source, b"{}", content_type), 415, "content-type")


async def test_an_unknown_source_is_404(intake) -> None:
    client, _ = intake
    is_problem(await post(client, "carrier-pigeon", b"{}", "application/json"), 404, "source")


async def test_generic_events_for_another_tenant_are_rejected_by_line(intake) -> None:
    client, published = intake
    answer = await post(client, "generic", ndjson([offered(1), {**offered(2), "tenantid": "globex"}]))
    assert answer.json()["lines"][1]["field"] == "tenantid"
    assert {e.tenant_id for e in published.events} == {"acme"}


async def test_dead_letters_carry_no_raw_phone_number(intake) -> None:
    client, published = intake
    bad = "1795424400|1795424400.1|billing|NONE|ENTERQUEUE||040 123 4567|oops|" + "x" * 5000
    await post(client, "asterisk", f"{bad}\n1795424400|1795424400.2|billing|NONE|ENTERQUEUE||unknown|1".encode(),
               "text/plain")
    assert len(published.dead_letters) == 1
    assert b"123 4567" not in published.dead_letters[0].body


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(["generic", "asterisk", "survey", "amazon-connect", "twilio-taskrouter", "nope"]),
       body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
       content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain",
                                     "application/x-www-form-urlencoded", ""]),
       sign=st.booleans())
async def test_any_request_gets_a_4xx_or_202_never_a_server_error(source: str, body: bytes, content_type: str,
                                                                   sign: bool) -> None:
    app, published = make_app()
    async with await client_for(app) as client:
        headers = signed(body, content_type) if sign else {"content-type": content_type}
        answer = await client.post(URL.format(source), content=body, headers=headers)
    assert answer.status_code in (202, 401, 404, 413, 415, 422), answer.text
    if answer.status_code == 202:
        assert answer.json()["accepted"] >= 1
        assert len(published.dead_letters) == answer.json()["rejected"]
    else:
        assert answer.headers["content-type"] == "application/problem+json"
        assert not published.events
