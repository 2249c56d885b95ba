"""``coachline notifications migrate``: migrate the service's schema and exit, as the chart's hook Job does."""

from __future__ import annotations

from coachline.cli import dispatch, migrate_command
from coachline_notifications.app import MIGRATIONS
from coachline_notifications.settings import Settings

main = dispatch("notifications", {"migrate": migrate_command("notifications", Settings, MIGRATIONS)})
