"""``coachline coaching migrate``: migrate the service's schema and exit, as the chart's hook Job does."""

from __future__ import annotations

from coachline.cli import dispatch, migrate_command
from coachline_coaching.app import MIGRATIONS
from coachline_coaching.settings import Settings

main = dispatch("coaching", {"migrate": migrate_command("coaching", Settings, MIGRATIONS)})
