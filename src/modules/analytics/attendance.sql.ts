/**
 * The SQL of attendees: totals, breakdowns by metadata, the attendee list and distinct users, from
 * attendance_rollups (attendance-rollup.entity.ts) or from the raw sessions; and what the
 * attendee export reads beside the list. The vocabulary is in analytics.sql.ts.
 */
import {
  evCte,
  liveEnd,
  msOf,
  Params,
  pendingCte,
  placeholders,
  scopeParams,
  scopeValues,
  type AnalyticsScope,
  type ScopeParams,
  type Statement,
} from "./analytics.sql";

/** Which events read attendance_rollups ("fast") and which the raw sessions (a window that clips them). */
export interface AttendeeSources {
  fast: string[];
  raw: string[];
}

/**
 * For a window: the first and last second with activity per event. An event whose activity lies
 * wholly inside the window is not clipped by it, and reads its rollup rows.
 */
export function activityBoundsSql(scope: AnalyticsScope): Statement {
  const s = scopeParams(scope);
  return {
    sql: `WITH ${evCte(s)}, ${pendingCte}
      SELECT ev.id AS event_id,
             LEAST((SELECT r.second FROM session_second_rollups r WHERE r.event_id = ev.id ORDER BY r.second LIMIT 1),
                   (SELECT date_trunc('second', min(p.at), 'UTC') FROM pend p WHERE p.event_id = ev.id)) AS first_second,
             GREATEST((SELECT r.second FROM session_second_rollups r WHERE r.event_id = ev.id ORDER BY r.second DESC LIMIT 1),
                      (SELECT date_trunc('second', max(p.at), 'UTC') FROM pend p WHERE p.event_id = ev.id)) AS last_second
        FROM ev`,
    params: s.p.values,
  };
}

type AttendeeParams = ScopeParams & Record<"fast" | "raw", string> & { sources: AttendeeSources };

/**
 * What the attendee rows of live and raw users carry beside their time: only whether they
 * registered ("totals"), what their profile is made from ("deferred": latest_registration_id,
 * session_registrant_ids, latest_metadata), for a statement that keeps a few rows and profiles
 * only those (attendeePageSql), or the metadata that one key (a placeholder) is read from
 * (`{ key }`, for breakdowns: raw users' whole profile, live users' as described in profile()).
 */
type Detail = "totals" | "deferred" | { key: string };

const LATEST_TYPES: Record<string, string> = {
  joined_at: "timestamptz",
  id: "uuid",
  metadata: "jsonb",
  registrant_id: "uuid",
};

/**
 * The CTEs every attendee statement builds on, each yielding attendee rows (event_id, user_id,
 * sessions, first_joined_at, attended_ms, role_rank, registrant_id, registered, metadata):
 *
 * - live_rows, for fast events: users with a live session in the window. Their rollup row (their
 *   ended sessions) and their live sessions, counted up to now, are combined: islands united,
 *   counts added, the latest session (ended or live) deciding the session metadata and
 *   registration. live_users names them (with their live first join), so that their rollup
 *   rows are taken out. `nearPage`, CTEs defining live_near (event_id, user_id), merges only
 *   those live users (attendeePageSql).
 * - raw_rows, for raw events: every user, from the raw sessions, clipped to the window, a user's
 *   overlapping sessions merged with a gaps-and-islands window function.
 *
 * Both end in analytics_attendee_profile, as the rollup trigger does, so the three agree. Arms with
 * no event are left out of the text: PostgreSQL would still plan them, and estimates of a whole
 * sessions table would make it compile the statement to machine code (JIT), costing more than
 * the statement itself.
 */
