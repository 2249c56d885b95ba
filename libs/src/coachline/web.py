"""The HTTP side every service shares: problem+json errors, health, readiness, metrics, request telemetry,
and the limits every request meets: body size, strict JSON bodies, open event streams."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import TypeAdapter
from pydantic_core import from_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coachline.auth import verifier_for
from coachline.problem import Problem, problem_response
from coachline.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    """What one request may take. A service's app keeps its limits in ``app.state.http_limits``.

    A wallboard kiosk token is often shared by the screens of one room, hence the headroom per credential.
    """

    max_body_bytes: int = 1024 * 1024
    max_streams: int = 500
    max_streams_per_credential: int = 20


class BodyTooLarge(HTTPException):
    """The body passed ``max_body_bytes`` while it was read; an HTTPException, so FastAPI passes it on (not 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"at most {limit} bytes per request")
        self.limit = limit


def _too_large(limit: int) -> JSONResponse:
    return problem_response(413, "Body too large", f"at most {limit} bytes per request", field="body")


class BodyLimit:
    """Refuses a body over the limit before it is parsed: at once when Content-Length says so, otherwise
    as soon as the bytes read pass it, so a chunked upload cannot fill the memory either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = scope["app"].state.http_limits.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        read = 0

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


class StreamLimit:
    """Caps the event streams (``text/event-stream``) open at once: per replica (503) and per credential (429).

    A stream is counted from the moment its response starts, whatever route it comes from; a refused
    one gets a problem instead and its route sees the client gone, so its generator stops.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.open = 0
        self.by_credential: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits: HttpLimits = scope["app"].state.http_limits
        credential = _credential(scope)
        holding = refused = False

        async def counted_send(message: Message) -> None:
            nonlocal holding, refused
            if refused:
                return
            if message["type"] == "http.response.start" and _is_event_stream(message):
                if self.open >= limits.max_streams:
                    refused = True
                    await problem_response(503, "Too many streams", "This replica serves as many event streams "
                                           "as it can; try again shortly.", headers={"Retry-After": "5"})(
                        scope, receive, send)
                    return
                if self.by_credential.get(credential, 0) >= limits.max_streams_per_credential:
                    refused = True
                    await problem_response(429, "Too many streams", f"At most {limits.max_streams_per_credential} "
                                           "event streams at once with one credential.",
                                           headers={"Retry-After": "30"})(scope, receive, send)
                    return
                holding = True
                self.open += 1
                self.by_credential[credential] = self.by_credential.get(credential, 0) + 1
            await send(message)

        async def gone_once_refused() -> Message:
            return {"type": "http.disconnect"} if refused else await receive()

        try:
            await self.app(scope, gone_once_refused, counted_send)
        finally:
            if holding:
                self.open -= 1
                left = self.by_credential.pop(credential) - 1
                if left:
                    self.by_credential[credential] = left


def _is_event_stream(start: Message) -> bool:
    content_type = dict(start.get("headers", ())).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"text/event-stream"


def _credential(scope: Scope) -> str:
    """Who holds the stream: the bearer token, or a wallboard's kiosk token; a digest, not the secret itself."""
    presented = dict(scope["headers"]).get(b"authorization") or "".join(
        parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[:1]).encode()
    return hashlib.sha256(presented).hexdigest()


async def strict_input(request: Request) -> None:
    """Input must have the types its OpenAPI schema gives. The routes' own validation is lenient: it
    reads ``false`` as a count, ``"5"`` as a number and ``0`` or ``"0"`` as a date. So before it, a JSON
    body is held to its schema's JSON types, and the body's and the query's dates and times to ISO 8601.
    Text holding NUL, which PostgreSQL cannot store, is refused with them."""
    route = request.scope.get("route")
    found = [problem for field in getattr(getattr(route, "dependant", None), "query_params", ())
             for value in request.query_params.getlist(field.alias)
             for problem in _mismatches(value, *_schema(field.field_info.annotation), ("query", field.alias),
                                        text=True)]
    field = getattr(route, "body_field", None)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if field is not None and (media_type == "application/json" or media_type.endswith("+json")):
        try:
            document = from_json(await request.body())
        except ValueError:
            document = None  # empty, or not JSON at all: the route's own validation answers that
        if document is not None:
            found += _mismatches(document, *_schema(field.field_info.annotation), ("body",), text=False)
    if found:
        raise RequestValidationError([{"loc": loc, "msg": msg, "type": "strict_input"} for loc, msg in found])


_FORMATS = {
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "date-time": re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"),
}
_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
Loc = tuple[str | int, ...]


