from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from coachline.contracts.base import Identifier
from coachline.settings import ServiceSettings
from coachline.signing import validate_secret

# {"<tenant>": {"<source>": ["whsec_...", ...]}}: two secrets while one is being rotated out.
SourceSecrets = dict[Identifier, dict[Identifier, list[str]]]
_SECRETS: TypeAdapter[SourceSecrets] = TypeAdapter(SourceSecrets)
MIN_PSEUDONYM_KEY = 32


class Settings(ServiceSettings):
    """Intake settings; variables start with ``INTAKE_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8001
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_events_per_request: int = Field(default=1000, ge=1)
    source_secrets: SourceSecrets = Field(default_factory=dict)
    source_secrets_file: Path | None = None
    # Per-tenant HMAC keys for customer pseudonyms, at least 32 characters each.
    pseudonym_keys: dict[Identifier, str] = Field(default_factory=dict)
    # Phone numbers without a country code are read as numbers of this region (ISO 3166 code).
    phone_region: str = "FI"
    survey_dimensions: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [
        "engagement", "knowledge", "resolution", "overall_satisfaction", "ease", "friendliness"])
    rate_limit_events_per_s: float = Field(default=50_000.0, gt=0)
    rate_limit_burst: int = Field(default=100_000, ge=1)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    # Webhook ids remembered per tenant for replay refusal (about 300 bytes each); past it, 429.
    remembered_webhook_ids: int = Field(default=100_000, ge=1)
    raw_topics: bool = True

    @field_validator("survey_dimensions", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("source_secrets")
    @classmethod
    def _usable_secrets(cls, value: SourceSecrets) -> SourceSecrets:
        return check_secrets(value)

    @field_validator("pseudonym_keys")
    @classmethod
    def _long_keys(cls, value: dict[str, str]) -> dict[str, str]:
        short = [tenant for tenant, key in value.items() if len(key) < MIN_PSEUDONYM_KEY]
        if short:
            raise ValueError(f"pseudonym keys of {', '.join(short)} are shorter than {MIN_PSEUDONYM_KEY} characters")
        return value

    @model_validator(mode="after")
    def _production_has_keys(self) -> "Settings":
        if self.environment == "production":
            tenants = set(self.source_secrets) | set(read_secrets_file(self.source_secrets_file))
            missing = sorted(tenants - set(self.pseudonym_keys))
            if missing:
                raise ValueError(f"INTAKE_PSEUDONYM_KEYS has no key for {', '.join(missing)}")
        return self


def check_secrets(value: SourceSecrets) -> SourceSecrets:
    """``value`` if every tenant and source has at least one usable ``whsec_`` secret."""
    for tenant, sources in value.items():
        for source, secrets in sources.items():
            if not secrets:
                raise ValueError(f"{tenant}/{source}: at least one secret")
            for secret in secrets:
                try:
                    validate_secret(secret)
                except ValueError as exc:
                    raise ValueError(f"{tenant}/{source}: {exc}") from None
    return value


def read_secrets_file(path: Path | None) -> SourceSecrets:
    """The secrets of ``INTAKE_SOURCE_SECRETS_FILE`` (the same JSON as ``INTAKE_SOURCE_SECRETS``)."""
    if path is None:
        return {}
    return check_secrets(_SECRETS.validate_json(path.read_bytes()))
