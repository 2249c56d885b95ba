"""Which of the tenant's banners (``notifications.banner.published.v1``) a wallboard shows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from coachline.contracts.notifications import BannerScope
from coachline_kpi.wallboard.layouts import Layout


class Banner(BaseModel):
    banner_id: str
    kind: str
    severity: str
    scope: str
    scope_id: str
    title: str
    text: str
    language: str
    source_event_id: str | None
    published_at: datetime
    expires_at: datetime


def addresses(banner: Banner, layout: Layout, tenant_id: str) -> bool:
    if banner.scope == BannerScope.TENANT:
        return banner.scope_id == tenant_id
    if banner.scope == BannerScope.UNIT:
        return banner.scope_id in layout.units
    return (banner.scope, banner.scope_id) in layout.scope_keys()


def for_board(banners: Iterable[Banner], layout: Layout, tenant_id: str, language: str,
              now: datetime) -> list[Banner]:
    """The board's live banners, newest first, one version of each piece of news.

    The same news may come once per language (sharing ``source_event_id``); a board shows the version
    in its own language, else the English one, else any.
    """
    live = [b for b in banners if b.published_at <= now < b.expires_at and addresses(b, layout, tenant_id)]
    preference = {language: 0, "en": 1}
    chosen: dict[str, Banner] = {}
    for banner in live:
        news = banner.source_event_id or f"banner:{banner.banner_id}"
        held = chosen.get(news)
        if held is None or preference.get(banner.language, 2) < preference.get(held.language, 2):
            chosen[news] = banner
    return sorted(chosen.values(), key=lambda b: (b.published_at, b.banner_id), reverse=True)
