"""Wallboards through HTTP against real Kafka and PostgreSQL: admin, tokens, page, stream, banners."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.notifications import WallboardBannerPublished
from coachline.envelope import new_event
from coachline.signing import new_secret, signature_headers
from coachline_intake.app import create_app as create_intake
from coachline_intake.settings import Settings as IntakeSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings

pytestmark = pytest.mark.integration
SECRET = new_secret()
LAYOUT = {"scopes": [{"scope": "queue", "scope_id": "billing", "label": "Billing"}, {"scope": "tenant"}]}


class Sse:
    """Reads one server-sent event stream, event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout: float = 20.0) -> dict[str, str]:
        event: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if not line:
                    if event:
                        return event
                    continue
                name, _, value = line.partition(":")
                if name:
                    event[name] = value.removeprefix(" ")
                else:  # a comment: the heartbeat
                    self.comments.append(value.strip())
        raise AssertionError("the stream ended")

    async def next_of(self, kind: str, timeout: float = 20.0) -> dict[str, str]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                if event.get("event") == kind:
                    return event


@pytest.fixture
async def kpi(settings_for, run_app) -> AsyncIterator[tuple[str, Any]]:
    app = create_kpi(settings_for(KpiSettings, sse_keepalive_s=1.0))
    yield await run_app(app), app


@pytest.fixture
async def intake(settings_for, run_app) -> str:
    return await run_app(create_intake(settings_for(IntakeSettings, source_secrets={"acme": {"generic": [SECRET]}})))


async def new_board(client: httpx.AsyncClient, base: str, admin: dict[str, str], **extra: Any) -> tuple[str, str]:
    made = await client.post(f"{base}/v1/wallboards", headers=admin,
                             json={"name": "Billing floor", "language": "sv", "layout": LAYOUT, **extra})
    assert made.status_code == 201, made.text
    board_id = made.json()["wallboard_id"]
    issued = await client.post(f"{base}/v1/wallboards/{board_id}/tokens", headers=admin, json={"label": "TV 1"})
    assert issued.status_code == 201, issued.text
    return board_id, issued.json()["token"]


def offered(n: int, queue: str = "billing") -> list[dict[str, Any]]:
    at = datetime.now(UTC).isoformat()
    return [{"specversion": "1.0", "id": f"o-{queue}-{i}", "source": "pbx", "type": "cc.interaction.offered.v1",
             "tenantid": "acme", "data": {"interaction_id": f"c-{queue}-{i}", "queue_id": queue, "channel": "voice",
                                          "occurred_at": at}} for i in range(n)]


async def post(client: httpx.AsyncClient, intake: str, events: list[dict[str, Any]]) -> None:
    body = "\n".join(map(json.dumps, events)).encode()
    answer = await client.post(f"{intake}/v1/sources/generic/events", content=body, headers={
        "content-type": "application/x-ndjson", "coachline-tenant": "acme",
        **signature_headers(SECRET, uuid.uuid4().hex, body)})
    assert answer.status_code == 202, answer.text


async def figures_until(stream: Sse, check: Callable[[dict[str, Any]], bool]) -> dict[str, str]:
    while True:
        event = await stream.next_of("figures")
        if check(json.loads(event["data"])):
            return event


def billing_offered(n: int) -> Callable[[dict[str, Any]], bool]:
    def check(update: dict[str, Any]) -> bool:
        return (update["scope"], update["scope_id"]) == ("queue", "billing") and any(
            window.startswith("day:") and Decimal(figures.get("offered") or 0) == n
            for window, figures in update["windows"].items())

    return check


