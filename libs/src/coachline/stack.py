"""``make run``: every service as its own process plus the traffic generator, under honcho.

Ctrl-C stops them all; the infrastructure (``make infra-down``) keeps running for the next start.
"""

from __future__ import annotations

import os
import sys

from coachline.devstack import project_root

URLS = """
Coachline is starting. Once the services are up:
  KPI live stream (SSE)  http://127.0.0.1:8004/v1/kpis/stream?tenant_id=demo
  KPI figures            http://127.0.0.1:8004/v1/kpis?tenant_id=demo
  API docs               intake http://127.0.0.1:8001/docs   evaluation http://127.0.0.1:8002/docs
                         coaching http://127.0.0.1:8003/docs   kpi http://127.0.0.1:8004/docs
                         notifications http://127.0.0.1:8005/docs
  Metrics                http://127.0.0.1:800[1-5]/metrics
  Health                 http://127.0.0.1:800[1-5]/readyz
Ctrl-C stops everything.
"""


def main() -> None:
    root = project_root()
    print(URLS, flush=True)
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    honcho = os.path.join(bin_dir, "honcho")
    os.execve(honcho, [honcho, "start", "-f", str(root / "Procfile"), "-d", str(root)], env)  # noqa: S606


if __name__ == "__main__":
    main()
