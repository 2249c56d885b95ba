"""Use cases of notifications: manage subscriptions, fan events out to deliveries, deliver them."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from coachline.contracts.notifications import (
    BannerKind,
    BannerScope,
    BannerSeverity,
    DeliveryOutcome,
    NotificationDelivered,
    WallboardBannerPublished,
)
from coachline.envelope import CloudEvent, deterministic_id, new_event
from coachline.persistence import first_delivery, tenant_transaction
from coachline.signing import new_secret
from coachline_notifications import repository
from coachline_notifications.domain.banners import BannerRequest
from coachline_notifications.domain.deliveries import AttemptResult, Delivery, Outcome, RetryPolicy, decide
from coachline_notifications.domain.destinations import IPAddress
from coachline_notifications.domain.rules import (
    Channel,
    QuietHours,
    Rule,
    RuleRequest,
    applies,
    digest_due,
    release_time,
)
from coachline_notifications.domain.subscriptions import (
    CreatedSubscription,
    DeliveryLog,
    DeliveryRecord,
    DeliveryStatus,
    RotatedSecret,
    Subscription,
    SubscriptionRequest,
)
from coachline_notifications.domain.templates import render, render_digest

log = logging.getLogger(__name__)

INBOX_CONSUMER = "webhook-fan-out"
SOURCE = "coachline/notifications"
GONE_REASON = "the receiver answered 410 Gone"
CLEARED_BANNER_S = 300.0
# The pool is opened when the app starts, after the use cases are wired; they reach it through this.
PoolRef = Callable[[], asyncpg.Pool]
Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
Send = Callable[[Delivery], Awaitable[AttemptResult]]
# Raises DestinationRefused when a URL may not be called.
CheckDestination = Callable[[str], Awaitable[list[IPAddress]]]


async def register(pool: asyncpg.Pool, tenant_id: str, request: SubscriptionRequest,
                   check_destination: CheckDestination) -> CreatedSubscription:
    await check_destination(str(request.url))
    secret = new_secret()
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await repository.add_subscription(conn, uuid.uuid4(), tenant_id, str(request.url),
                                                request.event_types, secret)
    return CreatedSubscription(**dict(row), secret=secret)


async def list_all(pool: asyncpg.Pool, tenant_id: str) -> list[Subscription]:
    async with tenant_transaction(pool, tenant_id) as conn:
        return [Subscription(**dict(row)) for row in await repository.list_subscriptions(conn)]


async def find(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID) -> Subscription | None:
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await repository.find_subscription(conn, subscription_id)
    return Subscription(**dict(row)) if row else None


async def remove(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID) -> bool:
    async with tenant_transaction(pool, tenant_id) as conn:
        return await repository.delete_subscription(conn, subscription_id)


async def enable(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID) -> Subscription | None:
    """Enable a subscription disabled by a 410; the deliveries that waited go out again."""
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await repository.enable_subscription(conn, subscription_id)
    return Subscription(**dict(row)) if row else None


async def rotate_secret(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID,
                        overlap_s: float) -> RotatedSecret | None:
    """A new secret; deliveries carry signatures under the old and the new one until the overlap ends."""
    secret = new_secret()
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await repository.rotate_secret(conn, subscription_id, secret, overlap_s)
    return RotatedSecret(**dict(row), secret=secret) if row else None


async def delivery_log(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID,
                       status: DeliveryStatus | None, limit: int) -> DeliveryLog | None:
    async with tenant_transaction(pool, tenant_id) as conn:
        if await repository.find_subscription(conn, subscription_id) is None:
            return None
        rows = await repository.list_deliveries(conn, subscription_id, status, limit)
    items = []
    for row in rows:
        values = dict(row)
        values["attempt_log"] = json.loads(values["attempt_log"])
        if values["status"] != "pending":
            values["next_attempt_at"] = None
        items.append(DeliveryRecord(**values))
    return DeliveryLog(items=items)


class Resend(StrEnum):
    QUEUED = "queued"
    NOT_FAILED = "not_failed"
    UNKNOWN = "unknown"


async def resend(pool: asyncpg.Pool, tenant_id: str, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> Resend:
    """Queue a failed delivery again, with the same ``webhook-id`` and the full number of attempts."""
    async with tenant_transaction(pool, tenant_id) as conn:
        if await repository.find_subscription(conn, subscription_id) is None:
            return Resend.UNKNOWN
        status = await repository.resend_delivery(conn, subscription_id, delivery_id)
    if status is None:
        return Resend.UNKNOWN
    return Resend.QUEUED if status == "failed" else Resend.NOT_FAILED


class FanOut:
    """Turns each event into what its tenant asked for, exactly once per event: one pending webhook
    delivery per matching subscription, and per matching rule an e-mail, a digest line or a banner.

    All of it commits with the inbox record, before the Kafka offset, so an event is either fully
    queued or handled again. The delivery and e-mail rows are the outboxes of HTTP and SMTP.
    """

    def __init__(self, pool: PoolRef, enqueue: Enqueue, *, banner_ttl_s: float,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.enqueue = enqueue
        self.banner_ttl_s = banner_ttl_s
        self.now = now

    async def apply(self, event: CloudEvent) -> bool:
        """Queue the event's notifications; False when the event was already handled (a duplicate)."""
        async with self.pool().acquire() as conn, conn.transaction():
            if not await first_delivery(conn, INBOX_CONSUMER, event.id):
                return False
            await repository.add_deliveries(conn, event)
            for row in await repository.matching_rules(conn, event.tenant_id, event.type):
                await self._follow(conn, _rule(row), event)
        return True

    async def _follow(self, conn: asyncpg.Connection, rule: Rule, event: CloudEvent) -> None:
        data = event.data.model_dump(mode="json")
        if not applies(rule, data):
            return
        if rule.channel is Channel.WALLBOARD:
            banner = banner_for_alert(event, data, rule, self.now(), self.banner_ttl_s)
            if banner is not None:
                await self.enqueue(conn, banner)
            return
        mail = render(event.type, rule.language, data)
        if rule.channel is Channel.DIGEST:
            await repository.add_digest_item(conn, event.tenant_id, rule.id, event.id, mail.subject, event.time)
            return
        now = self.now()
        release = release_time(now, rule.time_zone, rule.quiet_hours)
        await repository.add_email(conn, event.tenant_id, rule.id, event.id, rule.recipients, mail.subject,
                                   mail.body, release if release > now else None)


