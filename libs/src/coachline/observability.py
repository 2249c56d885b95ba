"""JSON logs carrying trace ids, an OpenTelemetry tracer provider, and one Prometheus registry per service."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    import asyncpg


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids so logs join traces."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def tracer_provider(service_name: str) -> TracerProvider:
    """The process's tracer provider, named after the service.

    Spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces-specific
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, to a collector, Tempo or Jaeger; the exporter
    reads the other standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout) itself.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"coachline-{service_name}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def metrics_registry() -> CollectorRegistry:
    """A fresh registry per service instance, so tests can build several apps in one process."""
    return CollectorRegistry(auto_describe=True)


class DatabasePoolCollector(Collector):
    """The service's connection pool as it is when Prometheus scrapes: connections in use, idle, and the most
    it opens. In use at the maximum for long means requests and handlers queue for a connection."""

    def __init__(self, service_name: str, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self.prefix = f"coachline_{service_name}_db_pool"
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        connections = GaugeMetricFamily(f"{self.prefix}_connections", "Database pool connections, by state.",
                                        labels=["state"])
        maximum = GaugeMetricFamily(f"{self.prefix}_max_connections", "The most connections the pool opens.")
        pool = self.pool()
        if pool is not None:
            idle = pool.get_idle_size()
            connections.add_metric(["in_use"], pool.get_size() - idle)
            connections.add_metric(["idle"], idle)
            maximum.add_metric([], pool.get_max_size())
        yield connections
        yield maximum


def register_database_metrics(registry: CollectorRegistry, service_name: str,
                              pool: Callable[[], asyncpg.Pool | None], outbox_age_s: Callable[[], float]) -> None:
    """The pool's connections and the age of the oldest event waiting in the outbox (0 when it is empty),
    both read when Prometheus scrapes."""
    registry.register(DatabasePoolCollector(service_name, pool))
    Gauge(f"coachline_{service_name}_outbox_oldest_age_seconds",
          "Age of the oldest event the outbox relay has yet to publish, when it last looked; 0 when none waits.",
          registry=registry).set_function(outbox_age_s)
