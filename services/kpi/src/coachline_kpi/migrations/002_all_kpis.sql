-- Every KPI's sums in one jsonb map of exact counters per scope and window (names in domain/fold.py),
-- so a new KPI needs no schema change. Numbers in jsonb are PostgreSQL numerics: exact.
ALTER TABLE kpi_sums ADD COLUMN sums jsonb NOT NULL DEFAULT '{}'::jsonb;
UPDATE kpi_sums SET sums = jsonb_build_object('offered', offered, 'answered', answered, 'abandoned', abandoned,
                                               'handled', handled, 'handle_time_s', handle_time_s);
ALTER TABLE kpi_sums DROP COLUMN offered, DROP COLUMN answered, DROP COLUMN abandoned, DROP COLUMN handled,
                     DROP COLUMN handle_time_s;

-- Adds two counter maps key by key; the projection's upsert uses it so concurrent batches add, never overwrite.
CREATE FUNCTION kpi_add(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, coalesce((a ->> k)::numeric, 0) + coalesce((b ->> k)::numeric, 0)),
                    '{}'::jsonb)
    FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) AS keys(k)
$$;

-- State some figures need beyond single events: a contact still waiting, an evaluation's final score,
-- a customer's contacts (repeat-based FCR), an agent's team and current state, a coaching session.
CREATE TABLE kpi_entities (
    tenant_id  text        NOT NULL,
    kind       text        NOT NULL,
    entity_id  text        NOT NULL,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, entity_id)
);

-- Agents' state changes in time order; the time between two marks is time in the first one's state.
CREATE TABLE agent_marks (
    tenant_id text        NOT NULL,
    agent_id  text        NOT NULL,
    at        timestamptz NOT NULL,
    event_id  text        NOT NULL,
    state     text        NOT NULL,
    team_id   text,
    PRIMARY KEY (tenant_id, agent_id, at, event_id)
);

-- A tenant's KPI policy (thresholds, variant, time zone, targets); absent means the service defaults.
CREATE TABLE tenant_policies (
    tenant_id  text        PRIMARY KEY,
    policy     jsonb       NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who may see whose figures in a team, and every decision that changed it.
CREATE TABLE team_visibility_decisions (
    tenant_id  text        NOT NULL,
    team_id    text        NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now(),
    visibility text        NOT NULL CHECK (visibility IN ('self_vs_team', 'open')),
    decided_by text        NOT NULL,
    decision   text        NOT NULL,
    PRIMARY KEY (tenant_id, team_id, decided_at)
);

-- The level each target is at, so an alert is raised on a crossing only, not on every change.
CREATE TABLE alert_levels (
    tenant_id text        NOT NULL,
    kpi       text        NOT NULL,
    scope     text        NOT NULL,
    scope_id  text        NOT NULL,
    level     text        NOT NULL,
    since     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kpi, scope, scope_id)
);

CREATE INDEX kpi_sums_window ON kpi_sums (tenant_id, window_key, scope);
CREATE INDEX kpi_entities_live ON kpi_entities (tenant_id, kind) WHERE kind IN ('contact', 'agent');

ALTER TABLE kpi_sums ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kpi_sums USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE kpi_entities ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kpi_entities USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE agent_marks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_marks USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE tenant_policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_policies USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE team_visibility_decisions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON team_visibility_decisions
    USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE alert_levels ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alert_levels USING (tenant_id = current_setting('coachline.tenant_id', true));
