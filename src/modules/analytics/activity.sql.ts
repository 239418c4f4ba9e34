/**
 * The SQL of activity: sessions, peak concurrency and the timeline, from the second and minute
 * rollups (activity-rollup.entity.ts). The vocabulary is in analytics.sql.ts.
 */
import {
  evCte,
  liveEnd,
  pendingCte,
  scopeParams,
  type AnalyticsScope,
  type ScopeParams,
  type Statement,
} from "./analytics.sql";

/**
 * The rollups of an event's activity as one ordered stream of rows (event_id, at, joins, ends,
 * joins_at_start, ends_at_start, max_after): every row holds the instants of one span that lies
 * wholly before the window, inside it, or after it.
 * - Seconds holding an instant the rollups cannot know (a live session's end as of now, an
 *   instant still pending) or an edge of the window are read instant by instant (from their
 *   offsets, plus the live ends and the pending instants).
 * - With hours, the other hours are read whole, and the rest of an hour holding such a second
 *   minute by minute; then (with hours or minutes) the other minutes are read whole, and the rest
 *   of a minute holding such a second second by second; with seconds only, every other second is
 *   read whole.
 */
/** Which rollups a stream reads whole where it can: hours (then minutes, seconds), minutes or seconds. */
export type ActivityTier = "hour" | "minute" | "second";

function streamCtes(s: ScopeParams, tier: ActivityTier): string {
  const minutes =
    tier === "hour"
      ? `SELECT h.event_id, h.hour AS at, h.joins, h.ends, h.joins_at_start, h.ends_at_start, h.max_after
           FROM ev JOIN session_hour_rollups h ON h.event_id = ev.id
          WHERE NOT EXISTS (SELECT 1 FROM dirty_h d WHERE d.event_id = h.event_id AND d.hour = h.hour)
         UNION ALL
         SELECT m.event_id, m.minute, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after
           FROM dirty_h d
           -- One index range per dirty hour, kept a nested loop (OFFSET 0) like the seconds below.
           CROSS JOIN LATERAL (SELECT m.* FROM session_minute_rollups m
                                WHERE m.event_id = d.event_id AND m.minute >= d.hour AND m.minute < d.hour + interval '1 hour'
                               OFFSET 0) m
          WHERE NOT EXISTS (SELECT 1 FROM dirty_m x WHERE x.event_id = m.event_id AND x.minute = m.minute)`
      : `SELECT m.event_id, m.minute AS at, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after
           FROM ev JOIN session_minute_rollups m ON m.event_id = ev.id
          WHERE NOT EXISTS (SELECT 1 FROM dirty_m d WHERE d.event_id = m.event_id AND d.minute = m.minute)`;
  const minuteTier =
    tier !== "second"
      ? `${minutes}
         UNION ALL
         SELECT r.event_id, r.second, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after
           FROM dirty_m d
           -- One index range per dirty minute. OFFSET 0 keeps it a nested loop: flattened into a
           -- join, PostgreSQL hashed the whole second rollups of the company's events (100 events
           -- with a live session each: 1.4 million rows, half a second).
           CROSS JOIN LATERAL (SELECT r.* FROM session_second_rollups r
                                WHERE r.event_id = d.event_id AND r.second >= d.minute AND r.second < d.minute + interval '1 minute'
                               OFFSET 0) r
          WHERE NOT EXISTS (SELECT 1 FROM dirty_s x WHERE x.event_id = r.event_id AND x.second = r.second)`
      : `SELECT r.event_id, r.second AS at, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after
           FROM ev JOIN session_second_rollups r ON r.event_id = ev.id
          WHERE NOT EXISTS (SELECT 1 FROM dirty_s x WHERE x.event_id = r.event_id AND x.second = r.second)`;
  // Instants at or after the window's end are dropped (cls): they make no second dirty.
  const beforeTo = `(${s.to} IS NULL OR at < ${s.to})`;
  return `live_end AS (
    SELECT s.event_id, ${liveEnd(s.now)} AS at
      FROM ev JOIN sessions s ON s.event_id = ev.id AND s.ended_at IS NULL
  ), ${pendingCte}, dirty_s AS (
    SELECT DISTINCT event_id, date_trunc('second', at, 'UTC') AS second FROM (
      SELECT event_id, at FROM live_end WHERE ${beforeTo}
      UNION ALL SELECT event_id, at FROM pend WHERE ${beforeTo}
      UNION ALL SELECT id, ${s.from} FROM ev WHERE ${s.from} IS NOT NULL
      UNION ALL SELECT id, ${s.to} FROM ev WHERE ${s.to} IS NOT NULL) x
  ), dirty_m AS (
    SELECT DISTINCT event_id, date_trunc('minute', second, 'UTC') AS minute FROM dirty_s
  ), dirty_h AS (
    SELECT DISTINCT event_id, date_trunc('hour', minute, 'UTC') AS hour FROM dirty_m
  ), instants AS (
    SELECT event_id, at, sum(j)::int AS joins, sum(e)::int AS ends FROM (
      SELECT r.event_id, r.second + o * interval '1 millisecond' AS at, 1 AS j, 0 AS e
        FROM dirty_s d
        JOIN LATERAL (SELECT * FROM session_second_rollups r WHERE r.event_id = d.event_id AND r.second = d.second) r ON true
        CROSS JOIN LATERAL unnest(r.join_offsets) AS o
      UNION ALL
      SELECT r.event_id, r.second + o * interval '1 millisecond', 0, 1
        FROM dirty_s d
        JOIN LATERAL (SELECT * FROM session_second_rollups r WHERE r.event_id = d.event_id AND r.second = d.second) r ON true
        CROSS JOIN LATERAL unnest(r.end_offsets) AS o
      UNION ALL
      SELECT event_id, at, 0, 1 FROM live_end WHERE ${beforeTo}
      UNION ALL
      SELECT event_id, at, is_join::int, (NOT is_join)::int FROM pend WHERE ${beforeTo}) x
    GROUP BY event_id, at
  ), stream AS (
    ${minuteTier}
    UNION ALL
    SELECT event_id, at, joins, ends, joins, ends, joins - ends FROM instants
  ), cls AS (
    -- Rows at or after the window's end are dropped; rows before its start only set where it starts.
    SELECT st.*, (${s.from} IS NOT NULL AND st.at < ${s.from}) AS before
      FROM stream st WHERE ${s.to} IS NULL OR st.at < ${s.to}
  ), base AS (
    -- Sessions running at the window's start: joined before it and not ended before it.
    SELECT event_id, sum(joins - ends) AS base FROM cls WHERE before GROUP BY event_id
  )`;
}

