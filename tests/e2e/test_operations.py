"""Every dashboard panel and every alert rule, evaluated by a real Prometheus scraping the running services.

The five services run as processes (the ``stack`` fixture). Debian's Prometheus (``/usr/bin/prometheus``)
scrapes their ``/metrics`` every second under the job names the compose scrape config and the
chart's ServiceMonitors give them (the service's name), and loads ``deploy/prometheus/alerts.yml``.
Traffic then goes through intake as a contact-centre platform sends it (a roster, contacts on two
queues, surveys), an evaluator scores a contact, a coach records a session that an HR system receives
by webhook, and one unreadable record lands on a consumed topic and on a raw platform topic.

Then, through Prometheus' HTTP API:
- every query of every panel of every dashboard in ``deploy/grafana/dashboards`` must parse and
  return data. Grafana's ``$__rate_interval`` becomes ``1m``; a dashboard variable read from
  Prometheus (``label_values``) must itself find values, and takes the first of them, or its "All"
  value where it has one; a custom variable takes each of its values in turn;
- every alert expression must parse, and return data once its threshold is taken away: an alert
  expression is normally empty (``x > threshold`` holds only when something is wrong), so each
  operand of a top-level ``and``/``unless`` is evaluated with its trailing comparison with a number
  stripped (``up{...} == 0`` becomes ``up{...}``). Rules whose series exist only after a failure
  carry ``or <series> * 0`` and so have a value at all times;
- every rule group must evaluate without error inside Prometheus itself.

A query that stays empty, such as one on a metric nobody exports, fails the test.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from coachline.testing import eventually, free_port

from ..deploy.dashboards import DASHBOARDS, load, panels
from .conftest import HrSystem, canonical_event, post_to_intake, publish_scorecard, roster, wait_in_pool

pytestmark = pytest.mark.e2e

ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = Path("/usr/bin/prometheus")
RATE_INTERVAL = "1m"
COMPARISON = re.compile(r"^(?P<operand>.*\S)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?\d+(?:\.\d+)?\s*$", re.DOTALL)
SET_OPERATORS = re.compile(r"\b(?:and|unless)\b")


@pytest.fixture
def stack_env() -> dict[str, str]:
    # A sample of one shows a figure (KPI_DEFINITIONS.md hides those under five), so a handful of
    # contacts gives every panel of the contact-centre dashboard; kpi samples its lag every second.
    return {"KPI_MIN_SAMPLE": "1", "KPI_METRICS_INTERVAL_S": "1", "NOTIFICATIONS_WEBHOOK_POLL_INTERVAL_S": "0.5"}


@pytest.fixture
def prometheus_binary() -> Path:
    # Before the stack starts: without the binary there is nothing to start it for.
    if not PROMETHEUS.is_file():
        pytest.skip("no /usr/bin/prometheus: apt-get install prometheus (Debian)")
    return PROMETHEUS


@pytest.fixture
async def prometheus(prometheus_binary: Path, stack: dict[str, str], tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERT_RULES)],
        "scrape_configs": [{"job_name": name, "metrics_path": "/metrics",
                            "static_configs": [{"targets": [url.removeprefix("http://")]}]}
                           for name, url in stack.items()],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    # Popen only spawns; the readiness poll below waits.
    process = subprocess.Popen([str(prometheus_binary), f"--config.file={tmp_path / 'prometheus.yml'}",  # noqa: ASYNC220
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                                "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            async def ready() -> bool:
                assert process.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
                try:
                    return (await client.get(f"{url}/-/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def a_morning(start: datetime) -> list[dict[str, Any]]:
    """A roster of two teams, then contacts on two queues (one abandoned) with surveys, all today."""
    at = lambda seconds: (start + timedelta(seconds=seconds)).isoformat()  # noqa: E731
    teams = {"a-1": "north", "a-2": "north", "a-3": "south"}
    events = [*roster("north", "centre", ["a-1", "a-2"], start), *roster("south", "centre", ["a-3"], start)]
    for i in range(6):
        contact, agent = f"c-{i}", f"a-{i % 3 + 1}"
        base = {"interaction_id": contact, "queue_id": ("billing", "sales")[i % 2], "channel": "voice"}
        who = {"agent_id": agent, "team_id": teams[agent]}
        events += [
            canonical_event("cc.interaction.offered.v1", f"{contact}-o", **base, occurred_at=at(i)),
            canonical_event("cc.interaction.answered.v1", f"{contact}-a", **base, **who,
                            queue_wait_s=str(5 + 6 * i), occurred_at=at(i + 5)),
            canonical_event("cc.interaction.wrapped-up.v1", f"{contact}-w", **base, **who,
                            talk_s=str(120 + 10 * i), hold_s="10", after_contact_work_s="30", occurred_at=at(i + 60)),
            canonical_event("cc.survey.answered.v1", f"{contact}-s", survey_id=f"s-{i}", interaction_id=contact,
                            agent_id=agent, csat=3 + i % 3, occurred_at=at(i + 70)),
        ]
    abandoned = {"interaction_id": "c-9", "queue_id": "billing", "channel": "voice"}
    return [*events, canonical_event("cc.interaction.offered.v1", "c-9-o", **abandoned, occurred_at=at(2)),
            canonical_event("cc.interaction.abandoned.v1", "c-9-x", **abandoned, queue_wait_s="45",
                            occurred_at=at(47))]


async def unreadable_records(service_env: dict[str, str]) -> None:
    """What a broken producer might write: no CloudEvents headers, no JSON. It must reach the dead letters."""
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    try:
        prefix = service_env["COACHLINE_TOPIC_PREFIX"]
        await producer.send_and_wait(f"{prefix}cc.interactions.v1", b"\x00not an event", key=b"acme:c-x")
        await producer.send_and_wait(f"{prefix}cc.raw.asterisk.v1", b"not a queue_log line", key=b"acme",
                                     headers=[("coachline-tenant", b"acme")])
    finally:
        await producer.stop()


async def send_traffic(client: httpx.AsyncClient, stack: dict[str, str], identity: Any, hr_system: HrSystem,
                       service_env: dict[str, str]) -> None:
    await hr_system.subscribe(client, stack["notifications"], identity.headers("acme", "admin", subject="hr-admin"),
                              ["coaching.session.recorded.v1"])
    now = datetime.now(UTC)
    # Today's figures are the ones kpi exports; a run just after midnight stays within the new day.
    start = max(now - timedelta(minutes=3), now.replace(hour=0, minute=0, second=0, microsecond=0))
    await post_to_intake(client, stack["intake"], a_morning(start), "ops-1")
    await unreadable_records(service_env)

    evaluator = identity.headers("acme", "quality_evaluator", subject="q-1")
    await wait_in_pool(client, stack["evaluation"], evaluator, {"c-0"})
    await publish_scorecard(client, stack["evaluation"], identity.headers("acme", "admin", subject="qa-admin"),
                            "voice", {"name": "Voice", "sections": [{
                                "section_id": "call", "title": "Call", "goal": "quality",
                                "criteria": [{"criterion_id": "greeting", "title": "Greeting"}]}]})
    scored = await client.post(f"{stack['evaluation']}/v1/evaluations", headers=evaluator, json={
        "interaction_id": "c-0", "scorecard_id": "voice", "answers": {"greeting": True}})
    assert scored.status_code == 201, scored.text

    session = await client.post(f"{stack['coaching']}/v1/sessions", headers=identity.headers("acme", "admin"),
                                json={"agent_id": "a-1", "coach_id": "tl-1", "kind": "evaluation_review",
                                      "held": {"held_at": now.isoformat(), "notes": "Greeting by name works."}})
    assert session.status_code == 201, session.text


def expand_rate_interval(expr: str) -> str:
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", RATE_INTERVAL)


def substitute(expr: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        expr = re.sub(r"\$\{" + name + r"\}|\$" + name + r"\b", value, expr)
    return expr


def top_level_operands(expr: str) -> list[str]:
    """``expr`` split at the ``and``/``unless`` that are outside any parentheses, braces, brackets and strings."""
    depth, quoted, cuts = 0, False, [0]
    for i, char in enumerate(expr):
        if char == '"' and (i == 0 or expr[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
        elif (not quoted and depth == 0 and (i == 0 or not expr[i - 1].isalnum())
              and (match := SET_OPERATORS.match(expr, i))):
            cuts += [i, match.end()]
    cuts.append(len(expr))
    return [expr[cuts[k]:cuts[k + 1]].strip() for k in range(0, len(cuts), 2)]


def without_threshold(expr: str) -> str:
    match = COMPARISON.match(expr.strip())
    return match["operand"] if match else expr.strip()


class PrometheusApi:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def query(self, expr: str) -> list[dict[str, Any]]:
        answer = await self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", f"{expr}: {body.get('error')}"
        return body["data"]["result"]

    async def label_values(self, label: str, selector: str) -> list[str]:
        answer = await self.client.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": selector})
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", f"{selector}: {body.get('error')}"
        return body["data"]


async def dashboard_queries(api: PrometheusApi) -> tuple[dict[str, list[str]], list[str]]:
    """Each dashboard panel's queries with the variables filled in, and the variables read from Prometheus
    that find no values (their dropdowns would be empty)."""
    queries: dict[str, list[str]] = {}
    unfilled: list[str] = []
    for path in DASHBOARDS:
        dashboard = load(path)
        chosen: dict[str, str] = {}
        variants: list[dict[str, str]] = [{}]
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "custom":
                variants = [{**v, variable["name"]: o["value"]} for v in variants for o in variable["options"]]
                continue
            label_query = re.fullmatch(r"label_values\((?P<selector>.+),\s*(?P<label>\w+)\)",
                                       substitute(variable["definition"], chosen))
            assert label_query, variable["definition"]
            found = await api.label_values(label_query["label"], label_query["selector"])
            if not found:
                unfilled.append(f"{path.name}: variable {variable['name']}")
            chosen[variable["name"]] = variable.get("allValue") or (found[0] if found else "")
        for panel in panels(dashboard):
            for target in panel["targets"]:
                key = f"{path.name}: {panel['title']} ({target['refId']})"
                queries[key] = [expand_rate_interval(substitute(target["expr"], {**chosen, **variant}))
                                for variant in variants]
    return queries, unfilled


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


async def test_every_dashboard_panel_and_alert_returns_data_from_a_real_prometheus(
        stack, prometheus, hr_system, identity, service_env) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        api = PrometheusApi(client, prometheus)

        async def all_targets_up() -> bool:
            up = await api.query("up")
            return {s["metric"]["job"] for s in up if s["value"][1] == "1"} == set(stack)

        await eventually(all_targets_up, timeout=30)
        await send_traffic(client, stack, identity, hr_system, service_env)

        async def delivered() -> bool:
            return bool(hr_system.received)

        await eventually(delivered, timeout=60)

        rules = alert_rules()
        for rule in rules:
            await api.query(rule["expr"])  # the whole expression parses; empty is fine
        alerts = {f"alert {rule['alert']}": [without_threshold(operand) for operand in top_level_operands(rule["expr"])]
                  for rule in rules}

        deadline = time.monotonic() + 120
        while True:
            # The variables' values appear with the figures, so the panels are filled in afresh each round.
            panel_queries, unfilled = await dashboard_queries(api)
            expected = {**panel_queries, **alerts}
            empty = [f"{name}: {expr}" for name, exprs in expected.items() for expr in exprs
                     if not await api.query(expr)]
            if not (empty or unfilled) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        assert unfilled == []
        assert empty == [], "no data for:\n" + "\n".join(empty)
        assert sum(len(v) for v in expected.values()) >= 40

        groups = (await client.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
        loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
        assert set(loaded) == {rule["alert"] for rule in rules}
        assert {name: rule["health"] for name, rule in loaded.items() if rule["health"] != "ok"} == {}