function attendeeCtes(a: AttendeeParams, detail: Detail, nearPage?: string): string {
  const key = typeof detail === "object" ? detail.key : null;
  const metadata = detail === "totals" ? "NULL::jsonb AS metadata" : "s.metadata";
  const clipped = (
    from: string,
  ) => `SELECT x.*, GREATEST(x.joined_at, ${a.from}) AS cs, GREATEST(x.joined_at, ${a.from}, LEAST(x.end_at, ${a.to})) AS ce
      FROM ${from} x
     WHERE (${a.from} IS NULL OR x.end_at > ${a.from}) AND (${a.to} IS NULL OR x.joined_at < ${a.to})`;
  // The latest session's values make a profile; totals need none, and skip their sorts.
  const latest = (column: string, filter = "") =>
    detail === "totals"
      ? `NULL::${LATEST_TYPES[column]}`
      : `(array_agg(${column} ORDER BY joined_at DESC, id DESC)${filter})[1]`;
  const withRegistration = " FILTER (WHERE registrant_id IS NOT NULL)";
  // Live users' latest sessions, from live_o's numbering (rn: latest first; rrn: the same among
  // sessions with a registration): two sorts of the live sessions instead of six per live user.
  const liveLatest = (column: string, registered = false) =>
    detail === "totals"
      ? `NULL::${LATEST_TYPES[column]}`
      : `(array_agg(${column}) FILTER (WHERE ${registered ? "rrn = 1 AND registrant_id IS NOT NULL" : "rn = 1"}))[1]`;
  const liveOrdered =
    detail === "totals"
      ? "live_c"
      : `(SELECT live_c.*, row_number() OVER (PARTITION BY event_id, user_id ORDER BY joined_at DESC, id DESC) AS rn,
                 row_number() OVER (PARTITION BY event_id, user_id ORDER BY registrant_id IS NULL, joined_at DESC, id DESC) AS rrn
            FROM live_c) live_o`;
  // Which registrations a live user's sessions came with only say whether it registered, which a
  // breakdown does not show: it skips their sorts, two per live user.
  const sessionRegistrants = (sql: string) => (key !== null ? "NULL::uuid[]" : sql);
  // `stored`: the rows carry their rollup row's (live_m), which a breakdown may reuse.
  const profile = (rows: string, extra = "", known = "false", stored = false) => {
    const base = "x.event_id, x.user_id, x.sessions, x.first_joined_at, x.attended_ms, x.role_rank";
    if (key !== null && stored)
      // A live user's metadata is its profile's (analytics_attendee_profile): the latest session's
      // metadata, its user's and its registration's (latest_registration_id, else its latest). The
      // rollup row holds that profile for its ended sessions, kept current by the triggers on
      // users and registrants; so when the live sessions change neither the registration nor the
      // key in the latest session's metadata (most live users: a live session of the same
      // registration, its metadata copied from it), the key's value is the rollup row's, with no
      // lookup. Only the others are profiled, for their metadata alone.
      return `SELECT ${base}, NULL::uuid AS registrant_id, NULL::boolean AS registered,
           CASE WHEN x.in_rollup AND x.latest_registration_id IS NOT DISTINCT FROM x.rollup_registration_id
                     AND x.latest_metadata -> ${key} IS NOT DISTINCT FROM x.rollup_latest_metadata -> ${key}
                THEN x.rollup_metadata
                ELSE (SELECT pr.metadata FROM analytics_attendee_profile(x.event_id, x.user_id, x.latest_registration_id,
                                                                          x.session_registrant_ids, x.latest_metadata) pr)
           END AS metadata${extra}
      FROM ${rows} x`;
    if (detail === "deferred")
      return `SELECT ${base}, NULL::uuid AS registrant_id, NULL::boolean AS registered, NULL::jsonb AS metadata${extra},
           x.latest_registration_id, x.session_registrant_ids, x.latest_metadata FROM ${rows} x`;
    if (detail === "totals")
      // Only "registered" of analytics_attendee_profile, the same two probes: the profile's
      // lookups of the user and the registration cost as much again, per live user. A scalar
      // subquery, not EXISTS, which PostgreSQL may hash over every registration of the event.
      // Neither when `known` says so already: a live user whose rollup row is registered (kept
      // current by the triggers on registrants) is registered with more sessions too.
      return `SELECT ${base}, NULL::uuid AS registrant_id,
           CASE WHEN ${known} THEN true ELSE
           coalesce((SELECT true FROM registrants r WHERE r.event_id = x.event_id AND r.user_id = x.user_id AND r.cancelled_at IS NULL LIMIT 1), false)
             OR (cardinality(x.session_registrant_ids) > 0
                 AND EXISTS (SELECT 1 FROM unnest(x.session_registrant_ids) AS rid JOIN registrants r ON r.id = rid
                              WHERE r.event_id = x.event_id AND r.cancelled_at IS NULL)) END AS registered,
           NULL::jsonb AS metadata${extra}
      FROM ${rows} x`;
    // A breakdown's raw users: their whole profile.
    return `SELECT ${base}, pr.registrant_id, pr.registered, pr.metadata${extra}
      FROM ${rows} x CROSS JOIN LATERAL analytics_attendee_profile(x.event_id, x.user_id, x.latest_registration_id,
                                                                   x.session_registrant_ids, x.latest_metadata) pr`;
  };
  const hasFast = a.sources.fast.length > 0;
  const hasRaw = a.sources.raw.length > 0;
  const none = (columns: string) => `SELECT ${columns} WHERE false`;
  const rowColumns =
    "NULL::uuid AS event_id, NULL::uuid AS user_id, 0 AS sessions, NULL::timestamptz AS first_joined_at, 0::bigint AS attended_ms, " +
    "0::smallint AS role_rank, NULL::uuid AS registrant_id, false AS registered, NULL::jsonb AS metadata" +
    (detail === "deferred"
      ? ", NULL::uuid AS latest_registration_id, NULL::uuid[] AS session_registrant_ids, NULL::jsonb AS latest_metadata"
      : "");

  const live = hasFast
    ? `live_s AS (
    SELECT s.id, s.event_id, s.user_id, s.joined_at, s.role, s.registrant_id, ${metadata}, ${liveEnd(a.now)} AS end_at
      FROM ev JOIN sessions s ON s.event_id = ev.id AND s.ended_at IS NULL
     WHERE ev.id = ANY (${a.fast})
  ), live_c AS (
    ${clipped("live_s")}
  ), live_users AS (
    SELECT event_id, user_id, min(joined_at) AS live_first FROM live_c GROUP BY event_id, user_id
  ),${nearPage ? ` ${nearPage},` : ""} live_a AS (
    SELECT event_id, user_id, count(*)::int AS sessions, min(joined_at) AS first_joined_at, range_agg(tstzrange(cs, ce)) AS islands,
           min(cs) AS live_start, (extract(epoch FROM max(ce) - min(cs)) * 1000)::bigint AS one_ms,
           max(analytics_role_rank(role)) AS role_rank,
           ${sessionRegistrants("coalesce(array_agg(DISTINCT registrant_id) FILTER (WHERE registrant_id IS NOT NULL), '{}')")} AS session_registrant_ids,
           ${liveLatest("joined_at")} AS latest_joined_at, ${liveLatest("id")} AS latest_session_id, ${liveLatest("metadata")} AS latest_metadata,
           ${liveLatest("joined_at", true)} AS latest_registration_joined_at,
           ${liveLatest("id", true)} AS latest_registration_session_id,
           ${liveLatest("registrant_id", true)} AS latest_registration_id
      FROM ${liveOrdered}${nearPage ? " WHERE (event_id, user_id) IN (SELECT event_id, user_id FROM live_near)" : ""}
     GROUP BY event_id, user_id
  ), live_m AS (
    SELECT l.event_id, l.user_id, l.sessions + coalesce(r.sessions, 0) AS sessions,
           LEAST(l.first_joined_at, r.first_joined_at) AS first_joined_at,
           -- Uniting the islands costs more than the rest of the row: a single live session that starts
           -- after the rollup's islands end (most do) just adds its length (one_ms).
           CASE WHEN l.sessions = 1 AND (r.user_id IS NULL OR upper(r.islands) <= l.live_start)
                THEN coalesce(r.attended_ms, 0) + l.one_ms
                ELSE ${msOf("l.islands + coalesce(r.islands, '{}')")} END AS attended_ms,
           GREATEST(l.role_rank, r.role_rank) AS role_rank,
           ${sessionRegistrants("ARRAY(SELECT DISTINCT unnest(l.session_registrant_ids || coalesce(r.session_registrant_ids, '{}')))")} AS session_registrant_ids,
           CASE WHEN r.latest_joined_at IS NULL OR (l.latest_joined_at, l.latest_session_id) > (r.latest_joined_at, r.latest_session_id)
                THEN l.latest_metadata ELSE r.latest_metadata END AS latest_metadata,
           CASE WHEN l.latest_registration_joined_at IS NULL THEN r.latest_registration_id
                WHEN r.latest_registration_joined_at IS NULL THEN l.latest_registration_id
                WHEN (l.latest_registration_joined_at, l.latest_registration_session_id)
                     > (r.latest_registration_joined_at, r.latest_registration_session_id) THEN l.latest_registration_id
                ELSE r.latest_registration_id END AS latest_registration_id,
           -- what the rollup row says, to take it out of the totals
           r.user_id IS NOT NULL AS in_rollup, r.attended_ms AS rollup_ms, r.registered AS rollup_registered,
           ${key !== null ? "r.metadata" : "NULL::jsonb"} AS rollup_metadata${
             key !== null
               ? ", r.latest_registration_id AS rollup_registration_id, r.latest_metadata AS rollup_latest_metadata"
               : ""
           }
      FROM live_a l LEFT JOIN attendance_rollups r ON r.event_id = l.event_id AND r.user_id = l.user_id
  ), live_rows AS (
    ${profile("live_m", ", x.in_rollup, x.rollup_ms, x.rollup_registered, x.rollup_metadata", "coalesce(x.rollup_registered, false)", true)}
  )`
    : `live_users AS (${none("NULL::uuid AS event_id, NULL::uuid AS user_id")}), live_rows AS (${none(rowColumns)})`;

  const raw = hasRaw
    ? `raw_s AS (
    SELECT s.id, s.event_id, s.user_id, s.joined_at, s.role, s.registrant_id, ${metadata},
           CASE WHEN s.ended_at IS NOT NULL THEN GREATEST(s.joined_at, s.ended_at) ELSE ${liveEnd(a.now)} END AS end_at
      FROM ev JOIN sessions s ON s.event_id = ev.id
     WHERE ev.id = ANY (${a.raw}) AND (${a.to} IS NULL OR s.joined_at < ${a.to})
  ), raw_c AS (
    ${clipped("raw_s")}
  ), raw_w AS (
    SELECT raw_c.*, max(ce) OVER (PARTITION BY event_id, user_id ORDER BY cs, ce, id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_to
      FROM raw_c
  ), raw_a AS (
    SELECT event_id, user_id, count(*)::int AS sessions, min(joined_at) AS first_joined_at,
           sum(GREATEST(0, extract(epoch FROM ce - GREATEST(cs, coalesce(covered_to, cs))) * 1000))::bigint AS attended_ms,
           max(analytics_role_rank(role)) AS role_rank,
           coalesce(array_agg(DISTINCT registrant_id) FILTER (WHERE registrant_id IS NOT NULL), '{}') AS session_registrant_ids,
           ${latest("metadata")} AS latest_metadata, ${latest("registrant_id", withRegistration)} AS latest_registration_id
      FROM raw_w GROUP BY event_id, user_id
  ), raw_rows AS (
    ${profile("raw_a")}
  )`
    : `raw_rows AS (${none(rowColumns)})`;
  return `${live}, ${raw}`;
}

