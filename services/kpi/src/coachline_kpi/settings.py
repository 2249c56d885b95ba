from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """KPI settings; variables start with ``KPI_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="KPI_", extra="ignore")

    service_name: str = "kpi"
    http_port: int = 8004
    db_schema: str = "kpi"
    time_zone: str = "UTC"
    min_sample: int = 5
    sse_keepalive_s: float = 15.0
