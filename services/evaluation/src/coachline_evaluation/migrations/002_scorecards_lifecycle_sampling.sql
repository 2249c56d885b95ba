-- Scorecards, the full evaluation lifecycle, sampling inputs and row-level security per tenant.

ALTER TABLE sampling_pool ADD COLUMN customer_ref text;

-- An evaluation is kept whole as a document (answers, comments, disputes, score history); the
-- columns beside it are what lists filter on.
ALTER TABLE evaluations
    ADD COLUMN team_id        text,
    ADD COLUMN kind           text NOT NULL DEFAULT 'standard',
    ADD COLUMN state          text NOT NULL DEFAULT 'submitted',
    ADD COLUMN calibration_id text,
    ADD COLUMN release_on     date,
    ADD COLUMN document       jsonb,
    ALTER COLUMN score DROP NOT NULL,
    ALTER COLUMN critical_failed SET DEFAULT false,
    ALTER COLUMN submitted_at DROP NOT NULL;
UPDATE evaluations SET document = jsonb_build_object(
    'evaluation_id', evaluation_id, 'tenant_id', tenant_id, 'interaction_id', interaction_id,
    'agent_id', agent_id, 'evaluator_id', evaluator_id, 'scorecard_id', scorecard_id,
    'scorecard_version', scorecard_version, 'score', score::text, 'critical_failed', critical_failed,
    'submitted_at', submitted_at, 'assigned_at', submitted_at, 'state', 'submitted', 'kind', 'standard');
ALTER TABLE evaluations ALTER COLUMN document SET NOT NULL;
CREATE INDEX evaluations_by_agent ON evaluations (tenant_id, agent_id);
CREATE INDEX evaluations_by_team ON evaluations (tenant_id, team_id);
CREATE INDEX evaluations_by_evaluator ON evaluations (tenant_id, evaluator_id);
CREATE INDEX evaluations_due_for_release ON evaluations (release_on) WHERE release_on IS NOT NULL;

-- The latest survey answer per interaction, for targeted sampling (detractors, low CSAT).
CREATE TABLE surveys (
    tenant_id      text        NOT NULL,
    interaction_id text        NOT NULL,
    csat           smallint,
    nps            smallint,
    answered_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, interaction_id)
);

-- Agent to team and first working day, from cc.roster.v1.
CREATE TABLE roster_agents (
    tenant_id  text        NOT NULL,
    agent_id   text        NOT NULL,
    team_id    text,
    started_on date,
    active     boolean     NOT NULL,
    as_of      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

-- Contacts a mystery shopper made: excluded from normal sampling.
CREATE TABLE mystery_contacts (
    tenant_id      text NOT NULL,
    interaction_id text NOT NULL,
    PRIMARY KEY (tenant_id, interaction_id)
);

-- Everything else is a versioned or keyed document: scorecards (key id@version), sampling
-- policies and runs, calibrations, quality rules, mystery-shop scenarios, schedules, staff notices.
CREATE TABLE records (
    tenant_id  text        NOT NULL,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    document   jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, key)
);

ALTER TABLE sampling_pool ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sampling_pool USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE evaluations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON evaluations USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE surveys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON surveys USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE roster_agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON roster_agents USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE mystery_contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mystery_contacts USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE records ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON records USING (tenant_id = current_setting('coachline.tenant_id', true));
