/**
 * `npm run bench:webhook-outbox`: what the webhook outbox adds to a join's transaction, in
 * PostgreSQL alone. On a fresh database, one connection runs the join's writes (BEGIN; INSERT
 * users; INSERT sessions; COMMIT) for two companies in alternating blocks: one without webhook
 * endpoints (the triggers read webhook_subscriptions and write nothing) and one with an endpoint
 * for session.started and user.created (each join then also writes two outbox rows and sends a
 * notification at COMMIT). Alternating blocks on one connection keep a busy machine's drift out of
 * the comparison; the figure is the median block's time per join. No delivery worker runs.
 * BENCH_DATABASE_URL as for npm run bench; BENCH_JOINS (default 4000) joins per company.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Client } from "pg";
import { openDatabase, migrate } from "../src/db/database";
import { freshDatabase } from "./harness";

const JOINS = Number(process.env.BENCH_JOINS ?? 4000);
const BLOCK = 200;

async function main(): Promise<void> {
  const database = await freshDatabase("postgres", "outbox");
  try {
    const db = await openDatabase({ kind: "postgres", url: database.url! });
    await migrate(db.dataSource);
    await db.close();
    const client = new Client({ connectionString: database.url! });
    await client.connect();
    const company = async (name: string) => {
      const [row] = (
        await client.query("INSERT INTO companies (name, slug) VALUES ($1, $2) RETURNING id", [
          name,
          `${name}-${randomBytes(3).toString("hex")}`,
        ])
      ).rows;
      const [event] = (
        await client.query("INSERT INTO events (company_id, name, slug) VALUES ($1, 'e', 'e') RETURNING id", [row.id])
      ).rows;
      return { id: row.id as string, event: event.id as string };
    };
    const quiet = await company("quiet");
    const hooked = await company("hooked");
    await client.query(
      `INSERT INTO webhook_endpoints (company_id, url, event_types, secret_encrypted, updated_at)
       VALUES ($1, 'https://example.com/hook', ARRAY['session.started', 'user.created'], 'x', now())`,
      [hooked.id],
    );
    const joinOnce = async (target: { id: string; event: string }) => {
      const userId = randomUUID();
      await client.query("BEGIN");
      await client.query({
        name: "u",
        text: "INSERT INTO users (id, company_id, external_id, name) VALUES ($1, $2, $3, 'Joiner')",
        values: [userId, target.id, userId],
      });
      await client.query({
        name: "s",
        text: `INSERT INTO sessions (company_id, event_id, user_id, credential_type, role, joined_at, last_seen_at, metadata)
               VALUES ($1, $2, $3, 'JOIN_TOKEN', 'ATTENDEE', now(), now(), '{}')`,
        values: [target.id, target.event, userId],
      });
      await client.query("COMMIT");
    };
    const times: Record<string, number[]> = { quiet: [], hooked: [] };
    for (let done = 0; done < JOINS; done += BLOCK) {
      for (const [name, target] of [
        ["quiet", quiet],
        ["hooked", hooked],
      ] as const) {
        const started = process.hrtime.bigint();
        for (let i = 0; i < BLOCK; i++) await joinOnce(target);
        times[name].push(Number(process.hrtime.bigint() - started) / 1e6 / BLOCK);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const outbox = (await client.query("SELECT count(*)::int AS n FROM webhook_messages")).rows[0].n;
    await client.end();
    const q = median(times.quiet);
    const h = median(times.hooked);
    process.stdout.write(
      `${JOINS} joins per company, blocks of ${BLOCK}, one connection, PostgreSQL (${database.label})\n` +
        `without an endpoint: ${q.toFixed(3)} ms per join (median block)\n` +
        `with an endpoint for session.started and user.created: ${h.toFixed(3)} ms per join (+${(h - q).toFixed(3)} ms, ${(((h - q) / q) * 100).toFixed(0)}%); outbox rows written: ${outbox}\n`,
    );
  } finally {
    await database.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
