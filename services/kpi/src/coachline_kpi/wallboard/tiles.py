"""The tile registry: how the wallboard shows each KPI, found by the KPI's name in the figures.

The page renders whatever figures arrive: a name listed here gets its label, format and corner of the
goal triangle; a name not listed yet still shows, under its own name, as a plain number. Ratios arrive
as fractions (0.8 is 80 %), durations in seconds, as ``KPI_DEFINITIONS.md`` and ``kpi.alerts.v1`` use.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from coachline.contracts.agent_states import AgentState


class Corner(StrEnum):
    """Where a KPI sits in the goal triangle; ``live`` is the strip of what is happening now."""

    LIVE = "live"
    QUALITY = "quality"
    SALES = "sales"
    EFFICIENCY = "efficiency"
    WELLBEING = "wellbeing"


class Format(StrEnum):
    COUNT = "count"
    PERCENT = "percent"  # a fraction shown as a percentage
    SCORE = "score"  # already 0 to 100
    SIGNED = "signed"  # NPS, -100 to 100
    DURATION = "duration"  # seconds shown as m:ss
    MONEY = "money"
    DECIMAL = "decimal"
    STATES = "states"  # every figure named ``<kpi>_<state>``, e.g. agents_available


class Window(StrEnum):
    """The windows a tile can read besides the live one: the stored windows of the projections."""

    QUARTER = "15m"  # the current 15 minutes
    DAY = "day"  # today
    WEEK = "week"  # this week
    PERIOD = "period"  # this coaching period
    ROLLING = "30d"  # the last 30 days, today included


LIVE = "now"


class Higher(StrEnum):
    """Which way is good, so a target colours the tile the right way round."""

    BETTER = "better"
    WORSE = "worse"


class Tile(BaseModel):
    model_config = ConfigDict(frozen=True)

    kpi: str
    corner: Corner
    format: Format
    higher: Higher = Higher.BETTER
    # A target the board colours against when its layout sets none (KPI_DEFINITIONS.md defaults).
    target: Decimal | None = None
    alert: Decimal | None = None
    # The window the tile reads unless its board's layout chooses another: a stored one, or "now" (live).
    window: str = Window.DAY.value
    large: bool = False


TILES: tuple[Tile, ...] = (
    Tile(kpi="service_level", corner=Corner.LIVE, format=Format.PERCENT, target=Decimal("0.80"),
         alert=Decimal("0.70"), large=True),
    Tile(kpi="waiting_now", corner=Corner.LIVE, format=Format.COUNT, higher=Higher.WORSE, window=LIVE, large=True),
    Tile(kpi="longest_wait_s_now", corner=Corner.LIVE, format=Format.DURATION, higher=Higher.WORSE, window=LIVE,
         large=True),
    Tile(kpi="agents_now", corner=Corner.LIVE, format=Format.STATES, window=LIVE, large=True),
    Tile(kpi="quality_score", corner=Corner.QUALITY, format=Format.SCORE),
    Tile(kpi="csat", corner=Corner.QUALITY, format=Format.PERCENT),
    Tile(kpi="nps", corner=Corner.QUALITY, format=Format.SIGNED),
    Tile(kpi="fcr_repeat", corner=Corner.QUALITY, format=Format.PERCENT),
    Tile(kpi="fcr_survey", corner=Corner.QUALITY, format=Format.PERCENT),
    Tile(kpi="ces", corner=Corner.QUALITY, format=Format.DECIMAL),
    Tile(kpi="mystery_shop_score", corner=Corner.QUALITY, format=Format.SCORE),
    Tile(kpi="sales_conversion", corner=Corner.SALES, format=Format.PERCENT),
    Tile(kpi="sales_value", corner=Corner.SALES, format=Format.MONEY),
    Tile(kpi="aht_s", corner=Corner.EFFICIENCY, format=Format.DURATION, higher=Higher.WORSE),
    Tile(kpi="asa_s", corner=Corner.EFFICIENCY, format=Format.DURATION, higher=Higher.WORSE),
    Tile(kpi="abandon_rate", corner=Corner.EFFICIENCY, format=Format.PERCENT, higher=Higher.WORSE),
    Tile(kpi="occupancy", corner=Corner.EFFICIENCY, format=Format.PERCENT),
    Tile(kpi="transfer_rate", corner=Corner.EFFICIENCY, format=Format.PERCENT, higher=Higher.WORSE),
    Tile(kpi="offered", corner=Corner.EFFICIENCY, format=Format.COUNT),
    Tile(kpi="answered", corner=Corner.EFFICIENCY, format=Format.COUNT),
    Tile(kpi="abandoned", corner=Corner.EFFICIENCY, format=Format.COUNT, higher=Higher.WORSE),
    Tile(kpi="short_abandoned", corner=Corner.EFFICIENCY, format=Format.COUNT),
    Tile(kpi="handled", corner=Corner.EFFICIENCY, format=Format.COUNT),
    Tile(kpi="coaching_sessions", corner=Corner.WELLBEING, format=Format.COUNT, window=Window.PERIOD.value),
    Tile(kpi="coaching_cadence", corner=Corner.WELLBEING, format=Format.DECIMAL, window=Window.PERIOD.value),
    Tile(kpi="coaching_on_time", corner=Corner.WELLBEING, format=Format.PERCENT, window=Window.PERIOD.value),
    Tile(kpi="goal_attainment", corner=Corner.WELLBEING, format=Format.PERCENT, window=Window.PERIOD.value),
)
TILE_NAMES: frozenset[str] = frozenset(t.kpi for t in TILES)
# Figures named ``agents_now.<state>`` fill the agents-by-state tile.
AGENT_STATES = tuple(state.value for state in AgentState)
# What a board shows unless its layout says otherwise: the figures the contact-centre floor watches.
DEFAULT_TILES: tuple[str, ...] = (
    "service_level", "waiting_now", "longest_wait_s_now", "agents_now", "quality_score", "csat", "nps",
    "sales_conversion", "sales_value", "aht_s", "asa_s", "abandon_rate", "offered", "answered",
    "coaching_sessions", "coaching_on_time", "goal_attainment",
)
# The columns of an open team's member table: figures that mean something for one person.
MEMBER_TILES: tuple[str, ...] = ("handled", "aht_s", "quality_score", "csat", "sales_conversion")