@cache
def _schema(annotation: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema pydantic gives a type (the one in the OpenAPI document) and its definitions."""
    schema = TypeAdapter(annotation).json_schema()
    return schema, schema.get("$defs", {})


def _mismatches(value: object, schema: dict[str, Any], defs: dict[str, Any], loc: Loc, *,
                text: bool) -> list[tuple[Loc, str]]:
    """Where ``value`` departs from ``schema`` in JSON type, date format or NUL (with ``text``, query
    values: strings whatever their type, so only formats and NUL count)."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        tried = [_mismatches(value, branch, defs, loc, text=text) for branch in branches]
        return [] if not all(tried) else min(tried, key=len)
    found = [m for part in schema.get("allOf", ()) for m in _mismatches(value, part, defs, loc, text=text)]
    kinds = schema.get("type")
    # A query value is text whatever its type, but never null: it is there.
    matches = (lambda k: k != "null") if text else (lambda k: _JSON_TYPES[k](value))
    if kinds and not any(matches(k) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return [*found, (loc, f"Input should be JSON of type {kinds}")]
    if isinstance(value, str):
        if "\x00" in value:
            found.append((loc, "NUL characters are not accepted"))
        form = _FORMATS.get(schema.get("format", ""))
        if form is not None and not form.fullmatch(value):
            found.append((loc, f"Input should be an ISO 8601 {schema['format']}"))
    elif isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            if "\x00" in key:
                found.append((loc, "NUL characters are not accepted"))
            inner = properties.get(key, extra)
            if isinstance(inner, dict):
                found += _mismatches(item, inner, defs, (*loc, key), text=text)
    elif isinstance(value, list):
        prefix, rest = schema.get("prefixItems", []), schema.get("items")
        for index, item in enumerate(value):
            inner = prefix[index] if index < len(prefix) else rest
            if isinstance(inner, dict):
                found += _mismatches(item, inner, defs, (*loc, index), text=text)
    return found


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    # Location and message only: echoing the input back could reflect personal data into logs.
    return [{"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]]


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as ``application/problem+json``."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "Request is not valid", "See errors.", errors=_validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail))

    @app.exception_handler(BodyTooLarge)
    async def _too_large_while_read(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return _too_large(exc.limit)

    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    async def _unstorable_text(_: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        # Text PostgreSQL cannot store (NUL) arriving by a way the body check does not see, e.g. a query.
        return problem_response(422, "Request is not valid", "The request holds characters that cannot be stored.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error")


def _install_request_telemetry(app: FastAPI, runtime: Runtime) -> None:
    name = runtime.settings.service_name
    requests = Counter(f"coachline_{name}_http_requests", "HTTP requests handled.",
                       ["method", "route", "status"], registry=runtime.registry)
    duration = Histogram(f"coachline_{name}_http_request_duration_seconds", "HTTP request duration.",
                         ["method", "route"], registry=runtime.registry)
    tracer = runtime.tracer.get_tracer(f"coachline.{name}.http")

    @app.middleware("http")
    async def telemetry(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        # FastAPI versions with telemetry of their own open the server span from the request's
        # traceparent first; this span then joins it instead of starting a second, unrelated trace.
        joined = trace.get_current_span().get_span_context().is_valid
        parent = None if joined else propagate.extract(dict(request.headers))
        with tracer.start_as_current_span(f"{request.method} {request.url.path}", context=parent,
                                          kind=trace.SpanKind.INTERNAL if joined else trace.SpanKind.SERVER):
            response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        requests.labels(request.method, template, str(response.status_code)).inc()
        duration.labels(request.method, template).observe(time.perf_counter() - started)
        return response


def _ops_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and PostgreSQL answer", responses={503: {"description": "Not ready"}})
    async def readyz() -> Response:
        checks = await runtime.readiness()
        ok = all(checks.values())
        shown = {k: "ok" if v else "failing" for k, v in checks.items()}
        if ok:
            return JSONResponse({"status": "ready", "checks": shown})
        return problem_response(503, "Not ready", "A dependency does not answer.", checks=shown)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    migrations: Path | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts the database, the broker and the outbox relay, and stops them."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start(migrations)
        try:
            yield
        finally:
            await runtime.stop()

    # No slash redirects: an API client gets the answer or a problem, never a 307 to follow.
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan,
                  dependencies=[Depends(strict_input)], redirect_slashes=False)
    install_problem_handlers(app)
    # Inside the telemetry: an oversized body raised from within its task group would arrive wrapped.
    app.add_middleware(BodyLimit)
    _install_request_telemetry(app, runtime)
    # Outermost, so it sees every stream's response start, wherever the stream comes from.
    app.add_middleware(StreamLimit)
    app.state.http_limits = HttpLimits(max_body_bytes=getattr(runtime.settings, "max_body_bytes",
                                                              HttpLimits.max_body_bytes))
    app.include_router(_ops_router(runtime))
    for router in routers:
        app.include_router(router)
    app.state.runtime = runtime
    app.state.token_verifier = verifier_for(runtime.settings)
    return app
