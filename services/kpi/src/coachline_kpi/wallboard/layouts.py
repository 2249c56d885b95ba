"""Wallboards and their layouts: which scopes a board shows, which tiles, in which language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from coachline.contracts.base import Identifier
from coachline.contracts.kpi import Scope
from coachline_kpi.wallboard.tiles import DEFAULT_TILES, LIVE, MEMBER_TILES, TILE_NAMES, TILES, Window

USUAL_WINDOW = {t.kpi: t.window for t in TILES}


class Language(StrEnum):
    EN = "en"
    FI = "fi"
    SV = "sv"
    NB = "nb"


class BoardScope(StrEnum):
    """Scopes a wallboard may show. No agent scope: a board on the wall never singles out one person."""

    TEAM = Scope.TEAM.value
    QUEUE = Scope.QUEUE.value
    TENANT = Scope.TENANT.value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScopeRef(Strict):
    scope: BoardScope
    # Omitted for the tenant scope: the tenant is always the one of the person creating the board.
    scope_id: Identifier | None = None
    label: Annotated[str, Field(max_length=60)] | None = None
    # A team's members, each with their own figures: shown only while the team's recorded decision is
    # ``open``; under ``self_vs_team`` (the default) the board shows the team's figures alone.
    members: bool = False

    @model_validator(mode="after")
    def _needs_an_id(self) -> ScopeRef:
        if self.scope is not BoardScope.TENANT and self.scope_id is None:
            raise ValueError(f"scope_id is required for scope {self.scope.value}")
        if self.members and self.scope is not BoardScope.TEAM:
            raise ValueError("members can be shown for a team scope only")
        return self


Level = Annotated[Decimal, Field(ge=-1000, le=1_000_000, max_digits=12, decimal_places=4)]


class Levels(Strict):
    """One KPI's lines on this board, in the KPI's own unit (fractions for ratios), overriding the tenant's.

    A figure past ``alert`` shows red, past ``warning`` (or short of ``target`` without one) amber.
    """

    target: Level
    warning: Level | None = None
    alert: Level | None = None


class Layout(Strict):
    scopes: list[ScopeRef] = Field(min_length=1, max_length=6)
    tiles: list[Identifier] = Field(default_factory=lambda: list(DEFAULT_TILES), min_length=1, max_length=40)
    # A tile's window when not its usual one (today; the coaching period for coaching figures), e.g.
    # {"aht_s": "week"}. Live tiles (contacts waiting, longest wait, agents by state) are always now.
    windows: dict[Identifier, Window] = Field(default_factory=dict, max_length=40)
    targets: dict[Identifier, Levels] = Field(default_factory=dict, max_length=40)
    # Units whose banners this board also shows (banners address tenant, unit, team or queue).
    units: list[Identifier] = Field(default_factory=list, max_length=20)
    # Figures that no tile is registered for yet, shown under their own names below the triangle.
    show_other: bool = True
    # The columns of an open team's member table.
    member_tiles: list[Identifier] = Field(default_factory=lambda: list(MEMBER_TILES), min_length=1, max_length=8)

    @field_validator("tiles", "member_tiles")
    @classmethod
    def _known_tiles(cls, tiles: list[str]) -> list[str]:
        unknown = sorted(set(tiles) - TILE_NAMES)
        if unknown:
            raise ValueError(f"unknown tiles: {', '.join(unknown)}")
        if len(set(tiles)) != len(tiles):
            raise ValueError("a tile is listed twice")
        return tiles

    @model_validator(mode="after")
    def _windows_of_stored_tiles(self) -> Layout:
        unknown = sorted(set(self.windows) - set(self.tiles))
        if unknown:
            raise ValueError(f"windows name tiles the layout does not show: {', '.join(unknown)}")
        live = sorted(k for k in self.windows if USUAL_WINDOW[k] == LIVE)
        if live:
            raise ValueError(f"live tiles always show now, not another window: {', '.join(live)}")
        return self

    @field_validator("scopes")
    @classmethod
    def _distinct_scopes(cls, scopes: list[ScopeRef]) -> list[ScopeRef]:
        keys = [(s.scope, s.scope_id) for s in scopes]
        if len(set(keys)) != len(keys):
            raise ValueError("a scope is listed twice")
        return scopes

    def for_tenant(self, tenant_id: str) -> Layout:
        """The layout with the tenant scope's id filled in from the caller's token."""
        scopes = [s.model_copy(update={"scope_id": tenant_id}) if s.scope is BoardScope.TENANT else s
                  for s in self.scopes]
        return self.model_copy(update={"scopes": scopes})

    def scope_keys(self) -> set[tuple[str, str]]:
        return {(s.scope.value, s.scope_id) for s in self.scopes if s.scope_id is not None}

    def member_teams(self) -> set[str]:
        return {s.scope_id for s in self.scopes if s.members and s.scope_id is not None}

    def window_of(self, tile: str) -> str:
        return self.windows[tile].value if tile in self.windows else USUAL_WINDOW[tile]

    def window_kinds(self) -> set[str]:
        """The stored windows the board reads: its tiles' own, and today for figures no tile shows."""
        return {Window.DAY.value} | {self.window_of(t) for t in self.tiles} - {LIVE}


class WallboardDraft(Strict):
    """What an admin sends to create or replace a wallboard."""

    name: Annotated[str, Field(min_length=1, max_length=120)]
    language: Language = Language.EN
    layout: Layout


class Wallboard(BaseModel):
    wallboard_id: str
    name: str
    language: Language
    layout: Layout
    created_at: datetime
    updated_at: datetime


class TokenRequest(Strict):
    label: Annotated[str, Field(max_length=120)] = ""


class TokenInfo(BaseModel):
    """A wallboard token as listed; the secret itself is shown once, when it is created."""

    token_id: str
    wallboard_id: str
    label: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenInfo):
    token: str
    page_path: str