def _rule(row: asyncpg.Record) -> Rule:
    values = dict(row)
    start, end = values.pop("quiet_start"), values.pop("quiet_end")
    values.pop("last_digest_on", None)
    values["quiet_hours"] = QuietHours(start=start, end=end) if start is not None and end is not None else None
    return Rule(**values)


def banner_for_alert(event: CloudEvent, data: dict[str, Any], rule: Rule, now: datetime, ttl_s: float
                     ) -> CloudEvent | None:
    """The wallboard banner for a KPI alert; None for an agent's alert, which never goes on a wallboard."""
    scope = data.get("scope")
    if scope not in {s.value for s in BannerScope}:
        return None
    level = data.get("level")
    mail = render(event.type, rule.language, data)
    kpi = str(data.get("kpi", ""))
    # One banner per KPI and scope: a later alert (or its clearing) replaces the one showing.
    banner_id = deterministic_id(event.tenant_id, SOURCE, f"{kpi}:{scope}:{data.get('scope_id')}", "banner")
    cleared = level == "cleared"
    payload = WallboardBannerPublished(
        banner_id=banner_id,
        kind=BannerKind.SERVICE_LEVEL_ALERT if kpi == "service_level" else BannerKind.KPI_ALERT,
        severity={"warning": BannerSeverity.WARNING, "alert": BannerSeverity.ALERT}.get(str(level),
                                                                                          BannerSeverity.INFO),
        scope=BannerScope(scope),
        scope_id=str(data.get("scope_id")),
        title=mail.subject[:120],
        text=mail.body.split("\n", 1)[0][:200],
        language=rule.language,
        source_event_id=event.id,
        published_at=now,
        # A cleared alert shows briefly that all is well again, then goes.
        expires_at=now + timedelta(seconds=min(ttl_s, CLEARED_BANNER_S) if cleared else ttl_s),
    )
    return new_event("notifications.banner.published.v1", event.tenant_id, payload, source=SOURCE,
                     event_id=deterministic_id(event.tenant_id, SOURCE, f"{event.id}:{rule.id}", "banner"),
                     subject=payload.scope_id)


