/**
 * The SQL of analytics. Every value is a bound parameter; the only text put together here is
 * fixed SQL chosen by code (which tier of the rollups to read, which columns), never input.
 *
 * Vocabulary:
 * - a session runs over [joined_at, end): its end is ended_at, or for a live session the end the
 *   sweep would write (its inactivity window, ejectAt or the event's end, whichever came first,
 *   once passed), else now: live sessions count up to now.
 * - the window [from, to) clips sessions: a session counts for the part inside it.
 * - an "instant" is one millisecond at which sessions join or end; the rollups keep them per
 *   second (session_second_rollups) and summarise them per second and per minute. Instants that
 *   sessions added since the last fold wait in analytics_pending_instants: every statement that
 *   reads the activity rollups adds them, so its answer is exact as of its snapshot.
 *
 * This file holds what the statements share, and those of registrations and of the company's
 * events; the others live by subject: activity.sql.ts (sessions, peak, timeline),
 * attendance.sql.ts (attendees, breakdowns, the attendee list) and attendance-window.sql.ts
 * (attendees over a window that cuts sessions).
 */

export interface AnalyticsWindow {
  from: Date | null;
  to: Date | null;
}

/** What one batched statement is about: events of one company, one window, one "now". */
export interface AnalyticsScope {
  companyId: string;
  eventIds: string[];
  window: AnalyticsWindow;
  now: Date;
}

export interface Statement {
  sql: string;
  params: unknown[];
}

/** Positional parameters with their types, so that NULLs and arrays reach PostgreSQL typed. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * Named placeholders, each numbered when the SQL first mentions it: PostgreSQL refuses a
 * parameter that the statement does not use, and which ones a statement uses depends on its arms.
 */
export function placeholders<K extends string>(p: Params, values: Record<K, [unknown, string]>): Record<K, string> {
  const named = {} as Record<K, string>;
  for (const [name, [value, type]] of Object.entries(values) as [K, [unknown, string]][]) {
    let placeholder: string | null = null;
    Object.defineProperty(named, name, { get: () => (placeholder ??= p.add(value, type)) });
  }
  return named;
}

export const scopeValues = (scope: AnalyticsScope) => ({
  company: [scope.companyId, "uuid"] as [unknown, string],
  ids: [scope.eventIds, "uuid[]"] as [unknown, string],
  from: [scope.window.from, "timestamptz"] as [unknown, string],
  to: [scope.window.to, "timestamptz"] as [unknown, string],
  now: [scope.now, "timestamptz"] as [unknown, string],
});

export type ScopeParams = Record<"company" | "ids" | "from" | "to" | "now", string> & { p: Params };

export function scopeParams(scope: AnalyticsScope): ScopeParams {
  const p = new Params();
  return Object.assign(placeholders(p, scopeValues(scope)), { p });
}

/** The caller's events among those asked for: every statement starts here, so no other tenant's rows are read. */
export const evCte = (s: ScopeParams) => `ev AS (
  SELECT e.id, LEAST(e.ended_at, e.ends_at) AS event_end, c.session_inactivity_timeout_seconds AS idle,
         LEAST(c.first_heartbeat_window_seconds, c.session_inactivity_timeout_seconds) AS first_window
    FROM events e JOIN companies c ON c.id = e.company_id
   WHERE e.company_id = ${s.company} AND e.id = ANY (${s.ids})
)`;

/**
 * The length in milliseconds of a tstzmultirange, as the SQL function analytics_ms() computes it,
 * written into the statement instead: PostgreSQL cannot inline a SQL function that reads FROM
 * unnest, and the call costs as much again as the sum (10,000 multiranges: 3.5 µs each through
 * analytics_ms, 1.7 µs written in). Statements call it once or twice per live user.
 */
export const msOf = (islands: string): string =>
  `(SELECT coalesce(sum(extract(epoch FROM upper(i) - lower(i)) * 1000), 0)::bigint FROM unnest(${islands}) AS i)`;

/**
 * Where a live session (alias s, its event's ev row) ends as analytics sees it: what the session
 * sweep (SWEEP_SQL in the session service) will write once it passes by (the first limit reached
 * of the inactivity window, ejectAt and the event's end), or now while none is reached.
 */
export function liveEnd(now: string): string {
  // A guest's session that never heartbeated idles out after the first-heartbeat window (NO_HEARTBEAT).
  const idleAt = `s.last_seen_at + make_interval(secs => CASE WHEN s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at
      THEN ev.first_window ELSE ev.idle END)`;
  const first = `LEAST(${idleAt}, s.eject_at, ev.event_end)`;
  return `GREATEST(s.joined_at, CASE WHEN ${first} <= ${now} THEN
      CASE WHEN ev.event_end = ${first} THEN ev.event_end WHEN s.eject_at = ${first} THEN s.eject_at ELSE s.last_seen_at END
    ELSE ${now} END)`;
}

/**
 * The instants of the events in ev that sessions added since the last fold (only additions wait),
 * through analytics_pending_of so that the plan does not follow the churning table's statistics.
 */
export const pendingCte = `pend AS (
    SELECT p.event_id, p.at, p.is_join FROM analytics_pending_of(ARRAY(SELECT id FROM ev)) p
  )`;

// ------------------------------------------------------------------------------------------------
// Registrants

/**
 * Live registrations per event: the event's row of registrant_counts plus the changes still
 * pending for it (analytics_fold_registrants moves them every second), a few rows per event
 * however many registrations.
 */
export function registrantCountsSql(scope: AnalyticsScope): Statement {
  const s = scopeParams(scope);
  return {
    sql: `WITH ${evCte(s)}
      SELECT x.event_id, sum(x.n)::int AS n FROM (
        SELECT c.event_id, c.registrants AS n FROM registrant_counts c
         WHERE c.company_id = ${s.company} AND c.event_id IN (SELECT id FROM ev)
        UNION ALL
        SELECT p.event_id, p.registrants FROM analytics_pending_registrants p
         WHERE p.company_id = ${s.company} AND p.event_id IN (SELECT id FROM ev)) x
       GROUP BY x.event_id`,
    params: s.p.values,
  };
}

// ------------------------------------------------------------------------------------------------
// Company

/**
 * The company's events that may have had a session in the window: one that joined before its
 * end and, with a start, one that joined or ended after it or is still live. A superset: the
 * activity counts decide.
 */
export function companyEventCandidatesSql(companyId: string, window: AnalyticsWindow): Statement {
  const p = new Params();
  const company = p.add(companyId, "uuid");
  const from = p.add(window.from, "timestamptz");
  const to = p.add(window.to, "timestamptz");
  return {
    sql: `SELECT e.id FROM events e
       WHERE e.company_id = ${company}
         AND (EXISTS (SELECT 1 FROM session_second_rollups r WHERE r.event_id = e.id AND (${to} IS NULL OR r.second < ${to}))
              OR EXISTS (SELECT 1 FROM analytics_pending_instants p WHERE p.event_id = e.id AND (${to} IS NULL OR p.at < ${to})))
         AND (${from} IS NULL
              OR EXISTS (SELECT 1 FROM session_second_rollups r WHERE r.event_id = e.id AND r.second >= date_trunc('second', ${from}, 'UTC'))
              OR EXISTS (SELECT 1 FROM analytics_pending_instants p WHERE p.event_id = e.id AND p.at >= date_trunc('second', ${from}, 'UTC'))
              OR EXISTS (SELECT 1 FROM sessions s WHERE s.event_id = e.id AND s.ended_at IS NULL))
       ORDER BY e.created_at, e.id`,
    params: p.values,
  };
}
