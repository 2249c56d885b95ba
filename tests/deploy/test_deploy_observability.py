"""Prometheus configuration, alert rules and the Grafana dashboards against the metrics the code exports.

The promtool checks need promtool (Debian's `prometheus` package); they skip without it. Every
dashboard in deploy/grafana/dashboards is checked; tests/e2e/test_operations.py then runs each of
their queries against a real Prometheus scraping the running services.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .dashboards import DASHBOARDS, load, panels

pytestmark = pytest.mark.unit

HERE = Path(__file__).parent

# A series selected by name: `coachline_kpi_http_requests_total{...}`, or a __name__ matcher.
METRIC_NAME = re.compile(r"\b(coachline_[a-zA-Z0-9_]+)")
NAME_MATCHER = re.compile(r'__name__\s*=~\s*"([^"]+)"')


@pytest.fixture(scope="module")
def prometheus_dir(facts) -> Path:
    return facts.deploy / "prometheus"


@pytest.fixture(params=DASHBOARDS, ids=[d.stem for d in DASHBOARDS])
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def load_dashboard(facts, name: str) -> dict[str, Any]:
    return load(facts.deploy / "grafana" / "dashboards" / f"{name}.json")


def variable_values(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """The values each variable takes: a custom one its options; one read from Prometheus (label_values)
    stands for any value, which its panels match with ``=~``."""
    return {v["name"]: [o["value"] for o in v["options"]] if v["type"] == "custom" else [v.get("allValue", ".+")]
            for v in dashboard["templating"]["list"]}


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    return [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]


def expand(expr: str, variables: dict[str, list[str]]) -> list[str]:
    """The expression once per value of the dashboard variables it uses, with Grafana's own filled in."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    expanded = [expr]
    for name, options in variables.items():
        pattern = re.compile(r"\$\{" + name + r"\}|\$" + name + r"\b")
        if any(pattern.search(e) for e in expanded):
            expanded = [pattern.sub(option, e) for e in expanded for option in options]
    return expanded


def unknown_metrics(expr: str, exported: dict[str, set[str]]) -> list[str]:
    """Metric references in ``expr`` that no service exports; empty also requires at least one reference."""
    everything = set().union(*exported.values())
    names = METRIC_NAME.findall(NAME_MATCHER.sub("", expr))
    matchers = NAME_MATCHER.findall(expr)
    unknown = [n for n in names if n not in everything]
    unknown += [m for m in matchers
                if not m.startswith("coachline_") or not any(re.fullmatch(m, n) for n in everything)]
    if not names and not matchers and not re.search(r"\bup\b", expr):
        unknown.append(f"no coachline_ metric nor `up` in {expr!r}")
    return unknown


def test_every_scrape_job_targets_a_service_port(prometheus_dir, facts):
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(facts.ports)
    for name, job in jobs.items():
        targets = [t for sc in job["static_configs"] for t in sc["targets"]]
        assert targets == [f"{name}:{facts.ports[name]}"]
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert config["rule_files"] == ["alerts.yml"]


def test_alert_rules_use_exported_metrics(prometheus_dir, exported_metrics):
    rules = yaml.safe_load((prometheus_dir / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert alerts
    for rule in alerts:
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
        assert unknown_metrics(rule["expr"], exported_metrics) == [], rule["alert"]


def test_every_service_exports_the_shared_families(exported_metrics):
    # The dashboard and the alerts rely on these names: coachline_<service>_<what>_<unit>.
    for service, names in exported_metrics.items():
        for what in ("http_requests_total", "http_request_duration_seconds_bucket", "dead_lettered_messages_total"):
            assert f"coachline_{service}_{what}" in names


def test_dashboard_panels_query_exported_metrics(dashboard, exported_metrics):
    variables = variable_values(dashboard)
    queried = 0
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for expr in expand(target["expr"], variables):
                assert unknown_metrics(expr, exported_metrics) == [], panel["title"]
                queried += 1
    for query in variable_queries(dashboard):
        assert unknown_metrics(query, exported_metrics) == [], query
    assert queried >= 5


def test_the_ops_dashboard_has_a_view_per_service(facts):
    assert set(variable_values(load_dashboard(facts, "coachline"))["service"]) == set(facts.ports)


def test_ops_and_contact_centre_figures_have_dashboards_of_their_own(facts):
    ops, centre = load_dashboard(facts, "coachline"), load_dashboard(facts, "contact-centre")
    assert ops["uid"] != centre["uid"]
    assert not any("coachline_kpi_figure" in t["expr"] for p in panels(ops) for t in p["targets"])
    exprs = [t["expr"] for p in panels(centre) for t in p["targets"]]
    # Teams and queues only: a person's or a contact's figures never become series.
    assert exprs and all(re.search(r'scope="(team|queue)"', e) for e in exprs)
    shown = {(scope, kpi) for e in exprs for scope, kpi in re.findall(r'scope="(\w+)".*kpi="(\w+)"', e)}
    assert {kpi for _, kpi in shown} == {"service_level", "aht_s", "csat", "quality_score"}
    assert {("queue", "service_level"), ("team", "aht_s"), ("queue", "aht_s"), ("team", "quality_score")} <= shown


def test_dashboard_uses_the_provisioned_datasource(dashboard, facts):
    provisioned = yaml.safe_load((facts.deploy / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = provisioned["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert all(t["datasource"]["uid"] == datasource["uid"] for t in panel["targets"]), panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable.get("datasource", datasource)["uid"] == datasource["uid"], variable["name"]


def test_dashboard_panels_have_unique_ids_and_fit_the_grid(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["gridPos"]["x"] >= 0 and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dashboard["panels"])


def run_promtool(promtool_bin: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool_bin, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def test_promtool_accepts_the_config_and_rules(promtool_bin, prometheus_dir):
    result = run_promtool(promtool_bin, "check", "config", str(prometheus_dir / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_promtool(promtool_bin, "check", "rules", str(prometheus_dir / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_synthetic_series(promtool_bin):
    result = run_promtool(promtool_bin, "test", "rules", "prometheus_alerts_test.yml", cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_valid_promql(promtool_bin, dashboard, tmp_path):
    # promtool has no expression checker of its own; recording rules go through the same parser.
    variables = variable_values(dashboard)
    exprs = [e for p in panels(dashboard) for t in p["targets"] for e in expand(t["expr"], variables)]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"coachline:dashboard_query_{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run_promtool(promtool_bin, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
