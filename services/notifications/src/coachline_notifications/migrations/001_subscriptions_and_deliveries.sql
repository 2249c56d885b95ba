-- Webhook subscriptions and one delivery row per (subscription, event).
CREATE TABLE subscriptions (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    url         text        NOT NULL,
    event_types text[]      NOT NULL,
    -- Needed in clear to compute HMACs; cleared when the subscription is deleted.
    secret      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE INDEX subscriptions_active_by_tenant ON subscriptions (tenant_id) WHERE deleted_at IS NULL;

CREATE TABLE deliveries (
    id               uuid        PRIMARY KEY,
    subscription_id  uuid        NOT NULL REFERENCES subscriptions (id),
    tenant_id        text        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    event_source     text        NOT NULL,
    event_subject    text,
    event_time       timestamptz NOT NULL,
    payload          jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- Set while a worker has the row out for an attempt; its outcome is recorded only under the same claim,
    -- so a worker whose lease ran out cannot overwrite the outcome of the worker that took over.
    claim            uuid,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (subscription_id, event_id)
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
