from decimal import Decimal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """Coaching settings; variables start with ``COACHING_`` (infrastructure ones are shared)."""

    model_config = SettingsConfigDict(env_prefix="COACHING_", extra="ignore")

    service_name: str = "coaching"
    http_port: int = 8003
    db_schema: str = "coaching"
    kpi_base_url: str = Field(default="http://127.0.0.1:8004", description="The KPI service, for goal figures.")
    kpi_timeout_s: float = 10.0
    period_min_days: int = Field(default=14, ge=1, le=366)
    period_max_days: int = Field(default=28, ge=1, le=366)
    period_default_days: int = Field(default=21, ge=1, le=366)
    repeated_failures: int = Field(default=3, ge=1, le=100,
                                   description="Failures of one criterion that make it a suggested focus.")
    failure_lookback: int = Field(default=10, ge=1, le=100, description="Latest standard evaluations looked at.")
    self_gap_points: Decimal = Field(default=Decimal(15), ge=0, le=100,
                                     description="Self-evaluation versus evaluator gap that makes a suggestion.")

    @model_validator(mode="after")
    def _default_within_bounds(self) -> "Settings":
        if not self.period_min_days <= self.period_default_days <= self.period_max_days:
            raise ValueError("COACHING_PERIOD_DEFAULT_DAYS must lie between the minimum and maximum")
        return self