function attendeeParams(scope: AnalyticsScope, sources: AttendeeSources): AttendeeParams {
  const p = new Params();
  const named = placeholders(p, {
    ...scopeValues(scope),
    fast: [sources.fast, "uuid[]"],
    raw: [sources.raw, "uuid[]"],
  });
  return Object.assign(named, { p, sources });
}

/**
 * Rollup rows of the fast events, before the live users are taken out. Filtered by the company
 * (a column of the row) rather than joined to ev: no join per row.
 */
const fastRows = (a: AttendeeParams) =>
  `attendance_rollups a WHERE a.event_id = ANY (${a.fast}) AND a.company_id = ${a.company}`;

/**
 * The per-event sums of the fast events' rollup rows (attendance_event_rollups plus what is
 * pending for it), as rows t (event_id, attendees, attended_ms, registered): one row per event
 * and per pending change, however many attendees. `key` is passed on to the pending function,
 * which also returns that key's pending values (the caller keeps only the totals, key NULL).
 */
const fastTotals = (a: AttendeeParams, key: string | null) => `(
          SELECT r.event_id, r.attendees, r.attended_ms, r.registered FROM attendance_event_rollups r
           WHERE r.event_id = ANY (${a.fast}) AND r.event_id IN (SELECT id FROM ev)
          UNION ALL
          SELECT p.event_id, p.attendees, p.attended_ms, p.registered
            FROM analytics_pending_attendance_of(ARRAY(SELECT id FROM ev WHERE id = ANY (${a.fast})), ${key ?? "NULL::text"}) p WHERE p.key IS NULL) t`;

