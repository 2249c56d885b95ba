from pydantic import Field
from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """Notifications settings; variables start with ``NOTIFICATIONS_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    http_port: int = 8005
    db_schema: str = "notifications"
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=12, ge=1, le=50)
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_batch_size: int = Field(default=20, ge=1, le=200)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
