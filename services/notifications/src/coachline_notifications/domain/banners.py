"""Banners people put on the wallboards themselves: team recognition, announcements."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coachline.contracts.base import Identifier, ShortText
from coachline.contracts.notifications import BannerKind, BannerScope, BannerSeverity
from coachline_notifications.domain.rules import Language


class BannerRequest(BaseModel):
    """Show a banner on the wallboards of a team, queue, unit or the whole tenant until it expires."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[BannerKind.TEAM_RECOGNITION, BannerKind.ANNOUNCEMENT]
    severity: BannerSeverity = BannerSeverity.INFO
    scope: BannerScope
    scope_id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=120)]
    text: ShortText = ""
    language: Language = "en"
    expires_in_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
