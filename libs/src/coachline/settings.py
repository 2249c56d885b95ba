"""Settings shared by every service; each service subclasses with its own ``env_prefix``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _shared(name: str, default: object) -> object:
    # Infrastructure addresses are the same for every service, so they are read without the prefix.
    return Field(default=default, validation_alias=AliasChoices(name))


class ServiceSettings(BaseSettings):
    """Base settings: infrastructure from unprefixed variables, the rest under the service's prefix."""

    model_config = SettingsConfigDict(env_prefix="COACHLINE_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("COACHLINE_ENVIRONMENT")
    )
    kafka_bootstrap_servers: str = _shared("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")  # type: ignore[assignment]
    database_url: str = _shared("DATABASE_URL", "postgresql://postgres@127.0.0.1:15432/coachline")  # type: ignore[assignment]
    topic_prefix: str = _shared("COACHLINE_TOPIC_PREFIX", "")  # type: ignore[assignment]
    log_level: str = _shared("COACHLINE_LOG_LEVEL", "INFO")  # type: ignore[assignment]
    kafka_replication_factor: int = _shared("KAFKA_REPLICATION_FACTOR", 1)  # type: ignore[assignment]
    # The identity provider people sign in with (OIDC); its keys inline (JWKS JSON) or by URL.
    oidc_issuer: str = _shared("COACHLINE_OIDC_ISSUER", "coachline-dev")  # type: ignore[assignment]
    oidc_audience: str = _shared("COACHLINE_OIDC_AUDIENCE", "coachline")  # type: ignore[assignment]
    oidc_jwks: str = _shared("COACHLINE_OIDC_JWKS", "")  # type: ignore[assignment]
    oidc_jwks_url: str = _shared("COACHLINE_OIDC_JWKS_URL", "")  # type: ignore[assignment]

    service_name: str = "coachline"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    db_schema: str = "public"
    consumer_group: str = ""

    @field_validator("db_schema")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        # The schema name is written into SQL (CREATE SCHEMA), so only plain identifiers pass,
        # also where a service overrides the default.
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError("db_schema must be a lower-case SQL identifier")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSettings:
        if not self.consumer_group:
            self.consumer_group = f"coachline-{self.service_name}"
        if self.environment == "production" and not (self.oidc_jwks or self.oidc_jwks_url):
            raise ValueError("COACHLINE_OIDC_JWKS_URL (or COACHLINE_OIDC_JWKS) must be set in production")
        return self

    def topic_name(self, logical: str) -> str:
        """Physical topic name: tests and shared clusters put a prefix before the registry name."""
        return f"{self.topic_prefix}{logical}"


def refuse_placeholder(settings: ServiceSettings, name: str, value: str) -> None:
    """Refuse an unset or placeholder secret outside development and tests."""
    if settings.environment == "production" and (not value or value.startswith("change-me")):
        raise ValueError(f"{name} must be set to a real secret in production")
