-- Every table with tenant rows: row-level security enabled and forced, with its policies (see the
-- platform's force_tenant_isolation). Runs after the migrations that create tables.
SELECT force_tenant_isolation();