/** The per-value sums of one metadata key over the fast events' rollup rows, pending changes included. */
const fastValues = (a: AttendeeParams, key: string) => `(
          SELECT r.event_id, r.value, r.attendees, r.attended_ms FROM attendance_value_rollups r
           WHERE r.event_id = ANY (${a.fast}) AND r.event_id IN (SELECT id FROM ev) AND r.key = ${key}
          UNION ALL
          SELECT p.event_id, p.value, p.attendees, p.attended_ms
            FROM analytics_pending_attendance_of(ARRAY(SELECT id FROM ev WHERE id = ANY (${a.fast})), ${key}) p WHERE p.key = ${key})`;

/** UNION ALL of the parts that have events (built only when kept: building numbers their parameters). */
const unionOf = (parts: [boolean, () => string][], empty: string) => {
  const kept = parts.filter(([keep]) => keep).map(([, sql]) => sql());
  return kept.length > 0 ? kept.join("\n        UNION ALL\n        ") : empty;
};

/**
 * Attendees, their time and how many registered, per event. For fast events: the sums of their
 * rollup rows (fastTotals), minus the rollup rows of live users, plus their live rows.
 */
export function attendeeTotalsSql(scope: AnalyticsScope, sources: AttendeeSources): Statement {
  const a = attendeeParams(scope, sources);
  const hasFast = sources.fast.length > 0;
  const hasRaw = sources.raw.length > 0;
  return {
    sql: `WITH ${evCte(a)}, ${attendeeCtes(a, "totals")},
      parts AS (
        ${unionOf(
          [
            [
              hasFast,
              () =>
                `SELECT t.event_id, t.attendees::bigint AS n, t.attended_ms::numeric AS ms, t.registered::bigint AS reg FROM ${fastTotals(a, null)}`,
            ],
            [
              hasFast,
              () => `SELECT event_id, -count(*), -sum(rollup_ms), -count(*) FILTER (WHERE rollup_registered)
                         FROM live_rows WHERE in_rollup GROUP BY event_id`,
            ],
            [
              hasFast,
              () =>
                `SELECT event_id, count(*), sum(attended_ms), count(*) FILTER (WHERE registered) FROM live_rows GROUP BY event_id`,
            ],
            [
              hasRaw,
              () =>
                `SELECT event_id, count(*) AS n, sum(attended_ms) AS ms, count(*) FILTER (WHERE registered) AS reg FROM raw_rows GROUP BY event_id`,
            ],
          ],
          "",
        )}
      )
      SELECT event_id, sum(n)::int AS attendees, sum(ms)::bigint::text AS attended_ms, sum(reg)::int AS registered
        FROM parts GROUP BY event_id`,
    params: a.p.values,
  };
}

