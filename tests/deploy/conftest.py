"""What the deploy tests share: the services' ports, where the files are, and the CLIs they run."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from coachline.stack import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[2]
# Service -> HTTP port, as the services' settings define them.
PORTS = dict(SERVICE_PORTS)


@dataclass(frozen=True)
class DeployFacts:
    root: Path
    ports: dict[str, int]
    # Services without a PostgreSQL schema.
    stateless: frozenset[str]

    @property
    def deploy(self) -> Path:
        return self.root / "deploy"

    @property
    def chart(self) -> Path:
        return self.deploy / "helm" / "coachline"


@pytest.fixture(scope="session")
def facts() -> DeployFacts:
    return DeployFacts(root=ROOT, ports=dict(PORTS), stateless=frozenset({"intake"}))


@pytest.fixture(params=sorted(PORTS))
def service(request: pytest.FixtureRequest) -> str:
    return request.param


def _tool(name: str, how_to_get_it: str) -> str:
    local = ROOT / ".local" / "bin" / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not on PATH nor in .local/bin: {how_to_get_it}")
    return found


@pytest.fixture(scope="session")
def helm_bin() -> str:
    return _tool("helm", "run deploy/helm/install-helm.sh to render the chart")


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    return _tool("promtool", "apt-get install prometheus (Debian) to check the configs and rules")


@pytest.fixture(scope="session")
def exported_metrics() -> dict[str, set[str]]:
    """Per service, the sample names its /metrics can expose, read from the code that registers them.

    A service with an ``app.create_app`` contributes its own metrics as well; until it has one, the
    families every service gets from ``libs`` (HTTP telemetry, dead letters, FastStream) stand in.
    """
    from coachline.runtime import Runtime
    from coachline.settings import ServiceSettings
    from coachline.web import create_service_app

    names: dict[str, set[str]] = {}
    for name in PORTS:
        if importlib.util.find_spec(f"coachline_{name}") and importlib.util.find_spec(f"coachline_{name}.app"):
            registry = importlib.import_module(f"coachline_{name}.app").create_app().state.runtime.registry
        else:
            runtime = Runtime(ServiceSettings(service_name=name), uses_database=name != "intake")
            create_service_app(runtime, title=name, description=name)
            registry = runtime.registry
        samples: set[str] = set()
        for family in registry.collect():
            if family.type == "counter":
                samples.add(f"{family.name}_total")
            elif family.type == "histogram":
                samples.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            else:
                samples.add(family.name)
        names[name] = samples
    return names
