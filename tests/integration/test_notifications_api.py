"""The subscription API of notifications, served for real (lifespan, PostgreSQL, Kafka) over loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.testing import Identity
from coachline_notifications.app import create_app
from coachline_notifications.domain.destinations import IPAddress
from coachline_notifications.settings import Settings

pytestmark = pytest.mark.integration

VALID = {
    "url": "https://hr.example/hooks/coaching",
    "event_types": ["coaching.session.recorded.v1"],
}
# The test's DNS: public names, and names that resolve into the service's own network.
DNS: dict[str, list[str]] = {
    "hr.example": ["93.184.215.14"],
    "intranet.example": ["10.20.30.40"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.215.15", "192.168.0.10"],
    "localhost": ["127.0.0.1"],
}


async def resolve(host: str, port: int) -> list[IPAddress]:
    if host not in DNS:
        raise OSError(f"{host} does not resolve")
    return [ipaddress.ip_address(a) for a in DNS[host]]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    return dict(problem)


@pytest.fixture
async def base_url(settings_for: Callable[..., Settings], run_app: Callable[[Any], Awaitable[str]]) -> str:
    return await run_app(create_app(settings_for(Settings), resolver=resolve))


@pytest.fixture
def admin(identity: Identity) -> dict[str, str]:
    return identity.headers("acme", "admin")


async def test_a_subscription_is_registered_read_and_deleted(base_url: str, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        created = await http.post("/v1/subscriptions", json=VALID)
        assert created.status_code == 201, created.text
        body = created.json()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", body["secret"])
        assert created.headers["location"] == f"/v1/subscriptions/{body['id']}"
        assert {k: body[k] for k in VALID} == VALID
        assert (body["tenant_id"], body["disabled_at"]) == ("acme", None)

        read = await http.get(f"/v1/subscriptions/{body['id']}")
        assert read.status_code == 200
        assert "secret" not in read.json()
        assert read.json() == {k: v for k, v in body.items() if k != "secret"}
        assert (await http.get("/v1/subscriptions")).json() == {"items": [read.json()]}

        assert (await http.delete(f"/v1/subscriptions/{body['id']}")).status_code == 204
        assert_problem(await http.get(f"/v1/subscriptions/{body['id']}"), 404)
        assert_problem(await http.delete(f"/v1/subscriptions/{body['id']}"), 404)


async def test_every_registration_gets_its_own_secret(base_url: str, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        first, second = [(await http.post("/v1/subscriptions", json=VALID)).json() for _ in range(2)]
    assert first["id"] != second["id"]
    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(
    "body",
    [
        {**VALID, "url": "ftp://hr.example/hooks"},
        {**VALID, "url": "https://hr.example/" + "a" * 2100},
        {**VALID, "event_types": ["cc.interaction.offered.v1"]},
        {**VALID, "event_types": []},
        {**VALID, "tenant_id": "globex"},
        {k: v for k, v in VALID.items() if k != "url"},
        [VALID],
        "not an object",
    ],
)
async def test_a_malformed_registration_gets_422_problem_json(base_url: str, admin: dict[str, str],
                                                              body: object) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        problem = assert_problem(await http.post("/v1/subscriptions", json=body), 422)
    assert problem["errors"]


async def test_a_body_that_is_not_json_gets_422_problem_json(base_url: str, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        response = await http.post("/v1/subscriptions", content=b"{tenant_id: acme",
                                   headers={"content-type": "application/json"})
    assert_problem(response, 422)


async def test_unknown_and_malformed_ids_get_problem_json(base_url: str, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        assert_problem(await http.get(f"/v1/subscriptions/{uuid.uuid4()}"), 404)
        assert_problem(await http.delete(f"/v1/subscriptions/{uuid.uuid4()}"), 404)
        assert_problem(await http.get(f"/v1/subscriptions/{uuid.uuid4()}/deliveries"), 404)
        assert_problem(await http.post(f"/v1/subscriptions/{uuid.uuid4()}/rotate-secret"), 404)
        assert_problem(await http.post(f"/v1/subscriptions/{uuid.uuid4()}/enable"), 404)
        assert_problem(await http.post(f"/v1/subscriptions/{uuid.uuid4()}/deliveries/{uuid.uuid4()}/resend"), 404)
        assert_problem(await http.get("/v1/subscriptions/not-a-uuid"), 422)
        assert_problem(await http.get(f"/v1/subscriptions/{uuid.uuid4()}/deliveries", params={"limit": 0}), 422)


async def test_only_a_tenants_admins_manage_its_subscriptions(base_url: str, identity: Identity,
                                                              admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert_problem(await http.post("/v1/subscriptions", json=VALID), 401)
        assert_problem(await http.get("/v1/subscriptions"), 401)
        lead = identity.headers("acme", "team_lead", teams=("t-1",))
        assert_problem(await http.post("/v1/subscriptions", json=VALID, headers=lead), 403)
        created = (await http.post("/v1/subscriptions", json=VALID, headers=admin)).json()
        assert_problem(await http.get(f"/v1/subscriptions/{created['id']}", headers=lead), 403)

        # Another tenant's admin sees nothing of it and cannot touch it (row-level security).
        other = identity.headers("globex", "admin")
        assert (await http.get("/v1/subscriptions", headers=other)).json() == {"items": []}
        for response in (await http.get(f"/v1/subscriptions/{created['id']}", headers=other),
                         await http.delete(f"/v1/subscriptions/{created['id']}", headers=other),
                         await http.post(f"/v1/subscriptions/{created['id']}/rotate-secret", headers=other),
                         await http.get(f"/v1/subscriptions/{created['id']}/deliveries", headers=other)):
            assert_problem(response, 404)
        assert (await http.get(f"/v1/subscriptions/{created['id']}", headers=admin)).status_code == 200


@pytest.mark.parametrize(("url", "why"), [
    ("https://10.0.0.8/hooks", "private"),
    ("https://[::1]/hooks", "loopback"),
    ("https://127.0.0.1:8443/hooks", "loopback"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://[fd00:ec2::254]/hooks", "metadata"),
    ("https://intranet.example/hooks", "private"),
    ("https://metadata.example/hooks", "metadata"),
    ("https://mixed.example/hooks", "private"),
    ("https://localhost/hooks", "loopback"),
    ("https://nowhere.example/hooks", "does not resolve"),
])
async def test_internal_destinations_are_refused_at_registration(base_url: str, admin: dict[str, str],
                                                                 url: str, why: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        problem = assert_problem(await http.post("/v1/subscriptions", json={**VALID, "url": url}), 422)
        assert why in problem["detail"]
        assert problem["errors"][0]["loc"] == "body.url"
        assert (await http.get("/v1/subscriptions")).json() == {"items": []}


async def test_rotating_the_secret_returns_a_new_one_and_keeps_the_old_one_for_the_overlap(
        base_url: str, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=admin) as http:
        created = (await http.post("/v1/subscriptions", json=VALID)).json()
        rotated = await http.post(f"/v1/subscriptions/{created['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        body = rotated.json()
        assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
        assert body["previous_secret_until"] > created["created_at"]
        assert "secret" not in (await http.get(f"/v1/subscriptions/{created['id']}")).json()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Bodies close to valid get past the first check that fails, down to the insert into PostgreSQL.
near_valid = st.fixed_dictionaries(
    {
        "url": st.sampled_from(["https://hr.example/hooks", "http://127.0.0.1:9/x?y=1", "https://metadata.example/",
                                "https://[::ffff:a00:1]/", "https://nowhere.example/"])
        | st.text().map(lambda path: "https://hr.example/" + path)
        | json_values,
        "event_types": st.lists(st.just("coaching.session.recorded.v1"), min_size=1, max_size=3)
        | st.lists(st.sampled_from(["coaching.session.recorded.v1", "kpi.alert.raised.v1"]) | st.text(max_size=30),
                   max_size=25)
        | json_values,
    },
    optional={"secret": st.text(max_size=10), "tenant_id": st.text(max_size=10)},
)


# The app keeps running on the event loop while Hypothesis draws in the worker thread; its own use of
# the global random generator (Kafka client back-off, retry jitter) is what Hypothesis notices here.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_no_body_makes_the_subscription_endpoint_fail(base_url: str, admin: dict[str, str]) -> None:
    """Whatever arrives, the answer is a 201 or a 4xx problem document, never a server error."""

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=near_valid | json_values)
    def fuzz(body: object) -> None:
        response = http.post("/v1/subscriptions", json=body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code == 201
            assert response.json()["secret"].startswith("whsec_")

    # A blocking client in a worker thread: the app under test runs on this test's event loop.
    with httpx.Client(base_url=base_url, timeout=10, headers=admin) as http:
        await asyncio.to_thread(fuzz)


async def test_rules_are_created_listed_and_deleted_by_admins_only(base_url: str, identity: Identity,
                                                                   admin: dict[str, str]) -> None:
    rule = {"event_type": "qa.evaluation.submitted.v1", "channel": "email", "recipients": ["lead@example.com"],
            "language": "sv", "time_zone": "Europe/Stockholm", "quiet_hours": {"start": "20:00", "end": "07:30"}}
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert_problem(await http.post("/v1/rules", json=rule), 401)
        assert_problem(await http.post("/v1/rules", json=rule, headers=identity.headers("acme", "agent")), 403)
        created = await http.post("/v1/rules", json=rule, headers=admin)
        assert created.status_code == 201, created.text
        body = created.json()
        assert created.headers["location"] == f"/v1/rules/{body['id']}"
        assert body["quiet_hours"] == {"start": "20:00:00", "end": "07:30:00"}
        assert (await http.get("/v1/rules", headers=admin)).json() == {"items": [body]}
        other = identity.headers("globex", "admin")
        assert_problem(await http.delete(f"/v1/rules/{body['id']}", headers=other), 404)
        assert (await http.delete(f"/v1/rules/{body['id']}", headers=admin)).status_code == 204
        assert_problem(await http.delete(f"/v1/rules/{body['id']}", headers=admin), 404)
        assert (await http.get("/v1/rules", headers=admin)).json() == {"items": []}
        problem = assert_problem(await http.post("/v1/rules", headers=admin, json={
            "event_type": "qa.evaluation.submitted.v1", "channel": "wallboard"}), 422)
        assert "individual" in str(problem["errors"])


async def test_team_leads_put_banners_on_their_own_teams_wallboards_only(base_url: str, identity: Identity) -> None:
    banner = {"kind": "team_recognition", "scope": "team", "scope_id": "t-north", "title": "Best CSAT this week!",
              "language": "fi", "expires_in_minutes": 90}
    async with httpx.AsyncClient(base_url=base_url) as http:
        lead = identity.headers("acme", "team_lead", teams=("t-north",))
        published = await http.post("/v1/banners", json=banner, headers=lead)
        assert published.status_code == 202, published.text
        body = published.json()
        assert (body["scope"], body["scope_id"], body["kind"], body["severity"]) == ("team", "t-north",
                                                                                    "team_recognition", "info")
        assert_problem(await http.post("/v1/banners", json={**banner, "scope_id": "t-south"}, headers=lead), 403)
        assert_problem(await http.post("/v1/banners", json={**banner, "scope": "tenant", "scope_id": "acme"},
                                       headers=lead), 403)
        assert_problem(await http.post("/v1/banners", json=banner, headers=identity.headers("acme", "agent")), 403)
        manager = identity.headers("acme", "service_manager")
        assert (await http.post("/v1/banners", json={**banner, "scope": "tenant", "scope_id": "acme"},
                                headers=manager)).status_code == 202
        for bad in ({**banner, "kind": "service_level_alert"}, {**banner, "scope": "agent"},
                    {**banner, "expires_in_minutes": 0}, {**banner, "title": ""}):
            assert_problem(await http.post("/v1/banners", json=bad, headers=manager), 422)


rule_bodies = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["coaching.session.recorded.v1", "kpi.alert.raised.v1"]) | st.text(max_size=30),
        "channel": st.sampled_from(["email", "digest", "wallboard", "sms"]) | json_values,
        "recipients": st.lists(st.sampled_from(["a@example.com", "bad", "x@y"]) | st.text(max_size=20), max_size=3)
        | json_values,
    },
    optional={"language": st.sampled_from(["en", "fi", "de"]) | json_values,
              "time_zone": st.sampled_from(["UTC", "Europe/Oslo", "Nowhere/Else"]) | st.text(max_size=20),
              "quiet_hours": st.fixed_dictionaries({"start": st.text(max_size=8) | st.sampled_from(["22:00"]),
                                                    "end": st.text(max_size=8) | st.sampled_from(["06:00"])})
              | json_values,
              "digest_hour": st.integers(-3, 30) | json_values},
)
banner_bodies = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["team_recognition", "announcement", "kpi_alert"]) | json_values,
        "scope": st.sampled_from(["team", "tenant", "agent"]) | json_values,
        "scope_id": st.sampled_from(["t-north", "acme"]) | st.text(max_size=20),
        "title": st.text(max_size=130) | json_values,
    },
    optional={"expires_in_minutes": st.integers(-5, 20000) | json_values, "text": st.text(max_size=210)},
)


@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_no_body_makes_the_rules_or_banners_endpoints_fail(base_url: str, identity: Identity) -> None:
    """Whatever arrives, the answer is a 2xx or a 4xx problem document, never a server error."""
    lead = identity.headers("acme", "team_lead", "admin", teams=("t-north",))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(path=st.sampled_from(["/v1/rules", "/v1/banners"]), body=rule_bodies | banner_bodies | json_values)
    def fuzz(path: str, body: object) -> None:
        response = http.post(path, json=body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code in (201, 202)

    with httpx.Client(base_url=base_url, timeout=10, headers=lead) as http:
        await asyncio.to_thread(fuzz)