class Dispatcher:
    """Claims due deliveries, makes one attempt at each, and records what came of it."""

    def __init__(self, pool: PoolRef, enqueue: Enqueue, policy: RetryPolicy, *, batch_size: int,
                 lease_s: float) -> None:
        self.pool = pool
        self.enqueue = enqueue
        self.policy = policy
        self.batch_size = batch_size
        self.lease_s = lease_s

    async def run_once(self, send: Send) -> list[tuple[Outcome, AttemptResult | None]]:
        """One round: the outcome of each attempt made (a delivery whose recording failed is left out)."""
        async with self.pool().acquire() as conn:
            claimed = await repository.claim_due(conn, self.batch_size, self.lease_s)
        results = await asyncio.gather(*(self._deliver(d, send) for d in claimed), return_exceptions=True)
        outcomes = []
        for delivery, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                # Left claimed: the lease runs out and the delivery is attempted again.
                log.error("delivery %s failed to record its attempt", delivery.id, exc_info=result)
            else:
                outcomes.append(result)
        return outcomes

    async def _deliver(self, delivery: Delivery, send: Send) -> tuple[Outcome, AttemptResult | None]:
        if self.policy.exhausted(delivery.attempt):
            # The worker that made the last allowed attempt stopped before recording it; retrying
            # would exceed the limit, and whether it arrived is unknown.
            detail = "the last attempt's outcome was never recorded"
            await self._finish(delivery, Outcome.FAILED, AttemptResult(None, detail), attempted=False)
            return Outcome.FAILED, None
        result = await send(delivery)
        decision = decide(delivery.attempt, result, self.policy)
        if decision.outcome is Outcome.RETRY:
            async with self.pool().acquire() as conn, conn.transaction():
                await repository.reschedule(conn, delivery, decision.retry_in_s, result)
            return Outcome.RETRY, result
        await self._finish(delivery, decision.outcome, result, disable=decision.disable_subscription)
        return decision.outcome, result

    async def _finish(self, delivery: Delivery, outcome: Outcome, result: AttemptResult, *,
                      attempted: bool = True, disable: bool = False) -> None:
        attempts = delivery.attempt_number if attempted else delivery.attempt_number - 1
        async with self.pool().acquire() as conn, conn.transaction():
            if await repository.finish(conn, delivery, outcome.value, result, attempted=attempted):
                if disable:
                    await repository.disable_subscription(conn, delivery.subscription_id, GONE_REASON)
                await self.enqueue(conn, _outcome_event(delivery, outcome, result, max(attempts, 1)))


def _outcome_event(delivery: Delivery, outcome: Outcome, result: AttemptResult, attempts: int) -> CloudEvent:
    payload = NotificationDelivered(
        delivery_id=str(delivery.id),
        subscription_id=str(delivery.subscription_id),
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        channel="webhook",
        outcome=DeliveryOutcome(outcome.value),
        attempts=attempts,
        detail=result.detail,
        occurred_at=datetime.now(UTC),
    )
    return new_event("notifications.delivered.v1", delivery.tenant_id, payload, source=SOURCE,
                     subject=str(delivery.subscription_id))


async def add_rule(pool: asyncpg.Pool, tenant_id: str, request: RuleRequest) -> Rule:
    async with tenant_transaction(pool, tenant_id) as conn:
        return _rule(await repository.add_rule(conn, uuid.uuid4(), tenant_id, request))


async def list_rules(pool: asyncpg.Pool, tenant_id: str) -> list[Rule]:
    async with tenant_transaction(pool, tenant_id) as conn:
        return [_rule(row) for row in await repository.list_rules(conn)]


