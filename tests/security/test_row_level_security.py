"""PostgreSQL row-level security as the backstop behind every query's own tenant filter.

Read from the catalog of the running services' schemas: every table with a tenant_id column has row
security enabled and forced, and every policy that applies to the role requests run as (coachline_tenant)
admits the transaction's tenant only; that role owns nothing, belongs to no other role, cannot log in or
bypass row security. Then, as that role, another tenant's rows are not there: not read, not written.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from coachline.persistence import TENANT_ROLE, create_pool, tenant_transaction
from coachline.testing import Identity

from .conftest import SERVICES, Stack

pytestmark = pytest.mark.integration

TENANT_TABLES = """
SELECT n.nspname AS schema, c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       array(SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p
             WHERE p.polrelid = c.oid AND (0 = ANY(p.polroles) OR $2::regrole = ANY(p.polroles)))
         AS tenant_role_policies
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
ORDER BY 1, 2
"""
# What a policy for the tenant role must say: the row's tenant is the transaction's.
TENANT_ONLY = "(tenant_id = current_setting('coachline.tenant_id'::text, true))"


async def seed(stack: Stack, identity: Identity, tenant: str) -> None:
    """A few rows in each service for ``tenant``, through the APIs."""
    admin = identity.headers(tenant, "admin")
    calls = [
        ("evaluation", "PUT", "/v1/quality-rules", {"dispute_window_days": 10}),
        ("evaluation", "PUT", "/v1/mystery-shop/scenarios/sc-1", {"title": "Price check", "channel": "voice",
                                                                 "brief": "Ask about prices.", "scorecard_id": "s"}),
        ("coaching", "PUT", "/v1/settings", {"notes_in_events": True}),
        ("kpi", "POST", "/v1/wallboards", {"name": "Floor", "layout": {"scopes": [{"scope": "tenant",
                                                                                   "scope_id": tenant}]}}),
        ("notifications", "POST", "/v1/rules", {"event_type": "qa.evaluation.submitted.v1", "channel": "email",
                                                "recipients": ["qa@example.com"]}),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for service, method, path, body in calls:
            answer = await client.request(method, stack.urls[service] + path, json=body, headers=admin)
            assert answer.is_success, (service, path, answer.text)


async def test_every_tenant_table_forces_row_security_for_the_tenant_role(stack: Stack, identity: Identity) -> None:
    await seed(stack, identity, "rls-a")
    schemas = [stack.settings[name].db_schema for name in SERVICES]
    conn = await asyncpg.connect(stack.settings["kpi"].database_url)
    try:
        tables = await conn.fetch(TENANT_TABLES, schemas, TENANT_ROLE)
        role = await conn.fetchrow("SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, "
                                   "(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owns, "
                                   "(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) AS member_of "
                                   "FROM pg_roles r WHERE rolname = $1", TENANT_ROLE)
    finally:
        await conn.close()

    assert {r["schema"] for r in tables} == set(schemas)
    unsafe = {f"{r['schema']}.{r['name']}": (r["enabled"], r["forced"], r["tenant_role_policies"]) for r in tables
              if not (r["enabled"] and r["forced"] and r["tenant_role_policies"]
                      and all(p == TENANT_ONLY for p in r["tenant_role_policies"]))}
    assert unsafe == {}
    assert dict(role) == {"rolsuper": False, "rolbypassrls": False, "rolcanlogin": False, "rolcreaterole": False,
                          "owns": 0, "member_of": 0}

    for service in SERVICES:
        schema = stack.settings[service].db_schema
        pool = await create_pool(stack.settings[service].database_url, schema)
        try:
            for table in (r["name"] for r in tables if r["schema"] == schema):
                per_tenant = dict(await pool.fetch(f'SELECT tenant_id, count(*) FROM "{table}" GROUP BY 1'))
                async with tenant_transaction(pool, "rls-nobody") as conn:
                    assert await conn.fetchval(f'SELECT count(*) FROM "{table}"') == 0, table
                    assert await conn.execute(f'UPDATE "{table}" SET tenant_id = tenant_id') == "UPDATE 0", table
                    # Row security is checked before the table's own constraints, so a bare row will do.
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        async with conn.transaction():
                            await conn.execute(f"INSERT INTO \"{table}\" (tenant_id) VALUES ('rls-a')")
                for tenant, rows in per_tenant.items():
                    async with tenant_transaction(pool, tenant) as conn:
                        assert await conn.fetchval(f'SELECT count(*) FROM "{table}"') == rows, (table, tenant)
            assert any(r["schema"] == schema for r in tables)
        finally:
            await pool.close()
