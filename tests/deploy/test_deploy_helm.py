"""The umbrella chart: values against values.schema.json, and what `helm template` renders.

The rendering tests need the helm CLI (PATH or .local/bin; deploy/helm/install-helm.sh builds it).
What it renders, with the defaults and with values-production.yaml, is validated against the
Kubernetes API schemas the ``kubernetes-validate`` package bundles (offline), for the oldest
Kubernetes the chart supports and the newest the package knows.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from coachline.contracts.registry import TOPICS

pytestmark = pytest.mark.unit

RELEASE = "cl"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the value the pods must get, not a socket this test binds
EVERYTHING_ON = (
    *(f"components.{name}.keda.enabled=true" for name in ("intake", "evaluation", "coaching", "kpi", "notifications")),
    "serviceMonitor.enabled=true",
    "kafka.topicPrefix=staging.",
)


@pytest.fixture(scope="module")
def schema(facts) -> dict[str, Any]:
    return json.loads((facts.chart / "values.schema.json").read_text())


@pytest.fixture(scope="module")
def values(facts) -> dict[str, Any]:
    return yaml.safe_load((facts.chart / "values.yaml").read_text())


def test_values_follow_the_schema(schema, values):
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(values)]
    assert errors == []


@pytest.mark.parametrize("path", [(), ("components",), ("components", "kpi"), ("components", "kpi", "keda")])
def test_the_schema_rejects_unknown_keys(schema, values, path):
    broken = copy.deepcopy(values)
    node = broken
    for key in path:
        node = node[key]
    node["replicaz"] = 3
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_one_component_per_service_on_its_port(values, facts):
    assert {name: c["port"] for name, c in values["components"].items()} == facts.ports
    assert {name for name, c in values["components"].items() if not c["usesDatabase"]} == facts.stateless


def test_consumed_topics_exist_in_the_registry(values):
    unknown = {name: topic for name, c in values["components"].items()
               for topic in c["consumes"] if topic not in TOPICS}
    assert unknown == {}


def run_helm(helm_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_bin, *args], capture_output=True, text=True, timeout=60, check=False)


def set_flags(values: tuple[str, ...]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


def render(helm_bin: str, chart: str, *sets: str, values_file: str | None = None) -> list[dict[str, Any]]:
    files = ["--values", values_file] if values_file else []
    result = run_helm(helm_bin, "template", RELEASE, chart, "--namespace", "coachline", *files, *set_flags(sets))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_component(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def default_docs(helm_bin, facts) -> list[dict[str, Any]]:
    return render(helm_bin, str(facts.chart))


@pytest.fixture(scope="module")
def keda_docs(helm_bin, facts) -> list[dict[str, Any]]:
    return render(helm_bin, str(facts.chart), *EVERYTHING_ON)


@pytest.fixture(scope="module")
def production_docs(helm_bin, facts) -> list[dict[str, Any]]:
    return render(helm_bin, str(facts.chart), values_file=str(facts.chart / "values-production.yaml"))


@pytest.mark.parametrize("sets", [(), EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_helm_lint_is_clean(helm_bin, facts, sets):
    result = run_helm(helm_bin, "lint", "--strict", str(facts.chart), *set_flags(sets))
    assert result.returncode == 0, result.stdout + result.stderr


def test_helm_enforces_the_values_schema(helm_bin, facts):
    result = run_helm(helm_bin, "template", RELEASE, str(facts.chart), "--set", "components.intake.replicaz=3")
    assert result.returncode != 0
    assert "replicaz" in result.stderr


def test_each_component_renders_a_hardened_deployment_with_probes(default_docs, facts, service):
    deployment = by_component(default_docs, "Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].endswith(f"/{service}:0.1.0")
    assert container["ports"] == [{"name": "http", "containerPort": facts.ports[service], "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    env = {e["name"]: e for e in container["env"]}
    prefix = service.upper()
    assert env[f"{prefix}_HTTP_PORT"]["value"] == str(facts.ports[service])
    assert env[f"{prefix}_HTTP_HOST"]["value"] == ALL_INTERFACES
    assert env[f"{prefix}_CONSUMER_GROUP"]["value"] == f"coachline-{service}"
    assert env["COACHLINE_ENVIRONMENT"]["value"] == "production"
    if service in facts.stateless:
        assert "DATABASE_URL" not in env
    else:
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "coachline-db-app", "key": "uri"}


def test_each_component_has_a_service_pdb_and_network_policy(default_docs, facts, service):
    selector = by_component(default_docs, "Deployment")[service]["spec"]["selector"]["matchLabels"]
    svc = by_component(default_docs, "Service")[service]
    assert svc["spec"]["selector"] == selector
    assert svc["spec"]["ports"][0]["port"] == facts.ports[service]

    pdb = by_component(default_docs, "PodDisruptionBudget")[service]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"] == selector

    policy = by_component(default_docs, "NetworkPolicy")[service]
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {53, 9092} <= egress_ports
    assert (5432 in egress_ports) is (service not in facts.stateless)


def test_defaults_scale_http_facing_components_with_an_hpa_and_render_no_scaled_object(default_docs):
    assert set(by_component(default_docs, "HorizontalPodAutoscaler")) == {"intake", "kpi"}
    assert by_component(default_docs, "ScaledObject") == {}
    deployments = by_component(default_docs, "Deployment")
    # A fixed replica count next to an autoscaler would reset it on every upgrade.
    assert "replicas" not in deployments["kpi"]["spec"]
    assert deployments["evaluation"]["spec"]["replicas"] == 2


def test_keda_scales_each_component_on_its_consumer_lag(keda_docs, values, service):
    scaled = by_component(keda_docs, "ScaledObject")[service]
    deployment = by_component(keda_docs, "Deployment")[service]
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaled["spec"]["minReplicaCount"] >= 1

    kafka = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
    assert kafka
    assert {t["metadata"]["consumerGroup"] for t in kafka} == {f"coachline-{service}"}
    assert {t["metadata"]["bootstrapServers"] for t in kafka} == {values["kafka"]["bootstrapServers"]}
    consumes = values["components"][service]["consumes"]
    topics = [t["metadata"].get("topic") for t in kafka]
    assert topics == ([f"staging.{topic}" for topic in consumes] or [None])

    # KEDA owns the HPA; the chart's own HPA would fight it for the same Deployment.
    assert service not in by_component(keda_docs, "HorizontalPodAutoscaler")
    has_cpu = any(t["type"] == "cpu" for t in scaled["spec"]["triggers"])
    assert has_cpu is values["components"][service]["autoscaling"]["enabled"]


def test_service_monitors_scrape_the_http_port(keda_docs, facts):
    monitors = by_component(keda_docs, "ServiceMonitor")
    assert set(monitors) == set(facts.ports)
    # The alert rules and the dashboard select on job="<service>".
    assert all(m["spec"]["jobLabel"] == "app.kubernetes.io/component" for m in monitors.values())
    assert all(m["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
               for m in monitors.values())


def test_optional_objects_can_be_switched_off(helm_bin, facts):
    docs = render(helm_bin, str(facts.chart), "networkPolicy.enabled=false",
                  "components.coaching.podDisruptionBudget.enabled=false",
                  "components.intake.autoscaling.enabled=false", "components.notifications.enabled=false")
    assert by_component(docs, "NetworkPolicy") == {}
    assert "coaching" not in by_component(docs, "PodDisruptionBudget")
    assert "intake" not in by_component(docs, "HorizontalPodAutoscaler")
    assert "notifications" not in by_component(docs, "Deployment")


# Custom resources of operators the chart works with; the bundled schemas cover Kubernetes' own kinds.
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


def oldest_supported_kubernetes(chart: Path) -> str:
    constraint = yaml.safe_load((chart / "Chart.yaml").read_text())["kubeVersion"]
    return constraint.removeprefix(">=").split("-")[0]


@pytest.mark.parametrize("values", ["defaults", "production"])
def test_rendered_manifests_follow_the_kubernetes_schemas(default_docs, production_docs, facts, values):
    docs = default_docs if values == "defaults" else production_docs
    kinds = {d["kind"] for d in docs if (d["apiVersion"], d["kind"]) not in CUSTOM_KINDS}
    assert {"Deployment", "Service", "Job", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    errors = []
    for version in (oldest_supported_kubernetes(facts.chart), latest_version()):
        for doc in docs:
            if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
                continue
            try:
                # Strict: a field the API does not know is an error, not silently dropped.
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{version} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert errors == []


def test_the_kubernetes_schemas_reject_a_misspelt_field(default_docs):
    # Guards against a validation so loose that everything passes.
    deployment = copy.deepcopy(next(d for d in default_docs if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {"runAsNonRoot": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, latest_version(), strict=True)


def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod template the chart renders (Deployments and Jobs), by kind and name."""
    return {f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"] for d in docs
            if d["kind"] in ("Deployment", "Job")}


