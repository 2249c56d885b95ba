"""Use cases of intake: authenticate a batch, translate it record by record, publish what is good,
dead-letter what is not, and answer only once Kafka has both."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from coachline.envelope import CloudEvent
from coachline.signing import HEADER_TIMESTAMP, TOLERANCE_S, InvalidSignature, verify
from coachline_intake.domain.pseudonym import pseudonym, scrub
from coachline_intake.domain.records import Context
from coachline_intake.domain.replay import ReplayGuard
from coachline_intake.domain.sources import ADAPTERS, Adapter
from coachline_intake.domain.translate import Outcome, Record, record_of_message, split_body, translate_record
from coachline_intake.settings import Settings, SourceSecrets, read_secrets_file

log = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")


@dataclass(frozen=True)
class DeadLetter:
    """A record intake could not map: the record (customer identifiers scrubbed) and why."""

    tenant_id: str
    source: str
    line: int
    reason: str
    field: str | None
    body: bytes


# Hands canonical events and dead letters to Kafka together; returns once Kafka acknowledged all of them.
Deliver = Callable[[list[CloudEvent], list[DeadLetter]], Awaitable[None]]


class Unauthenticated(Exception):
    """The request does not prove it comes from the tenant's platform; ``field`` names the header."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Webhook:
    """A request whose signature holds: the tenant and source it is for, its ``webhook-id`` and timestamp."""

    tenant_id: str
    source: str
    id: str
    sent_at: int


class DeliveryFailed(Exception):
    """Kafka did not acknowledge in time; the caller may send the whole batch again (ids are stable)."""


class SecretStore:
    """Source secrets from settings and from a mounted file, re-read when the file changes (rotation)."""

    def __init__(self, inline: SourceSecrets, path: Path | None) -> None:
        self.inline = inline
        self.path = path
        self._stamp: float | None = None
        self._from_file: SourceSecrets = {}

    def secrets(self, tenant_id: str, source: str) -> list[str]:
        self._refresh()
        return [*self.inline.get(tenant_id, {}).get(source, []), *self._from_file.get(tenant_id, {}).get(source, [])]

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            log.error("the source secrets file %s cannot be read; keeping the last secrets", self.path)
            return
        if stamp != self._stamp:
            try:
                self._from_file = read_secrets_file(self.path)
            except ValueError:
                # A half-written file during a rotation: keep the last good secrets, try again next request.
                log.error("the source secrets file %s is not valid; keeping the last secrets", self.path)
                return
            self._stamp = stamp


class RateLimiter:
    """A token bucket per tenant, counted in records: a burst may use ``burst``, the rate refills it."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, tenant_id: str, cost: int) -> None:
        """Spend ``cost`` tokens or raise :class:`RateLimited` saying when enough will be there."""
        now = self.clock()
        tokens, since = self._buckets.get(tenant_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) * self.rate)
        if cost > tokens:
            self._buckets[tenant_id] = (tokens, now)
            needed = min(cost, self.burst) - tokens
            raise RateLimited(max(1, math.ceil(needed / self.rate)))
        self._buckets[tenant_id] = (tokens - cost, now)


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.rejection is None]

    @property
    def rejected(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.rejection is not None]

    @property
    def events(self) -> list[CloudEvent]:
        return [event for outcome in self.outcomes for event in outcome.events]


def pseudonym_key(settings: Settings, tenant_id: str) -> bytes:
    """The tenant's pseudonym key; outside production a tenant without one gets a derived development key."""
    key = settings.pseudonym_keys.get(tenant_id)
    if key is not None:
        return key.encode()
    if settings.environment == "production":
        # Settings refuse to start without a key per configured tenant; this is the last line.
        raise Unauthenticated("no pseudonym key is configured for this tenant", "coachline-tenant")
    return hashlib.sha256(f"coachline-development-pseudonyms:{tenant_id}".encode()).digest()


def context_for(settings: Settings, tenant_id: str) -> Context:
    return Context(
        tenant_id=tenant_id,
        pseudonymise=partial(pseudonym, pseudonym_key(settings, tenant_id), region=settings.phone_region),
        scrub=partial(scrub, region=settings.phone_region),
        survey_dimensions=frozenset(settings.survey_dimensions),
    )


def translate_records(adapter: Adapter, records: list[Record], context: Context) -> BatchResult:
    return BatchResult([translate_record(adapter, record, context) for record in records])