/**
 * Sessions overlapping the window and the highest number running at once in it, per event.
 * Sessions = those running at its start + those joining after its first instant. The peak is
 * the highest running total after any row inside the window, or the total at its start when
 * no instant falls exactly on it.
 */
export function activitySql(scope: AnalyticsScope): Statement {
  const s = scopeParams(scope);
  return {
    sql: `WITH ${evCte(s)}, ${streamCtes(s, "hour")},
      inside AS (
        SELECT event_id, at, joins, ends, max_after,
               coalesce(sum(joins - ends) OVER (PARTITION BY event_id ORDER BY at
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
          FROM cls WHERE NOT before
      ), agg AS (
        SELECT event_id, sum(joins) AS joins,
               coalesce(sum(ends) FILTER (WHERE at = ${s.from}), 0) AS ends_at_from,
               coalesce(bool_or(at = ${s.from}), false) AS delta_at_from,
               max(prior + max_after) AS top
          FROM inside GROUP BY event_id
      )
      SELECT ev.id AS event_id,
             (coalesce(b.base, 0) + coalesce(a.joins, 0) - coalesce(a.ends_at_from, 0))::int AS sessions,
             GREATEST(coalesce(b.base, 0) + a.top, CASE WHEN coalesce(a.delta_at_from, false) THEN NULL ELSE coalesce(b.base, 0) END, 0)::int AS peak
        FROM ev LEFT JOIN base b ON b.event_id = ev.id LEFT JOIN agg a ON a.event_id = ev.id`,
    params: s.p.values,
  };
}

/**
 * Buckets of bucketSeconds aligned on the Unix epoch, from the window's start (or the first join)
 * to its end (or the last end). Per bucket: sessions running at some time in it (within the
 * window), and joins in it. A bucket holds whole hours when bucketSeconds is a multiple of 3600,
 * so hours are read whole then, and whole minutes when it is a multiple of 60; otherwise seconds
 * are. Each row names its bucket by k, its start
 * being k × bucketSeconds since the epoch (a number is cheaper to read than a timestamp, 10,000
 * times over). When an event would have more than maxBuckets, its only row has k NULL and the
 * count.
 */
