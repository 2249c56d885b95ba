-- Notification rules, the e-mails they queue, and the items waiting for a rule's daily digest.
CREATE TABLE rules (
    id             uuid        PRIMARY KEY,
    tenant_id      text        NOT NULL,
    event_type     text        NOT NULL,
    channel        text        NOT NULL CHECK (channel IN ('email', 'digest', 'wallboard')),
    recipients     text[]      NOT NULL,
    -- Only events of these teams (empty: every team).
    team_ids       text[]      NOT NULL DEFAULT '{}',
    language       text        NOT NULL CHECK (language IN ('en', 'fi', 'sv', 'nb')),
    time_zone      text        NOT NULL,
    quiet_start    time,
    quiet_end      time,
    digest_hour    integer     NOT NULL,
    last_digest_on date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

CREATE INDEX rules_active_by_tenant ON rules (tenant_id, event_type) WHERE deleted_at IS NULL;

-- One e-mail to the rule's recipients; the same claim-and-lease scheme as webhook deliveries.
CREATE TABLE emails (
    id              uuid        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    rule_id         uuid        NOT NULL REFERENCES rules (id),
    -- The event for an immediate e-mail, 'digest:<date>' for a digest: one e-mail each, whatever happens.
    reference       text        NOT NULL,
    recipients      text[]      NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claim           uuid,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    UNIQUE (rule_id, reference)
);

CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';

CREATE TABLE digest_items (
    rule_id     uuid        NOT NULL REFERENCES rules (id),
    event_id    text        NOT NULL,
    tenant_id   text        NOT NULL,
    line        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    digested_on date,
    PRIMARY KEY (rule_id, event_id)
);

CREATE INDEX digest_items_waiting ON digest_items (rule_id) WHERE digested_on IS NULL;

ALTER TABLE rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rules USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE emails ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emails USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE digest_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON digest_items USING (tenant_id = current_setting('coachline.tenant_id', true));
