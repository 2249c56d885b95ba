-- Sums as compact counters (see codec.py): a jsonb map of numerics took about ten times the room.
-- Rows already stored are converted here with every counter name written out in full; the projection
-- writes the short codes the next time it adds to a row.
CREATE FUNCTION pg_temp.kpi_varint(n numeric) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    out bytea := '';
BEGIN
    WHILE n >= 128 LOOP
        out := out || set_byte('\x00'::bytea, 0, (mod(n, 128) + 128)::int);
        n := div(n, 128);
    END LOOP;
    RETURN out || set_byte('\x00'::bytea, 0, n::int);
END $$;

CREATE FUNCTION pg_temp.kpi_counters(sums jsonb) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    out bytea := '\x01';
    name text;
    value numeric;
    places int;
    mantissa numeric;
BEGIN
    FOR name, value IN SELECT k, v::numeric FROM jsonb_each_text(sums) AS t(k, v) ORDER BY k COLLATE "C" LOOP
        value := trim_scale(value);
        places := scale(value);
        IF places > 7 THEN
            RAISE EXCEPTION 'kpi_sums: % = % has more than 7 decimals', name, value;
        END IF;
        mantissa := value * 10::numeric ^ places;
        out := out || '\x00'::bytea || pg_temp.kpi_varint(octet_length(convert_to(name, 'UTF8')))
                   || convert_to(name, 'UTF8')
                   || pg_temp.kpi_varint((CASE WHEN mantissa >= 0 THEN 2 * mantissa ELSE -2 * mantissa - 1 END) * 8
                                         + places);
    END LOOP;
    RETURN out;
END $$;

ALTER TABLE kpi_sums ALTER COLUMN sums DROP DEFAULT;
ALTER TABLE kpi_sums ALTER COLUMN sums TYPE bytea USING pg_temp.kpi_counters(sums);
DROP FUNCTION kpi_add(jsonb, jsonb);

-- Figures by window across scopes (all queues today) are asked for day, week and period windows; the
-- quarter hours, most of the rows, are read by their full key, so they stay out of this index.
-- ('15m:' and '30d:' sort below '4', every other window kind above it.)
DROP INDEX kpi_sums_window;
CREATE INDEX kpi_sums_window ON kpi_sums (tenant_id, window_key, scope) WHERE window_key > '4';

-- The next offset to fold of every input partition, written in the batch's transaction: a record read
-- again (after a crash, or a consumer group whose offsets expired replaying a topic from its start) is
-- recognised by its offset however old it is; the inbox is for the same event sent again as a new record.
CREATE TABLE kpi_positions (
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Inbox rows are kept for the dedupe horizon (KPI_INBOX_HORIZON_DAYS) and swept by age; rows are
-- appended in time order, so a block-range index finds the old ones at almost no cost.
CREATE INDEX inbox_processed_at ON inbox USING brin (processed_at);

-- Team, queue and tenant keys whose figures changed since their snapshot and alerts were last published.
-- Batches append; the snapshot publisher takes them about once a second, so a run of batches costs one
-- snapshot per key instead of one per batch.
CREATE TABLE kpi_changed_keys (
    id         bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    scope      text NOT NULL,
    scope_id   text NOT NULL,
    window_key text NOT NULL
);
ALTER TABLE kpi_changed_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kpi_changed_keys USING (tenant_id = current_setting('coachline.tenant_id', true));
