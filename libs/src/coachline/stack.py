"""``make run``: every service as its own process plus the traffic generator, under honcho.

Ctrl-C stops them all; the infrastructure (``make infra-down``) keeps running for the next start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from coachline.devstack import dev_identity, project_root

SERVICE_PORTS = {"intake": 8001, "evaluation": 8002, "coaching": 8003, "kpi": 8004, "notifications": 8005}

URLS = """
Coachline is starting. Once the services are up:
  KPI live stream (SSE)  http://127.0.0.1:8004/v1/kpis/stream   (with a bearer token, as below)
  KPI figures            http://127.0.0.1:8004/v1/kpis?window=day:YYYY-MM-DD
  API docs               intake http://127.0.0.1:8001/docs   evaluation http://127.0.0.1:8002/docs
                         coaching http://127.0.0.1:8003/docs   kpi http://127.0.0.1:8004/docs
                         notifications http://127.0.0.1:8005/docs
  Metrics                http://127.0.0.1:800[1-5]/metrics
  Health                 http://127.0.0.1:800[1-5]/readyz
  A token for the APIs   .venv/bin/coachline token --tenant demo --role admin
                         (then: curl -H "Authorization: Bearer $TOKEN" ...)
Ctrl-C stops everything.
"""


def dev_source_secrets(root: Path) -> str:
    """The demo tenant's intake secrets (``INTAKE_SOURCE_SECRETS`` JSON), created once under ``.local/intake``.

    Intake and the traffic generator both get them, so the demo posts signed batches like a real platform.
    """
    from coachline.contracts.registry import RAW_SOURCES
    from coachline.signing import new_secret

    path = root / ".local/intake/source-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"demo": {source: [new_secret()] for source in RAW_SOURCES}}))
        path.chmod(0o600)
    return path.read_text()


def open_demo_wallboard(root: Path, kpi: str = "http://127.0.0.1:8004", wait_s: float = 180.0) -> str | None:
    """Once kpi answers, create the demo tenant's wallboard and a kiosk token; returns the page's URL."""
    import httpx

    from coachline.auth import Principal, Role, mint_token
    from coachline.settings import ServiceSettings

    key, _ = dev_identity(root)
    settings = ServiceSettings()
    admin = Principal(subject="make-run", tenant_id="demo", roles=frozenset({Role.ADMIN}))
    headers = {"Authorization": "Bearer " + mint_token(key, issuer=settings.oidc_issuer,
                                                       audience=settings.oidc_audience, principal=admin)}
    deadline = time.monotonic() + wait_s
    with httpx.Client(base_url=kpi, headers=headers, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        else:
            return None
        board = client.post("/v1/wallboards", json={"name": "Demo floor", "layout": {"scopes": [{"scope": "tenant"}]}})
        board.raise_for_status()
        token = client.post(f"/v1/wallboards/{board.json()['wallboard_id']}/tokens", json={"label": "make run"})
        token.raise_for_status()
        return f"{kpi}{token.json()['page_path']}"


def _announce_wallboard(root: Path) -> None:
    try:
        url = open_demo_wallboard(root)
    except Exception as exc:  # the demo board is a convenience; the stack runs without it
        print(f"Could not open the demo wallboard: {exc}", file=sys.stderr, flush=True)
        return
    if url:
        print(f"\n  Wallboard (demo)       {url}\n", flush=True)


def ports_in_use() -> list[str]:
    busy = []
    for name, port in SERVICE_PORTS.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(f"{name} ({port})")
    return busy


def main() -> int:
    busy = ports_in_use()
    if busy:
        # A service that cannot bind would take the whole stack down a second after start.
        print(f"Ports already in use: {', '.join(busy)}. Is an earlier `make run` still running?", file=sys.stderr)
        return 1
    root = project_root()
    print(URLS, flush=True)
    bin_dir = os.path.dirname(sys.executable)
    _, jwks = dev_identity(root)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
           "COACHLINE_OIDC_JWKS": os.environ.get("COACHLINE_OIDC_JWKS", jwks),
           "INTAKE_SOURCE_SECRETS": os.environ.get("INTAKE_SOURCE_SECRETS", dev_source_secrets(root))}
    honcho = subprocess.Popen(
        [os.path.join(bin_dir, "honcho"), "start", "-f", str(root / "Procfile"), "-d", str(root)], env=env
    )
    threading.Thread(target=_announce_wallboard, args=(root,), daemon=True).start()
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches honcho too (same process group); it stops the services, we wait for that.
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
        honcho.wait()
        print("Coachline stopped.", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
