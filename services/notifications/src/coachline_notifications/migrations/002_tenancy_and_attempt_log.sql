-- Disabling (a receiver answered 410), secret rotation, the attempt log, and row-level security.
ALTER TABLE subscriptions
    ADD COLUMN disabled_at           timestamptz,
    ADD COLUMN disabled_reason       text,
    -- During a rotation deliveries are signed with both secrets until this time.
    ADD COLUMN previous_secret       text,
    ADD COLUMN previous_secret_until timestamptz;

-- A re-sent delivery gets the full number of attempts again; its attempts count on for the log.
ALTER TABLE deliveries ADD COLUMN retry_base integer NOT NULL DEFAULT 0;

CREATE TABLE delivery_attempts (
    delivery_id  uuid        NOT NULL REFERENCES deliveries (id),
    attempt      integer     NOT NULL,
    tenant_id    text        NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    latency_ms   integer     NOT NULL,
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, created_at DESC);

ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subscriptions USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deliveries USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE delivery_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON delivery_attempts
    USING (tenant_id = current_setting('coachline.tenant_id', true));
