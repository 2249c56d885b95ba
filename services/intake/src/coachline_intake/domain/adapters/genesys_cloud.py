"""``genesys-cloud``: analytics conversation detail records, and real-time notifications.

**Detail records** (``/api/v2/analytics/conversations/details``) hold a whole conversation: its
participants (``customer``, ``ivr``, ``acd``, ``agent``), their sessions and the timed segments of
each session. From one:

- an ``acd`` session's ``interact`` segment is the time in a queue: offered at its start; abandoned
  when the session has a ``tAbandon`` metric (wait = that metric);
- an ``agent`` session is one agent's leg: answered at its first ``interact`` segment (wait since
  the last queue segment began), held and resumed for each ``hold`` segment, transferred when a
  segment ends with ``disconnectType`` ``transfer`` (to the queue entered next, if any), ended when
  its last talking segment ends, wrapped up at the end of its ``wrapup`` segment (disposition the
  ``wrapUpCode``) with talk, hold and wrap-up time summed from the segments;
- the customer's ``ani`` becomes the pseudonymous ``customer_ref``.

Outcome fields come from the agent participant's ``attributes`` (participant data): ``resolved``,
``sale_eligible``, ``sale_made``, ``sale_value``.

**Notifications** are what the Notifications API (WebSocket) or the Amazon EventBridge integration
delivers, one per record: ``{"topicName", "version", "eventBody", "metadata"}``, or an EventBridge
event carrying that in ``detail``. Times are ``eventTime`` (epoch milliseconds).

| topic | canonical |
|---|---|
| ``v2.detail.events.conversation.{id}.acd.start`` | offered (``queueId``; customer ``ani``, or ``addressFrom``) |
| ``….acd.end``, ``acdOutcome`` ``ANSWERED`` | answered by ``answeredUserId`` (wait ``connectedDurationMs``) |
| ``….acd.end``, ``acdOutcome`` ``ABANDON`` | abandoned (wait ``connectedDurationMs``) |
| ``….user.end`` of a session that interacted | transferred (a transfer ``disconnectType``) and ended |
| ``v2.users.{id}.routingStatus`` | agent state from ``routingStatus.status`` (below) |
| ``v2.users.{id}.presence`` | agent state from ``presenceDefinition.systemPresence`` (below) |

Routing status ``IDLE`` is available, ``INTERACTING`` on a contact, ``COMMUNICATING`` and
``NOT_RESPONDING`` other, and ``OFF_QUEUE`` yields nothing: the presence says where the agent went.
Presence ``BREAK`` and ``MEAL`` are a break, ``OFFLINE`` logged out, ``ON_QUEUE`` yields nothing (the
routing status follows), any other (``AVAILABLE`` off queue, ``AWAY``, ``BUSY``, ``MEETING``,
``TRAINING``, …) is other; the reason is the status or presence as Genesys names it.

Other conversation topics (``customer.*``, ``user.start``, ``acw``, ``flow.*``, …) and channel
heartbeats are valid and carry nothing more. A notification describes one step, so hold and wrap-up
(which need the whole leg) come only from the detail record. Each step a notification reports gets
the id the detail record gives the same step, so a tenant may stream notifications for the live
picture and post the detail record when the conversation ends: the copies are dropped downstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from coachline_intake.domain.records import (
    Context,
    Draft,
    Rejected,
    between,
    flag,
    mapping,
    moment,
    required_text,
    seconds,
    slug,
    text,
    timestamp,
)

CHANNELS = {"voice": "voice", "callback": "voice", "chat": "chat", "email": "email", "message": "messaging"}
MAX_ITEMS = 200


def _list(value: Any, name: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise Rejected(f"{name} must be a list of at most {MAX_ITEMS} objects", name)
    return [mapping(item, name) for item in value]


def translate(record: Any, context: Context) -> list[Draft]:
    value = mapping(record, "record")
    if "detail-type" in value and "detail" in value:
        value = mapping(value["detail"], "detail")
    if "topicName" in value:
        return _notification(value, context)
    return _detail_record(value, context)


def _detail_record(conversation: Mapping[str, Any], context: Context) -> list[Draft]:
    conversation_id = required_text(conversation, "conversationId")
    interaction_id = slug(conversation_id, "conversationId")
    participants = _list(conversation.get("participants"), "participants")
    if not participants:
        raise Rejected("participants is empty", "participants")
    channel = None
    customer_ref = None
    queue_segments: list[tuple[str, Mapping[str, Any], Mapping[str, Any], str]] = []
    for p_index, participant in enumerate(participants):
        purpose = text(participant, "purpose", f"participants[{p_index}].purpose")
        for s_index, session in enumerate(_list(participant.get("sessions"), f"participants[{p_index}].sessions")):
            where = f"participants[{p_index}].sessions[{s_index}]"
            media = text(session, "mediaType", f"{where}.mediaType")
            if channel is None:
                if media not in CHANNELS:
                    raise Rejected(f"{where}.mediaType must be one of {sorted(CHANNELS)}", f"{where}.mediaType")
                channel = CHANNELS[media]
            if purpose in ("customer", "external") and customer_ref is None:
                ani = text(session, "ani", f"{where}.ani", required=False)
                customer_ref = context.pseudonymise(ani) if ani else None
            if purpose == "acd":
                for g_index, segment in enumerate(_list(session.get("segments"), f"{where}.segments")):
                    if segment.get("segmentType") == "interact":
                        queue_segments.append((f"{where}.segments[{g_index}]", session, segment,
                                               f"{participant.get('participantId')}/{session.get('sessionId')}"))
    if channel is None:
        raise Rejected("no participant has a session", "participants")
    drafts: list[Draft] = []
    # (start, queue id, the queue session's ref) in order, to find where each agent leg came from.
    queues: list[tuple[str, str, str]] = []
    for where, session, segment, ref in queue_segments:
        queue_id = slug(text(segment, "queueId", f"{where}.queueId"), f"{where}.queueId")
        start = timestamp(segment.get("segmentStart"), f"{where}.segmentStart")
        queues.append((start, queue_id, ref))
        base = {"interaction_id": interaction_id, "queue_id": queue_id, "channel": channel,
                "source_ref": conversation_id}
        drafts.append(Draft("cc.interaction.offered.v1", f"{ref}/{start}",
                            {**base, "occurred_at": start, "customer_ref": customer_ref}))
        abandon = _metric(session, "tAbandon")
        if abandon is not None:
            end = segment.get("segmentEnd") or start
            drafts.append(Draft("cc.interaction.abandoned.v1", f"{ref}/{start}", {
                **base, "occurred_at": timestamp(end, f"{where}.segmentEnd"),
                "queue_wait_s": seconds(abandon, "tAbandon", scale=1000)}))
    queues.sort()
    for p_index, participant in enumerate(participants):
        if participant.get("purpose") != "agent":
            continue
        agent_id = slug(text(participant, "userId", f"participants[{p_index}].userId"),
                        f"participants[{p_index}].userId")
        attributes = mapping(participant.get("attributes") or {}, f"participants[{p_index}].attributes")
        for s_index, session in enumerate(_list(participant.get("sessions"), f"participants[{p_index}].sessions")):
            where = f"participants[{p_index}].sessions[{s_index}]"
            ref = f"{participant.get('participantId')}/{session.get('sessionId')}"
            drafts += _agent_leg(session, where, ref, interaction_id, conversation_id, channel, agent_id,
                                 attributes, queues, customer_ref)
    return drafts


def _metric(session: Mapping[str, Any], name: str) -> Any:
    for metric in _list(session.get("metrics"), "metrics"):
        if metric.get("name") == name:
            return metric.get("value")
    return None


def _agent_leg(session: Mapping[str, Any], where: str, ref: str, interaction_id: str, conversation_id: str,
               channel: str, agent_id: str, attributes: Mapping[str, Any], queues: list[tuple[str, str, str]],
               customer_ref: str | None) -> list[Draft]:
    segments = []
    for g_index, segment in enumerate(_list(session.get("segments"), f"{where}.segments")):
        at = f"{where}.segments[{g_index}]"
        kind = text(segment, "segmentType", f"{at}.segmentType")
        start = timestamp(segment.get("segmentStart"), f"{at}.segmentStart")
        end = timestamp(segment.get("segmentEnd"), f"{at}.segmentEnd") if segment.get("segmentEnd") else None
        segments.append((kind, start, end, segment, at))
    talking = [s for s in segments if s[0] in ("interact", "hold")]
    if not talking:
        # An alert the agent never answered: the contact went on to someone else.
        return []
    first = next((s for s in talking if s[0] == "interact"), talking[0])
    answered_at = first[1]
    queued = [q for q in queues if q[0] <= answered_at]
    queue_start, queue_id, queue_ref = queued[-1] if queued else (answered_at, None, None)
    own_queue = first[3].get("queueId")
    queue_id = slug(str(own_queue), f"{first[4]}.queueId") if own_queue else queue_id
    if queue_id is None:
        raise Rejected(f"{first[4]}.queueId is missing and no queue segment precedes the agent", f"{first[4]}.queueId")
    base = {"interaction_id": interaction_id, "queue_id": queue_id, "channel": channel,
            "source_ref": conversation_id, "agent_id": agent_id}
    # Named after the queue session it ended, as the acd.end notification of that answer names it.
    answered_ref = f"{queue_ref}/{queue_start}/{agent_id}" if queue_ref else ref
    drafts = [Draft("cc.interaction.answered.v1", answered_ref, {
        **base, "occurred_at": answered_at, "queue_wait_s": between(queue_start, answered_at, "queue_wait_s")})]
    talk = hold = Decimal(0)
    for kind, start, end, _, at in talking:
        if end is None:
            raise Rejected(f"{at}.segmentEnd is missing: the conversation is not over", f"{at}.segmentEnd")
        length = Decimal(between(start, end, f"{at}.segmentEnd"))
        if kind == "hold":
            hold += length
            drafts.append(Draft("cc.interaction.held.v1", f"{ref}/{start}", {**base, "occurred_at": start}))
            drafts.append(Draft("cc.interaction.resumed.v1", f"{ref}/{start}",
                                {**base, "occurred_at": end, "hold_s": str(length)}))
        else:
            talk += length
    last = talking[-1]
    last_end = last[2] or last[1]
    transferred = last[3].get("disconnectType") == "transfer"
    if transferred:
        later = [q for q in queues if moment(q[0]) >= moment(last_end)]
        drafts.append(Draft("cc.interaction.transferred.v1", ref, {
            **base, "occurred_at": last_end, "to_queue_id": later[0][1] if later else None}))
    drafts.append(Draft("cc.interaction.ended.v1", ref, {**base, "occurred_at": last_end}))
    wrapup = next((s for s in segments if s[0] == "wrapup"), None)
    if wrapup is not None and wrapup[2] is None:
        return drafts  # still in after-contact work; the final record wraps up
    acw = between(wrapup[1], wrapup[2], "after_contact_work_s") if wrapup and wrapup[2] else "0.000"
    sale_value = attributes.get("sale_value")
    drafts.append(Draft("cc.interaction.wrapped-up.v1", ref, {
        **base, "occurred_at": wrapup[2] if wrapup else last_end,
        "talk_s": str(talk), "hold_s": str(hold), "after_contact_work_s": acw, "transferred": transferred,
        "disposition": text(wrapup[3], "wrapUpCode", f"{wrapup[4]}.wrapUpCode", required=False) if wrapup else None,
        "resolved": flag(attributes.get("resolved"), "attributes.resolved"),
        "sale_eligible": bool(flag(attributes.get("sale_eligible"), "attributes.sale_eligible")),
        "sale_made": bool(flag(attributes.get("sale_made"), "attributes.sale_made")),
        "sale_value": str(sale_value) if sale_value not in (None, "") else None,
        "customer_ref": customer_ref}))
    return drafts


_CONVERSATION_TOPIC = re.compile(r"v2\.detail\.events\.conversation\.([^.]+)\.([a-z.]+)")
_USER_TOPIC = re.compile(r"v2\.users\.([^.]+)\.(routingStatus|presence)")
ROUTING_STATES = {"IDLE": "available", "INTERACTING": "on_contact", "COMMUNICATING": "other",
                  "NOT_RESPONDING": "other"}
PRESENCE_STATES = {"BREAK": "break", "MEAL": "break", "OFFLINE": "logged_out"}
TRANSFERS = frozenset({"TRANSFER", "CONSULT_TRANSFER", "FORWARD_TRANSFER", "CONFERENCE_TRANSFER"})
_MAX_EPOCH_MS = 253_402_300_799_999  # the end of year 9999


def _notification(notification: Mapping[str, Any], context: Context) -> list[Draft]:
    topic = required_text(notification, "topicName")
    if topic == "channel.metadata":  # the channel's heartbeat
        return []
    body = mapping(notification.get("eventBody"), "eventBody")
    conversation = _CONVERSATION_TOPIC.fullmatch(topic)
    if conversation is not None:
        kind = conversation.group(2)
        if kind == "acd.start":
            return _queue_entered(body, context)
        if kind == "acd.end":
            return _queue_left(body)
        if kind == "user.end":
            return _agent_left(body)
        return []
    user = _USER_TOPIC.fullmatch(topic)
    if user is not None:
        agent_id = slug(user.group(1), "topicName")
        if user.group(2) == "routingStatus":
            status = mapping(body.get("routingStatus"), "eventBody.routingStatus")
            name = required_text(status, "status", "eventBody.routingStatus.status")
            state = ROUTING_STATES.get(name)
            at_key, at_name = status.get("startTime"), "eventBody.routingStatus.startTime"
        else:
            definition = mapping(body.get("presenceDefinition"), "eventBody.presenceDefinition")
            name = required_text(definition, "systemPresence", "eventBody.presenceDefinition.systemPresence")
            state = None if name == "ON_QUEUE" else PRESENCE_STATES.get(name, "other")
            at_key, at_name = body.get("modifiedDate"), "eventBody.modifiedDate"
        if state is None:
            return []
        at = timestamp(at_key, at_name)
        return [Draft("cc.agent.state-changed.v1", f"{agent_id}/{user.group(2)}/{at}", {
            "agent_id": agent_id, "state": state, "reason": name, "occurred_at": at})]
    raise Rejected("the genesys-cloud source reads v2.detail.events.conversation and v2.users routingStatus and "
                   "presence topics", "topicName")


def _step(body: Mapping[str, Any]) -> tuple[str, dict[str, Any], int]:
    """The session the event is about (as the detail record names it), the fields every step shares, its time."""
    conversation_id = required_text(body, "conversationId", "eventBody.conversationId")
    ref = (f"{required_text(body, 'participantId', 'eventBody.participantId')}/"
           f"{required_text(body, 'sessionId', 'eventBody.sessionId')}")
    media = (text(body, "mediaType", "eventBody.mediaType") or "").lower()
    if media not in CHANNELS:
        raise Rejected(f"eventBody.mediaType must be one of {sorted(m.upper() for m in CHANNELS)}",
                       "eventBody.mediaType")
    queue_id = slug(text(body, "queueId", "eventBody.queueId"), "eventBody.queueId")
    shared = {"interaction_id": slug(conversation_id, "eventBody.conversationId"), "queue_id": queue_id,
              "channel": CHANNELS[media], "source_ref": conversation_id}
    return ref, shared, _millis(body.get("eventTime"), "eventBody.eventTime")


def _queue_entered(body: Mapping[str, Any], context: Context) -> list[Draft]:
    ref, shared, millis = _step(body)
    at = _moment(millis)
    outbound = body.get("direction") == "OUTBOUND"
    customer = text(body, "dnis" if outbound else "ani", "eventBody.ani", required=False) \
        or text(body, "addressTo" if outbound else "addressFrom", "eventBody.addressFrom", required=False)
    return [Draft("cc.interaction.offered.v1", f"{ref}/{at}", {
        **shared, "occurred_at": at, "customer_ref": context.pseudonymise(customer) if customer else None})]


def _queue_left(body: Mapping[str, Any]) -> list[Draft]:
    outcome = body.get("acdOutcome")
    if outcome not in ("ANSWERED", "ABANDON"):
        return []  # FLOW_OUT: the flow took the contact elsewhere (voicemail, callback); neither answer nor abandon
    ref, shared, millis = _step(body)
    waited = _millis(body.get("connectedDurationMs"), "eventBody.connectedDurationMs")
    if waited > millis:
        raise Rejected("eventBody.connectedDurationMs is longer than the time since 1970",
                       "eventBody.connectedDurationMs")
    entered = _moment(millis - waited)
    wait = {"occurred_at": _moment(millis), "queue_wait_s": seconds(waited, "eventBody.connectedDurationMs",
                                                                    scale=1000)}
    if outcome == "ABANDON":
        return [Draft("cc.interaction.abandoned.v1", f"{ref}/{entered}", {**shared, **wait})]
    agent_id = slug(text(body, "answeredUserId", "eventBody.answeredUserId"), "eventBody.answeredUserId")
    return [Draft("cc.interaction.answered.v1", f"{ref}/{entered}/{agent_id}",
                  {**shared, **wait, "agent_id": agent_id})]


def _agent_left(body: Mapping[str, Any]) -> list[Draft]:
    interacted = [_millis(body.get(key) or 0, f"eventBody.{key}") for key in ("interactingDurationMs",
                                                                             "heldDurationMs")]
    if not any(interacted):
        return []  # an alert the agent never answered: the contact went on to someone else
    ref, shared, millis = _step(body)
    at = _moment(millis)
    agent = {**shared, "occurred_at": at,
             "agent_id": slug(text(body, "userId", "eventBody.userId"), "eventBody.userId")}
    transferred = [Draft("cc.interaction.transferred.v1", ref, agent)] \
        if body.get("disconnectType") in TRANSFERS else []
    return [*transferred, Draft("cc.interaction.ended.v1", ref, agent)]


def _millis(value: Any, name: str) -> int:
    """A count of milliseconds (a time since 1970 or a duration), as Genesys sends them: integers."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_EPOCH_MS:
        raise Rejected(f"{name} must be a whole number of milliseconds", name)
    return value


def _moment(millis: int) -> str:
    # Exact to the millisecond (no float), so the time reads as the detail record's segment times do.
    at = datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=millis % 1000 * 1000)
    return timestamp(at.isoformat(), "eventTime")
