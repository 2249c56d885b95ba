"""``amazon-connect``: contact records (CTR) and agent event stream records, as Kinesis delivers them.

A contact record describes a whole contact once it is over, so one record yields its story:
offered (``Queue.EnqueueTimestamp``), answered (``Agent.ConnectedToAgentTimestamp``, wait
``Queue.Duration``) or abandoned (queued, never connected), transferred (``TransferCompletedTimestamp``),
ended (``DisconnectTimestamp``) and wrapped up (``Agent.AgentInteractionDuration``,
``CustomerHoldDuration``, ``AfterContactWorkDuration``). Connect gives a transferred contact a new
``ContactId``; the interaction id is ``InitialContactId`` so both legs stay one interaction, each
agent wrapping up their own leg. Outcome fields come from the contact attributes a contact flow or
the agent sets: ``disposition``, ``resolved``, ``sale_eligible``, ``sale_made``, ``sale_value``.
Connect reports holds only as totals, so no held/resumed events come from this source.

An agent event record (``EventType`` STATE_CHANGE, LOGIN, LOGOUT; HEART_BEAT carries nothing new)
yields the agent's state: on a contact, in after-contact work, or the agent status (routable →
available, offline → logged out, a custom status → break with its name as the reason).
"""

from __future__ import annotations

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