/**
 * Attendees and their time by the value of one metadata key (null when absent), most attendees
 * first. For fast events, from the sums per value (fastValues); the null group is the event's
 * totals minus those. Live users are taken out and added back as in attendeeTotalsSql.
 */
export function breakdownSql(scope: AnalyticsScope, sources: AttendeeSources, key: string, limit: number): Statement {
  const a = attendeeParams(scope, sources);
  const k = a.p.add(key, "text");
  const lim = a.p.add(limit, "int");
  const hasFast = sources.fast.length > 0;
  const hasRaw = sources.raw.length > 0;
  return {
    sql: `WITH ${evCte(a)}, ${attendeeCtes(a, { key: k })},
      parts AS (
        ${unionOf(
          [
            // Attendees with a value, and (the NULL group) every attendee minus those.
            [
              hasFast,
              () =>
                `SELECT v.event_id, v.value, v.attendees::bigint AS n, v.attended_ms::numeric AS ms FROM ${fastValues(a, k)} v`,
            ],
            [hasFast, () => `SELECT v.event_id, NULL, -v.attendees, -v.attended_ms FROM ${fastValues(a, k)} v`],
            [hasFast, () => `SELECT t.event_id, NULL, t.attendees, t.attended_ms FROM ${fastTotals(a, k)}`],
            [
              hasFast,
              () => `SELECT event_id, rollup_metadata ->> ${k}, -count(*), -sum(rollup_ms)
                         FROM live_rows WHERE in_rollup GROUP BY 1, 2`,
            ],
            [
              hasFast,
              () => `SELECT event_id, metadata ->> ${k}, count(*), sum(attended_ms) FROM live_rows GROUP BY 1, 2`,
            ],
            [
              hasRaw,
              () =>
                `SELECT event_id, metadata ->> ${k} AS value, count(*) AS n, sum(attended_ms) AS ms FROM raw_rows GROUP BY 1, 2`,
            ],
          ],
          "",
        )}
      ), grouped AS (
        SELECT event_id, value, sum(n)::int AS attendees, sum(ms)::bigint AS ms FROM parts
         GROUP BY event_id, value HAVING sum(n) > 0
      )
      SELECT event_id, value, attendees, ms::text AS attended_ms FROM (
        SELECT g.*, row_number() OVER (PARTITION BY event_id ORDER BY attendees DESC, value NULLS LAST) AS rn FROM grouped g
      ) x WHERE rn <= ${lim}
      ORDER BY event_id, attendees DESC, value NULLS LAST`,
    params: a.p.values,
  };
}