async def remove_rule(pool: asyncpg.Pool, tenant_id: str, rule_id: uuid.UUID) -> bool:
    async with tenant_transaction(pool, tenant_id) as conn:
        return await repository.delete_rule(conn, rule_id)


@dataclass(frozen=True)
class Email:
    id: uuid.UUID
    claim: uuid.UUID
    tenant_id: str
    rule_id: uuid.UUID
    event_type: str
    reference: str
    recipients: list[str]
    subject: str
    body: str
    attempts: int


# Sends one e-mail; returns None when the server accepted it, otherwise why not.
SendMail = Callable[[Email], Awaitable[str | None]]


class Postman:
    """Sends due e-mails (claimed like webhook deliveries) and composes the daily digests."""

    def __init__(self, pool: PoolRef, enqueue: Enqueue, policy: RetryPolicy, *, batch_size: int, lease_s: float,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.enqueue = enqueue
        self.policy = policy
        self.batch_size = batch_size
        self.lease_s = lease_s
        self.now = now

    async def compose_digests(self) -> int:
        """Queue each digest rule's e-mail once its local hour has come; returns how many were queued."""
        async with self.pool().acquire() as conn:
            rules = await repository.digest_rules(conn)
        queued = 0
        for row in rules:
            day = digest_due(self.now(), row["time_zone"], row["digest_hour"], row["last_digest_on"])
            if day is None:
                continue
            rule = _rule(row)
            async with self.pool().acquire() as conn, conn.transaction():
                lines = await repository.take_digest(conn, rule.id, day)
                if lines:
                    mail = render_digest(rule.language, day, lines)
                    await repository.add_email(conn, rule.tenant_id, rule.id, f"digest:{day.isoformat()}",
                                               rule.recipients, mail.subject, mail.body)
                    queued += 1
        return queued

    async def send_due(self, send: SendMail) -> list[Outcome]:
        async with self.pool().acquire() as conn:
            claimed = [Email(**dict(row)) for row in await repository.claim_emails(conn, self.batch_size,
                                                                                  self.lease_s)]
        outcomes = []
        for email in claimed:
            error = await send(email)
            decision = decide(email.attempts, AttemptResult(250 if error is None else None, error), self.policy)
            status = {Outcome.DELIVERED: "sent", Outcome.RETRY: "pending", Outcome.FAILED: "failed"}[decision.outcome]
            async with self.pool().acquire() as conn, conn.transaction():
                recorded = await repository.email_attempted(conn, email.id, email.claim, status, error,
                                                            decision.retry_in_s)
                if recorded and decision.outcome is not Outcome.RETRY:
                    await self.enqueue(conn, _email_outcome(email, decision.outcome, error))
            outcomes.append(decision.outcome)
        return outcomes


def _email_outcome(email: Email, outcome: Outcome, error: str | None) -> CloudEvent:
    payload = NotificationDelivered(
        delivery_id=str(email.id), subscription_id=str(email.rule_id), event_id=email.reference,
        event_type=email.event_type, channel="email", outcome=DeliveryOutcome(outcome.value),
        attempts=email.attempts, detail=error, occurred_at=datetime.now(UTC),
    )
    return new_event("notifications.delivered.v1", email.tenant_id, payload, source=SOURCE,
                     subject=str(email.rule_id))


async def publish_banner(pool: asyncpg.Pool, enqueue: Enqueue, tenant_id: str, request: BannerRequest,
                         now: datetime) -> WallboardBannerPublished:
    """Queue a banner on ``notifications.v1`` (through the outbox, so it goes out once committed)."""
    payload = WallboardBannerPublished(
        banner_id=str(uuid.uuid4()), kind=request.kind, severity=request.severity, scope=request.scope,
        scope_id=request.scope_id, title=request.title, text=request.text, language=request.language,
        published_at=now, expires_at=now + timedelta(minutes=request.expires_in_minutes),
    )
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, new_event("notifications.banner.published.v1", tenant_id, payload, source=SOURCE,
                                      subject=payload.scope_id))
    return payload
