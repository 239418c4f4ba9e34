/**
 * A node lost mid-crowd: a crowd of joins, login links and registrants goes through the
 * balancer of a local cluster for a while; a third of the way in one node is SIGKILLed, and
 * started again once the balancer has marked it down. The figures say what the crowd saw (how
 * many requests failed, and when), what HAProxy saw (what was in flight on the lost node, when it
 * marked it down and up again, what the node took once back), and what PostgreSQL holds after
 * (every invariant, counted exactly). Used by the cluster test and `npm run bench:cluster`.
 */
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import type { LocalCluster } from "../src/scripts/local-cluster/cluster";
import type { LoggedRequest, ServerStats } from "../src/scripts/local-cluster/haproxy";
import { Answer, JOIN, joinOutcome, makeCompany, Poster } from "./crowd";
import { parallel, sleep } from "./harness";

export interface LostNodeOptions {
  cluster: LocalCluster;
  adminKey: string;
  databaseUrl: string;
  durationMs: number;
  /** When the node is killed, from the crowd's start. */
  killAtMs: number;
  /** Concurrent clients (default 24). */
  clients?: number;
  /** Which node (index) is lost (default the second). */
  victim?: number;
  log?: (line: string) => void;
}

type Kind = "seat" | "door" | "link" | "registrant";

interface Outcome {
  kind: Kind;
  /** ms from the crowd's start to when the request was sent. */
  at: number;
  /** "ok", an expected refusal's code, or what went wrong. */
  code: string;
  error: boolean;
}

export interface LostNodeFigures {
  seconds: number;
  requests: number;
  byKind: Record<Kind, { sent: number; ok: number; refused: number; errors: number }>;
  errors: { kind: Kind; at: number; code: string }[];
  killAt: number;
  /** ms after the kill at which HAProxy showed the node DOWN. */
  downAfter: number;
  /** ms after the kill at which HAProxy showed the restarted node UP again; null: not seen. */
  upAfter: number | null;
  /** Requests the crowd had sent and not had answered at the kill (on every node). */
  inFlightAtKill: number;
  /**
   * Requests HAProxy's log shows ending without a normal answer, on any node and on the lost
   * one: the lost node's are the requests in flight on it when it died (sent to it, no answer
   * from it; HAProxy answered them 502).
   */
  failedInLog: number;
  failedOnVictim: number;
  /** The failed requests of the log by node, status and termination state. */
  failedKinds: Record<string, number>;
  errorsAfterKill: number;
  errorsAfterDown: number;
  /** Requests the restarted node served, and whether during the crowd (else in a short tail after it). */
  servedAfterRejoin: number;
  rejoinedDuringCrowd: boolean;
  /** Exact counts in PostgreSQL after the crowd: each must equal its expected value. */
  invariants: { name: string; actual: number; expected: number }[];
}

/** A company with a seat limit whose event has no capacity: users beyond the limit are refused. */
const SEATS = { users: 80, seatLimit: 50 };
/** An event with a capacity, of a company without a seat limit. */
const DOOR = { users: 60, capacity: 30 };
const LINK_MEMBERS = 20;
const LINKS_PER_SECOND = 8;
const REGISTRANTS = 40;
/** The crowd goes on past its duration until every user, registrant and link has been tried: at most this many times the duration. */
const MAX_OVERRUN = 4;

