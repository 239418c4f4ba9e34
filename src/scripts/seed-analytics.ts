import "reflect-metadata";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { DataSource } from "typeorm";
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
 * thousand is still live. Rows go in with a few INSERT … SELECT FROM generate_series statements;
 * the analytics triggers roll each statement up as a whole.
 *
 * Prints the company's API key (every scope) and the event ids.
 */

export interface SeedOptions {
  events: number;
  registrants: number;
  sessions: number;
  /** When "now" is for the data: sessions end before it, live ones last heartbeat just before it. */
  now?: Date;
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
/** About this many sessions per statement when seeding: one statement of ten million would not fit. */
export const SESSIONS_PER_CHUNK = 500_000;

/**
 * Chunks of attendees (k in (from, to], disjoint) with the number of sessions each draws, so that
 * the chunks together draw exactly `sessions` from the same skewed distribution as one draw would:
 * a chunk's share is the probability that k falls in it. Heavy attendees come first, so the
 * first chunks hold few of them; no attendee is split across chunks.
 */
export function sessionChunks(attendees: number, sessions: number): { from: number; to: number; sessions: number }[] {
  if (attendees === 0 || sessions === 0) return [];
  const cdf = (k: number) => Math.pow(k / attendees, 1 / SKEW);
  const count = Math.max(1, Math.ceil(sessions / SESSIONS_PER_CHUNK));
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

  const eventRows: { id: string }[] = await dataSource.query(
    `INSERT INTO events (company_id, name, slug, privacy, starts_at, ends_at, max_sessions_per_user)
     SELECT $1, 'Seeded event ' || i, 'seeded-event-' || i, 'PRIVATE', $2::timestamptz, $3::timestamptz, 5
       FROM generate_series(1, $4::int) AS i
     RETURNING id`,
    [companyId, start, new Date(now.getTime() + 3600_000), options.events],
  );
  const eventIds = eventRows.map((r) => r.id);

  // A company-wide pool of users who come with join tokens: they take seats.
  const pool = Math.max(1, Math.ceil(options.registrants * 0.2));
  await dataSource.query(
    `INSERT INTO users (company_id, external_id, email, email_normalized, name, metadata, is_guest)
     SELECT $1, 'member-' || i, 'member' || i || '@example.com', 'member' || i || '@example.com', 'Member ' || i,
            ${PERSON_METADATA} || jsonb_build_object('plan', (ARRAY['free', 'pro', 'enterprise'])[${skewed(3, 1.5)}]), false
       FROM generate_series(1, $2::int) AS i`,
    [companyId, pool],
  );
  await dataSource.query(`UPDATE companies SET seats_used = seats_used + $2 WHERE id = $1`, [companyId, pool]);

  progress(`company ${created.company.slug}, ${options.events} event(s), ${pool} members`);
  for (const [j, eventId] of eventIds.entries()) {
    // Registrants; those who attend join as a user of their own, linked to the registration.
    await dataSource.query(
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
    await dataSource.query("ANALYZE registrants");
    await dataSource.query("ANALYZE users");
    progress(`event ${j + 1}: ${options.registrants} registrants`);
    // Sessions: attendee k (registrant users and members, shuffled) is drawn with probability
    // falling with k, so a few attend many times; joins lean towards the start. They go in by
    // chunks of attendees (see sessionChunks), each chunk's sessions in one statement whose
    // instants are then folded: the triggers recompute each attendee once, from their sessions
    // in that one chunk, and no statement carries more than a chunk.
    const [{ n: attendees }] = await dataSource.query<{ n: string }[]>(
      `SELECT (SELECT count(*) FROM registrants WHERE event_id = $2 AND user_id IS NOT NULL)
            + (SELECT count(*) FROM users WHERE company_id = $1 AND external_id LIKE 'member-%') AS n`,
      [companyId, eventId],
    );
    const chunks = sessionChunks(Number(attendees), options.sessions);
    for (const [c, chunk] of chunks.entries()) {
      await dataSource.query(
        `WITH a AS (
           SELECT row_number() OVER (ORDER BY md5(id::text)) AS k, user_id, registrant_id, metadata FROM (
             SELECT r.id, r.user_id, r.id AS registrant_id, r.metadata FROM registrants r
              WHERE r.event_id = $2 AND r.user_id IS NOT NULL
             UNION ALL
             SELECT u.id, u.id, NULL, jsonb_build_object('source', (ARRAY['newsletter', 'web', 'partner'])[${skewed(3, 1.3)}])
               FROM users u WHERE u.company_id = $1 AND u.external_id LIKE 'member-%') x
         ), a_chunk AS (SELECT * FROM a WHERE k > $3::bigint AND k <= $4::bigint),
         g AS (
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
           FROM t JOIN a_chunk a ON a.k = t.k`,
        [companyId, eventId, chunk.from, chunk.to, chunk.sessions, Number(attendees), start, now],
      );
      await dataSource.query("SELECT analytics_fold_pending()");
      if (chunks.length > 1) progress(`event ${j + 1}: chunk ${c + 1} of ${chunks.length}, ${chunk.sessions} sessions`);
    }
    progress(`event ${j + 1}: ${options.sessions} sessions, rolled up`);
  }
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
    await dataSource.query(`VACUUM ANALYZE ${table}`);
  }
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
