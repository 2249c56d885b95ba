"""``asterisk``: ``queue_log`` lines, ``epoch|callid|queue|agent|event|data1|data2|...``.

Each line is translated on its own (intake keeps no state), using what Asterisk writes on it:

| event | canonical | data fields used |
|---|---|---|
| ENTERQUEUE | offered | data2 caller id (pseudonymised) |
| CONNECT | answered | data1 wait in queue |
| COMPLETEAGENT, COMPLETECALLER | ended and wrapped up | data1 wait, data2 talk time |
| TRANSFER | transferred and wrapped up | data1 extension, data3 wait, data4 talk time |
| ABANDON, EXITWITHTIMEOUT | abandoned | data3 wait |
| EXITWITHKEY | abandoned | data4 wait |
| EXITEMPTY | abandoned | data3 wait |
| PAUSE, PAUSEALL | agent on break | data1 reason |
| UNPAUSE, UNPAUSEALL, ADDMEMBER, AGENTLOGIN | agent available | |
| REMOVEMEMBER, AGENTLOGOFF | agent logged out | |

Lines about other things (RINGNOANSWER, CONFIGRELOAD, QUEUESTART, RINGCANCELED, SYSCOMPAT, DID,
INFO ...) are valid and carry nothing the canonical stream holds. queue_log has no hold events and
no after-contact work; wrap-up figures count talk time only. The queue name is the queue id, the
agent's interface or name (``PJSIP/1001``, ``Agent/1001``) the agent id; every call is voice.
"""

from __future__ import annotations

from typing import Any

from coachline_intake.domain.records import Context, Draft, Rejected, seconds, slug, timestamp

MAX_LINE = 4096
MAX_EXTENSION = 6
NOT_MAPPED = frozenset({"RINGNOANSWER", "RINGCANCELED", "CONFIGRELOAD", "QUEUESTART", "SYSCOMPAT", "DID", "INFO",
                        "ATTENDEDTRANSFER", "BLINDTRANSFER", "ENTERQUEUE_LEGACY", "PENALTY", "CALLERONHOLD"})


def translate(record: Any, context: Context) -> list[Draft]:
    if not isinstance(record, str):
        raise Rejected("a queue_log line must be text", "line")
    if len(record) > MAX_LINE:
        raise Rejected(f"the line is longer than {MAX_LINE} characters", "line")
    fields = record.strip().split("|")
    if len(fields) < 5:
        raise Rejected("a queue_log line has at least 5 |-separated fields", "line")
    epoch, call_id, queue, agent, event, *data = fields
    data += [""] * (5 - len(data))
    if event in NOT_MAPPED:
        return []
    at = timestamp(epoch, "time")
    source_id = f"{call_id}/{epoch}/{event}"
    if event in ("PAUSE", "PAUSEALL", "UNPAUSE", "UNPAUSEALL", "ADDMEMBER", "AGENTLOGIN", "REMOVEMEMBER",
                 "AGENTLOGOFF"):
        state = {"PAUSE": "break", "PAUSEALL": "break", "REMOVEMEMBER": "logged_out",
                 "AGENTLOGOFF": "logged_out"}.get(event, "available")
        reason = data[0] if state == "break" and data[0] else None
        return [Draft("cc.agent.state-changed.v1", f"{source_id}/{queue}", {
            "agent_id": slug(agent, "agent"), "state": state, "reason": reason, "occurred_at": at})]
    if event not in ("ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "ABANDON",
                     "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY"):
        raise Rejected(f"unknown queue_log event {event[:40]!r}", "event")
    base = {"interaction_id": slug(call_id, "callid"), "queue_id": slug(queue, "queue"), "channel": "voice",
            "source_ref": call_id, "occurred_at": at}
    if event == "ENTERQUEUE":
        caller = data[1].strip()
        known = caller and caller.lower() not in ("unknown", "anonymous", "restricted")
        return [Draft("cc.interaction.offered.v1", source_id,
                      {**base, "customer_ref": context.pseudonymise(caller) if known else None})]
    if event in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"):
        wait = data[3] if event == "EXITWITHKEY" else data[2]
        return [Draft("cc.interaction.abandoned.v1", source_id, {**base, "queue_wait_s": seconds(wait, "wait")})]
    who = {"agent_id": slug(agent, "agent")}
    if event == "CONNECT":
        return [Draft("cc.interaction.answered.v1", source_id,
                      {**base, **who, "queue_wait_s": seconds(data[0], "data1")})]
    if event == "TRANSFER":
        # An internal extension names the agent; a longer target may be a customer's or partner's number.
        extension = data[0] if data[0].isascii() and len(data[0]) <= MAX_EXTENSION else None
        return [
            Draft("cc.interaction.transferred.v1", source_id, {
                **base, **who, "to_agent_id": slug(extension, "data1") if extension else None}),
            Draft("cc.interaction.wrapped-up.v1", source_id, {
                **base, **who, "talk_s": seconds(data[3], "data4"), "transferred": True}),
        ]
    return [
        Draft("cc.interaction.ended.v1", source_id, {**base, **who}),
        Draft("cc.interaction.wrapped-up.v1", source_id, {**base, **who, "talk_s": seconds(data[1], "data2")}),
    ]