/** Runs the crowd (setup untimed), kills and restarts the node, and counts. */
export async function lostNodeCrowd(options: LostNodeOptions): Promise<LostNodeFigures> {
  const { cluster, durationMs, killAtMs } = options;
  const log = options.log ?? (() => undefined);
  const url = `${cluster.balancerUrl}/graphql`;
  const victim = cluster.nodes[options.victim ?? 1];
  const clients = options.clients ?? 24;

  log("setting up: companies, events, join tokens, registrants, login links…");
  const seats = await makeCompany(url, options.adminKey, "Seats Co", SEATS.seatLimit);
  const hallEvent = await seats.createEvent("hall");
  const seatTokens = await seats.mint("seat", SEATS.users);
  const members = await makeCompany(url, options.adminKey, "Members Co", null);
  const doorEvent = await members.createEvent("door", DOOR.capacity);
  const doorTokens = await members.mint("door", DOOR.users);
  const linkEvent = await members.createEvent("links");
  const talkEvent = await members.createEvent("talk");
  // Login links name users that exist: each member joins once first.
  const memberTokens = await members.mint("member", LINK_MEMBERS);
  await parallel(memberTokens, 8, (credential) => members.query(JOIN, { input: { event: "links", credential } }));
  const links = await members.loginLinks(
    linkEvent,
    Array.from({ length: Math.ceil((durationMs / 1000) * LINKS_PER_SECOND) }, (_, i) => `member-${i % LINK_MEMBERS}`),
  );
  const registrations = await members.register(talkEvent, "talk", REGISTRANTS);

  // Each request on a connection of its own: HAProxy then answers one lost with its node 502 and
  // logs it with the node's name. A request lost on a kept-alive connection that already carried
  // one is closed on silently instead (so the client may retry it, as after a keep-alive race)
  // and not logged: what failed where could not be told.
  const poster = new Poster(url, clients, false);
  const outcomes: Outcome[] = [];
  let inFlight = 0;
  const send = async (
    kind: Kind,
    request: Promise<Answer>,
    classify: (answer: Answer) => { code: string; error: boolean },
  ) => {
    inFlight++;
    const answer = await request;
    inFlight--;
    outcomes.push({ kind, at: answer.at - started, ...classify(answer) });
  };
  const joinClass = (expected: string[]) => (answer: Answer) => {
    const outcome = joinOutcome(answer.status, answer.text);
    const code = "sessionToken" in outcome ? "ok" : outcome.code;
    return { code, error: code !== "ok" && !expected.includes(code) };
  };
  const join = (kind: Kind, event: string, credential: string, expected: string[]) =>
    send(
      kind,
      poster.post(JSON.stringify({ query: JOIN, variables: { input: { event, credential } } })),
      joinClass(expected),
    );
  const okLinks: string[] = [];
  const next = { link: 0, seat: 0, door: 0, registrant: 0, turn: 0 };
  const everyoneTried = () =>
    next.link >= links.length &&
    next.seat >= seatTokens.length &&
    next.door >= doorTokens.length &&
    next.registrant >= registrations.length;
  const client = async () => {
    for (;;) {
      const elapsed = performance.now() - started;
      if (elapsed >= durationMs * MAX_OVERRUN || (elapsed >= durationMs && everyoneTried())) return;
      // The links are spread over the crowd's duration; each is presented exactly once.
      if (next.link < links.length && next.link * (durationMs / links.length) <= elapsed) {
        const link = links[next.link++];
        await send("link", poster.get(`/login/${link.code}`), (answer) => {
          if (answer.status === 303) okLinks.push(link.id);
          if (answer.status === 303) return { code: "ok", error: false };
          return {
            code:
              answer.status === 410
                ? "LINK_GONE"
                : answer.status === 0
                  ? `no answer (${answer.text})`
                  : `HTTP ${answer.status}`,
            error: true,
          };
        });
        continue;
      }
      const turn = next.turn++ % 3;
      if (turn === 0) await join("seat", "hall", seatTokens[next.seat++ % seatTokens.length], ["SEAT_LIMIT_REACHED"]);
      else if (turn === 1) await join("door", "door", doorTokens[next.door++ % doorTokens.length], ["EVENT_FULL"]);
      else await join("registrant", "talk", registrations[next.registrant++ % registrations.length], []);
    }
  };

  const victimOf = (servers: ServerStats[]) => servers.find((server) => server.name === victim.name)!;
  let killAt = 0;
  let downAt = 0;
  let upAt: number | null = null;
  let servedAtUp = 0;
  let inFlightAtKill = 0;
  const started = performance.now();
  const startedAtEpoch = Date.now();
  const losing = (async () => {
    await sleep(killAtMs);
    inFlightAtKill = inFlight;
    await victim.kill();
    killAt = performance.now() - started;
    log(`killed ${victim.name} (SIGKILL) at ${(killAt / 1000).toFixed(1)} s`);
    await cluster.haproxy.waitFor(
      (servers) => victimOf(servers).status.startsWith("DOWN"),
      30_000,
      `${victim.name} DOWN`,
    );
    downAt = performance.now() - started;
    log(`HAProxy marked it DOWN ${(downAt - killAt).toFixed(0)} ms after the kill; starting it again`);
    await victim.start();
    const up = await cluster.haproxy.waitFor(
      (servers) => victimOf(servers).status === "UP",
      60_000,
      `${victim.name} UP again`,
    );
    upAt = performance.now() - started;
    servedAtUp = victimOf(up).total;
    log(`${victim.name} is UP again ${((upAt - killAt) / 1000).toFixed(1)} s after the kill`);
  })();
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  const crowdRequests = outcomes.length;
  await losing;
  let servedAfterRejoin = victimOf(await cluster.haproxy.stats()).total - servedAtUp;
  const rejoinedDuringCrowd = servedAfterRejoin > 0;
  if (!rejoinedDuringCrowd) {
    // Back only after the crowd: a short tail shows whether it takes traffic.
    await parallel(
      Array.from({ length: 6 * cluster.nodes.length }, (_, i) => i),
      3,
      (i) => join("registrant", "talk", registrations[i % registrations.length], []),
    );
    servedAfterRejoin = victimOf(await cluster.haproxy.stats()).total - servedAtUp;
  }
  poster.close();

  // HAProxy's own account: what it was serving on the node when the node died, and what ended badly.
  const logged = cluster.haproxy
    .requests()
    .filter((request) => request.server !== "<STATS>" && request.at >= startedAtEpoch);
  const onVictim = logged.filter((request) => request.server === victim.name);
  const failed = (request: LoggedRequest) =>
    request.termination[0] !== "-" || request.status < 0 || request.status >= 500;
  const byKind = Object.fromEntries(
    (["seat", "door", "link", "registrant"] as Kind[]).map((kind) => {
      const mine = outcomes.filter((o) => o.kind === kind);
      return [
        kind,
        {
          sent: mine.length,
          ok: mine.filter((o) => o.code === "ok").length,
          refused: mine.filter((o) => o.code !== "ok" && !o.error).length,
          errors: mine.filter((o) => o.error).length,
        },
      ];
    }),
  ) as LostNodeFigures["byKind"];
  const errors = outcomes.filter((o) => o.error).map(({ kind, at, code }) => ({ kind, at, code }));

  const invariants = await countInvariants(options.databaseUrl, {
    seatsCompany: seats.id,
    hallEvent,
    doorEvent,
    linkEvent,
    linkIds: links.map((link) => link.id),
    okLinks,
    talkEvent,
    linkErrors: byKind.link.errors,
  });
  return {
    seconds,
    requests: crowdRequests,
    byKind,
    errors,
    killAt,
    downAfter: downAt - killAt,
    upAfter: upAt === null ? null : upAt - killAt,
    inFlightAtKill,
    failedInLog: logged.filter(failed).length,
    failedOnVictim: onVictim.filter(failed).length,
    failedKinds: logged.filter(failed).reduce<Record<string, number>>((kinds, r) => {
      const key = `${r.server} ${r.status} ${r.termination}`;
      kinds[key] = (kinds[key] ?? 0) + 1;
      return kinds;
    }, {}),
    errorsAfterKill: errors.filter((e) => e.at >= killAt).length,
    errorsAfterDown: errors.filter((e) => e.at >= downAt).length,
    servedAfterRejoin,
    rejoinedDuringCrowd,
    invariants,
  };
}

