"""Sends one signed webhook attempt over HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx

from coachline_notifications.domain.deliveries import AttemptResult, Delivery, webhook_body
from coachline_notifications.domain.signing import signature_headers

USER_AGENT = "Coachline-Webhooks/1"


class WebhookSender:
    """POSTs a delivery with Standard Webhooks headers; never follows redirects, never waits past the timeout."""

    def __init__(self, client: httpx.AsyncClient, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s

    async def send(self, delivery: Delivery) -> AttemptResult:
        body = webhook_body(delivery)
        # The event id is the webhook-id on every attempt, so a receiver that got an attempt we
        # could not confirm drops the retry.
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signature_headers(delivery.secret, delivery.event_id, int(time.time()), body),
        }
        try:
            # httpx's timeout bounds each read and write; this bounds the whole attempt.
            async with asyncio.timeout(self.timeout_s):
                # Streaming, and never reading the body: a receiver cannot make us buffer a large answer.
                async with self.client.stream("POST", delivery.url, content=body, headers=headers,
                                              follow_redirects=False) as response:
                    status = response.status_code
        except TimeoutError:
            return AttemptResult(None, f"no answer within {self.timeout_s:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # The exception's type says enough; its message could echo parts of the URL.
            return AttemptResult(None, type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult(status)
        if 300 <= status < 400:
            return AttemptResult(status, f"HTTP {status}: redirects are not followed")
        return AttemptResult(status, f"HTTP {status}")
