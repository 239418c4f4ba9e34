/**
 * The SQL of attendees over a window that cuts sessions: from the segments
 * (attendance-window.entity.ts). The vocabulary is in analytics.sql.ts.
 */
import { evCte, liveEnd, msOf, scopeParams, type AnalyticsScope, type Statement } from "./analytics.sql";

/** Where an open side of a window lies: before and after any session. */
const WINDOW_START = new Date(0);
const WINDOW_END = new Date(Date.UTC(9999, 0, 1));

/**
 * Attendees, their time and how many registered, per event, over a window [from, to) that cuts
 * sessions, without reading the sessions of users who have no live one. Per family (0: present,
 * 1: present and registered), the users with a segment meeting the window number
 *   #(start < to) − #(end ≤ from) − #(gaps (e, s) with e > from and s < to)
 * and their time is Σ clamp(end) − Σ clamp(start), clamp(x) = min(max(x, from), to). Each sum reads
 * the per-minute rows (plus what is pending for them), except the minutes holding `from` and
 * `to`, whose segments are read one by one (an index range each). Users with a live session in the
 * window are taken out (their segments) and added back from their segments and live sessions
 * together, the live ones counted up to now as everywhere else; a user whose live sessions all lie
 * outside the window is what its segments say, as counted already.
 */
