"""The HTTP side every service shares: problem+json errors, health, readiness, metrics, request telemetry."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from coachline.auth import verifier_for
from coachline.problem import Problem, problem_response
from coachline.runtime import Runtime

log = logging.getLogger(__name__)
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
        parent = propagate.extract(dict(request.headers))
        with tracer.start_as_current_span(f"{request.method} {request.url.path}", context=parent,
                                          kind=trace.SpanKind.SERVER):
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

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    install_problem_handlers(app)
    _install_request_telemetry(app, runtime)
    app.include_router(_ops_router(runtime))
    for router in routers:
        app.include_router(router)
    app.state.runtime = runtime
    app.state.token_verifier = verifier_for(runtime.settings)
    return app