interface CrowdIds {
  seatsCompany: string;
  hallEvent: string;
  doorEvent: string;
  linkEvent: string;
  linkIds: string[];
  okLinks: string[];
  talkEvent: string;
  linkErrors: number;
}

/** Each invariant as a count that must equal its expected value. */
async function countInvariants(databaseUrl: string, ids: CrowdIds): Promise<LostNodeFigures["invariants"]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const count = async (text: string, params: unknown[]) => Number((await client.query(text, params)).rows[0].n);
  const live = (event: string) =>
    count("SELECT count(*) AS n FROM sessions WHERE event_id = $1 AND ended_at IS NULL", [event]);
  const doubled = (event: string) =>
    count(
      "SELECT count(*) AS n FROM (SELECT user_id FROM sessions WHERE event_id = $1 AND ended_at IS NULL GROUP BY user_id HAVING count(*) > 1) AS t",
      [event],
    );
  try {
    const usedLinks = await count("SELECT count(*) AS n FROM login_links WHERE id = ANY($1) AND used_at IS NOT NULL", [
      ids.linkIds,
    ]);
    return [
      {
        name: "seats: users of the company (its seat limit)",
        actual: await count("SELECT count(*) AS n FROM users WHERE company_id = $1", [ids.seatsCompany]),
        expected: SEATS.seatLimit,
      },
      {
        name: "seats: live sessions (one per seated user)",
        actual: await live(ids.hallEvent),
        expected: SEATS.seatLimit,
      },
      { name: "door: live sessions (its capacity)", actual: await live(ids.doorEvent), expected: DOOR.capacity },
      {
        name: "seats, door, links: users with more than one live session",
        actual: (await doubled(ids.hallEvent)) + (await doubled(ids.doorEvent)) + (await doubled(ids.linkEvent)),
        expected: 0,
      },
      {
        name: "links: links that opened more than one session",
        actual: await count(
          "SELECT count(*) AS n FROM (SELECT credential_jti FROM sessions WHERE event_id = $1 AND credential_type = 'LOGIN_LINK' GROUP BY credential_jti HAVING count(*) > 1) AS t",
          [ids.linkEvent],
        ),
        expected: 0,
      },
      {
        name: "links: answered 303 but not recorded used",
        actual: await count("SELECT count(*) AS n FROM login_links WHERE id = ANY($1) AND used_at IS NULL", [
          ids.okLinks,
        ]),
        expected: 0,
      },
      {
        name: "links: used without a 303, beyond the link requests that failed",
        actual: Math.max(0, usedLinks - ids.okLinks.length - ids.linkErrors),
        expected: 0,
      },
      {
        name: "talk: registrants without exactly one live session",
        actual: await count(
          "SELECT count(*) AS n FROM registrants r WHERE r.event_id = $1 AND (SELECT count(*) FROM sessions s WHERE s.registrant_id = r.id AND s.ended_at IS NULL) <> 1",
          [ids.talkEvent],
        ),
        expected: 0,
      },
    ];
  } finally {
    await client.end();
  }
}

