from pydantic import Field
from pydantic_settings import SettingsConfigDict

from coachline.contracts.base import TimeZoneName
from coachline.settings import ServiceSettings


class Settings(ServiceSettings):
    """KPI settings; variables start with ``KPI_`` (infrastructure ones are shared).

    ``time_zone`` and ``min_sample`` are the defaults of tenants that have not set their own policy.
    """

    model_config = SettingsConfigDict(env_prefix="KPI_", extra="ignore")

    service_name: str = "kpi"
    http_port: int = 8004
    db_schema: str = "kpi"
    time_zone: TimeZoneName = "UTC"
    min_sample: int = Field(default=5, ge=1)
    sse_keepalive_s: float = 15.0
    batch_max_records: int = Field(default=5000, ge=1, le=50000)
    metrics_interval_s: float = Field(default=5.0, gt=0)
    snapshot_interval_s: float = Field(default=1.0, gt=0)
    # How long an event id stays in the inbox; an event sent again later than this counts again.
    inbox_horizon_days: int = Field(default=7, ge=1)
    # How long 15-minute windows are kept (days, counted in UTC); 0 keeps them.
    quarter_retention_days: int = Field(default=14, ge=0)
    sweep_interval_s: float = Field(default=3600.0, gt=0)
