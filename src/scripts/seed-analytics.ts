import "reflect-metadata";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { DataSource, QueryRunner } from "typeorm";
import { ConfigError, loadConfig } from "../config";
import { openChangeFeed } from "../db/change-feed";
import { createContainer } from "../container";
import { migrate, openDatabase } from "../db/database";
import { BULK_DATABASE_TIMEOUTS } from "../db/pool";
import { systemClock } from "../clock";
import { createLogger } from "../logger";
import { MasterKeyRefusedError, resolveMasterKey, verifyMasterKey } from "../master-key";
import type { RequestContext } from "../request-context";

/**
 * `npm run seed:analytics -- --events N --registrants N --sessions N`: a company full of engagement
 * data, for dashboards and the analytics benchmark. Against DATABASE_URL, or the embedded database
 * under DATA_DIR when unset (the same MASTER_KEY/DATA_DIR as the server, so its signing key works).
 *
 * Per event: N registrants (company, jobTitle and country in their metadata, a few companies and
 * titles far more common than the rest), of whom 70% attend as users linked to the registration;
 * a company-wide pool of users with join tokens (their own metadata) attends every event too.
 * N sessions over seven and a half hours: a few users come back many times, often on several
 * devices at once (overlapping sessions); lengths are mostly minutes, some hours; one in a
 * thousand is still live. Rows go in with INSERT … SELECT FROM generate_series statements, and
 * the product's own triggers and fold roll them up (see seedSessions for the order that keeps
 * this linear in the number of sessions).
 *
 * Prints the company's API key (every scope) and the event ids.
 */

export interface SeedOptions {
  events: number;
  registrants: number;
  sessions: number;
  /** When "now" is for the data: sessions end before it, live ones last heartbeat just before it. */
  now?: Date;
  /** How the sessions go in (defaults below; tests make them small to cross every boundary). */
  sessionsPerStatement?: number;
  sessionsPerFold?: number;
  instantsPerFold?: number;
}

export interface SeedResult {
  companyId: string;
  companySlug: string;
  apiKey: string;
  eventIds: string[];
}

const ATTEND_RATE = 0.7;
const LIVE_RATE = 0.001;
const SPAN_HOURS = 7.5;
const COMPANIES = 200;
const JOB_TITLES = [
  "Engineer",
  "Manager",
  "Director",
  "VP",
  "Analyst",
  "Designer",
  "Sales",
  "Support",
  "Founder",
  "Student",
  "Consultant",
  "Recruiter",
];
const COUNTRIES = [
  "US",
  "DE",
  "GB",
  "IN",
  "FR",
  "BR",
  "JP",
  "CA",
  "ES",
  "IT",
  "NL",
  "SE",
  "PL",
  "AU",
  "MX",
  "NG",
  "KE",
  "SG",
  "KR",
  "ZA",
];

