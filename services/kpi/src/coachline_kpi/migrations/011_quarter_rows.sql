-- The 15-minute windows of a scope and UTC day share one row, '15m:YYYY-MM-DD' (codec.py, format 2):
-- nine rows in ten were quarter hours, each paying for its key, its row header and its index entry.
INSERT INTO kpi_sums (tenant_id, scope, scope_id, window_key, sums, updated_at)
SELECT tenant_id, scope, scope_id, left(window_key, 14),
       '\x02'::bytea || string_agg(set_byte('\x00'::bytea, 0, quarter) || int2send((octet_length(sums) - 1)::int2)
                                   || substring(sums FROM 2), ''::bytea ORDER BY quarter),
       max(updated_at)
FROM (SELECT tenant_id, scope, scope_id, window_key, sums, updated_at,
             substring(window_key FROM 16 FOR 2)::int * 4 + substring(window_key FROM 19 FOR 2)::int / 15 AS quarter
      FROM kpi_sums WHERE window_key LIKE '15m:%T%') AS q
GROUP BY tenant_id, scope, scope_id, left(window_key, 14);
DELETE FROM kpi_sums WHERE window_key LIKE '15m:%T%';

-- A tenant's or queue's day of quarter hours is a few kilobytes: keep it in its row (up to a page),
-- so an update rewrites the row instead of its out-of-line chunks.
ALTER TABLE kpi_sums SET (toast_tuple_target = 8160);
