"""``twilio-taskrouter``: TaskRouter event callbacks (form-encoded as Twilio posts them, or JSON).

| ``EventType`` | canonical |
|---|---|
| ``task-queue.entered`` | offered (queue ``TaskQueueName``; the customer from ``TaskAttributes.from``) |
| ``reservation.accepted`` | answered by ``WorkerName`` (wait ``TaskAge``) |
| ``task.canceled`` | abandoned (wait ``TaskAge``) |
| ``transfer.initiated`` | transferred (``TransferType`` QUEUE: ``TransferTo`` is the queue) |
| ``reservation.wrapup`` | ended |
| ``reservation.completed`` | wrapped up (see below) |
| ``worker.activity.update`` | agent state from ``WorkerActivityName`` |

Wrap-up takes talk, hold and wrap-up time, outcome and sale from ``TaskAttributes.conversations``
(``talk_time``, ``hold_time``, ``wrap_up_time``, ``outcome``, ``resolved``, ``sale_*``), where Flex
Insights keeps them. Other event types are valid but carry nothing the canonical stream holds. The agent's team is
``WorkerAttributes.team_id`` (or ``team``). TaskRouter has no hold events; hold time arrives summed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from coachline_intake.domain.records import (
    Context,
    Draft,
    Rejected,
    flag,
    mapping,
    required_text,
    seconds,
    slug,
    text,
    timestamp,
)

CHANNELS = {"voice": "voice", "chat": "chat", "sms": "messaging", "messaging": "messaging", "email": "email",
            "default": "messaging"}
ACTIVITIES = {"available": "available", "offline": "logged_out", "break": "break", "lunch": "break",
              "unavailable": "other", "wrap up": "after_contact_work", "wrapup": "after_contact_work",
              "on a task": "on_contact", "busy": "on_contact"}
MAX_ATTRIBUTES = 16_384
IGNORED = frozenset({"task.created", "task.updated", "task.wrapup", "task.completed", "task.deleted",
                     "task.system-deleted", "task-queue.moved", "task-queue.timeout", "reservation.created",
                     "reservation.rejected", "reservation.timeout", "reservation.canceled", "reservation.rescinded",
                     "worker.attributes.update", "worker.created", "worker.deleted", "worker.capacity.update",
                     "worker.channel.availability.update", "transfer.completed", "transfer.failed",
                     "transfer.canceled", "workflow.target-matched", "workflow.entered", "workflow.timeout"})


def _attributes(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    raw = record.get(key)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str) or len(raw) > MAX_ATTRIBUTES:
        raise Rejected(f"{key} must be a JSON object of at most {MAX_ATTRIBUTES} characters", key)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        raise Rejected(f"{key} is not JSON", key) from None
    return mapping(parsed, key)


def translate(record: Any, context: Context) -> list[Draft]:
    event = mapping(record, "record")
    kind = required_text(event, "EventType")
    if kind in IGNORED:
        return []
    sid = required_text(event, "Sid")
    millis = event.get("TimestampMs")
    at = timestamp(f"{millis}"[:-3] + "." + f"{millis}"[-3:] if str(millis or "").isdigit() and len(str(millis)) > 3
                   else event.get("Timestamp"), "Timestamp")
    if kind == "worker.activity.update":
        activity = required_text(event, "WorkerActivityName")
        worker = _attributes(event, "WorkerAttributes")
        return [Draft("cc.agent.state-changed.v1", sid, {
            "agent_id": slug(text(event, "WorkerName"), "WorkerName"), "team_id": _team(worker),
            "state": ACTIVITIES.get(activity.strip().lower(), "other"), "reason": activity, "occurred_at": at})]
    if kind not in ("task-queue.entered", "reservation.accepted", "task.canceled", "transfer.initiated",
                    "reservation.wrapup", "reservation.completed"):
        raise Rejected(f"EventType {kind[:60]!r} is not a TaskRouter event this source maps", "EventType")
    task_sid = required_text(event, "TaskSid")
    channel_name = (text(event, "TaskChannelUniqueName", required=False) or "voice").lower()
    if channel_name not in CHANNELS:
        raise Rejected(f"TaskChannelUniqueName must be one of {sorted(CHANNELS)}", "TaskChannelUniqueName")
    task = _attributes(event, "TaskAttributes")
    base = {"interaction_id": slug(task_sid, "TaskSid"), "queue_id": slug(text(event, "TaskQueueName"),
                                                                           "TaskQueueName"),
            "channel": CHANNELS[channel_name], "source_ref": task_sid, "occurred_at": at}
    if kind == "task-queue.entered":
        caller = text(task, "from", "TaskAttributes.from", required=False)
        return [Draft("cc.interaction.offered.v1", sid,
                      {**base, "customer_ref": context.pseudonymise(caller) if caller else None})]
    if kind == "task.canceled":
        return [Draft("cc.interaction.abandoned.v1", sid,
                      {**base, "queue_wait_s": seconds(event.get("TaskAge", 0), "TaskAge")})]
    worker = _attributes(event, "WorkerAttributes")
    who = {"agent_id": slug(text(event, "WorkerName"), "WorkerName"), "team_id": _team(worker)}
    if kind == "reservation.accepted":
        return [Draft("cc.interaction.answered.v1", sid,
                      {**base, **who, "queue_wait_s": seconds(event.get("TaskAge", 0), "TaskAge")})]
    if kind == "transfer.initiated":
        target = text(event, "TransferTo", required=False)
        to_queue = target if text(event, "TransferType", required=False) == "QUEUE" else None
        to_agent = target if text(event, "TransferType", required=False) == "WORKER" else None
        return [Draft("cc.interaction.transferred.v1", sid, {
            **base, **who, "to_queue_id": slug(to_queue, "TransferTo") if to_queue else None,
            "to_agent_id": slug(to_agent, "TransferTo") if to_agent else None})]
    if kind == "reservation.wrapup":
        return [Draft("cc.interaction.ended.v1", sid, {**base, **who})]
    conversations = mapping(task.get("conversations") or {}, "TaskAttributes.conversations")
    if conversations.get("talk_time") is None:
        raise Rejected("TaskAttributes.conversations.talk_time is missing", "TaskAttributes.conversations.talk_time")
    caller = text(task, "from", "TaskAttributes.from", required=False)
    sale_value = conversations.get("sale_value")
    return [Draft("cc.interaction.wrapped-up.v1", sid, {
        **base, **who,
        "talk_s": seconds(conversations.get("talk_time"), "TaskAttributes.conversations.talk_time"),
        "hold_s": seconds(conversations.get("hold_time", 0), "TaskAttributes.conversations.hold_time"),
        "after_contact_work_s": seconds(conversations.get("wrap_up_time", 0),
                                        "TaskAttributes.conversations.wrap_up_time"),
        "transferred": bool(flag(task.get("transferred"), "TaskAttributes.transferred")),
        "disposition": text(conversations, "outcome", "TaskAttributes.conversations.outcome", required=False),
        "resolved": flag(conversations.get("resolved"), "TaskAttributes.conversations.resolved"),
        "sale_eligible": bool(flag(conversations.get("sale_eligible"), "TaskAttributes.conversations.sale_eligible")),
        "sale_made": bool(flag(conversations.get("sale_made"), "TaskAttributes.conversations.sale_made")),
        "sale_value": str(sale_value) if sale_value not in (None, "") else None,
        "customer_ref": context.pseudonymise(caller) if caller else None})]


def _team(worker: Mapping[str, Any]) -> str | None:
    team = text(worker, "team_id", "WorkerAttributes.team_id", required=False) or text(
        worker, "team", "WorkerAttributes.team", required=False)
    return slug(team, "WorkerAttributes.team_id") if team else None
