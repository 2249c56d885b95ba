"""Run a service's app under uvicorn with JSON logs: what ``python -m coachline_<service>`` does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn

from coachline.observability import configure_logging
from coachline.settings import ServiceSettings


def serve(create_app: Callable[[Any], Any], settings: ServiceSettings) -> None:
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
