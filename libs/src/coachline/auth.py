"""Who is asking: OIDC bearer JWTs for people, verified against the issuer's published keys.

A token names its tenant, roles, agent id and teams in claims; the services read the tenant from the
token only, never from the request, so one tenant cannot ask for another's data. Claim names:

``sub``, ``iss``, ``aud``, ``exp``, ``iat`` (standard, all required); ``tenant_id``; ``roles`` (list of
:class:`Role`); ``agent_id`` (the roster's employee id, for agents); ``teams`` (team ids the person
belongs to or leads); ``units`` (units a service manager runs).

Verification follows RFC 8725 (JWT best current practices): a fixed allow-list of asymmetric
algorithms, each key used only with the one algorithm its JWK names, the exact issuer and audience,
required ``exp``/``iat``/``sub`` with a small clock leeway, and no key ever taken from the token itself
(``jwk``, ``jku``, ``x5u``, ``x5c`` headers are ignored; ``crit`` is refused since no extension is known).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coachline.problem import Problem

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Clocks drift; a few seconds of leeway, never minutes, on exp, nbf and iat.
LEEWAY_S = 30
# Our tokens are well under 2 KiB; a bigger one is refused before it is even base64-decoded.
MAX_TOKEN_CHARS = 8192
# An RSA key shorter than this is refused when the key set is read (NIST SP 800-131A).
MIN_RSA_BITS = 2048
# Kinds of JWT a person's access token may declare (RFC 8725 section 3.11, RFC 9068); others are other tokens.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})


class Role(StrEnum):
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    SALES_COACH = "sales_coach"
    SERVICE_MANAGER = "service_manager"
    QUALITY_EVALUATOR = "quality_evaluator"
    ADMIN = "admin"


class Principal(BaseModel):
    """The authenticated person, as the token describes them."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, max_length=256)
    tenant_id: str = Field(min_length=1, max_length=64)
    roles: frozenset[Role] = Field(max_length=len(Role))
    agent_id: str | None = Field(default=None, max_length=128)
    teams: frozenset[Annotated[str, Field(max_length=128)]] = Field(default=frozenset(), max_length=200)
    units: frozenset[Annotated[str, Field(max_length=128)]] = Field(default=frozenset(), max_length=200)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def is_agent(self, agent_id: str) -> bool:
        return self.agent_id is not None and self.agent_id == agent_id


class Unauthenticated(Exception):
    """The token is missing, malformed, expired, or not signed by the issuer."""


class NoIssuer:
    """Stands in where no identity provider is configured (development only): every token is refused."""

    async def verify(self, token: str) -> Principal:
        raise Unauthenticated("no OIDC issuer configured (set COACHLINE_OIDC_JWKS or COACHLINE_OIDC_JWKS_URL)")


class SigningKeys:
    """The issuer's signing keys by key id, each bound to the one algorithm its JWK names or implies.

    Only asymmetric signing keys of an allowed algorithm are kept: a JWKS that also lists an
    encryption key, a symmetric ("oct") key or a short RSA key never lets a token through with it.
    """

    def __init__(self, keys: Iterable[jwt.PyJWK] = ()) -> None:
        self._keys = {key.key_id: key for key in keys}

    @classmethod
    def from_json(cls, document: str | bytes) -> SigningKeys:
        data = json.loads(document)
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ValueError("a JWKS document is an object with a list of keys")
        kept = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                log.warning("ignoring a signing key the JWKS describes incompletely (kid %r)", entry.get("kid"))
                continue
            if key.algorithm_name in ALGORITHMS and not (
                    isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_BITS):
                kept.append(key)
        return cls(kept)

    def find(self, kid: object) -> jwt.PyJWK | None:
        """The key named ``kid``; without a kid only the issuer's single key, never a guess among several."""
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid) if isinstance(kid, str) else None


