-- Evaluations as coaching receives them from qa.evaluations.v1: the evidence a coach reviews.
CREATE TABLE agent_evaluations (
    tenant_id         text         NOT NULL,
    evaluation_id     text         NOT NULL,
    agent_id          text         NOT NULL,
    interaction_id    text         NOT NULL,
    evaluator_id      text         NOT NULL,
    scorecard_id      text         NOT NULL,
    scorecard_version integer      NOT NULL,
    score             numeric(5,2) NOT NULL,
    critical_failed   boolean      NOT NULL,
    submitted_at      timestamptz  NOT NULL,
    received_at       timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, evaluation_id)
);
CREATE INDEX agent_evaluations_by_agent ON agent_evaluations (tenant_id, agent_id, submitted_at DESC);

-- kind is checked by the application, so a new session kind in the contract needs no migration.
CREATE TABLE coaching_sessions (
    tenant_id   text        NOT NULL,
    session_id  text        NOT NULL,
    agent_id    text        NOT NULL,
    coach_id    text        NOT NULL,
    kind        text        NOT NULL,
    planned_on  date,
    held_at     timestamptz NOT NULL,
    summary     text,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX coaching_sessions_by_agent ON coaching_sessions (tenant_id, agent_id, held_at DESC);

-- The evaluations reviewed in a session, in the order the coach listed them.
CREATE TABLE session_evaluations (
    tenant_id     text    NOT NULL,
    session_id    text    NOT NULL,
    evaluation_id text    NOT NULL,
    position      integer NOT NULL,
    PRIMARY KEY (tenant_id, session_id, evaluation_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES coaching_sessions (tenant_id, session_id),
    FOREIGN KEY (tenant_id, evaluation_id) REFERENCES agent_evaluations (tenant_id, evaluation_id)
);
