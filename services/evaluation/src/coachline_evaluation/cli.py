"""``coachline evaluation migrate``: migrate the service's schema and exit, as the chart's hook Job does."""

from __future__ import annotations

from coachline.cli import dispatch, migrate_command
from coachline_evaluation.app import MIGRATIONS
from coachline_evaluation.settings import Settings

main = dispatch("evaluation", {"migrate": migrate_command("evaluation", Settings, MIGRATIONS)})