export function timelineSql(scope: AnalyticsScope, bucketSeconds: number, maxBuckets: number): Statement {
  const s = scopeParams(scope);
  const w = s.p.add(bucketSeconds, "bigint");
  const max = s.p.add(maxBuckets, "bigint");
  const bucketOf = (at: string) => `floor(extract(epoch FROM ${at}) / ${w})::bigint`;
  return {
    sql: `WITH ${evCte(s)}, ${streamCtes(s, bucketSeconds % 3600 === 0 ? "hour" : bucketSeconds % 60 === 0 ? "minute" : "second")},
      inside AS (SELECT event_id, at, joins, ends, ends_at_start FROM cls WHERE NOT before),
      span AS (
        -- From the window's start or the first join; to the window's end, or the bucket before
        -- the last end (a session ending at a bucket's start is not in it), or of the last join.
        -- A rollup row's "at" is where its span starts: the last instants come from the offsets.
        SELECT ev.id AS event_id,
               ${bucketOf(`coalesce(${s.from}, (SELECT min(i.at) FROM inside i WHERE i.event_id = ev.id))`)} AS kmin,
               CASE WHEN ${s.to} IS NOT NULL THEN floor((extract(epoch FROM ${s.to}) - 0.001) / ${w})::bigint
                    ELSE GREATEST(floor((extract(epoch FROM GREATEST(last_any.at, (SELECT max(l.at) FROM live_end l WHERE l.event_id = ev.id),
                                                                     (SELECT max(p.at) FROM pend p WHERE p.event_id = ev.id))) - 0.001) / ${w})::bigint,
                                  ${bucketOf("GREATEST(last_join.at, (SELECT max(p.at) FROM pend p WHERE p.event_id = ev.id AND p.is_join))")}) END AS kmax
          FROM ev
          LEFT JOIN LATERAL (
            SELECT r.second + (SELECT max(o) FROM unnest(r.join_offsets || r.end_offsets) AS o) * interval '1 millisecond' AS at
              FROM session_second_rollups r WHERE r.event_id = ev.id ORDER BY r.second DESC LIMIT 1) last_any ON true
          LEFT JOIN LATERAL (
            SELECT r.second + (SELECT max(o) FROM unnest(r.join_offsets) AS o) * interval '1 millisecond' AS at
              FROM session_second_rollups r WHERE r.event_id = ev.id AND r.joins > 0 ORDER BY r.second DESC LIMIT 1) last_join ON true
      ), bk AS (
        SELECT i.event_id, ${bucketOf("i.at")} AS k, sum(i.joins) AS joins, sum(i.joins - i.ends) AS net,
               -- sessions ending exactly where the bucket starts were not running in it
               sum(i.ends_at_start) FILTER (WHERE i.at = GREATEST(to_timestamp((${bucketOf("i.at")} * ${w})::double precision), ${s.from})) AS ends_at_start
          FROM inside i GROUP BY 1, 2
      ), series AS (
        SELECT sp.event_id, k FROM span sp
         CROSS JOIN LATERAL generate_series(sp.kmin, CASE WHEN sp.kmax - sp.kmin < ${max} THEN sp.kmax ELSE sp.kmin - 1 END) AS k
         WHERE sp.kmin IS NOT NULL AND sp.kmax IS NOT NULL
      )
      SELECT se.event_id, se.k,
             (coalesce(b.base, 0)
               + coalesce(sum(bk.net) OVER (PARTITION BY se.event_id ORDER BY se.k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               + coalesce(bk.joins, 0) - coalesce(bk.ends_at_start, 0))::int AS active,
             coalesce(bk.joins, 0)::int AS joins, NULL::bigint AS buckets
        FROM series se
        LEFT JOIN bk ON bk.event_id = se.event_id AND bk.k = se.k
        LEFT JOIN base b ON b.event_id = se.event_id
      UNION ALL
      SELECT event_id, NULL, NULL, NULL, kmax - kmin + 1 FROM span WHERE kmax - kmin + 1 > ${max}
      ORDER BY 1, 2`,
    params: s.p.values,
  };
}
