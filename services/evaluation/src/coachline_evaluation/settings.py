from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """Evaluation settings; variables start with ``EVALUATION_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    service_name: str = "evaluation"
    http_port: int = 8002
    db_schema: str = "evaluation"
    # How often the service releases scheduled evaluations and samples weeks that ended.
    release_interval_s: float = 60.0
