"""The notifications service's SQL.

Functions taking ``conn`` from the API run inside ``tenant_transaction``, so row-level security
limits them to the caller's tenant; the fan-out and the delivery worker act for every tenant.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg
from opentelemetry import propagate

from coachline.envelope import CloudEvent
from coachline_notifications.domain.deliveries import AttemptResult, Delivery
from coachline_notifications.domain.rules import RuleRequest

_SHOWN = "id, tenant_id, url, event_types, created_at, disabled_at, disabled_reason"


async def add_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID, tenant_id: str, url: str,
                           event_types: list[str], secret: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""
        INSERT INTO subscriptions (id, tenant_id, url, event_types, secret)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {_SHOWN}
        """,
        subscription_id, tenant_id, url, event_types, secret,
    )


async def list_subscriptions(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_SHOWN} FROM subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id")


async def find_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_SHOWN} FROM subscriptions WHERE id = $1 AND deleted_at IS NULL", subscription_id
    )


async def delete_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    """Mark the subscription deleted, forget its secrets and cancel what it still had pending."""
    found = await conn.fetchval(
        "UPDATE subscriptions SET deleted_at = now(), secret = NULL, previous_secret = NULL"
        " WHERE id = $1 AND deleted_at IS NULL RETURNING true",
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


async def enable_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"UPDATE subscriptions SET disabled_at = NULL, disabled_reason = NULL"
        f" WHERE id = $1 AND deleted_at IS NULL RETURNING {_SHOWN}",
        subscription_id,
    )


async def rotate_secret(conn: asyncpg.Connection, subscription_id: uuid.UUID, secret: str,
                        overlap_s: float) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        UPDATE subscriptions
        SET previous_secret = secret, previous_secret_until = now() + make_interval(secs => $3), secret = $2
        WHERE id = $1 AND deleted_at IS NULL
        RETURNING {_SHOWN}, previous_secret_until
        """,
        subscription_id, secret, overlap_s,
    )


async def list_deliveries(conn: asyncpg.Connection, subscription_id: uuid.UUID, status: str | None,
                          limit: int) -> list[asyncpg.Record]:
    """The subscription's latest deliveries, newest first, each with its attempts in order."""
    return await conn.fetch(
        """
        SELECT d.id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
               d.last_error, d.created_at, d.completed_at,
               COALESCE((SELECT jsonb_agg(jsonb_build_object(
                             'attempt', a.attempt, 'attempted_at', a.attempted_at, 'status_code', a.status_code,
                             'latency_ms', a.latency_ms, 'error', a.error) ORDER BY a.attempt)
                         FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempt_log
        FROM deliveries d
        WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
        ORDER BY d.created_at DESC, d.id
        LIMIT $3
        """,
        subscription_id, status, limit,
    )


async def resend_delivery(conn: asyncpg.Connection, subscription_id: uuid.UUID, delivery_id: uuid.UUID
                          ) -> str | None:
    """Queue a failed delivery again from its first attempt; returns the status it had (None if unknown).

    Only a ``failed`` delivery changes; the attempt numbers carry on so the log keeps every attempt.
    """
    status: str | None = await conn.fetchval(
        "SELECT status FROM deliveries WHERE id = $1 AND subscription_id = $2 FOR UPDATE",
        delivery_id, subscription_id,
    )
    if status == "failed":
        await conn.execute(
            """
            UPDATE deliveries SET status = 'pending', next_attempt_at = now(), completed_at = NULL, claim = NULL,
                                  retry_base = attempts
            WHERE id = $1
            """,
            delivery_id,
        )
    return status


