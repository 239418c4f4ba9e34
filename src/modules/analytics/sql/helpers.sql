-- Small pure functions the rollups and the analytics queries share.
--
-- The current definitions; the migrations installed them (see README.md).

-- Milliseconds within its second of an instant of a timestamptz(3) column.
CREATE OR REPLACE FUNCTION analytics_ms_offset(at timestamptz)
RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (floor(extract(milliseconds FROM at AT TIME ZONE 'UTC'))::int % 1000)::smallint $$;

-- Length in milliseconds of a set of time ranges.
CREATE OR REPLACE FUNCTION analytics_ms(islands tstzmultirange)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r)) * 1000), 0)::bigint FROM unnest(islands) AS r $$;

-- A role as a number, so that max() gives an attendee's highest role over its sessions.
CREATE OR REPLACE FUNCTION analytics_role_rank(role text)
RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (CASE role WHEN 'ORGANIZER' THEN 2 WHEN 'PRESENTER' THEN 1 ELSE 0 END)::smallint $$;

-- a minus b as multisets: one occurrence of a removed per occurrence in b.
CREATE OR REPLACE FUNCTION analytics_multiset_minus(a smallint[], b smallint[])
RETURNS smallint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT coalesce(array_agg(x.v ORDER BY x.v), '{}') FROM (
    SELECT v, row_number() OVER (PARTITION BY v) AS n FROM unnest(a) AS v) x
  WHERE cardinality(b) = 0 OR x.n > (SELECT count(*) FROM unnest(b) AS w WHERE w = x.v)
$$;