export interface AttendeeCursor {
  firstJoinedAt: Date;
  userId: string;
}

/**
 * One page of attendees per event, ordered by (first join, user id): keyset on
 * idx_attendance_rollups_list. Live and raw users are profiled (analytics_attendee_profile) once
 * the page is cut: a thousand live users cost a thousand profiles otherwise, for 20 rows shown.
 *
 * Nor are all live users merged with their rollup rows. A live user's first join is the earlier
 * of its live sessions' and its rollup row's, so with K the key of the n-th row of the page's
 * users without a live session (`head`), only live users whose live first join or rollup row
 * comes by K can be on the page (`live_near`): those whose live sessions say so, and the live
 * rows the keyset skipped on its way to K (an index range of about n rows).
 */
export function attendeePageSql(
  scope: AnalyticsScope,
  sources: AttendeeSources,
  take: number,
  after: AttendeeCursor | null,
): Statement {
  const a = attendeeParams(scope, sources);
  const n = a.p.add(take, "int");
  const at = a.p.add(after?.firstJoinedAt ?? null, "timestamptz");
  const id = a.p.add(after?.userId ?? null, "uuid");
  const columns =
    "r.event_id, r.user_id, r.sessions, r.first_joined_at, r.attended_ms, r.role_rank, r.registrant_id, r.metadata";
  const toProfile = (
    rows: string,
  ) => `SELECT ${columns}, true AS deferred, r.latest_registration_id, r.session_registrant_ids, r.latest_metadata
                      FROM ${rows} r WHERE ${at} IS NULL OR (r.first_joined_at, r.user_id) > (${at}, ${id})`;
  const hasFast = sources.fast.length > 0;
  // After live_users, before live_a (attendeeCtes): the page's other users, and the live users near them.
  // A function: building it numbers the fast events' parameter, which PostgreSQL refuses unused.
  const nearPage = () => `head AS (
    SELECT x.*, false AS deferred, NULL::uuid AS latest_registration_id, NULL::uuid[] AS session_registrant_ids,
           NULL::jsonb AS latest_metadata
      FROM ev CROSS JOIN LATERAL (
    SELECT a.event_id, a.user_id, a.sessions, a.first_joined_at, a.attended_ms, a.role_rank, a.registrant_id, a.metadata
      FROM attendance_rollups a
     WHERE a.event_id = ev.id AND ev.id = ANY (${a.fast})
       AND (${at} IS NULL OR (a.first_joined_at, a.user_id) > (${at}, ${id}))
       AND (a.event_id, a.user_id) NOT IN (SELECT event_id, user_id FROM live_users)
     ORDER BY a.first_joined_at, a.user_id LIMIT ${n}) x
  ), bound AS (
    -- K per event: the n-th row of head; past every live user when head has fewer rows, or when
    -- its last has no first join (sorted after every row that has one).
    SELECT ev.id AS event_id,
           CASE WHEN k.n < ${n} OR k.at IS NULL THEN 'infinity'::timestamptz ELSE k.at END AS k_at,
           CASE WHEN k.n < ${n} OR k.at IS NULL THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid ELSE k.id END AS k_id
      FROM ev CROSS JOIN LATERAL (
        SELECT count(*) AS n, (array_agg(h.first_joined_at ORDER BY h.first_joined_at DESC, h.user_id DESC))[1] AS at,
               (array_agg(h.user_id ORDER BY h.first_joined_at DESC, h.user_id DESC))[1] AS id
          FROM head h WHERE h.event_id = ev.id) k
     WHERE ev.id = ANY (${a.fast})
  ), live_near AS (
    SELECT u.event_id, u.user_id FROM live_users u JOIN bound b ON b.event_id = u.event_id
     WHERE (u.live_first, u.user_id) <= (b.k_at, b.k_id)
    UNION
    SELECT r.event_id, r.user_id FROM bound b CROSS JOIN LATERAL (
      SELECT a.event_id, a.user_id, (a.event_id, a.user_id) IN (SELECT event_id, user_id FROM live_users) AS live
        FROM attendance_rollups a
       WHERE a.event_id = b.event_id AND (a.first_joined_at, a.user_id) <= (b.k_at, b.k_id)
         AND (${at} IS NULL OR (a.first_joined_at, a.user_id) > (${at}, ${id}))) r
     WHERE r.live
  )`;
  return {
    sql: `WITH ${evCte(a)}, ${attendeeCtes(a, "deferred", hasFast ? nearPage() : undefined)},
      page AS (
        ${unionOf(
          [
            [hasFast, () => "SELECT * FROM head"],
            [hasFast, () => toProfile("live_rows")],
            [sources.raw.length > 0, () => toProfile("raw_rows")],
          ],
          "",
        )}
      ), cut AS (
        SELECT * FROM (SELECT page.*, row_number() OVER (PARTITION BY event_id ORDER BY first_joined_at, user_id) AS rn FROM page) p
         WHERE rn <= ${n}
      )
      SELECT c.event_id, c.user_id, c.sessions, c.first_joined_at, c.attended_ms::text AS attended_ms, c.role_rank,
             CASE WHEN c.deferred THEN pr.registrant_id ELSE c.registrant_id END AS registrant_id,
             CASE WHEN c.deferred THEN pr.metadata ELSE c.metadata END AS metadata
        FROM cut c
        LEFT JOIN LATERAL analytics_attendee_profile(c.event_id, c.user_id, c.latest_registration_id,
                                                     c.session_registrant_ids, c.latest_metadata) pr ON c.deferred
       ORDER BY c.event_id, c.first_joined_at, c.user_id`,
    params: a.p.values,
  };
}

