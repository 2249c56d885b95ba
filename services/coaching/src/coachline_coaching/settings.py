from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """Coaching settings; variables start with ``COACHING_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="COACHING_", extra="ignore")

    service_name: str = "coaching"
    http_port: int = 8003
    db_schema: str = "coaching"