/** The figures, as the test and the benchmark print them. */
export function describeLostNode(f: LostNodeFigures): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const kinds = (Object.entries(f.byKind) as [Kind, LostNodeFigures["byKind"][Kind]][])
    .map(([kind, k]) => `${kind} ${k.sent} (${k.ok} ok, ${k.refused} refused as expected, ${k.errors} failed)`)
    .join("; ");
  return [
    `${f.requests} requests in ${f.seconds.toFixed(1)} s through HAProxy: ${(f.requests / f.seconds).toFixed(0)}/s — ${kinds}`,
    `node killed at ${s(f.killAt)}: ${f.inFlightAtKill} requests in flight in the crowd; HAProxy's log shows ${f.failedInLog} requests without an answer from a node, ${f.failedOnVictim} of them on that one (${
      Object.entries(f.failedKinds)
        .map(([k, n]) => `${k} × ${n}`)
        .join(", ") || "none"
    })`,
    `marked DOWN ${f.downAfter.toFixed(0)} ms after the kill; UP again ${f.upAfter === null ? "never" : s(f.upAfter)} after it; served ${f.servedAfterRejoin} requests once back${f.rejoinedDuringCrowd ? " (during the crowd)" : " (in a tail after the crowd)"}`,
    `failed requests: ${f.errors.length} (${f.errorsAfterKill} sent after the kill, ${f.errorsAfterDown} after DOWN)${f.errors.length ? `: ${[...new Set(f.errors.map((e) => `${e.kind} ${e.code}`))].join(", ")}` : ""}`,
    ...f.invariants.map(
      (i) =>
        `${i.actual === i.expected ? "exact" : "WRONG"}  ${i.name}: ${i.actual}${i.actual === i.expected ? "" : ` (expected ${i.expected})`}`,
    ),
  ].join("\n");
}
