"""Bearer tokens per RFC 8725 against a running service (evaluation, real Kafka and PostgreSQL): the
issuer's own token passes; each token of the corpus below is refused with 401 problem+json."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from coachline.problem import PROBLEM_JSON
from coachline.testing import Identity

from .conftest import Stack

pytestmark = pytest.mark.integration

ROUTE = "/v1/scorecards"  # open to any role of the tenant: only the token decides


def now() -> int:
    # Read when each token is made: a suite can run for longer than a token lives.
    return int(time.time())


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(identity: Identity, **changes: Any) -> dict[str, Any]:
    """The claims of a good token, with ``changes`` (None removes a claim)."""
    good = {"iss": identity.issuer, "aud": identity.audience, "sub": "u-1", "iat": now(), "exp": now() + 600,
            "tenant_id": "acme", "roles": ["admin"], "agent_id": None, "teams": [], "units": []}
    return {k: v for k, v in {**good, **changes}.items() if v is not None or k == "agent_id"}


def signed(identity: Identity, key: Any = None, alg: str = "RS256", headers: dict[str, Any] | None = None,
           **changes: Any) -> str:
    return jwt.encode(claims(identity, **changes), key or identity.private_key, algorithm=alg,
                      headers={"kid": "test", **(headers or {})})


def unsigned(header: dict[str, Any], payload: dict[str, Any] | bytes, signature: bytes = b"") -> str:
    return f"{b64(header)}.{b64(payload)}.{b64(signature)}"


def hmac_with_public_key(identity: Identity) -> str:
    """HS256 keyed with the issuer's public key, the text anyone can download from the JWKS."""
    secret = identity.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'test'})}.{b64(claims(identity))}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def with_part(token: str, index: int, part: str) -> str:
    parts = token.split(".")
    parts[index] = part
    return ".".join(parts)


def corpus(identity: Identity) -> dict[str, Callable[[], str]]:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_ec = ec.generate_private_key(ec.SECP256R1())
    attacker_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    good = signed(identity)
    return {
        "alg none": lambda: unsigned({"alg": "none", "typ": "JWT"}, claims(identity)),
        "alg nOnE": lambda: unsigned({"alg": "nOnE", "kid": "test"}, claims(identity)),
        "HS256 keyed with the public key": lambda: hmac_with_public_key(identity),
        "RS384, outside the allow-list": lambda: signed(identity, alg="RS384"),
        "PS256, outside the allow-list": lambda: signed(identity, alg="PS256"),
        "ES256 under the RSA key's id": lambda: signed(identity, attacker_ec, "ES256"),
        "signed by another key under our key id": lambda: signed(identity, attacker),
        "key embedded in the header (jwk)": lambda: jwt.encode(claims(identity), attacker, algorithm="RS256",
                                                               headers={"jwk": attacker_jwk}),
        "key URL in the header (jku)": lambda: signed(identity, attacker, headers={
            "kid": "attacker", "jku": "https://attacker.example/jwks.json"}),
        "unknown key id": lambda: signed(identity, headers={"kid": "rotated-away"}),
        "expired": lambda: signed(identity, iat=now() - 3600, exp=now() - 120),
        "not yet valid": lambda: signed(identity, nbf=now() + 600),
        "issued in the future": lambda: signed(identity, iat=now() + 600, exp=now() + 1200),
        "no exp": lambda: signed(identity, exp=None),
        "no iat": lambda: signed(identity, iat=None),
        "no sub": lambda: signed(identity, sub=None),
        "empty sub": lambda: signed(identity, sub=""),
        "another audience": lambda: signed(identity, aud="another-product"),
        "no audience": lambda: signed(identity, aud=None),
        "another issuer": lambda: signed(identity, iss="https://idp.globex.example"),
        "the issuer with a suffix": lambda: signed(identity, iss=f"{identity.issuer}/"),
        "tampered payload": lambda: with_part(good, 1, b64(claims(identity, tenant_id="globex"))),
        "tampered header": lambda: with_part(good, 0, b64({"alg": "RS256", "kid": "test", "x": 1})),
        "empty signature": lambda: with_part(good, 2, ""),
        "garbage": lambda: "not-a-token",
        "two parts": lambda: good.rsplit(".", 1)[0],
        "payload not JSON": lambda: unsigned({"alg": "RS256", "kid": "test"}, b"not json", b"x" * 256),
        "too long": lambda: signed(identity, padding="x" * 9000),
        "roles as a string": lambda: signed(identity, roles="admin"),
        "unknown role": lambda: signed(identity, roles=["superuser"]),
        "no tenant": lambda: signed(identity, tenant_id=None),
        "tenant as a number": lambda: signed(identity, tenant_id=42),
        "exp as a string": lambda: signed(identity, exp=str(now() + 600)),
        "another kind of JWT (typ)": lambda: signed(identity, headers={"typ": "secevent+jwt"}),
        "critical extension": lambda: signed(identity, headers={"crit": ["exp"]}),
    }


async def test_the_issuers_token_passes_and_every_bad_one_gets_401(stack: Stack, identity: Identity) -> None:
    async with httpx.AsyncClient(base_url=stack.urls["evaluation"], timeout=30) as client:
        assert (await client.get(ROUTE, headers=identity.headers("acme", "admin"))).status_code == 200
        # A little clock skew is forgiven; minutes are not (see "expired" below).
        skewed = signed(identity, iat=now() - 3600, exp=int(time.time()) - 10)
        assert (await client.get(ROUTE, headers={"Authorization": f"Bearer {skewed}"})).status_code == 200

        bad = corpus(identity)
        assert len(bad) >= 20
        accepted = {}
        for name, make in bad.items():
            answer = await client.get(ROUTE, headers={"Authorization": f"Bearer {make()}"})
            if not (answer.status_code == 401 and answer.headers["content-type"] == PROBLEM_JSON
                    and answer.json()["status"] == 401 and "WWW-Authenticate" in answer.headers):
                accepted[name] = (answer.status_code, answer.text[:200])
        assert accepted == {}

        for header in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
            answer = await client.get(ROUTE, headers=header)
            assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM_JSON), header