/** Distinct users with a session in the window in any of the events. */
export function uniqueAttendeesSql(scope: AnalyticsScope, sources: AttendeeSources): Statement {
  const a = attendeeParams(scope, sources);
  return {
    sql: `WITH ${evCte(a)}
      SELECT count(DISTINCT user_id)::int AS n FROM (
        SELECT a.user_id FROM ${fastRows(a)}
        UNION ALL
        SELECT s.user_id FROM ev JOIN sessions s ON s.event_id = ev.id AND s.ended_at IS NULL WHERE ev.id = ANY (${a.fast})
        UNION ALL
        SELECT s.user_id FROM ev JOIN sessions s ON s.event_id = ev.id
         WHERE ev.id = ANY (${a.raw}) AND (${a.to} IS NULL OR s.joined_at < ${a.to})
           AND (${a.from} IS NULL OR CASE WHEN s.ended_at IS NOT NULL THEN GREATEST(s.joined_at, s.ended_at) ELSE ${liveEnd(a.now)} END > ${a.from})
      ) u`,
    params: a.p.values,
  };
}

/**
 * Distinct users with a session in any of the company's events, over the whole range: the users
 * company_attendees holds (an ended session in some event), plus those with only live sessions
 * in the events asked for. Over the whole range every event with an ended session is asked for
 * (it has a session), so the union is the company's. One row per attendee of the company, not
 * one per attendee of each event.
 */