/** SQL for a skewed pick among n items: index 1 is the most common. */
const skewed = (n: number, power: number) => `(1 + floor(${n} * power(random(), ${power})))::int`;
const textArray = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(", ")}]`;

/** Registrant (and pool user) metadata: constants chosen here, never input. */
const PERSON_METADATA = `jsonb_build_object(
  'company', 'Company ' || ${skewed(COMPANIES, 2.5)},
  'jobTitle', (${textArray(JOB_TITLES)})[${skewed(JOB_TITLES.length, 1.6)}],
  'country', (${textArray(COUNTRIES)})[${skewed(COUNTRIES.length, 2.2)}])`;

/** Attendee k attends with probability falling as k^(1/SKEW - 1): k = 1 + floor(n × u^SKEW). */
const SKEW = 1.6;
/**
 * About this many sessions per INSERT: the triggers recompute each statement's attendees by
 * index (see enable_seqscan in seedAnalytics), so a statement costs what its sessions cost;
 * this bounds what one statement carries (one of ten million would not fit).
 */
export const SESSIONS_PER_STATEMENT = 100_000;
/** Sessions between two folds of the attendance sums and window counts, whose pending rows would pile up. */
export const SESSIONS_PER_FOLD = 500_000;
/** Join and end instants per fold of the activity rollups, once every session is in. */
export const INSTANTS_PER_FOLD = 1_000_000;

/**
 * Chunks of attendees (k in (from, to], disjoint) with the number of sessions each draws, so that
 * the chunks together draw exactly `sessions` from the same skewed distribution as one draw would:
 * a chunk's share is the probability that k falls in it. Heavy attendees come first, so the
 * first chunks hold few of them; no attendee is split across chunks.
 */
export function sessionChunks(
  attendees: number,
  sessions: number,
  perChunk = SESSIONS_PER_STATEMENT,
): { from: number; to: number; sessions: number }[] {
  if (attendees === 0 || sessions === 0) return [];
  const cdf = (k: number) => Math.pow(k / attendees, 1 / SKEW);
  const count = Math.max(1, Math.ceil(sessions / perChunk));
  const chunks: { from: number; to: number; sessions: number }[] = [];
  let from = 0;
  for (let c = 1; c <= count && from < attendees; c++) {
    // The attendee where the cumulative share reaches c / count (at least one attendee per chunk).
    const to =
      c === count
        ? attendees
        : Math.max(from + 1, Math.min(attendees, Math.round(attendees * Math.pow(c / count, SKEW))));
    const drawn = Math.round(sessions * cdf(to)) - Math.round(sessions * cdf(from));
    if (drawn > 0) chunks.push({ from, to, sessions: drawn });
    from = to;
  }
  return chunks;
}

interface EventToSeed {
  companyId: string;
  eventId: string;
  /** How progress names the event. */
  label: string;
  start: Date;
  now: Date;
  options: SeedOptions;
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/**
 * An event's sessions: attendee k (registrant users and members, shuffled) is drawn with
 * probability falling with k, so a few attend many times; joins lean towards the start.
 *
 * What keeps it linear in the sessions (each part measured growing with the table otherwise):
 * - statements of SESSIONS_PER_STATEMENT sessions, each for its own attendees (sessionChunks):
 *   the triggers recompute each attendee once, by index, from the sessions of that statement;
 * - the join and end instants the statements leave pending are set aside (seed_instants), and
 *   the attendance sums and window counts folded, every SESSIONS_PER_FOLD sessions, with
 *   VACUUM of the pending tables so that their indexes do not fill with dead rows;
 * - the instants are folded once every event is in, by slices of time (foldInstants): chunks of
 *   attendees each touch every second of the event, and a fold rewrites and re-derives a
 *   second's whole offset arrays, so folding after each chunk cost more with every chunk.
 */
async function seedSessions(db: QueryRunner, e: EventToSeed, progress: (step: string) => void): Promise<void> {
  const { companyId, eventId, start, now, options } = e;
  await db.query("TRUNCATE seed_attendees");
  await db.query(
    `INSERT INTO seed_attendees (k, user_id, registrant_id, metadata)
     SELECT row_number() OVER (ORDER BY md5(id::text)), user_id, registrant_id, metadata FROM (
       SELECT r.id, r.user_id, r.id AS registrant_id, r.metadata FROM registrants r
        WHERE r.event_id = $2 AND r.user_id IS NOT NULL
       UNION ALL
       SELECT u.id, u.id, NULL, jsonb_build_object('source', (ARRAY['newsletter', 'web', 'partner'])[${skewed(3, 1.3)}])
         FROM users u WHERE u.company_id = $1 AND u.external_id LIKE 'member-%') x`,
    [companyId, eventId],
  );
  await db.query("ANALYZE seed_attendees");
  const [{ n: attendees }] = (await db.query("SELECT count(*) AS n FROM seed_attendees")) as { n: string }[];
  const statements = sessionChunks(Number(attendees), options.sessions, options.sessionsPerStatement);
  const perFold = options.sessionsPerFold ?? SESSIONS_PER_FOLD;
  let inserted = 0;
  let sinceFold = 0;
  let started = performance.now();
  for (const [c, chunk] of statements.entries()) {
    await db.query(
      `WITH g AS (
         -- k = 1 + floor(n × u^${SKEW}) with u uniform, drawn only where it lands in (lo, hi].
         SELECT LEAST($4::bigint, GREATEST($3::bigint + 1,
                  1 + floor($6::bigint * power(lo_u + random() * (hi_u - lo_u), ${SKEW}))::bigint)) AS k,
                random() < ${LIVE_RATE} AS live, random() AS r1, random() AS r2, random() AS r3
           FROM generate_series(1, $5::int),
                LATERAL (SELECT power($3::bigint::float8 / $6::bigint, 1 / ${SKEW}::float8) AS lo_u,
                                power($4::bigint::float8 / $6::bigint, 1 / ${SKEW}::float8) AS hi_u) b
       ), t AS (
         SELECT g.k, g.live,
                date_trunc('milliseconds', CASE WHEN g.live THEN $8::timestamptz - g.r1 * interval '20 minutes'
                                                ELSE $7::timestamptz + power(g.r1, 1.3) * ${SPAN_HOURS} * interval '1 hour' END) AS joined,
                date_trunc('milliseconds', CASE WHEN g.r3 < 0.1 THEN interval '1 hour' + g.r2 * interval '2 hours'
                                                ELSE LEAST(-ln(1 - g.r2) * 15, 180) * interval '1 minute' END) AS length
           FROM g
       )
       INSERT INTO sessions (company_id, event_id, user_id, registrant_id, credential_type, role, joined_at, last_seen_at, ended_at, end_reason, metadata)
       SELECT $1, $2, a.user_id, a.registrant_id,
              CASE WHEN a.registrant_id IS NULL THEN 'JOIN_TOKEN' ELSE 'REGISTRATION_TOKEN' END,
              CASE WHEN a.k % 499 = 0 THEN 'ORGANIZER' WHEN a.k % 97 = 0 THEN 'PRESENTER' ELSE 'ATTENDEE' END,
              t.joined,
              CASE WHEN t.live THEN $8::timestamptz - interval '10 seconds' ELSE LEAST(t.joined + t.length, $8::timestamptz - interval '1 minute') END,
              CASE WHEN t.live THEN NULL ELSE LEAST(t.joined + t.length, $8::timestamptz - interval '1 minute') END,
              CASE WHEN t.live THEN NULL ELSE 'LEFT' END,
              a.metadata
         FROM t JOIN seed_attendees a ON a.k = t.k AND a.k > $3::bigint AND a.k <= $4::bigint`,
      [companyId, eventId, chunk.from, chunk.to, chunk.sessions, Number(attendees), start, now],
    );
    inserted += chunk.sessions;
    sinceFold += chunk.sessions;
    // Statistics as the table grows, for the next statement's plans: stale ones (taken when the
    // table was nearly empty) make the planner probe by event instead of by attendee.
    await db.query("ANALYZE sessions");
    if (sinceFold < perFold && c < statements.length - 1) continue;
    const folding = performance.now();
    await setInstantsAside(db);
    await db.query("SELECT analytics_fold_pending()");
    for (const table of ["analytics_pending_instants", "analytics_pending_attendance", "analytics_pending_windows"]) {
      await db.query(`VACUUM ${table}`);
    }

    progress(
      `${e.label}: ${inserted} of ${options.sessions} sessions; ${sinceFold} in ${seconds(started)}, of which the fold ${seconds(folding)}`,
    );
    sinceFold = 0;
    started = performance.now();
  }
}

/** Moves the pending join and end instants into seed_instants, for foldInstants. */
async function setInstantsAside(db: QueryRunner): Promise<void> {
  await db.query(
    "WITH taken AS (DELETE FROM analytics_pending_instants RETURNING *) INSERT INTO seed_instants SELECT * FROM taken",
  );
}

/**
 * Folds the instants set aside into the activity rollups, through the product's own fold: slice
 * by slice of time (whole minutes, about `perFold` instants each), each slice put back into
 * analytics_pending_instants as the triggers left it, then analytics_fold_pending(). Each second
 * and minute is then written once, in one fold, and the rollups are what folding every
 * statement's instants would give (the fold adds instants; the order of folds does not matter).
 */
async function foldInstants(db: QueryRunner, perFold: number, progress: (step: string) => void): Promise<void> {
  const [{ n, first, last }] = (await db.query(
    "SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM seed_instants",
  )) as { n: string; first: Date | null; last: Date | null }[];
  if (Number(n) === 0) return;
  await db.query("CREATE INDEX ON seed_instants (at)");
  const slices = Math.max(1, Math.ceil(Number(n) / perFold));
  const length = (last!.getTime() - first!.getTime()) / slices;
  // Cuts on whole minutes, so that no minute is refreshed by two folds; the last slice runs to the end.
  const cuts = Array.from(
    { length: slices - 1 },
    (_, i) => Math.floor((first!.getTime() + (i + 1) * length) / 60_000) * 60_000,
  );
  const bounds = ["-infinity", ...cuts.map((ms) => new Date(ms).toISOString()), "infinity"];
  for (let i = 0; i < slices; i++) {
    const started = performance.now();
    const moved = (await db.query(
      `WITH back AS (
         INSERT INTO analytics_pending_instants SELECT * FROM seed_instants
          WHERE at >= $1::timestamptz AND at < $2::timestamptz RETURNING 1)
       SELECT count(*) AS n FROM back`,
      [bounds[i], bounds[i + 1]],
    )) as { n: string }[];
    await db.query("SELECT analytics_fold_pending()");
    await db.query("VACUUM analytics_pending_instants");
    progress(`activity rollups: slice ${i + 1} of ${slices}, ${moved[0].n} instants folded in ${seconds(started)}`);
  }
}

export async function seedAnalytics(
  dataSource: DataSource,
  companies: ReturnType<typeof createContainer>["companies"],
  options: SeedOptions,
  progress: (step: string) => void = () => undefined,
): Promise<SeedResult> {
  const now = options.now ?? new Date();
  const start = new Date(now.getTime() - 8 * 3600_000);
  const log = createLogger("warn");
  const ctx = { log } as unknown as RequestContext;
  const suffix = randomBytes(3).toString("hex");
  // Through CompanyService: the company, its first signing key and an API key with every scope, stored hashed.
  const created = await companies.createCompany(ctx, { name: `Seeded Co ${suffix}`, slug: `seeded-${suffix}` });
  const companyId = created.company.id;
  // One connection from here on (embedded PGlite has only one): the attendees and the instants
  // wait in its temporary tables.
  const db = dataSource.createQueryRunner();
  await db.connect();
  // Room for the instants set aside (settable only before the session's first temporary table).
  const [{ fresh }] = (await db.query("SELECT pg_my_temp_schema() = 0 AS fresh")) as { fresh: boolean }[];
  if (fresh) await db.query("SET temp_buffers = '256MB'");
  // The triggers' statements on sessions then probe the index attendee by attendee, as for the
  // few rows a writer changes in production, whatever the size of the statement; with scans
  // allowed, a statement of thousands of sessions makes the planner guess thousands of attendees
  // (a tenth of its rows) and read and sort every session of the table, at a cost that grows with
  // the table. A plan changes no result: the rows are what the triggers write with any plan.
  await db.query("SET enable_seqscan = off");
  await db.query("DROP TABLE IF EXISTS seed_attendees, seed_instants");
  await db.query(
    "CREATE TEMP TABLE seed_attendees (k bigint PRIMARY KEY, user_id uuid, registrant_id uuid, metadata jsonb)",
  );
  // The pending instants' own columns, whatever they are: they go back into analytics_pending_instants as they came.
  await db.query("CREATE TEMP TABLE seed_instants (LIKE analytics_pending_instants)");

  const eventRows = (await db.query(
    `INSERT INTO events (company_id, name, slug, privacy, starts_at, ends_at, max_sessions_per_user)
     SELECT $1, 'Seeded event ' || i, 'seeded-event-' || i, 'PRIVATE', $2::timestamptz, $3::timestamptz, 5
       FROM generate_series(1, $4::int) AS i
     RETURNING id`,
    [companyId, start, new Date(now.getTime() + 3600_000), options.events],
  )) as { id: string }[];
  const eventIds = eventRows.map((r) => r.id);

  // A company-wide pool of users who come with join tokens: they take seats.
  const pool = Math.max(1, Math.ceil(options.registrants * 0.2));
  await db.query(
    `INSERT INTO users (company_id, external_id, email, email_normalized, name, metadata, is_guest)
     SELECT $1, 'member-' || i, 'member' || i || '@example.com', 'member' || i || '@example.com', 'Member ' || i,
            ${PERSON_METADATA} || jsonb_build_object('plan', (ARRAY['free', 'pro', 'enterprise'])[${skewed(3, 1.5)}]), false
       FROM generate_series(1, $2::int) AS i`,
    [companyId, pool],
  );
  await db.query(`UPDATE companies SET seats_used = seats_used + $2 WHERE id = $1`, [companyId, pool]);

  progress(`company ${created.company.slug}, ${options.events} event(s), ${pool} members`);
  for (const [j, eventId] of eventIds.entries()) {
    // Registrants; those who attend join as a user of their own, linked to the registration.
    await db.query(
      `WITH r AS (
         SELECT i, 'e' || $3::int || '-r' || i || '@example.com' AS email, ${PERSON_METADATA} AS metadata,
                CASE WHEN random() < ${ATTEND_RATE} THEN gen_random_uuid() END AS user_id
           FROM generate_series(1, $4::int) AS i
       ), u AS (
         INSERT INTO users (id, company_id, email, email_normalized, name, metadata, is_guest)
         SELECT user_id, $1, email, email, 'Registrant ' || i,
                CASE WHEN random() < 0.2 THEN jsonb_build_object('plan', 'pro') ELSE '{}'::jsonb END, true
           FROM r WHERE user_id IS NOT NULL
       )
       INSERT INTO registrants (company_id, event_id, user_id, name, email, email_normalized, metadata, created_at)
       SELECT $1, $2, user_id, 'Registrant ' || i, email, email, metadata, $5::timestamptz - interval '14 days' + i * interval '10 seconds'
         FROM r`,
      [companyId, eventId, j + 1, options.registrants, start],
    );
    // Statistics before the sessions: their rollup probes registrants and users by index, pair by pair.
    await db.query("ANALYZE registrants");
    await db.query("ANALYZE users");
    progress(`event ${j + 1}: ${options.registrants} registrants`);
    await seedSessions(db, { companyId, eventId, label: `event ${j + 1}`, start, now, options }, progress);
  }
  await foldInstants(db, options.instantsPerFold ?? INSTANTS_PER_FOLD, progress);
  await db.query("DROP TABLE seed_attendees, seed_instants");
  await db.query("RESET enable_seqscan");
  // Fresh statistics and visibility maps: the analytics reads are index-only where they can be.
  for (const table of [
    "registrants",
    "users",
    "sessions",
    "attendance_rollups",
    "session_second_rollups",
    "session_minute_rollups",
    "session_hour_rollups",
    "analytics_pending_instants",
    "attendance_event_rollups",
    "attendance_value_rollups",
    "analytics_pending_attendance",
    "attendance_segments",
    "attendance_window_minutes",
    "attendance_gap_cells",
    "analytics_pending_windows",
  ]) {
    await db.query(`VACUUM ANALYZE ${table}`);
  }
  await db.release();
  progress("vacuumed and analysed");
  return { companyId, companySlug: created.company.slug, apiKey: created.secret, eventIds };
}

/** A mistake in the command line: shown as one line, without a stack. */
class UsageError extends Error {}

function parseArgs(argv: string[]): SeedOptions {
  const options: Record<string, number> = { events: 1, registrants: 1000, sessions: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--(events|registrants|sessions)(?:=(.*))?$/.exec(argv[i]);
    if (!match)
      throw new UsageError(
        `Unknown argument ${argv[i]}. Usage: seed:analytics -- --events N --registrants N --sessions N`,
      );
    const raw = match[2] ?? argv[++i];
    const value = Number(raw);
    if (!Number.isInteger(value) || value < (match[1] === "events" ? 1 : 0) || value > 100_000_000) {
      throw new UsageError(`--${match[1]} must be a whole number (got ${raw}).`);
    }
    options[match[1]] = value;
  }
  return options as unknown as SeedOptions;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const log = createLogger("warn");
  const db = await openDatabase(
    config.databaseUrl
      ? { kind: "postgres", url: config.databaseUrl }
      : { kind: "pglite", dataDir: path.join(config.dataDir, "pgdata") },
    // Inserting a million sessions takes single statements of minutes.
    { timeouts: BULK_DATABASE_TIMEOUTS },
  );
  // Only announces here (it creates the company and its key); nothing it caches matters.
  const changes = openChangeFeed(db.dataSource, log);
  try {
    await migrate(db.dataSource);
    // The company it makes gets a signing key: under the database's master key, not another.
    const masterKey = resolveMasterKey(config);
    await verifyMasterKey(masterKey, db.dataSource, systemClock);
    const services = createContainer({
      changes,
      config,
      masterKey: masterKey.key,
      dataSource: db.dataSource,
      clock: systemClock,
      log,
    });
    const started = Date.now();
    const result = await seedAnalytics(db.dataSource, services.companies, options, (step) =>
      process.stderr.write(`  ${((Date.now() - started) / 1000).toFixed(1)} s: ${step}\n`),
    );
    const took = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      [
        `Seeded ${options.events} event(s), ${options.registrants} registrants and ${options.sessions} sessions each, for company ${result.companySlug} in ${took} s.`,
        `API key (every scope; shown once): ${result.apiKey}`,
        "Event ids:",
        ...result.eventIds.map((id) => `  ${id}`),
        "",
      ].join("\n"),
    );
  } finally {
    await changes.close();
    await db.close();
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(
      `seed:analytics failed: ${error instanceof ConfigError || error instanceof UsageError || error instanceof MasterKeyRefusedError ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
