"""``genesys-cloud``: analytics conversation detail records (``/api/v2/analytics/conversations/details``).

A detail record holds the whole conversation: its participants (``customer``, ``ivr``, ``acd``,
``agent``), their sessions and the timed segments of each session. From it:

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
"""

from __future__ import annotations

from collections.abc import Mapping
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
    conversation = mapping(record, "record")
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
    queues: list[tuple[str, str]] = []  # (start, queue id) in order, to find where each agent leg came from
    for where, session, segment, ref in queue_segments:
        queue_id = slug(text(segment, "queueId", f"{where}.queueId"), f"{where}.queueId")
        start = timestamp(segment.get("segmentStart"), f"{where}.segmentStart")
        queues.append((start, queue_id))
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
               channel: str, agent_id: str, attributes: Mapping[str, Any], queues: list[tuple[str, str]],
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
    queue_start, queue_id = queued[-1] if queued else (answered_at, None)
    own_queue = first[3].get("queueId")
    queue_id = slug(str(own_queue), f"{first[4]}.queueId") if own_queue else queue_id
    if queue_id is None:
        raise Rejected(f"{first[4]}.queueId is missing and no queue segment precedes the agent", f"{first[4]}.queueId")
    base = {"interaction_id": interaction_id, "queue_id": queue_id, "channel": channel,
            "source_ref": conversation_id, "agent_id": agent_id}
    drafts = [Draft("cc.interaction.answered.v1", ref, {
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
