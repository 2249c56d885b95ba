"""Row-level security against real PostgreSQL: a tenant's transaction sees and writes only its rows."""

from pathlib import Path

import asyncpg
import pytest

from coachline.persistence import create_pool, migrate, tenant_transaction
from coachline.settings import ServiceSettings

pytestmark = pytest.mark.integration


class ProbeSettings(ServiceSettings):
    service_name: str = "tenancy"


TABLE = """
CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes USING (tenant_id = current_setting('coachline.tenant_id', true));
"""


async def test_a_tenant_transaction_sees_and_writes_only_its_own_rows(settings_for, tmp_path: Path) -> None:
    settings = settings_for(ProbeSettings)
    (tmp_path / "001_notes.sql").write_text(TABLE)
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        await migrate(pool, settings.db_schema, tmp_path)
        await pool.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'a'), ('globex', 'g')")
        async with tenant_transaction(pool, "acme") as conn:
            assert [r["body"] for r in await conn.fetch("SELECT body FROM notes")] == ["a"]
            assert await conn.execute("UPDATE notes SET body = 'x'") == "UPDATE 1"
            await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'a2')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with tenant_transaction(pool, "acme") as conn:
                await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('globex', 'smuggled')")
        async with tenant_transaction(pool, "nobody") as conn:
            assert await conn.fetch("SELECT * FROM notes") == []
        rows = await pool.fetch("SELECT tenant_id, body FROM notes ORDER BY id")
        assert [tuple(r) for r in rows] == [("acme", "x"), ("globex", "g"), ("acme", "a2")]
    finally:
        await pool.close()
