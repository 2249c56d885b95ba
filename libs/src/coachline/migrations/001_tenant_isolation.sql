-- Row-level security on every table of the schema that holds a tenant_id column, enabled and forced.
-- Forced, so the owning role (the one the service logs in as) is held to the policies too: once a
-- connection names a tenant, it sees and writes that tenant's rows only, whichever role it runs as.
-- The owner alone, with no tenant named, still reaches every tenant: that is how outbox relays,
-- delivery workers and rebuilds work. Requests on a person's behalf run as coachline_tenant, which
-- owns no table, so only tenant_isolation applies to them.
-- Each service calls this in a migration of its own, after its tables exist.
CREATE OR REPLACE FUNCTION force_tenant_isolation() RETURNS void LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
               AND a.attname = 'tenant_id' AND NOT a.attisdropped LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = current_schema() AND tablename = t
                       AND policyname = 'tenant_isolation') THEN
            EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                           'USING (tenant_id = current_setting(''coachline.tenant_id'', true))', t);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = current_schema() AND tablename = t
                       AND policyname = 'owner_across_tenants') THEN
            EXECUTE format('CREATE POLICY owner_across_tenants ON %I TO %I '
                           'USING (coalesce(current_setting(''coachline.tenant_id'', true), '''') = '''')',
                           t, current_user);
        END IF;
    END LOOP;
END $$;
