-- Tables every service has in its own schema: the inbox (exactly-once effect) and the outbox.
CREATE TABLE IF NOT EXISTS inbox (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    key         bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    body        bytea       NOT NULL,
    trace       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
