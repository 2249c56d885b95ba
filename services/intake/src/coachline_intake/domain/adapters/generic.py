"""``generic``: our canonical events posted as CloudEvents 1.0 structured JSON (see ``contracts/events``).

Each event names its canonical type, the platform's own id for it and the tenant in ``tenantid``
(which must be the tenant the request is signed for). Unknown fields are rejected by the contracts.
Customer identifiers in ``customer_ref`` and ``shopper_ref`` are pseudonymised like every source's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError

from coachline.contracts.base import Identifier
from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import validation_summary
from coachline_intake.domain.records import Context, Draft, Rejected

# Intake publishes what platforms report; evaluations, coaching and KPI events come from our own services.
INTAKE_TOPICS = frozenset({"cc.interactions.v1", "cc.agent-states.v1", "cc.surveys.v1", "cc.roster.v1",
                           "cc.mystery-shops.v1"})
INTAKE_TYPES = frozenset(name for name, et in EVENT_TYPES.items() if et.topic in INTAKE_TOPICS)
_PSEUDONYMISED = ("customer_ref", "shopper_ref")
_FREE_TEXT = ("comment",)


class StructuredCloudEvent(BaseModel):
    """A CloudEvent in structured JSON mode, as platforms post it."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    type: Annotated[str, StringConstraints(max_length=100)]
    tenantid: Identifier
    time: AwareDatetime | None = None
    subject: Annotated[str, StringConstraints(max_length=256)] | None = None
    datacontenttype: Literal["application/json"] | None = None
    data: dict[str, Any]


def translate(record: Any, context: Context) -> list[Draft]:
    try:
        posted = StructuredCloudEvent.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        raise Rejected(f"not a CloudEvent: {validation_summary(exc)}",
                       ".".join(str(p) for p in first) or None) from None
    if posted.type not in INTAKE_TYPES:
        raise Rejected(f"type {posted.type!r} is not accepted here; expected one of {sorted(INTAKE_TYPES)}", "type")
    if posted.tenantid != context.tenant_id:
        raise Rejected("tenantid is not the tenant this request is signed for", "tenantid")
    data = dict(posted.data)
    for name in _PSEUDONYMISED:
        if isinstance(data.get(name), str):
            data[name] = context.pseudonymise(data[name])
    for name in _FREE_TEXT:
        if isinstance(data.get(name), str):
            data[name] = context.scrub(data[name])
    return [Draft(posted.type, f"{posted.source}/{posted.id}", data)]