async def test_an_admin_manages_boards_and_tokens_within_the_tenant(kpi, identity) -> None:
    base, _ = kpi
    admin = identity.headers("acme", "admin")
    async with httpx.AsyncClient(timeout=30) as client:
        board_id, token = await new_board(client, base, admin)
        shown = (await client.get(f"{base}/v1/wallboards/{board_id}", headers=admin)).json()
        assert shown["layout"]["scopes"][1] == {"scope": "tenant", "scope_id": "acme", "label": None, "members": False}
        assert shown["language"] == "sv"
        tokens = (await client.get(f"{base}/v1/wallboards/{board_id}/tokens", headers=admin)).json()
        assert [(t["label"], t["revoked_at"]) for t in tokens] == [("TV 1", None)]
        assert "token" not in tokens[0]  # the secret is shown once, when issued

        # Another tenant's admin sees nothing of it; a team lead may not manage boards.
        other = identity.headers("globex", "admin")
        assert (await client.get(f"{base}/v1/wallboards/{board_id}", headers=other)).status_code == 404
        assert (await client.get(f"{base}/v1/wallboards", headers=other)).json() == []
        lead = identity.headers("acme", "team_lead", teams=("north",))
        refused = await client.post(f"{base}/v1/wallboards", headers=lead, json={"name": "x", "layout": LAYOUT})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"

        agent_board = await client.post(f"{base}/v1/wallboards", headers=admin, json={
            "name": "x", "layout": {"scopes": [{"scope": "agent", "scope_id": "a-1"}]}})
        assert agent_board.status_code == 422
        assert "scopes" in json.dumps(agent_board.json()["errors"])

        page = await client.get(f"{base}/wallboards/{board_id}", params={"token": token})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "Billing floor" in page.text
        assert (await client.get(f"{base}/wallboards/static/wallboard.js")).status_code == 200

        token_id = tokens[0]["token_id"]
        assert (await client.delete(f"{base}/v1/wallboards/{board_id}/tokens/{token_id}",
                                    headers=admin)).status_code == 204
        revoked = await client.get(f"{base}/wallboards/{board_id}", params={"token": token})
        assert revoked.status_code == 401
        assert revoked.headers["content-type"] == "application/problem+json"
        gone = await client.get(f"{base}/v1/wallboards/{board_id}/stream", params={"token": token})
        assert gone.status_code == 401

        # A token opens only the board it was issued for.
        second, second_token = await new_board(client, base, admin)
        assert (await client.get(f"{base}/wallboards/{board_id}", params={"token": second_token})).status_code == 401
        assert (await client.get(f"{base}/wallboards/{second}", params={"token": second_token})).status_code == 200
        assert (await client.delete(f"{base}/v1/wallboards/{second}", headers=admin)).status_code == 204
        assert (await client.get(f"{base}/wallboards/{second}", params={"token": second_token})).status_code == 401


async def test_the_stream_pushes_figures_and_banners_and_resumes(kpi, intake, identity) -> None:
    base, app = kpi
    admin = identity.headers("acme", "admin")
    async with httpx.AsyncClient(timeout=30) as client:
        board_id, token = await new_board(client, base, admin)
        url = f"{base}/v1/wallboards/{board_id}/stream"
        async with client.stream("GET", url, params={"token": token}) as response:
            assert response.status_code == 200
            stream = Sse(response)
            assert (await stream.next())["retry"] == "2000"
            assert json.loads((await stream.next_of("banners"))["data"]) == {"banners": []}

            await post(client, intake, offered(3))
            event = await figures_until(stream, billing_offered(3))
            last_id = event["id"]
            assert int(last_id) > 0

            now = datetime.now(UTC)
            banner = WallboardBannerPublished(
                banner_id="bn-1", kind="announcement", severity="info", scope="queue", scope_id="billing",
                title="Fika at three", language="sv", published_at=now - timedelta(seconds=1),
                expires_at=now + timedelta(minutes=10))
            await app.state.runtime.publish(new_event("notifications.banner.published.v1", "acme", banner,
                                                      source="coachline/notifications"))
            banners = json.loads((await stream.next_of("banners"))["data"])["banners"]
            assert [(b["banner_id"], b["title"]) for b in banners] == [("bn-1", "Fika at three")]

            # Quiet now: only heartbeats (every KPI_SSE_KEEPALIVE_S, 1 s here) keep proxies from closing it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    while True:
                        await stream.next()
            assert "heartbeat" in stream.comments

        # Reconnecting with the last id sends what changed since (here: both scopes, within the overlap);
        # an id from the future sends no figures, only the banners.
        async with client.stream("GET", url, params={"token": token}, headers={"Last-Event-ID": last_id}) as response:
            stream = Sse(response)
            first = await stream.next_of("figures")
            assert json.loads(first["data"])["scope"] in ("queue", "tenant")
        future = str(int(last_id) + 10**12)
        async with client.stream("GET", url, params={"token": token}, headers={"Last-Event-ID": future}) as response:
            stream = Sse(response)
            await stream.next()  # retry
            assert (await stream.next())["event"] == "banners"

            # Revoking the token ends a stream already open: a kiosk taken off the wall stops receiving.
            listed = (await client.get(f"{base}/v1/wallboards/{board_id}/tokens", headers=admin)).json()
            revoked = await client.delete(f"{base}/v1/wallboards/{board_id}/tokens/{listed[0]['token_id']}",
                                          headers=admin)
            assert revoked.status_code == 204
            with pytest.raises(AssertionError, match="the stream ended"):
                await stream.next_of("never-sent", timeout=30)


def test_the_stream_route_documents_its_parameters() -> None:
    schema = create_kpi(KpiSettings()).openapi()
    stream = schema["paths"]["/v1/wallboards/{wallboard_id}/stream"]["get"]
    assert {p["name"] for p in stream["parameters"]} == {"wallboard_id", "token", "Last-Event-ID"}


