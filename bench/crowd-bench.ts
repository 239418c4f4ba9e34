/**
 * `npm run bench:crowd`: a crowd at the door, through GraphQL over HTTP on a fresh database.
 *
 * Round 1: BENCH_CROWD_USERS distinct users (default 20,000) join one event, 64 clients at a
 * time, while everyone already in heartbeats. Time is compressed: each live session heartbeats
 * about once a second (the embed page does every 30 s), sent by 16 connections that cycle through
 * the live sessions, never sooner than a second after that session's last heartbeat, each sending
 * the token its last heartbeat returned. Prints the time to admit everyone, joins/s, join latency
 * p50/p99, heartbeats sent and their p99, and errors. Then checks: no errors, everyone admitted,
 * as many live sessions (event.sessions(active: true) totalCount), and eventAnalytics' attendees
 * and peakConcurrentSessions equal to the crowd (analytics fold the pending join instants once a
 * second on every node: polled for up to 15 s, never allowed above the crowd).
 * Round 2: the same users (now returning) join a new event with capacity half the crowd: exactly
 * that many admitted, every other answer EVENT_FULL.
 * Round 3: a new company with seatLimit three quarters of the crowd: as many new users join its
 * event; exactly seatLimit users are created (company.seatsUsed and, once Admit has stopped, a
 * SQL count), every other answer SEAT_LIMIT_REACHED.
 * The live sessions of every round are counted again in SQL at the end. Join tokens are minted
 * ahead and not timed. Every check prints PASS or FAIL; any FAIL makes the exit code 1.
 *
 * Environment: BENCH_CROWD_USERS (default 20000; 2000 makes a quick run), BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres: a server on which a fresh database is
 * made and dropped), BENCH_DB=pglite (Admit on embedded PGlite in a temporary DATA_DIR, removed
 * after; a report, with no target).
 */
import { admitCluster, databaseKind, freePort, freshDatabase, startAdmit, stopProcess } from "./harness";
import { Checks, checkRoundsInSql, HEARTBEAT_CLIENTS, JOIN_CLIENTS, runCrowdRounds, withSql } from "./crowd";

const USERS = Number(process.env.BENCH_CROWD_USERS ?? 20_000);

async function main(): Promise<void> {
  const kind = databaseKind();
  const database = await freshDatabase(kind, "crowd");
  const port = await freePort();
  const cluster = admitCluster(database, port);
  const node = await startAdmit(cluster, port);
  const url = `http://127.0.0.1:${port}/graphql`;
  const checks = new Checks();
  let stopped = false;
  try {
    console.log(
      `A crowd of ${USERS} on Admit with ${database.label}; ${JOIN_CLIENTS} join clients, heartbeats from ${HEARTBEAT_CLIENTS} connections, each live session about once a second\n`,
    );
    const rounds = await runCrowdRounds(url, cluster.adminKey, USERS, checks);

    await stopProcess(node);
    stopped = true;
    console.log("\nIn SQL, once Admit has stopped");
    await withSql(database, (sql) => checkRoundsInSql(checks, sql, rounds));
  } finally {
    if (!stopped) await stopProcess(node);
    await database.drop();
  }
  console.log(
    `\n${checks.failed === 0 ? "PASS" : "FAIL"}: ${checks.count - checks.failed} of ${checks.count} checks passed${kind === "pglite" ? " (PGlite: a report, no target)" : ""}`,
  );
  if (checks.failed) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
