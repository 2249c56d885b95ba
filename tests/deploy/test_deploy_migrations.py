"""What the chart's migration Jobs run, `coachline <service> migrate`, against the real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


# The console script installed beside this interpreter, as the images have it on PATH.
COACHLINE = str(Path(sys.executable).with_name("coachline"))


@pytest.mark.parametrize("service", ["evaluation", "coaching", "kpi", "notifications"])
def test_migrate_applies_the_schema_once_and_exits(service, service_env, isolation):
    env = {**os.environ, **service_env, f"{service.upper()}_DB_SCHEMA": f"{service}_{isolation}"}

    def migrate() -> dict[str, object]:
        done = subprocess.run([COACHLINE, service, "migrate"], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    first = migrate()
    assert first["schema"] == f"{service}_{isolation}"
    applied = first["applied"]
    assert isinstance(applied, list)
    assert "000_platform.sql" in applied and any(str(name).startswith("service/") for name in applied)
    # An upgrade whose schema is current changes nothing.
    assert migrate()["applied"] == []
