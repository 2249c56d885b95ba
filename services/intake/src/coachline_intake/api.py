"""HTTP routes of intake."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_intake.domain.canonical import UnsupportedMedia
from coachline_intake.service import SOURCES, BatchRejected, parse_batch, publish_in_order
from coachline_intake.settings import Settings


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


def router(runtime: Runtime, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["intake"])

    @api.post(
        "/sources/{source}/events",
        status_code=202,
        response_model=Accepted,
        summary="Post platform events (JSON object, JSON array or NDJSON)",
        responses={
            404: {"description": "Unknown source"},
            413: {"description": "Body too large"},
            415: {"description": "Unsupported media type"},
            422: {"description": "Invalid events; none of the batch was published"},
        },
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        }}},
    )
    async def post_events(source: str, request: Request) -> Accepted:
        if source not in SOURCES:
            raise Problem(404, "Unknown source", f"known sources: {', '.join(SOURCES)}")
        body = await _read_limited(request, settings.max_body_bytes)
        try:
            events = parse_batch(source, body, request.headers.get("content-type", ""),
                                 settings.max_events_per_request)
        except UnsupportedMedia as exc:
            raise Problem(415, "Unsupported media type",
                          f"{exc} is not read here; use application/json or application/x-ndjson") from None
        except BatchRejected as exc:
            raise Problem(422, "Invalid events", "No event of this request was published.",
                          errors=exc.errors) from None
        await publish_in_order(events, runtime.publish)
        return Accepted(accepted=len(events), event_ids=[e.id for e in events])

    return api


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Body too large", f"at most {limit} bytes per request")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Body too large", f"at most {limit} bytes per request")
        chunks.append(chunk)
    return b"".join(chunks)
