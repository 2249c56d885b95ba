"""The notifications service's SQL."""

from __future__ import annotations

import uuid
from typing import Any, TypeAlias

import asyncpg

from coachline.envelope import CloudEvent
from coachline_notifications.domain.deliveries import AttemptResult, Delivery
from coachline_notifications.domain.subscriptions import SubscriptionRequest

# A pool or a connection: both run single statements.
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection
_SHOWN = "id, tenant_id, url, event_types, created_at"


async def add_subscription(db: Executor, subscription_id: uuid.UUID, request: SubscriptionRequest,
                           secret: str) -> asyncpg.Record:
    return await db.fetchrow(
        f"""
        INSERT INTO subscriptions (id, tenant_id, url, event_types, secret)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {_SHOWN}
        """,
        subscription_id, request.tenant_id, str(request.url), request.event_types, secret,
    )


async def find_subscription(db: Executor, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_SHOWN} FROM subscriptions WHERE id = $1 AND deleted_at IS NULL", subscription_id
    )


async def delete_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    """Mark the subscription deleted, forget its secret and cancel what it still had pending."""
    found = await conn.fetchval(
        "UPDATE subscriptions SET deleted_at = now(), secret = NULL WHERE id = $1 AND deleted_at IS NULL"
        " RETURNING true",
        subscription_id,
    )
    if not found:
        return False
    await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', claim = NULL, completed_at = now()"
        " WHERE subscription_id = $1 AND status = 'pending'",
        subscription_id,
    )
    return True


async def add_deliveries(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """One pending delivery per active subscription of the event's tenant that wants its type."""
    # FOR SHARE makes a concurrent delete wait for this insert (and then cancel the new rows) or be
    # seen by it; without it a delivery could stay pending for a subscription deleted meanwhile.
    await conn.execute(
        """
        INSERT INTO deliveries (id, subscription_id, tenant_id, event_id, event_type, event_source, event_subject,
                                event_time, payload)
        SELECT gen_random_uuid(), s.id, s.tenant_id, $2::text, $3::text, $4::text, $5::text, $6::timestamptz,
               $7::jsonb
        FROM subscriptions s
        WHERE s.tenant_id = $1 AND $3 = ANY (s.event_types) AND s.deleted_at IS NULL
        FOR SHARE
        ON CONFLICT (subscription_id, event_id) DO NOTHING
        """,
        event.tenant_id, event.id, event.type, event.source, event.subject, event.time, event.body().decode(),
    )


async def claim_due(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for one attempt each, skipping rows other workers hold.

    The claim counts the attempt and moves ``next_attempt_at`` past the lease, so if this worker dies
    mid-attempt another takes the row over once the lease ends. No transaction stays open during HTTP.
    """
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT d.id
            FROM deliveries d
            JOIN subscriptions s ON s.id = d.subscription_id AND s.deleted_at IS NULL
            WHERE d.status = 'pending' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at
            LIMIT $1
            FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE deliveries d
        SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2), claim = $3
        FROM due, subscriptions s
        WHERE d.id = due.id AND s.id = d.subscription_id
        RETURNING d.id, d.claim, d.subscription_id, d.tenant_id, d.event_id, d.event_type, d.event_time,
                  d.payload, d.attempts, s.url, s.secret
        """,
        limit, lease_s, uuid.uuid4(),
    )
    return [_delivery(row) for row in rows]


def _delivery(row: asyncpg.Record) -> Delivery:
    values: dict[str, Any] = dict(row)
    values["attempt"] = values.pop("attempts")
    return Delivery(**values)


async def reschedule(conn: asyncpg.Connection, delivery: Delivery, delay_s: float, result: AttemptResult) -> None:
    """Release the claim and set the next attempt ``delay_s`` from now (unless the claim was lost meanwhile)."""
    await conn.execute(
        """
        UPDATE deliveries
        SET claim = NULL, next_attempt_at = now() + make_interval(secs => $3), last_status_code = $4,
            last_error = $5
        WHERE id = $1 AND claim = $2 AND status = 'pending'
        """,
        delivery.id, delivery.claim, delay_s, result.status_code, result.detail,
    )


async def finish(conn: asyncpg.Connection, delivery: Delivery, status: str, result: AttemptResult) -> bool:
    """Record the final outcome (``delivered`` or ``failed``); False if the claim was lost meanwhile."""
    found = await conn.fetchval(
        """
        UPDATE deliveries
        SET status = $3, claim = NULL, completed_at = now(), last_status_code = $4, last_error = $5
        WHERE id = $1 AND claim = $2 AND status = 'pending'
        RETURNING true
        """,
        delivery.id, delivery.claim, status, result.status_code, result.detail,
    )
    return bool(found)
