"""HTTP routes of intake."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json

from coachline.problem import Problem
from coachline_intake.domain.adapters.generic import StructuredCloudEvent
from coachline_intake.domain.adapters.mystery_shop import MysteryShopRecord
from coachline_intake.domain.adapters.roster import RosterRecord
from coachline_intake.domain.adapters.survey import SurveyRecord
from coachline_intake.domain.replay import AlreadyTaken, InProgress, WindowFull
from coachline_intake.domain.sources import ADAPTERS
from coachline_intake.domain.translate import BodyRejected, UnsupportedMedia
from coachline_intake.service import BatchResult, DeliveryFailed, Intake, RateLimited, Unauthenticated, adapter_for
from coachline_intake.settings import Settings


class LineOutcome(BaseModel):
    line: int
    status: Literal["accepted", "rejected"]
    event_ids: list[str] = []
    reason: str | None = None
    field: str | None = None


class BatchAnswer(BaseModel):
    accepted: int
    rejected: int
    event_ids: list[str]
    lines: list[LineOutcome]


class AlreadyTakenAnswer(BaseModel):
    """A repeated ``webhook-id``: its records were taken before and nothing was published again."""

    status: Literal["already-taken"]
    webhook_id: str


_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
ROSTER_EXAMPLE = {"kind": "team", "id": "t-north", "name": "North", "unit": "u-helsinki",
                  "time_zone": "Europe/Helsinki", "changed_at": "2026-11-23T06:00:00Z"}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with its local ``$defs`` references replaced by their definitions (none are recursive)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def _record_schemas() -> list[Any]:
    """The JSON records whose shape we define ourselves; platform records are objects as the platforms send them."""
    schemas = []
    for model in (StructuredCloudEvent, SurveyRecord, MysteryShopRecord, RosterRecord):
        full = model.model_json_schema()
        schemas.append(_inline(full, full.get("$defs", {})))
    return [*schemas, {"type": "object", "description": "A platform's own record (see the source's documentation)"}]


def _lines(result: BatchResult) -> list[dict[str, Any]]:
    """Each record's :class:`LineOutcome`, built as plain dicts: a batch has up to a thousand of them."""
    return [
        {"line": o.record.line, "status": "accepted", "event_ids": [e.id for e in o.events], "reason": None,
         "field": None}
        if o.rejection is None else
        {"line": o.record.line, "status": "rejected", "event_ids": [], "reason": o.rejection.reason,
         "field": o.rejection.field}
        for o in result.outcomes
    ]


