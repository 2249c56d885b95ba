"""Kafka subscriber of the wallboards: banners from ``notifications.v1``."""

from __future__ import annotations

from coachline.contracts.notifications import WallboardBannerPublished
from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_kpi.wallboard.service import Wallboards


def register(runtime: Runtime, boards: Wallboards) -> None:
    async def on_notification(event: CloudEvent) -> None:
        # The topic also carries delivery outcomes; those are the notifications service's log, not news.
        if isinstance(event.data, WallboardBannerPublished):
            await boards.record_banner(event.tenant_id, event.data)

    runtime.subscribe(
        "notifications.v1",
        on_notification,
        title="notifications.v1:kpi-wallboard-banners",
        description="Keeps the wallboard banners (notifications.banner.published.v1) and pushes them to open boards.",
    )
