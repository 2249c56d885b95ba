-- Why an evaluation exists (standard, self, calibration, mystery shop) and how each criterion went:
-- the input of the suggestion rules.
ALTER TABLE agent_evaluations ADD COLUMN kind text NOT NULL DEFAULT 'standard';
CREATE TABLE evaluation_criteria (
    tenant_id     text          NOT NULL,
    evaluation_id text          NOT NULL,
    criterion_id  text          NOT NULL,
    section_id    text          NOT NULL,
    applicable    boolean       NOT NULL,
    earned        numeric(13,3) NOT NULL,
    possible      numeric(13,3) NOT NULL,
    critical_failed boolean     NOT NULL,
    PRIMARY KEY (tenant_id, evaluation_id, criterion_id),
    FOREIGN KEY (tenant_id, evaluation_id) REFERENCES agent_evaluations (tenant_id, evaluation_id) ON DELETE CASCADE
);

-- Agent -> team -> unit, from cc.roster.v1; the latest event per entity wins.
CREATE TABLE roster_agents (
    tenant_id   text        NOT NULL,
    agent_id    text        NOT NULL,
    team_id     text,
    active      boolean     NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);
CREATE TABLE roster_teams (
    tenant_id   text        NOT NULL,
    team_id     text        NOT NULL,
    unit_id     text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

CREATE TABLE tenant_settings (
    tenant_id       text    PRIMARY KEY,
    notes_in_events boolean NOT NULL DEFAULT false
);

CREATE TABLE coaching_periods (
    tenant_id  text        NOT NULL,
    period_id  text        NOT NULL,
    agent_id   text        NOT NULL,
    team_id    text,
    starts_on  date        NOT NULL,
    ends_on    date        NOT NULL,
    status     text        NOT NULL,
    opened_by  text        NOT NULL,
    opened_at  timestamptz NOT NULL,
    closed_on  date,
    summary    jsonb,
    PRIMARY KEY (tenant_id, period_id),
    CHECK (ends_on >= starts_on)
);
-- One running period per agent: two at once would split the look back between them.
CREATE UNIQUE INDEX one_open_period_per_agent ON coaching_periods (tenant_id, agent_id) WHERE status = 'open';

CREATE TABLE period_participants (
    tenant_id text NOT NULL,
    period_id text NOT NULL,
    person_id text NOT NULL,
    role      text NOT NULL,
    position  integer NOT NULL,
    PRIMARY KEY (tenant_id, period_id, person_id, role),
    FOREIGN KEY (tenant_id, period_id) REFERENCES coaching_periods (tenant_id, period_id)
);

CREATE TABLE goals (
    tenant_id   text        NOT NULL,
    goal_id     text        NOT NULL,
    period_id   text        NOT NULL,
    agent_id    text        NOT NULL,
    kind        text        NOT NULL,
    corner      text        NOT NULL,
    kpi         text,
    scope       text,
    target      numeric(14,4),
    due_on      date        NOT NULL,
    description text        NOT NULL,
    observed_by text,
    status      text        NOT NULL,
    value       numeric(18,4),
    decided_on  date,
    set_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, goal_id),
    FOREIGN KEY (tenant_id, period_id) REFERENCES coaching_periods (tenant_id, period_id)
);
CREATE INDEX goals_by_period ON goals (tenant_id, period_id);

-- Sessions may now be planned before they are held, and belong to a period.
ALTER TABLE coaching_sessions ALTER COLUMN held_at DROP NOT NULL;
ALTER TABLE coaching_sessions ADD COLUMN period_id text;
ALTER TABLE coaching_sessions ADD COLUMN status text NOT NULL DEFAULT 'held';
ALTER TABLE coaching_sessions ADD COLUMN missed_on date;
ALTER TABLE coaching_sessions ADD COLUMN interaction_ids text[] NOT NULL DEFAULT '{}';

CREATE TABLE agreed_actions (
    tenant_id    text        NOT NULL,
    action_id    text        NOT NULL,
    session_id   text        NOT NULL,
    period_id    text,
    agent_id     text        NOT NULL,
    owner        text        NOT NULL,
    description  text        NOT NULL,
    due_on       date        NOT NULL,
    status       text        NOT NULL,
    completed_on date,
    followed_up_in text,
    agreed_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, action_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES coaching_sessions (tenant_id, session_id)
);
CREATE INDEX agreed_actions_by_agent ON agreed_actions (tenant_id, agent_id, agreed_at);

CREATE TABLE reflections (
    tenant_id     text        NOT NULL,
    reflection_id text        NOT NULL,
    session_id    text        NOT NULL,
    agent_id      text        NOT NULL,
    text          text        NOT NULL,
    written_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, reflection_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES coaching_sessions (tenant_id, session_id)
);

-- Focus areas the rules propose for the next session; one open suggestion per (agent, rule, focus),
-- its evidence refreshed as new evaluations or alerts arrive.
CREATE TABLE suggestions (
    tenant_id     text        NOT NULL,
    suggestion_id text        NOT NULL,
    agent_id      text        NOT NULL,
    rule          text        NOT NULL,
    focus         text        NOT NULL,
    evidence      jsonb       NOT NULL,
    raised_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, suggestion_id),
    UNIQUE (tenant_id, agent_id, rule, focus)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['agent_evaluations', 'evaluation_criteria', 'roster_agents', 'roster_teams',
                             'tenant_settings', 'coaching_periods', 'period_participants', 'goals',
                             'coaching_sessions', 'session_evaluations', 'agreed_actions', 'reflections',
                             'suggestions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''coachline.tenant_id'', true))', t);
    END LOOP;
END $$;
