from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """Intake settings; variables start with ``INTAKE_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8001
    max_body_bytes: int = 5 * 1024 * 1024
    max_events_per_request: int = 5000
