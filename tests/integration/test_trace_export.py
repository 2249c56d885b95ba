"""Spans leave a service over OTLP/HTTP when an endpoint is configured, received by a real HTTP server."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from coachline.testing import free_port

pytestmark = pytest.mark.integration

PROGRAM = """
from coachline.observability import tracer_provider
provider = tracer_provider("probe")
with provider.get_tracer("probe").start_as_current_span("interaction.offered"):
    pass
provider.shutdown()
"""


def test_spans_reach_an_otlp_collector() -> None:
    received: list[ExportTraceServiceRequest] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                received.append(ExportTraceServiceRequest.FromString(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "PATH": "/usr/bin:/bin"}
        subprocess.run([sys.executable, "-c", PROGRAM], env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    spans = [(resource.resource, span.name) for request in received for resource in request.resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    assert [name for _, name in spans] == ["interaction.offered"]
    attributes = {a.key: a.value.string_value for a in spans[0][0].attributes}
    assert attributes["service.name"] == "coachline-probe"
