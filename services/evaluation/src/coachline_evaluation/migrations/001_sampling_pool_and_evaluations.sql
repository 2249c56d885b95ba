-- One row per agent's handling of a completed contact: a transferred contact completes once per agent.
CREATE TABLE sampling_pool (
    tenant_id            text          NOT NULL,
    interaction_id       text          NOT NULL,
    agent_id             text          NOT NULL,
    team_id              text,
    queue_id             text          NOT NULL,
    channel              text          NOT NULL,
    completed_at         timestamptz   NOT NULL,
    talk_s               numeric(12,3) NOT NULL,
    hold_s               numeric(12,3) NOT NULL,
    after_contact_work_s numeric(12,3) NOT NULL,
    transferred          boolean       NOT NULL,
    entered_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id, agent_id)
);
CREATE INDEX sampling_pool_by_completion ON sampling_pool (tenant_id, completed_at DESC);
CREATE INDEX sampling_pool_by_agent ON sampling_pool (tenant_id, agent_id, completed_at DESC);

-- No foreign key to sampling_pool: the pool is a working set that retention may prune, while
-- evaluations are kept as the record of what was scored.
CREATE TABLE evaluations (
    tenant_id         text         NOT NULL,
    evaluation_id     text         NOT NULL,
    interaction_id    text         NOT NULL,
    agent_id          text         NOT NULL,
    evaluator_id      text         NOT NULL,
    scorecard_id      text         NOT NULL,
    scorecard_version integer      NOT NULL CHECK (scorecard_version >= 1),
    score             numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    critical_failed   boolean      NOT NULL,
    submitted_at      timestamptz  NOT NULL,
    PRIMARY KEY (tenant_id, evaluation_id)
);
CREATE INDEX evaluations_by_interaction ON evaluations (tenant_id, interaction_id);
