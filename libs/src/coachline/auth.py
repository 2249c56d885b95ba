"""Who is asking: OIDC bearer JWTs for people, verified against the issuer's published keys.

A token names its tenant, roles, agent id and teams in claims; the services read the tenant from the
token only, never from the request, so one tenant cannot ask for another's data. Claim names:

``sub``, ``iss``, ``aud``, ``exp`` (standard); ``tenant_id``; ``roles`` (list of :class:`Role`);
``agent_id`` (the roster's employee id, for agents); ``teams`` (team ids the person belongs to or
leads); ``units`` (units a service manager runs).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coachline.problem import Problem

ALGORITHMS = ["RS256", "ES256"]


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


class TokenVerifier:
    """Checks signature, issuer, audience and expiry, then maps the claims to a :class:`Principal`.

    Keys come from an inline JWKS document (tests, air-gapped installs) or the issuer's JWKS URL,
    fetched in a worker thread and cached, so a slow identity provider never blocks the event loop.
    """

    def __init__(self, *, issuer: str, audience: str, jwks: str = "", jwks_url: str = "", leeway_s: int = 30) -> None:
        if not jwks and not jwks_url:
            raise ValueError("set COACHLINE_OIDC_JWKS or COACHLINE_OIDC_JWKS_URL")
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._inline = jwt.PyJWKSet.from_json(jwks) if jwks else None
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None

    def _key(self, token: str) -> Any:
        if self._inline is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            for key in self._inline.keys:
                if kid is None or key.key_id == kid:
                    return key.key
            raise Unauthenticated("unknown signing key")
        assert self._client is not None
        return self._client.get_signing_key_from_jwt(token).key

    def verify_sync(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key(token), algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_s, options={"require": ["exp", "iss", "aud", "sub"]},
            )
            return Principal(
                subject=claims["sub"], tenant_id=claims.get("tenant_id", ""), roles=claims.get("roles", []),
                agent_id=claims.get("agent_id"), teams=claims.get("teams", []), units=claims.get("units", []),
            )
        except (jwt.PyJWTError, ValidationError, TypeError, ValueError) as exc:
            raise Unauthenticated(type(exc).__name__) from exc

    async def verify(self, token: str) -> Principal:
        if self._client is not None:
            return await asyncio.to_thread(self.verify_sync, token)
        return self.verify_sync(token)


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
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def jwks_of(public_keys: Iterable[tuple[str, Any]]) -> str:
    """A JWKS document (JSON) for ``(kid, public key)`` pairs."""
    keys = []
    for kid, key in public_keys:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
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