def router(intake: Intake, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["intake"])
    limit = settings.max_body_bytes
    records = _record_schemas()

    @api.post(
        "/sources/{source}/events",
        status_code=202,
        response_model=BatchAnswer,
        summary="Post platform events: a JSON object, a JSON array, NDJSON, a form, or queue_log lines",
        description=(
            "Signed with the tenant's secret for the source (Standard Webhooks: `webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`). Each record is translated on its own: good ones are "
            "published, bad ones go to the dead-letter topic, and the answer lists both. It comes only after "
            "Kafka acknowledged everything. A `webhook-id` this tenant and source had taken within the "
            "signature tolerance (5 minutes) is answered 200 and not taken again, as Standard Webhooks "
            "receivers do. Sources: " + ", ".join(ADAPTERS) + "."),
        responses={
            200: {"description": "This webhook-id was taken before; nothing was published again",
                  "model": AlreadyTakenAnswer},
            401: {"description": "Missing, wrong or stale signature", "content": _PROBLEM},
            404: {"description": "Unknown source", "content": _PROBLEM},
            413: {"description": f"Body over {limit} bytes or more than {settings.max_events_per_request} records",
                  "content": _PROBLEM},
            415: {"description": "Media type this source does not read", "content": _PROBLEM},
            409: {"description": "A request with this webhook-id is being taken; see Retry-After",
                  "content": _PROBLEM},
            422: {"description": "No record could be mapped (each one is listed)", "content": _PROBLEM},
            429: {"description": "The tenant's rate limit, or its limit of remembered webhook ids; see Retry-After",
                  "content": _PROBLEM},
            503: {"description": "Kafka is unavailable; nothing was accepted", "content": _PROBLEM},
        },
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"anyOf": [*records, {"type": "array", "maxItems": 20,
                                                                   "items": {"anyOf": records}}]},
                                 "example": ROSTER_EXAMPLE},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        }}},
    )
    async def post_events(
        source: Annotated[str, Path(description="The platform the records come from.", examples=["roster"],
                                    json_schema_extra={"enum": list(ADAPTERS)})],
        request: Request,
        coachline_tenant: Annotated[str | None, Header(alias="coachline-tenant", max_length=128,
                                                       description="The tenant the platform posts for.")] = None,
        webhook_id: Annotated[str | None, Header(alias="webhook-id")] = None,
        webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp")] = None,
        webhook_signature: Annotated[str | None, Header(alias="webhook-signature")] = None,
    ) -> Response:
        adapter = adapter_for(source)
        if adapter is None:
            raise Problem(404, "Unknown source", f"known sources: {', '.join(ADAPTERS)}", field="source")
        body = await _read_limited(request, limit)
        try:
            webhook = intake.authenticate(coachline_tenant, source, request.headers, body)
        except Unauthenticated as exc:
            raise Problem(401, "Not signed for this tenant and source", exc.reason, field=exc.field,
                          headers={"WWW-Authenticate": 'Signature realm="coachline-intake"'}) from None
        try:
            records = intake.read(adapter, body, request.headers.get("content-type", ""))
        except UnsupportedMedia as exc:
            raise Problem(415, "Unsupported media type", f"{source} does not read {exc}",
                          field="content-type") from None
        except BodyRejected as exc:
            raise Problem(422, "Body cannot be read", exc.reason, field=exc.field) from None
        if not records:
            raise Problem(422, "No records", "the body holds no record", field="body")
        if len(records) > settings.max_events_per_request:
            raise Problem(413, "Too many records",
                          f"at most {settings.max_events_per_request} records per request", field="body")
        try:
            result = await intake.take(adapter, webhook, records)
        except AlreadyTaken:
            return Response(AlreadyTakenAnswer(status="already-taken", webhook_id=webhook.id).model_dump_json(),
                            status_code=200, media_type="application/json")
        except InProgress:
            raise Problem(409, "Being taken", "a request with this webhook-id is being taken; retry to learn its "
                          "outcome", headers={"Retry-After": "1"}, field="webhook-id") from None
        except WindowFull as exc:
            raise Problem(429, "Too many webhook ids", f"this tenant's remembered webhook ids are at their limit; "
                          f"retry after {exc.retry_after_s} s", headers={"Retry-After": str(exc.retry_after_s)},
                          field="webhook-id") from None
        except RateLimited as exc:
            raise Problem(429, "Rate limit", f"too many records for this tenant; retry after {exc.retry_after_s} s",
                          headers={"Retry-After": str(exc.retry_after_s)}, field="body") from None
        except DeliveryFailed as exc:
            raise Problem(503, "Kafka unavailable", f"{exc}; send the batch again (event ids are stable)",
                          headers={"Retry-After": "5"}) from None
        lines = _lines(result)
        if not result.accepted:
            first = result.rejected[0].rejection
            raise Problem(422, "No record could be mapped", "Each record is listed with its reason; all went to the "
                          "dead-letter topic.", field=first.field if first else None,
                          lines=lines)
        answer = {"accepted": len(result.accepted), "rejected": len(result.rejected),
                  "event_ids": [e.id for e in result.events], "lines": lines}
        return Response(to_json(answer), status_code=202, media_type="application/json")

    return api


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Body too large", f"at most {limit} bytes per request", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Body too large", f"at most {limit} bytes per request", field="body")
        chunks.append(chunk)
    return b"".join(chunks)
