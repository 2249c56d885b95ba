-- Summed numerators and denominators per scope and window; ratios are computed when read.
CREATE TABLE kpi_sums (
    tenant_id     text          NOT NULL,
    scope         text          NOT NULL,
    scope_id      text          NOT NULL,
    window_key    text          NOT NULL,
    offered       bigint        NOT NULL DEFAULT 0,
    answered      bigint        NOT NULL DEFAULT 0,
    abandoned     bigint        NOT NULL DEFAULT 0,
    handled       bigint        NOT NULL DEFAULT 0,
    handle_time_s numeric(18,3) NOT NULL DEFAULT 0,
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, scope, scope_id, window_key)
);