export function companyAttendeesSql(scope: AnalyticsScope): Statement {
  const s = scopeParams(scope);
  return {
    sql: `WITH ${evCte(s)}
      SELECT (SELECT count(*) FROM company_attendees ca WHERE ca.company_id = ${s.company})
           + (SELECT count(DISTINCT s.user_id) FROM ev JOIN sessions s ON s.event_id = ev.id AND s.ended_at IS NULL
               WHERE NOT EXISTS (SELECT 1 FROM company_attendees ca WHERE ca.company_id = ${s.company} AND ca.user_id = s.user_id))
             AS n`,
    params: s.p.values,
  };
}

// ------------------------------------------------------------------------------------------------
// The attendee export: what it reads beside the attendee list

/**
 * The metadata keys an attendee of the event can have: an attendee's metadata merges its
 * sessions', its user's and its registration's (analytics_attendee_profile), so the keys of the
 * rollup rows (ended sessions, merged), of live sessions and their users, and of the event's
 * registrations cover them. Sorted, so columns are stable between exports. $1 event id, $2 how
 * many keys at most.
 */
export const ATTENDEE_METADATA_KEYS = `SELECT k FROM (
        SELECT jsonb_object_keys(a.metadata) AS k FROM attendance_rollups a WHERE a.event_id = $1
        UNION SELECT jsonb_object_keys(s.metadata) FROM sessions s WHERE s.event_id = $1 AND s.ended_at IS NULL
        UNION SELECT jsonb_object_keys(u.metadata) FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.event_id = $1 AND s.ended_at IS NULL
        UNION SELECT jsonb_object_keys(r.metadata) FROM registrants r WHERE r.event_id = $1
      ) keys ORDER BY k LIMIT $2`;

/** What the export shows of an attendee's user. */
export interface ExportUserRow {
  id: string;
  external_id: string | null;
  name: string | null;
  email: string | null;
}

/** What the export shows of an attendee's registration. */
export interface ExportRegistrantRow {
  id: string;
  name: string;
  email: string;
}

/** $1 company id, $2 user ids. */
export const EXPORT_USERS =
  "SELECT id, external_id, name, email FROM users WHERE company_id = $1 AND id = ANY ($2::uuid[])";

/** $1 company id, $2 registrant ids. */
export const EXPORT_REGISTRANTS =
  "SELECT id, name, email FROM registrants WHERE company_id = $1 AND id = ANY ($2::uuid[])";
