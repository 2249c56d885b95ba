from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings, refuse_placeholder


class Settings(ServiceSettings):
    """Notifications settings; variables start with ``NOTIFICATIONS_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    http_port: int = 8005
    db_schema: str = "notifications"
    webhook_timeout_s: float = Field(default=15.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=19, ge=1, le=50)
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    webhook_retry_max_s: float = Field(default=12 * 3600.0, gt=0)
    webhook_retry_after_max_s: float = Field(default=24 * 3600.0, ge=0)
    webhook_batch_size: int = Field(default=5, ge=1, le=200)
    webhook_lanes: int = Field(default=4, ge=1, le=64)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    # How long past the attempt's own timeout a claimed delivery stays out of other workers' reach.
    webhook_lease_margin_s: float = Field(default=30.0, ge=0, le=600)
    # Receivers on this machine (development, tests); refused in production.
    webhook_allow_loopback: bool = False
    # While a secret is rotated, deliveries carry signatures with the old and the new one this long.
    secret_rotation_overlap_s: float = Field(default=24 * 3600.0, ge=0, le=30 * 24 * 3600.0)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_sender: str = "Coachline <notifications@coachline.invalid>"
    # A CA bundle to trust for the SMTP server's certificate besides the system's (a private CA).
    smtp_ca_file: str = ""
    smtp_timeout_s: float = Field(default=15.0, gt=0, le=120)
    email_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    email_max_attempts: int = Field(default=10, ge=1, le=50)
    # How long a KPI alert's banner stays on the wallboards unless a later alert replaces it.
    banner_ttl_s: float = Field(default=1800.0, gt=0, le=7 * 24 * 3600.0)

    @model_validator(mode="after")
    def _safe_in_production(self) -> "Settings":
        if self.environment == "production":
            if self.webhook_allow_loopback:
                raise ValueError("NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK is for development and tests only")
            if not self.smtp_starttls:
                raise ValueError("NOTIFICATIONS_SMTP_STARTTLS must stay on in production")
            if self.smtp_username:
                refuse_placeholder(self, "NOTIFICATIONS_SMTP_PASSWORD", self.smtp_password)
        return self

    @property
    def webhook_allow_http(self) -> bool:
        """Plain http only outside production: a signed body over http still leaks its content."""
        return self.environment != "production"