class Intake:
    """Takes platform input for one tenant and source into the canonical stream."""

    def __init__(self, settings: Settings, deliver: Deliver, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.deliver = deliver
        self.secrets = SecretStore(settings.source_secrets, settings.source_secrets_file)
        self.limiter = RateLimiter(settings.rate_limit_events_per_s, settings.rate_limit_burst)
        self.replays = ReplayGuard(TOLERANCE_S, settings.remembered_webhook_ids)
        self.records = Counter("coachline_intake_records", "Platform records taken in, by source and outcome.",
                               ["source", "outcome"], registry=registry)
        self.events = Counter("coachline_intake_canonical_events", "Canonical events published, by source.",
                              ["source"], registry=registry)

    def authenticate(self, tenant_id: str | None, source: str, headers: Mapping[str, str], body: bytes) -> Webhook:
        """The tenant, source and webhook id the request is signed for, or :class:`Unauthenticated`."""
        if not tenant_id:
            raise Unauthenticated("the coachline-tenant header is missing", "coachline-tenant")
        secrets = self.secrets.secrets(tenant_id, source) if len(tenant_id) <= 128 else []
        if not secrets:
            # Same answer as a wrong signature: a caller learns nothing about which tenants exist.
            raise Unauthenticated("no signature matches the body under this source's secrets", "webhook-signature")
        try:
            webhook_id = verify(secrets, headers, body)
        except InvalidSignature as exc:
            header = next((h for h in ("webhook-id", "webhook-timestamp") if h in str(exc)), "webhook-signature")
            raise Unauthenticated(str(exc), header) from None
        sent_at = next(int(value) for name, value in headers.items() if name.lower() == HEADER_TIMESTAMP)
        return Webhook(tenant_id, source, webhook_id, sent_at)

    def read(self, adapter: Adapter, body: bytes, content_type: str) -> list[Record]:
        return split_body(body, content_type, adapter)

    async def take(self, adapter: Adapter, webhook: Webhook, records: list[Record]) -> BatchResult:
        """Translate, publish the good records' events, dead-letter the bad records; returns once Kafka has all.

        A webhook id this tenant and source already had taken raises :class:`AlreadyTaken` instead
        (:class:`InProgress` while that request is still being taken, :class:`WindowFull` when the
        tenant remembers as many ids as allowed), and publishes nothing.
        """
        self.replays.claim(webhook.tenant_id, webhook.source, webhook.id, webhook.sent_at)
        try:
            self.limiter.take(webhook.tenant_id, len(records))
            result = await self._take(adapter, webhook.tenant_id, records)
        except BaseException:
            self.replays.release(webhook.tenant_id, webhook.source, webhook.id)
            raise
        self.replays.settle(webhook.tenant_id, webhook.source, webhook.id, webhook.sent_at)
        return result

    async def take_message(self, adapter: Adapter, tenant_id: str | None, value: bytes) -> BatchResult:
        """One message of a ``cc.raw.<source>.v1`` topic; Kafka's own back-pressure replaces the rate limit."""
        record = record_of_message(value, adapter)
        if not tenant_id or not _IDENTIFIER.fullmatch(tenant_id):
            await self._deliver([], [DeadLetter(
                tenant_id or "unknown", adapter.name, 1, "the coachline-tenant header is missing or not an identifier",
                "coachline-tenant", scrub(record.raw, self.settings.phone_region).encode())])
            self.records.labels(adapter.name, "rejected").inc()
            return BatchResult([])
        return await self._take(adapter, tenant_id, [record])

    async def _deliver(self, events: list[CloudEvent], dead_letters: list[DeadLetter]) -> None:
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self.deliver(events, dead_letters)
        except TimeoutError:
            raise DeliveryFailed(f"Kafka did not acknowledge within {self.settings.publish_timeout_s:g} s") from None

    async def _take(self, adapter: Adapter, tenant_id: str, records: list[Record]) -> BatchResult:
        context = context_for(self.settings, tenant_id)
        result = translate_records(adapter, records, context)
        dead_letters = [DeadLetter(tenant_id, adapter.name, o.record.line, o.rejection.reason, o.rejection.field,
                                   context.scrub(o.record.raw).encode())
                        for o in result.outcomes if o.rejection is not None]
        await self._deliver(result.events, dead_letters)
        self.records.labels(adapter.name, "accepted").inc(len(result.accepted))
        self.records.labels(adapter.name, "rejected").inc(len(result.rejected))
        self.events.labels(adapter.name).inc(len(result.events))
        log.info("took %d records from %s for %s: %d events, %d rejected", len(records), adapter.name, tenant_id,
                 len(result.events), len(result.rejected))
        return result


def adapter_for(source: str) -> Adapter | None:
    return ADAPTERS.get(source)