export function windowTotalsSql(scope: AnalyticsScope): Statement {
  const s = scopeParams({
    ...scope,
    window: { from: scope.window.from ?? WINDOW_START, to: scope.window.to ?? WINDOW_END },
  });
  const ms = (at: string) => `(extract(epoch FROM ${at}) * 1000)`;
  const clamp = (at: string) => `${ms(`LEAST(GREATEST(${at}, c.f), c.t)`)}`;
  const minute = "interval '1 minute'";
  return {
    sql: `WITH ${evCte(s)},
      c AS (
        SELECT ev.id AS event_id, ${s.from} AS f, ${s.to} AS t, ${ms(s.from)} AS f_ms, ${ms(s.to)} AS t_ms,
               date_trunc('minute', ${s.from}, 'UTC') AS fm, date_trunc('minute', ${s.to}, 'UTC') AS tm
          FROM ev
      ), fam AS (
        SELECT c.*, x.family FROM c CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS x(family)
      ), mins AS (
        SELECT m.event_id, m.family, m.minute, m.starts, m.starts_offset_ms, m.ends, m.ends_offset_ms
          FROM attendance_window_minutes m WHERE m.event_id IN (SELECT event_id FROM c)
        UNION ALL
        SELECT p.event_id, p.family, p.minute, p.starts, p.starts_offset_ms, p.ends, p.ends_offset_ms
          FROM analytics_pending_windows_of(ARRAY(SELECT event_id FROM c)) p WHERE p.start_minute IS NULL
      ), parts AS (
        -- Whole minutes.
        SELECT m.event_id, m.family,
               sum(m.starts) FILTER (WHERE m.minute < c.tm) AS starts_before_to,
               sum(m.ends) FILTER (WHERE m.minute < c.fm) AS ends_by_from,
               sum(CASE WHEN m.minute < c.fm THEN (c.f_ms * (m.ends - m.starts))
                        WHEN m.minute > c.tm THEN (c.t_ms * (m.ends - m.starts))
                        ELSE ${ms("m.minute")} * (m.ends - m.starts) + m.ends_offset_ms - m.starts_offset_ms END)
                 FILTER (WHERE m.minute <> c.fm AND m.minute <> c.tm) AS ms,
               0 AS gaps
          FROM mins m JOIN c ON c.event_id = m.event_id GROUP BY 1, 2
        UNION ALL
        -- The segments starting or ending in the two edge minutes, one by one.
        SELECT f.event_id, f.family,
               count(*) FILTER (WHERE em.minute = f.tm AND x.start_at < f.t),
               0, sum(${clamp("x.start_at").replace(/c\./g, "f.")}) * -1, 0
          FROM fam f CROSS JOIN LATERAL (SELECT DISTINCT unnest(ARRAY[f.fm, f.tm]) AS minute) em
          JOIN attendance_segments x ON x.event_id = f.event_id AND x.family = f.family AND x.start_at >= em.minute AND x.start_at < em.minute + ${minute}
         GROUP BY 1, 2
        UNION ALL
        SELECT f.event_id, f.family, 0,
               count(*) FILTER (WHERE em.minute = f.fm AND x.end_at <= f.f),
               sum(${clamp("x.end_at").replace(/c\./g, "f.")}), 0
          FROM fam f CROSS JOIN LATERAL (SELECT DISTINCT unnest(ARRAY[f.fm, f.tm]) AS minute) em
          JOIN attendance_segments x ON x.event_id = f.event_id AND x.family = f.family AND x.end_at >= em.minute AND x.end_at < em.minute + ${minute}
         GROUP BY 1, 2
        UNION ALL
        -- Gaps wholly inside: whole cells, then those ending (e) in from's minute, then those starting (s) in to's.
        -- (Cells: one index range over the window's end minutes, start_minute checked in the
        -- index, so only the window's triangle reaches the heap.)
        SELECT f.event_id, f.family, 0, 0, 0, sum(x.gaps)
          FROM fam f
          JOIN attendance_gap_cells x ON x.event_id = f.event_id AND x.family = f.family
           AND x.end_minute > f.fm AND x.end_minute < f.tm AND x.start_minute < f.tm
         GROUP BY 1, 2
        UNION ALL
        SELECT p.event_id, p.family, 0, 0, 0, sum(p.gaps)
          FROM analytics_pending_windows_of(ARRAY(SELECT event_id FROM c)) p JOIN c ON c.event_id = p.event_id
         WHERE p.start_minute IS NOT NULL AND p.minute > c.fm AND p.minute < c.tm AND p.start_minute < c.tm
         GROUP BY 1, 2
        UNION ALL
        SELECT f.event_id, f.family, 0, 0, 0, count(*)
          FROM fam f JOIN attendance_segments x ON x.event_id = f.event_id AND x.family = f.family
           AND x.prev_end > f.f AND x.prev_end < f.fm + ${minute} AND x.start_at < f.t
         GROUP BY 1, 2
        UNION ALL
        SELECT f.event_id, f.family, 0, 0, 0, count(*)
          FROM fam f JOIN attendance_segments x ON x.event_id = f.event_id AND x.family = f.family
           AND x.start_at >= f.tm AND x.start_at < f.t AND x.prev_end >= f.fm + ${minute}
         GROUP BY 1, 2
      ), summed AS (
        SELECT event_id, family, coalesce(sum(starts_before_to), 0) - coalesce(sum(ends_by_from), 0) - coalesce(sum(gaps), 0) AS n,
               coalesce(sum(ms), 0) AS ms
          FROM parts GROUP BY 1, 2
      ), live_s AS (
        SELECT s.event_id, s.user_id, s.joined_at, s.registrant_id, ${liveEnd(s.now)} AS end_at
          FROM ev JOIN sessions s ON s.event_id = ev.id AND s.ended_at IS NULL
      ), live_c AS (
        SELECT l.*, c.f, c.t FROM live_s l JOIN c ON c.event_id = l.event_id WHERE l.end_at > c.f AND l.joined_at < c.t
      ), live_u AS (
        -- Only users with a live session in the window: one whose live sessions all lie outside it
        -- counts what its segments say, as the per-minute counts already have it.
        SELECT DISTINCT l.event_id, l.user_id, l.f, l.t FROM live_c l
      ), live_seg AS (
        -- What the per-minute counts say of users with a live session, to take it out.
        SELECT u.event_id, u.user_id,
               bool_or(x.family = 0) AS present, bool_or(x.family = 1) AS registered,
               coalesce(range_agg(tstzrange(GREATEST(x.start_at, u.f), LEAST(x.end_at, u.t))) FILTER (WHERE x.family = 0), '{}') AS islands
          FROM live_u u JOIN attendance_segments x ON x.event_id = u.event_id AND x.user_id = u.user_id AND x.start_at < u.t AND x.end_at > u.f
         GROUP BY 1, 2
      ), live_a AS (
        SELECT l.event_id, l.user_id, range_agg(tstzrange(GREATEST(l.joined_at, l.f), GREATEST(l.joined_at, l.f, LEAST(l.end_at, l.t)))) AS islands,
               bool_or(r.id IS NOT NULL) AS with_registration
          FROM live_c l LEFT JOIN registrants r ON r.id = l.registrant_id AND r.event_id = l.event_id AND r.cancelled_at IS NULL
         GROUP BY 1, 2
      ), live_rows AS (
        -- And what they are with their live sessions.
        SELECT u.event_id, u.user_id,
               coalesce(seg.present, false) OR la.user_id IS NOT NULL AS present,
               coalesce(seg.registered, false)
                 OR (la.user_id IS NOT NULL
                     AND (la.with_registration
                          OR EXISTS (SELECT 1 FROM registrants r WHERE r.event_id = u.event_id AND r.user_id = u.user_id AND r.cancelled_at IS NULL))) AS registered,
               coalesce(seg.present, false) AS seg_present, coalesce(seg.registered, false) AS seg_registered,
               ${msOf("coalesce(seg.islands, '{}')")} AS seg_ms,
               ${msOf("coalesce(seg.islands, '{}') + coalesce(la.islands, '{}')")} AS ms
          FROM live_u u
          LEFT JOIN live_seg seg ON seg.event_id = u.event_id AND seg.user_id = u.user_id
          LEFT JOIN live_a la ON la.event_id = u.event_id AND la.user_id = u.user_id
      ), totals AS (
        SELECT event_id, sum(n) FILTER (WHERE family = 0) AS attendees, sum(ms) FILTER (WHERE family = 0) AS ms,
               sum(n) FILTER (WHERE family = 1) AS registered
          FROM summed GROUP BY 1
        UNION ALL
        SELECT event_id, sum(present::int - seg_present::int), sum(ms - seg_ms), sum(registered::int - seg_registered::int)
          FROM live_rows GROUP BY 1
      )
      SELECT event_id, coalesce(sum(attendees), 0)::int AS attendees, coalesce(sum(ms), 0)::bigint::text AS attended_ms,
             coalesce(sum(registered), 0)::int AS registered
        FROM totals GROUP BY event_id`,
    params: s.p.values,
  };
}