async def add_deliveries(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """One pending delivery per enabled subscription of the event's tenant that wants its type.

    Each row keeps the current trace context, so the attempts join the trace of the consumed event.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    # FOR SHARE makes a concurrent delete wait for this insert (and then cancel the new rows) or be
    # seen by it; without it a delivery could stay pending for a subscription deleted meanwhile.
    await conn.execute(
        """
        INSERT INTO deliveries (id, subscription_id, tenant_id, event_id, event_type, event_source, event_subject,
                                event_time, payload, trace)
        SELECT gen_random_uuid(), s.id, s.tenant_id, $2::text, $3::text, $4::text, $5::text, $6::timestamptz,
               $7::jsonb, $8::jsonb
        FROM subscriptions s
        WHERE s.tenant_id = $1 AND $3 = ANY (s.event_types) AND s.deleted_at IS NULL AND s.disabled_at IS NULL
        FOR SHARE
        ON CONFLICT (subscription_id, event_id) DO NOTHING
        """,
        event.tenant_id, event.id, event.type, event.source, event.subject, event.time, event.body().decode(),
        json.dumps(carrier),
    )


async def claim_due(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for one attempt each, skipping rows other workers hold.

    The claim counts the attempt and moves ``next_attempt_at`` past the lease, so if this worker dies
    mid-attempt another takes the row over once the lease ends. No transaction stays open during HTTP.
    Deliveries of a disabled subscription wait, pending, until it is enabled again.
    """
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT d.id
            FROM deliveries d
            JOIN subscriptions s ON s.id = d.subscription_id AND s.deleted_at IS NULL AND s.disabled_at IS NULL
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
                  d.payload, d.attempts - d.retry_base AS attempt, d.attempts AS attempt_number, s.url, d.trace,
                  CASE WHEN s.previous_secret IS NOT NULL AND s.previous_secret_until > now()
                       THEN ARRAY[s.secret, s.previous_secret] ELSE ARRAY[s.secret] END AS secrets
        """,
        limit, lease_s, uuid.uuid4(),
    )
    return [_delivery(row) for row in rows]


def _delivery(row: asyncpg.Record) -> Delivery:
    values: dict[str, Any] = dict(row)
    values["secrets"] = tuple(values["secrets"])
    values["trace"] = json.loads(values["trace"])
    return Delivery(**values)


async def _log_attempt(conn: asyncpg.Connection, delivery: Delivery, result: AttemptResult) -> None:
    await conn.execute(
        """
        INSERT INTO delivery_attempts (delivery_id, attempt, tenant_id, status_code, latency_ms, error)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
        """,
        delivery.id, delivery.attempt_number, delivery.tenant_id, result.status_code,
        round(result.latency_s * 1000), result.detail,
    )


async def reschedule(conn: asyncpg.Connection, delivery: Delivery, delay_s: float, result: AttemptResult) -> bool:
    """Release the claim and set the next attempt ``delay_s`` from now; False if the claim was lost meanwhile."""
    found = await conn.fetchval(
        """
        UPDATE deliveries
        SET claim = NULL, next_attempt_at = now() + make_interval(secs => $3), last_status_code = $4,
            last_error = $5
        WHERE id = $1 AND claim = $2 AND status = 'pending'
        RETURNING true
        """,
        delivery.id, delivery.claim, delay_s, result.status_code, result.detail,
    )
    if found:
        await _log_attempt(conn, delivery, result)
    return bool(found)


async def finish(conn: asyncpg.Connection, delivery: Delivery, status: str, result: AttemptResult,
                 *, attempted: bool = True) -> bool:
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
    if found and attempted:
        await _log_attempt(conn, delivery, result)
    return bool(found)


async def disable_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE subscriptions SET disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL",
        subscription_id, reason,
    )


_RULE = ("id, tenant_id, event_type, channel, recipients, team_ids, language, time_zone, quiet_start, quiet_end,"
         " digest_hour, last_digest_on, created_at")


async def add_rule(conn: asyncpg.Connection, rule_id: uuid.UUID, tenant_id: str, rule: RuleRequest
                   ) -> asyncpg.Record:
    quiet = rule.quiet_hours
    return await conn.fetchrow(
        f"""
        INSERT INTO rules (id, tenant_id, event_type, channel, recipients, team_ids, language, time_zone,
                           quiet_start, quiet_end, digest_hour)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING {_RULE}
        """,
        rule_id, tenant_id, rule.event_type, rule.channel.value, rule.recipients, rule.team_ids, rule.language,
        rule.time_zone, quiet.start if quiet else None, quiet.end if quiet else None, rule.digest_hour,
    )


async def list_rules(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_RULE} FROM rules WHERE deleted_at IS NULL ORDER BY created_at, id")


async def delete_rule(conn: asyncpg.Connection, rule_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(
        "UPDATE rules SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING true", rule_id))


async def matching_rules(conn: asyncpg.Connection, tenant_id: str, event_type: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_RULE} FROM rules WHERE tenant_id = $1 AND event_type = $2 AND deleted_at IS NULL",
        tenant_id, event_type,
    )


async def add_email(conn: asyncpg.Connection, tenant_id: str, rule_id: uuid.UUID, reference: str,
                    recipients: list[str], subject: str, body: str, not_before: datetime | None = None) -> None:
    """Queue an e-mail, due at once or (during quiet hours) at ``not_before``."""
    await conn.execute(
        """
        INSERT INTO emails (id, tenant_id, rule_id, reference, recipients, subject, body, next_attempt_at)
        VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, now()))
        ON CONFLICT (rule_id, reference) DO NOTHING
        """,
        tenant_id, rule_id, reference, recipients, subject, body, not_before,
    )


async def add_digest_item(conn: asyncpg.Connection, tenant_id: str, rule_id: uuid.UUID, event_id: str, line: str,
                          occurred_at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO digest_items (rule_id, event_id, tenant_id, line, occurred_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        rule_id, event_id, tenant_id, line, occurred_at,
    )


async def digest_rules(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_RULE} FROM rules WHERE channel = 'digest' AND deleted_at IS NULL")


async def take_digest(conn: asyncpg.Connection, rule_id: uuid.UUID, day: date) -> list[str] | None:
    """Mark the rule's waiting items as digested on ``day`` and return their lines (oldest first).

    None when another replica has the rule or already made the day's digest; call in a transaction.
    """
    locked = await conn.fetchval(
        "SELECT true FROM rules WHERE id = $1 AND (last_digest_on IS NULL OR last_digest_on < $2)"
        " FOR UPDATE SKIP LOCKED",
        rule_id, day,
    )
    if not locked:
        return None
    rows = await conn.fetch(
        "UPDATE digest_items SET digested_on = $2 WHERE rule_id = $1 AND digested_on IS NULL"
        " RETURNING line, occurred_at, event_id",
        rule_id, day,
    )
    await conn.execute("UPDATE rules SET last_digest_on = $2 WHERE id = $1", rule_id, day)
    return [r["line"] for r in sorted(rows, key=lambda r: (r["occurred_at"], r["event_id"]))]


async def claim_emails(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Take due e-mails for one attempt each (see :func:`claim_due`)."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
        )
        UPDATE emails e
        SET attempts = e.attempts + 1, next_attempt_at = now() + make_interval(secs => $2), claim = $3
        FROM due, rules r WHERE e.id = due.id AND r.id = e.rule_id
        RETURNING e.id, e.claim, e.tenant_id, e.rule_id, r.event_type, e.reference, e.recipients, e.subject, e.body,
                  e.attempts
        """,
        limit, lease_s, uuid.uuid4(),
    )


async def email_attempted(conn: asyncpg.Connection, email_id: uuid.UUID, claim: uuid.UUID, status: str,
                          error: str | None, retry_in_s: float = 0.0) -> bool:
    """Record an attempt: ``sent``, ``failed``, or ``pending`` again in ``retry_in_s``."""
    return bool(await conn.fetchval(
        """
        UPDATE emails
        SET status = $3, last_error = $4, claim = NULL, next_attempt_at = now() + make_interval(secs => $5),
            completed_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
        WHERE id = $1 AND claim = $2 AND status = 'pending'
        RETURNING true
        """,
        email_id, claim, status, error, retry_in_s,
    ))
