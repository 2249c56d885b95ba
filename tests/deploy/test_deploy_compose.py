"""docker-compose.yml against the Compose Specification, and the Dockerfile it builds from."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def compose(facts) -> dict[str, Any]:
    return yaml.safe_load((facts.root / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    # The official compose-spec schema, as vendored by check-jsonschema for its check-compose-spec hook.
    schema = get_builtin_schema("vendor.compose-spec")
    assert schema["title"] == "Compose Specification"
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_compose_file_follows_the_compose_specification(compose, compose_validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_rejects_what_compose_would_reject(compose, compose_validator):
    # Guards against validating with a schema so loose that everything passes.
    broken = copy.deepcopy(compose)
    broken["services"]["intake"]["healthcheck"]["retry"] = 3
    assert not compose_validator.is_valid(broken)


def test_infrastructure_uses_the_official_images(compose):
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"] == "postgres:17"


def test_every_container_has_a_healthcheck(compose):
    missing = [name for name, service in compose["services"].items() if not service.get("healthcheck", {}).get("test")]
    assert missing == []


def test_each_service_is_built_from_the_dockerfile_and_waits_for_its_infrastructure(compose, facts, service):
    spec = compose["services"][service]
    assert spec["build"]["context"] == "."
    assert spec["build"]["args"]["SERVICE"] == service
    assert (facts.root / "services" / service / "pyproject.toml").is_file()

    env = spec["environment"]
    port = facts.ports[service]
    assert env[f"{service.upper()}_HTTP_PORT"] == str(port)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["DATABASE_URL"].startswith("postgresql://")

    probe = " ".join(spec["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in probe

    needs = {"kafka"} if service in facts.stateless else {"kafka", "postgres"}
    assert set(spec["depends_on"]) == needs
    assert all(dep["condition"] == "service_healthy" for dep in spec["depends_on"].values())
    assert spec["read_only"] is True


def test_prometheus_scrapes_every_service(compose, facts):
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    config = yaml.safe_load((facts.deploy / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:{port}" for name, port in facts.ports.items()}


def test_grafana_gets_the_provisioning_and_dashboards(compose, facts):
    volumes = compose["services"]["grafana"]["volumes"]
    provider = yaml.safe_load((facts.deploy / "grafana/provisioning/dashboards/coachline.yml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert f"./deploy/grafana/dashboards:{dashboards_path}:ro" in volumes
    assert compose["services"]["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_dockerfile_builds_wheels_then_runs_the_service_as_non_root(facts):
    text = (facts.root / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE)
    assert len(stages) == 2
    assert stages[0][1] == "builder"
    assert all(image.startswith("python:") and image.endswith("-slim") for image, _ in stages)
    assert re.search(r"^ARG SERVICE$", text, flags=re.MULTILINE)
    assert "pip wheel" in text
    assert "python -m coachline_${SERVICE}" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}


def test_dockerignore_keeps_local_state_out_of_the_build_context(facts):
    lines = [line.strip() for line in (facts.root / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    # Allow-list: ignore everything, then admit only what the Dockerfile copies.
    assert patterns[0] == "*"
    assert {"!libs/", "!services/"} <= set(patterns)
    assert "**/*.egg-info" in patterns
