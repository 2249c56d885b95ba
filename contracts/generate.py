"""Writes what outsiders read, from the code: JSON Schema and a golden example per event, the AsyncAPI
document of each service, and the OpenAPI document of each HTTP API.

Run through ``make contracts``; the contract test regenerates into a temporary folder and fails on
any difference from what is committed here. ``compatibility/v1.json`` keeps each event type's shape;
generation refuses a change that removes an event type, a field or an enum value, changes a field's
type, or makes a field required, since v1 changes must be additive.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from coachline.contracts.registry import EVENT_TYPES, TOPICS, EventType
from coachline.envelope import SPEC_VERSION

SERVICES = ("intake", "evaluation", "coaching", "kpi", "notifications")
SCHEMA_BASE = "https://coachline.dev/contracts/events/"

CLOUD_EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenantid", "content-type"],
    "properties": {
        "ce_specversion": {"const": SPEC_VERSION},
        "ce_id": {"type": "string", "maxLength": 256, "description": "Unique per event; consumers drop repeats."},
        "ce_source": {"type": "string", "maxLength": 256},
        "ce_type": {"type": "string", "maxLength": 256},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "maxLength": 256},
        "ce_tenantid": {"type": "string", "maxLength": 256, "description": "Tenant the event belongs to."},
        "content-type": {"const": "application/json"},
    },
}


def event_schema(et: EventType) -> dict[str, Any]:
    schema = et.model.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{SCHEMA_BASE}{et.name}.schema.json",
            "title": et.name, **{k: v for k, v in schema.items() if k != "title"}}


def asyncapi(service: str, consumes: list[str], produces: list[str], description: str) -> dict[str, Any]:
    """An AsyncAPI 3.0 document: the service's channels, and every event type on them."""
    dead_letters = [TOPICS[t].dead_letter for t in consumes if TOPICS[t].dead_letter]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for action, names in (("receive", consumes), ("send", [*produces, *dead_letters])):
        for name in dict.fromkeys(names):
            assert name is not None
            topic = TOPICS[name]
            types = [e for e in EVENT_TYPES.values() if e.topic == name]
            channel_id = name.replace(".", "_")
            messages = {e.name.replace(".", "_"): {
                "name": e.name,
                "headers": CLOUD_EVENT_HEADERS,
                "payload": {"$ref": f"../events/{e.name}.schema.json"},
                "examples": [{"payload": e.example}],
            } for e in types}
            if not types:
                messages["dead_letter"] = {"name": "dead letter",
                                           "summary": "The original bytes, with dlq_reason, dlq_topic, dlq_partition, "
                                                      "dlq_offset and dlq_consumer_group headers added."}
            channels[channel_id] = {
                "address": name,
                "description": topic.description,
                "messages": messages,
                "bindings": {"kafka": {"topic": name, "partitions": topic.partitions,
                                       "topicConfiguration": {"cleanup.policy": [topic.config()["cleanup.policy"]]}}},
            }
            operations[f"{action}_{channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"Key: {topic.key}",
            }
    return {"asyncapi": "3.0.0",
            "info": {"title": f"Coachline {service}", "version": "1.0.0", "description": description},
            "defaultContentType": "application/json", "channels": channels, "operations": operations}


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# Constraints and prose may change within a version; what consumers rely on may not.
_IGNORED = {"description", "title", "examples", "default", "maxLength", "minLength", "maximum", "minimum",
            "exclusiveMaximum", "exclusiveMinimum", "maxItems", "minItems", "pattern", "maxProperties",
            "$schema", "$id", "$defs"}


def shape(schema: Any, defs: dict[str, Any]) -> Any:
    """The part of a JSON Schema consumers depend on: references resolved, prose and limits dropped."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return shape(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: shape(v, defs) for k, v in sorted(schema.items()) if k not in _IGNORED}
    if isinstance(schema, list):
        return [shape(v, defs) for v in schema]
    return schema


def breaking_changes(old: Any, new: Any, where: str = "") -> list[str]:
    """How ``new`` breaks readers or writers of ``old``: removed or retyped fields, new required ones."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        if "enum" in old:
            lost = [v for v in old["enum"] if v not in new.get("enum", [])]
            found += [f"{where}: value {v!r} removed" for v in lost]
        for key in old.keys() - new.keys() - {"enum", "properties", "required"}:
            found.append(f"{where}: '{key}' removed")
        for key in new.keys() - old.keys() - {"enum", "properties", "required"}:
            found.append(f"{where}: '{key}' added")
        for name in old.get("properties", {}):
            if name not in new.get("properties", {}):
                found.append(f"{where}.{name}: field removed")
            else:
                found += breaking_changes(old["properties"][name], new["properties"][name], f"{where}.{name}")
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            found.append(f"{where}.{name}: became required")
        for key in old.keys() & new.keys() - {"enum", "properties", "required"}:
            found += breaking_changes(old[key], new[key], f"{where}/{key}")
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} alternatives became {len(new)}"]
        return [c for o, n in zip(old, new, strict=True) for c in breaking_changes(o, n, where)]
    return [] if old == new else [f"{where}: {old!r} became {new!r}"]


class IncompatibleContract(Exception):
    """A change to a released event type that its readers or writers would not survive."""


BASELINE = Path(__file__).parent / "compatibility" / "v1.json"


def shapes() -> dict[str, Any]:
    """Every event type's payload shape, as consumers depend on it."""
    found = {}
    for et in EVENT_TYPES.values():
        schema = et.model.model_json_schema(mode="serialization")
        found[et.name] = shape(schema, schema.get("$defs", {}))
    return found


def check_compatible(baseline: dict[str, Any], current: dict[str, Any]) -> None:
    """Within a major version only additive changes: no event type, field or enum value may go."""
    problems = [f"{name}: event type removed" for name in baseline if name not in current]
    problems += [f"{name}{change}" for name in baseline if name in current
                 for change in breaking_changes(baseline[name], current[name])]
    if problems:
        raise IncompatibleContract(
            "breaking changes to v1 contracts (publish a new version instead):\n  " + "\n  ".join(problems))


GENERATED = ("events", "asyncapi", "openapi", "compatibility")


def generate(out: Path, baseline: Path = BASELINE) -> None:
    current = shapes()
    if baseline.exists():
        check_compatible(json.loads(baseline.read_text()), current)
    # Start from empty folders so a renamed or removed event leaves no stale schema behind.
    for folder in GENERATED:
        for stale in (out / folder).glob("*.json"):
            stale.unlink()
    for et in EVENT_TYPES.values():
        _dump(out / "events" / f"{et.name}.schema.json", event_schema(et))
        _dump(out / "events" / f"{et.name}.example.json", et.example)
    for service in SERVICES:
        module = importlib.import_module(f"coachline_{service}.app")
        app = module.create_app()
        runtime = app.state.runtime
        _dump(out / "asyncapi" / f"{service}.json",
              asyncapi(service, runtime.consumes, runtime.produces, app.description))
        _dump(out / "openapi" / f"{service}.json", app.openapi())
    # What later versions are checked against: the shapes as they stand now, including every addition.
    _dump(out / "compatibility" / "v1.json", current)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