ids = st.one_of(st.text(max_size=40), st.from_regex(r"wb-[0-9a-f]{16}", fullmatch=True))
tokens = st.one_of(st.none(), st.text(max_size=80), st.from_regex(r"wbt_[A-Za-z0-9_-]{43}", fullmatch=True))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(board_id=ids, token=tokens, path=st.sampled_from(["/wallboards/{}", "/v1/wallboards/{}/stream"]))
async def test_a_bad_board_or_token_gets_a_problem_never_a_page_or_a_server_error(kpi, board_id: str,
                                                                                  token: str | None,
                                                                                  path: str) -> None:
    base, _ = kpi
    params = {} if token is None else {"token": token}
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(base + path.format(quote(board_id, safe="")), params=params)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == answer.status_code
    if answer.status_code == 422:
        assert {e["loc"].split(".")[0] for e in problem["errors"]} <= {"path", "query"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
near_valid = st.fixed_dictionaries({"name": st.text(max_size=130), "language": st.text(max_size=3),
                                    "layout": st.fixed_dictionaries({"scopes": json_values, "tiles": json_values,
                                                                     "targets": json_values})})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, near_valid))
async def test_any_board_an_admin_sends_is_created_or_refused_with_a_problem(kpi, identity, body: Any) -> None:
    base, _ = kpi
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(f"{base}/v1/wallboards", json=body, headers=identity.headers("acme", "admin"))
    assert answer.status_code in (201, 422), answer.text
    if answer.status_code == 422:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"]


def answered(n: int, agent: str = "a-1", team: str = "north") -> list[dict[str, Any]]:
    at = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        cid = f"c-{uuid.uuid4().hex[:8]}"
        base = {"interaction_id": cid, "queue_id": "billing", "channel": "voice", "occurred_at": at}
        for kind, extra in (("offered", {}), ("answered", {"queue_wait_s": "5"}),
                            ("wrapped-up", {"talk_s": "100", "hold_s": "0", "after_contact_work_s": "20"})):
            agent_fields = {"agent_id": agent, "team_id": team} if kind != "offered" else {}
            out.append({"specversion": "1.0", "id": f"{cid}-{kind}-{i}", "source": "pbx",
                        "type": f"cc.interaction.{kind}.v1", "tenantid": "acme",
                        "data": {**base, **agent_fields, **extra}})
    return out


def agent_state(agent: str, team: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"s-{uuid.uuid4().hex[:8]}", "source": "pbx",
            "type": "cc.agent.state-changed.v1", "tenantid": "acme",
            "data": {"agent_id": agent, "team_id": team, "state": "available",
                     "occurred_at": datetime.now(UTC).isoformat()}}


async def test_a_teams_members_show_only_after_the_team_decided_open(kpi, intake, identity) -> None:
    base, _ = kpi
    admin = identity.headers("acme", "admin")
    lead = identity.headers("acme", "team_lead", teams=("north",))
    layout = {"scopes": [{"scope": "team", "scope_id": "north", "members": True}]}
    async with httpx.AsyncClient(timeout=30) as client:
        made = await client.post(f"{base}/v1/wallboards", headers=admin, json={"name": "North", "layout": layout})
        board_id = made.json()["wallboard_id"]
        token = (await client.post(f"{base}/v1/wallboards/{board_id}/tokens", headers=admin)).json()["token"]
        async with client.stream("GET", f"{base}/v1/wallboards/{board_id}/stream", params={"token": token}) as response:
            stream = Sse(response)

            def handled(n: int) -> Callable[[dict[str, Any]], bool]:
                return lambda u: any(w.startswith("day:") and Decimal(f.get("handled") or 0) == n
                                     for w, f in u["windows"].items())

            # The agent's state event puts them in the team (as the roster would).
            await post(client, intake, [agent_state("a-1", "north"), *answered(2)])
            closed = json.loads((await figures_until(stream, handled(2)))["data"])
            assert closed["members"] is None  # self_vs_team: the team's figures, nobody's own

            decided = await client.put(f"{base}/v1/teams/north/visibility", headers=lead,
                                       json={"visibility": "open", "decision": "Team meeting, 23 Nov"})
            assert decided.status_code == 200, decided.text
            await post(client, intake, answered(1))
            opened = json.loads((await figures_until(stream, handled(3)))["data"])
            assert [m["agent_id"] for m in opened["members"]] == ["a-1"]

            back = await client.put(f"{base}/v1/teams/north/visibility", headers=lead,
                                    json={"visibility": "self_vs_team", "decision": "Back to own figures"})
            assert back.status_code == 200, back.text
            await post(client, intake, answered(1))
            again = json.loads((await figures_until(stream, handled(4)))["data"])
            assert again["members"] is None