@pytest.mark.parametrize("values", ["defaults", "production"])
def test_every_pod_is_restricted_and_limited(default_docs, production_docs, values):
    rendered = pods(default_docs if values == "defaults" else production_docs)
    assert len(rendered) == 9  # five Deployments, four migration Jobs
    for name, pod in rendered.items():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            if name.startswith("Deployment/"):
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_database_components_migrate_in_a_hook_job_before_their_pods_start(default_docs, facts):
    jobs = by_component(default_docs, "Job")
    assert set(jobs) == {f"{name}-migration" for name in facts.ports if name not in facts.stateless}
    deployments = by_component(default_docs, "Deployment")
    services = by_component(default_docs, "Service")
    policies = by_component(default_docs, "NetworkPolicy")
    for component, job in jobs.items():
        service = component.removesuffix("-migration")
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["coachline", service, "migrate"]
        (app,) = deployments[service]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == app["image"]
        # The same settings as the service, so the command validates and reaches the same schema.
        assert container["env"] == app["env"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        # The component's Service and PodDisruptionBudget must not count the Job's pod as one of theirs.
        labels = job["spec"]["template"]["metadata"]["labels"]
        selector = services[service]["spec"]["selector"]
        assert not selector.items() <= labels.items()
        # Its own default-deny policy, a hook created before it: PostgreSQL and DNS out, nothing in.
        policy = policies[component]
        assert int(policy["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        assert policy["spec"]["ingress"] == []
        assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == {53, 5432}


def test_coaching_reads_goal_figures_from_the_release_kpi_service(default_docs, facts):
    (app,) = by_component(default_docs, "Deployment")["coaching"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in app["env"]}
    kpi = by_component(default_docs, "Service")["kpi"]
    assert env["COACHING_KPI_BASE_URL"] == f"http://{kpi['metadata']['name']}:{facts.ports['kpi']}"


def test_migrations_can_be_left_to_the_services(helm_bin, facts):
    docs = render(helm_bin, str(facts.chart), "migrations.enabled=false")
    assert by_component(docs, "Job") == {}
    assert all(not c.endswith("-migration") for c in by_component(docs, "NetworkPolicy"))