CHANNELS = {"VOICE": "voice", "CHAT": "chat", "TASK": "messaging", "EMAIL": "email"}
_ON_CONTACT = {"CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "INCOMING", "PENDING"}
_ACW = {"ENDED"}


def translate(record: Any, context: Context) -> list[Draft]:
    body = mapping(record, "record")
    if "CurrentAgentSnapshot" in body or "EventType" in body:
        return _agent_event(body)
    if "ContactId" in body:
        return _contact_record(body, context)
    raise Rejected("neither a contact record (ContactId) nor an agent event (EventType)", "ContactId")


def _contact_record(ctr: Mapping[str, Any], context: Context) -> list[Draft]:
    contact_id = required_text(ctr, "ContactId")
    interaction_id = slug(text(ctr, "InitialContactId", required=False) or contact_id, "InitialContactId")
    channel_name = required_text(ctr, "Channel")
    channel = CHANNELS.get(channel_name.upper())
    if channel is None:
        raise Rejected(f"Channel must be one of {sorted(CHANNELS)}", "Channel")
    queue = mapping(ctr.get("Queue") or {}, "Queue")
    agent = mapping(ctr.get("Agent") or {}, "Agent")
    attributes = mapping(ctr.get("Attributes") or {}, "Attributes")
    endpoint = mapping(ctr.get("CustomerEndpoint") or {}, "CustomerEndpoint")
    if not queue:
        # Outbound and direct-to-agent contacts never queue; without a queue there is nothing to key them by.
        raise Rejected("the contact never entered a queue (no Queue)", "Queue")
    queue_id = slug(text(queue, "Name", "Queue.Name"), "Queue.Name")
    base = {"interaction_id": interaction_id, "queue_id": queue_id, "channel": channel, "source_ref": contact_id}
    address = text(endpoint, "Address", "CustomerEndpoint.Address", required=False)
    customer_ref = context.pseudonymise(address) if address else None
    drafts: list[Draft] = []
    enqueued = queue.get("EnqueueTimestamp")
    if enqueued:
        drafts.append(Draft("cc.interaction.offered.v1", contact_id, {
            **base, "occurred_at": timestamp(enqueued, "Queue.EnqueueTimestamp"), "customer_ref": customer_ref}))
    wait = seconds(queue.get("Duration", 0), "Queue.Duration")
    disconnected = ctr.get("DisconnectTimestamp")
    connected = agent.get("ConnectedToAgentTimestamp")
    if not connected:
        if enqueued and disconnected:
            drafts.append(Draft("cc.interaction.abandoned.v1", contact_id, {
                **base, "occurred_at": timestamp(queue.get("DequeueTimestamp") or disconnected, "DisconnectTimestamp"),
                "queue_wait_s": wait}))
        return drafts
    agent_id = slug(text(agent, "Username", "Agent.Username"), "Agent.Username")
    team = _team(agent)
    who = {"agent_id": agent_id, "team_id": team}
    drafts.append(Draft("cc.interaction.answered.v1", contact_id, {
        **base, **who, "occurred_at": timestamp(connected, "Agent.ConnectedToAgentTimestamp"), "queue_wait_s": wait}))
    transferred_at = ctr.get("TransferCompletedTimestamp")
    if transferred_at:
        # TransferredToEndpoint may be a phone number, so it is never copied; the flow names the queue.
        to_queue = text(attributes, "transfer_queue", "Attributes.transfer_queue", required=False)
        drafts.append(Draft("cc.interaction.transferred.v1", contact_id, {
            **base, **who, "occurred_at": timestamp(transferred_at, "TransferCompletedTimestamp"),
            "to_queue_id": slug(to_queue, "Attributes.transfer_queue") if to_queue else None}))
    if disconnected:
        drafts.append(Draft("cc.interaction.ended.v1", contact_id, {
            **base, **who, "occurred_at": timestamp(disconnected, "DisconnectTimestamp")}))
    acw_end = agent.get("AfterContactWorkEndTimestamp")
    if acw_end or (disconnected and not agent.get("AfterContactWorkStartTimestamp")):
        sale_value = attributes.get("sale_value")
        drafts.append(Draft("cc.interaction.wrapped-up.v1", contact_id, {
            **base, **who,
            "occurred_at": timestamp(acw_end or disconnected, "Agent.AfterContactWorkEndTimestamp"),
            "talk_s": seconds(agent.get("AgentInteractionDuration", 0), "Agent.AgentInteractionDuration"),
            "hold_s": seconds(agent.get("CustomerHoldDuration", 0), "Agent.CustomerHoldDuration"),
            "after_contact_work_s": seconds(agent.get("AfterContactWorkDuration", 0),
                                            "Agent.AfterContactWorkDuration"),
            "transferred": bool(transferred_at),
            "disposition": text(attributes, "disposition", "Attributes.disposition", required=False),
            "resolved": flag(attributes.get("resolved"), "Attributes.resolved"),
            "sale_eligible": bool(flag(attributes.get("sale_eligible"), "Attributes.sale_eligible")),
            "sale_made": bool(flag(attributes.get("sale_made"), "Attributes.sale_made")),
            "sale_value": str(sale_value) if sale_value not in (None, "") else None,
            "customer_ref": customer_ref}))
    return drafts


def _team(agent: Mapping[str, Any]) -> str | None:
    groups = mapping(agent.get("HierarchyGroups") or {}, "Agent.HierarchyGroups")
    # The lowest level of the agent hierarchy is the team (Level1 is the top, e.g. the site).
    for level in ("Level5", "Level4", "Level3", "Level2", "Level1"):
        group = mapping(groups.get(level) or {}, f"Agent.HierarchyGroups.{level}")
        name = text(group, "GroupName", f"Agent.HierarchyGroups.{level}.GroupName", required=False)
        if name:
            return slug(name, f"Agent.HierarchyGroups.{level}.GroupName")
    return None


def _agent_event(record: Mapping[str, Any]) -> list[Draft]:
    event_id = required_text(record, "EventId")
    kind = required_text(record, "EventType")
    if kind == "HEART_BEAT":
        return []
    if kind not in ("STATE_CHANGE", "LOGIN", "LOGOUT"):
        raise Rejected("EventType must be STATE_CHANGE, LOGIN, LOGOUT or HEART_BEAT", "EventType")
    snapshot = mapping(record.get("CurrentAgentSnapshot") or {}, "CurrentAgentSnapshot")
    configuration = mapping(snapshot.get("Configuration") or {}, "CurrentAgentSnapshot.Configuration")
    agent_id = slug(text(configuration, "Username", "CurrentAgentSnapshot.Configuration.Username"),
                    "CurrentAgentSnapshot.Configuration.Username")
    hierarchy = mapping(configuration.get("AgentHierarchyGroups") or {}, "AgentHierarchyGroups")
    team = None
    for level in ("Level5", "Level4", "Level3", "Level2", "Level1"):
        group = mapping(hierarchy.get(level) or {}, f"AgentHierarchyGroups.{level}")
        if text(group, "Name", required=False):
            team = slug(text(group, "Name"), f"AgentHierarchyGroups.{level}.Name")
            break
    status = mapping(snapshot.get("AgentStatus") or {}, "CurrentAgentSnapshot.AgentStatus")
    contacts = snapshot.get("Contacts") or []
    if not isinstance(contacts, list):
        raise Rejected("CurrentAgentSnapshot.Contacts must be a list", "CurrentAgentSnapshot.Contacts")
    states = {text(mapping(c, "Contacts[]"), "State", "Contacts[].State", required=False) for c in contacts}
    reason = None
    if kind == "LOGOUT":
        state = "logged_out"
    elif states & _ON_CONTACT:
        state = "on_contact"
    elif states & _ACW:
        state = "after_contact_work"
    else:
        status_type = text(status, "Type", "CurrentAgentSnapshot.AgentStatus.Type")
        state = {"ROUTABLE": "available", "OFFLINE": "logged_out", "CUSTOM": "break"}.get(status_type or "", "other")
        reason = text(status, "Name", "CurrentAgentSnapshot.AgentStatus.Name", required=False)
    return [Draft("cc.agent.state-changed.v1", event_id, {
        "agent_id": agent_id, "team_id": team, "state": state, "reason": reason,
        "occurred_at": timestamp(record.get("EventTimestamp"), "EventTimestamp")})]
