"""The issuer's keys: which keys of a JWKS are trusted, and how often the JWKS URL is fetched again."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from coachline.auth import (
    Principal,
    RemoteSigningKeys,
    SigningKeys,
    TokenVerifier,
    Unauthenticated,
    jwks_of,
    mint_token,
)

pytestmark = pytest.mark.unit

ISSUER, AUDIENCE = "https://idp.example", "coachline"
PERSON = Principal(subject="u-1", tenant_id="acme", roles=frozenset({"agent"}), agent_id="a-1")


def token(key: object, kid: str) -> str:
    return mint_token(key, issuer=ISSUER, audience=AUDIENCE, principal=PERSON, kid=kid)


class IdentityProvider:
    """A JWKS endpoint whose keys a test changes, counting the requests it gets."""

    def __init__(self, *keys: tuple[str, object]) -> None:
        self.keys = list(keys)
        self.requests = 0
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            return httpx.Response(503)
        return httpx.Response(200, content=jwks_of((kid, key.public_key()) for kid, key in self.keys))  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def remote_verifier(idp: IdentityProvider, clock: Clock) -> TokenVerifier:
    keys = RemoteSigningKeys("https://idp.example/jwks", max_age_s=300, min_refresh_s=30,
                             transport=httpx.MockTransport(idp.handle), clock=clock)
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, remote=keys)


async def test_unknown_key_ids_fetch_the_jwks_again_at_most_once_per_interval(rsa_key: rsa.RSAPrivateKey) -> None:
    idp, clock = IdentityProvider(("k1", rsa_key)), Clock()
    verifier = remote_verifier(idp, clock)
    assert await verifier.verify(token(rsa_key, "k1")) == PERSON
    assert await verifier.verify(token(rsa_key, "k1")) == PERSON
    assert idp.requests == 1

    for n in range(50):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            await verifier.verify(token(rsa_key, f"made-up-{n}"))
    assert idp.requests == 1, "a key id seen moments after a fetch does not fetch again"

    # The issuer rotates: a token under the new key id passes once the interval has gone by.
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    idp.keys.append(("k2", rotated))
    clock.now += 31
    assert await verifier.verify(token(rotated, "k2")) == PERSON
    assert idp.requests == 2
    for n in range(50):
        with pytest.raises(Unauthenticated):
            await verifier.verify(token(rsa_key, f"made-up-again-{n}"))
    assert idp.requests == 2


async def test_keys_are_fetched_again_when_old_and_kept_when_the_issuer_is_down(rsa_key: rsa.RSAPrivateKey) -> None:
    idp, clock = IdentityProvider(("k1", rsa_key)), Clock()
    verifier = remote_verifier(idp, clock)
    assert await verifier.verify(token(rsa_key, "k1")) == PERSON
    idp.down = True
    clock.now += 301
    assert await verifier.verify(token(rsa_key, "k1")) == PERSON
    assert idp.requests == 2


def test_only_asymmetric_signing_keys_of_an_allowed_algorithm_are_trusted(rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    published = json.loads(jwks_of([("rsa", rsa_key.public_key()), ("ec", ec_key.public_key())]))["keys"]
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused: the point)
    p384 = ec.generate_private_key(ec.SECP384R1())
    others = json.loads(jwks_of([("weak", weak.public_key()), ("enc", rsa_key.public_key())]))["keys"]
    others[1]["use"] = "enc"
    p384_jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(p384.public_key())), "kid": "p384"}
    secret = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}
    keys = SigningKeys.from_json(json.dumps({"keys": [*published, *others, p384_jwk, secret, "junk"]}))
    assert {k: bool(keys.find(k)) for k in ("rsa", "ec", "weak", "enc", "p384", "hmac")} == {
        "rsa": True, "ec": True, "weak": False, "enc": False, "p384": False, "hmac": False}
    assert keys.find(None) is None, "without a key id, no guessing among several keys"

    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE,
                             jwks=jwks_of([("rsa", rsa_key.public_key()), ("ec", ec_key.public_key())]))
    assert verifier.verify_sync(token(ec_key, "ec")) == PERSON
    assert verifier.verify_sync(token(rsa_key, "rsa")) == PERSON
    with pytest.raises(Unauthenticated, match="not for this algorithm"):
        verifier.verify_sync(token(ec_key, "rsa"))


def test_a_token_for_the_one_published_key_may_leave_out_its_key_id(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks_of([("only", rsa_key.public_key())]))
    now = int(time.time())
    unnamed = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 60,
                          "tenant_id": "acme", "roles": ["agent"], "agent_id": "a-1"}, rsa_key, algorithm="RS256")
    assert verifier.verify_sync(unnamed) == PERSON
