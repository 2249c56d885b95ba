"""Bearer tokens: what is accepted, what is refused, and how roles gate a route."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from coachline.auth import Caller, Principal, Role, TokenVerifier, Unauthenticated, requires
from coachline.problem import PROBLEM_JSON
from coachline.testing import Identity
from coachline.web import install_problem_handlers

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def idp() -> Identity:
    from coachline.auth import jwks_of

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Identity(private_key=key, jwks=jwks_of([("test", key.public_key())]))


@pytest.fixture(scope="module")
def verifier(idp: Identity) -> TokenVerifier:
    return TokenVerifier(issuer=idp.issuer, audience=idp.audience, jwks=idp.jwks)


def test_a_token_from_the_issuer_becomes_its_principal(idp: Identity, verifier: TokenVerifier) -> None:
    token = idp.token("acme", "agent", "team_lead", subject="u-1", agent_id="a-7", teams=("t-1",))
    assert verifier.verify_sync(token) == Principal(
        subject="u-1", tenant_id="acme", roles=frozenset({Role.AGENT, Role.TEAM_LEAD}), agent_id="a-7",
        teams=frozenset({"t-1"}),
    )


def _claims(idp: Identity, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": idp.issuer, "aud": idp.audience, "sub": "u", "exp": now + 60,
                                 "tenant_id": "acme", "roles": ["agent"]}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 3600},
    {"iss": "someone-else"},
    {"aud": "another-product"},
    {"sub": None},
    {"exp": None},
    {"tenant_id": None},
    {"roles": ["superhero"]},
    {"roles": "agent"},
])
def test_tokens_with_bad_claims_are_refused(idp: Identity, verifier: TokenVerifier, overrides: dict) -> None:
    token = jwt.encode(_claims(idp, **overrides), idp.private_key, algorithm="RS256", headers={"kid": "test"})
    with pytest.raises(Unauthenticated):
        verifier.verify_sync(token)


def test_a_token_signed_by_another_key_is_refused(idp: Identity, verifier: TokenVerifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(idp), other, algorithm="RS256", headers={"kid": "test"})
    with pytest.raises(Unauthenticated):
        verifier.verify_sync(token)


def test_an_unsigned_token_is_refused(idp: Identity, verifier: TokenVerifier) -> None:
    token = jwt.encode(_claims(idp), None, algorithm="none")
    with pytest.raises(Unauthenticated):
        verifier.verify_sync(token)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.hex()))
def test_arbitrary_strings_are_refused_without_crashing(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify_sync(garbage)


def test_routes_answer_401_and_403_as_problems(idp: Identity, verifier: TokenVerifier) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = verifier

    @app.get("/who")
    async def who(caller: Caller) -> dict[str, str]:
        return {"tenant": caller.tenant_id}

    @app.get("/admin-only", dependencies=[requires(Role.ADMIN)])
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    missing = client.get("/who")
    assert (missing.status_code, missing.headers["content-type"]) == (401, PROBLEM_JSON)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/who", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    assert client.get("/who", headers=idp.headers("acme", "agent")).json() == {"tenant": "acme"}
    forbidden = client.get("/admin-only", headers=idp.headers("acme", "agent"))
    assert (forbidden.status_code, forbidden.headers["content-type"]) == (403, PROBLEM_JSON)
    assert client.get("/admin-only", headers=idp.headers("acme", "admin")).json() == {"ok": True}