class RemoteSigningKeys:
    """The issuer's JWKS fetched from its URL, cached for ``max_age_s``.

    A token signed with a key id the cache does not know makes it fetch again (the issuer rotated its
    keys), but at most once per ``min_refresh_s``: tokens with made-up key ids cannot turn this service
    into a flood of requests to the identity provider. When a fetch fails the keys already known stay.
    """

    def __init__(self, url: str, *, max_age_s: float = 300.0, min_refresh_s: float = 30.0, timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.max_age_s = max_age_s
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self._transport = transport
        self._clock = clock
        self._keys = SigningKeys()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def find(self, kid: object) -> jwt.PyJWK | None:
        if self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age_s:
            await self._refresh(self.max_age_s)
        key = self._keys.find(kid)
        if key is None:
            await self._refresh(self.min_refresh_s)
            key = self._keys.find(kid)
        return key

    async def _refresh(self, older_than_s: float) -> None:
        async with self._lock:
            # Whoever waited for the lock finds the keys another request has just fetched.
            if self._fetched_at is not None and self._clock() - self._fetched_at < older_than_s:
                return
            self._fetched_at = self._clock()
            try:
                async with httpx.AsyncClient(transport=self._transport, timeout=self.timeout_s) as client:
                    answer = await client.get(self.url, headers={"Accept": "application/json"})
                    answer.raise_for_status()
                    self._keys = SigningKeys.from_json(answer.content)
            except (httpx.HTTPError, ValueError):
                log.warning("could not fetch the identity provider's keys from %s", self.url, exc_info=True)


class TokenVerifier:
    """Checks the header, the signature, issuer, audience and times, then maps the claims to a :class:`Principal`.

    Keys come from an inline JWKS document (tests, air-gapped installs) or the issuer's JWKS URL
    (:class:`RemoteSigningKeys`).
    """

    def __init__(self, *, issuer: str, audience: str, jwks: str = "", jwks_url: str = "", leeway_s: int = LEEWAY_S,
                 remote: RemoteSigningKeys | None = None) -> None:
        if not jwks and not jwks_url and remote is None:
            raise ValueError("set COACHLINE_OIDC_JWKS or COACHLINE_OIDC_JWKS_URL")
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._inline = SigningKeys.from_json(jwks) if jwks else None
        self.remote = remote or (RemoteSigningKeys(jwks_url) if jwks_url and not jwks else None)

    def verify_sync(self, token: str) -> Principal:
        """Verify against the inline key set (no network)."""
        if self._inline is None:
            raise RuntimeError("this verifier fetches its keys; use verify()")
        header = _screen(token)
        return self._decode(token, header, self._inline.find(header.get("kid")))

    async def verify(self, token: str) -> Principal:
        if self._inline is not None:
            return self.verify_sync(token)
        assert self.remote is not None
        header = _screen(token)
        return self._decode(token, header, await self.remote.find(header.get("kid")))

    def _decode(self, token: str, header: dict[str, Any], key: jwt.PyJWK | None) -> Principal:
        if key is None:
            raise Unauthenticated("unknown signing key")
        if key.algorithm_name != header["alg"]:
            # An RSA key with an EC algorithm, or any other pairing the key was not published for.
            raise Unauthenticated("the key is not for this algorithm")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[key.algorithm_name], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_s, options={"require": REQUIRED_CLAIMS},
            )
            # PyJWT also reads "exp": "1999999999" as a time; a NumericDate is a JSON number (RFC 7519).
            if any(type(claims[name]) not in (int, float) for name in ("exp", "iat", "nbf") if name in claims):
                raise Unauthenticated("times must be numbers")
            # Claims as JSON, validated strictly: a role given as a string or a number as the tenant is refused.
            return Principal.model_validate_json(json.dumps({
                "subject": claims["sub"], "tenant_id": claims.get("tenant_id"), "roles": claims.get("roles"),
                "agent_id": claims.get("agent_id"), "teams": claims.get("teams", []),
                "units": claims.get("units", []),
            }), strict=True)
        except (jwt.PyJWTError, ValidationError, TypeError, ValueError) as exc:
            raise Unauthenticated(type(exc).__name__) from exc


def _screen(token: str) -> dict[str, Any]:
    """The token's header, once the token's size and the header's algorithm, type and extensions pass."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated(type(exc).__name__) from exc
    if header.get("alg") not in ALGORITHMS:
        raise Unauthenticated("algorithm not allowed")
    kind = header.get("typ", "JWT")
    if not isinstance(kind, str) or kind.lower() not in ACCESS_TOKEN_TYPES:
        raise Unauthenticated("not an access token")
    if "crit" in header:
        raise Unauthenticated("unsupported critical header")
    return header


def verifier_for(settings: Any) -> TokenVerifier | NoIssuer:
    """The verifier a service's :class:`~coachline.settings.ServiceSettings` describe."""
    if not (settings.oidc_jwks or settings.oidc_jwks_url):
        return NoIssuer()
    return TokenVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                         jwks=settings.oidc_jwks, jwks_url=settings.oidc_jwks_url)


def mint_token(private_key: Any, *, issuer: str, audience: str, principal: Principal, ttl_s: int = 3600,
               kid: str = "dev") -> str:
    """Sign a token for ``principal`` (development and tests; production tokens come from the IdP)."""
    now = int(time.time())
    claims = {
        "iss": issuer, "aud": audience, "sub": principal.subject, "iat": now, "exp": now + ttl_s,
        "jti": uuid.uuid4().hex, "tenant_id": principal.tenant_id, "roles": sorted(principal.roles),
        "agent_id": principal.agent_id, "teams": sorted(principal.teams), "units": sorted(principal.units),
    }
    algorithm = "ES256" if isinstance(private_key, ec.EllipticCurvePrivateKey) else "RS256"
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid})


def jwks_of(public_keys: Iterable[tuple[str, Any]]) -> str:
    """A JWKS document (JSON) for ``(kid, public key)`` pairs: RSA keys for RS256, P-256 keys for ES256."""
    keys = []
    for kid, key in public_keys:
        if isinstance(key, ec.EllipticCurvePublicKey):
            jwk, alg = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key)), "ES256"
        else:
            jwk, alg = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)), "RS256"
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
    return json.dumps({"keys": keys})


_bearer = HTTPBearer(auto_error=False, description="OIDC access token of the person calling")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the caller, or 401 problem+json."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "Authentication required", "Send an OIDC access token as a Bearer token.",
                      headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier | NoIssuer = request.app.state.token_verifier
    try:
        return await verifier.verify(credentials.credentials)
    except Unauthenticated as exc:
        raise Problem(401, "Invalid token", str(exc),
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


Caller = Annotated[Principal, Depends(current_principal)]


def requires(*roles: Role) -> Any:
    """FastAPI dependency: the caller, who must hold one of ``roles`` (403 otherwise)."""

    async def check(principal: Caller) -> Principal:
        if not principal.has(*roles):
            raise Problem(403, "Forbidden", f"Needs one of the roles: {', '.join(sorted(roles))}.")
        return principal

    return Depends(check)
