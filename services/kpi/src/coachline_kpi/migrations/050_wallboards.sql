-- Wallboards: what each board on the wall shows, the read-only tokens its kiosk browser holds, and the
-- banners the notifications service publishes for them.
CREATE TABLE wallboards (
    tenant_id    text        NOT NULL,
    wallboard_id text        NOT NULL,
    name         text        NOT NULL,
    language     text        NOT NULL CHECK (language IN ('en', 'fi', 'sv', 'nb')),
    layout       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, wallboard_id)
);

-- Only the SHA-256 digest of a token is kept; the secret is shown once, when it is created.
CREATE TABLE wallboard_tokens (
    token_hash   bytea       PRIMARY KEY,
    token_id     text        NOT NULL UNIQUE,
    tenant_id    text        NOT NULL,
    wallboard_id text        NOT NULL,
    label        text        NOT NULL DEFAULT '',
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    FOREIGN KEY (tenant_id, wallboard_id) REFERENCES wallboards ON DELETE CASCADE
);
CREATE INDEX wallboard_tokens_board ON wallboard_tokens (tenant_id, wallboard_id);

CREATE TABLE wallboard_banners (
    tenant_id       text        NOT NULL,
    banner_id       text        NOT NULL,
    kind            text        NOT NULL,
    severity        text        NOT NULL,
    scope           text        NOT NULL,
    scope_id        text        NOT NULL,
    title           text        NOT NULL,
    text            text        NOT NULL,
    language        text        NOT NULL,
    source_event_id text,
    published_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, banner_id)
);
CREATE INDEX wallboard_banners_live ON wallboard_banners (tenant_id, expires_at);

ALTER TABLE wallboards ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallboards USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE wallboard_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallboard_tokens USING (tenant_id = current_setting('coachline.tenant_id', true));
ALTER TABLE wallboard_banners ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallboard_banners USING (tenant_id = current_setting('coachline.tenant_id', true));
