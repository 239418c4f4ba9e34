import { createHash } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import { announce, ChangeFeed } from "../../db/change-feed";
import { queryRows } from "../../db/raw";

/**
 * How far back users' cut-offs (revokeUserTokens) are kept. A cut-off refuses only tokens issued
 * before it, so one older than this matters only to a token issued more than this long ago: no
 * company may mint an expiring token for longer (maxTokenTtlSeconds is at most a year), so such a
 * token never expires, and it is checked in the database instead.
 */
const CUTOFF_HORIZON_MS = 365 * 24 * 3600 * 1000;
/** How often the horizon moves on (dropping the cut-offs that fell behind it). */
const PRUNE_EVERY_MS = 24 * 3600 * 1000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * 32 bits of the MD5 of "<company id> <key>" (its UTF-8 bytes), as FINGERPRINT_OF computes them
 * in PostgreSQL, as a signed integer.
 */
export function fingerprint(companyId: string, key: string): number {
  return createHash("md5").update(`${companyId.toLowerCase()} ${key}`, "utf8").digest().readInt32BE(0);
}

/** `fingerprint(company_id, column)` in SQL: the same bytes whatever the database's encoding. */
const FINGERPRINT_OF = (column: string) =>
  `('x' || left(md5(convert_to(company_id::text || ' ' || ${column}, 'UTF8')), 8))::bit(32)::int`;

/** A sorted array's membership, by bisection. */
function sortedHas(sorted: Int32Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] === value) return true;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/**
 * What this node knows of revocations, so that the check of a token that is NOT revoked (nearly
 * every check) needs no statement: the fingerprints of every revoked jti of every company
 * (revoked_tokens), and of every user whose tokens were cut off in the last year (revokeUserTokens,
 * users.tokens_revoked_before, keyed by company and external id: a join token's `sub`).
 *
 * It only ever proves a token is not revoked. A fingerprint that matches (the jti was revoked, or
 * another one with the same 32 bits) sends the check to the database, which decides exactly; so
 * no lifetime rule has to be right for a revocation to hold. That is why it keeps every revoked
 * jti and not only those whose token could still be valid: the same jti is presented again long
 * after its row's expires_at or revoked_at (a registration's links are re-signed with the
 * registrant id as jti, a managed password's jti never changes, a partner token's lifetime is
 * the partner's), and a company's token lifetimes change. At 4 bytes a revoked jti, that costs
 * little; were the table ever purged of rows no token can carry, the view would follow.
 *
 * It is loaded when the change feed goes live (at start and whenever it comes back from being
 * deaf) and then follows the feed: every revocation is announced inside the transaction that
 * makes it, and the announcing node applies it to its own view at once (before COMMIT: a
 * fingerprint of a revocation that then rolls back only sends that jti to the database). Until
 * it has loaded, and while the feed is deaf, it answers nothing (`live` is false) and every check
 * goes to the database.
 */
export class RevocationView {
  private generation = 0;
  private ready = false;
  /** Fingerprints of every revoked jti at the last load, sorted. */
  private loadedJtis = new Int32Array(0);
  /** Fingerprints of jtis revoked since that load began. */
  private newJtis = new Set<number>();
  /** Fingerprint of (company, external id) → the latest cut-off (epoch ms) of any user with it. */
  private cutoffs = new Map<number, number>();
  /** Every cut-off later than this (epoch ms) is in `cutoffs`. */
  private horizonMs = Number.POSITIVE_INFINITY;
  /**
   * Fingerprints of suspended users, by (company, external id) for join tokens and by (company,
   * "user:" + Admit's id) for session tokens. Never shrinks until the next load: an unsuspended
   * user's fingerprint only sends its checks to the database meanwhile.
   */
  private suspended = new Set<number>();
  private retryMs = RETRY_MIN_MS;

  constructor(private readonly deps: { dataSource: DataSource; clock: Clock; changes: ChangeFeed; log: Logger }) {
    deps.changes.on("revocation", (payload) => this.apply(payload));
    // Emitted both when the feed goes deaf and just before it is live again; in the second case
    // the feed is live once the current emission is over, which is when the microtask runs.
    deps.changes.onReset(() => this.restart());
    this.restart();
  }

  /** Whether the view may answer: loaded since the feed last came back, and the feed still live. */
  get live(): boolean {
    return this.ready && this.deps.changes.live;
  }

  /** Whether a revocation of this jti may exist; false only when none does. Needs `live`. */
  mayBeRevoked(companyId: string, jti: string): boolean {
    const print = fingerprint(companyId, jti);
    return this.newJtis.has(print) || sortedHas(this.loadedJtis, print);
  }

  /**
   * Whether revokeUserTokens may have cut off a token issued at `issuedAt` to the user with this
   * external id; false only when it has not. Needs `live`.
   */
  mayBeCutOff(companyId: string, externalId: string, issuedAt: Date): boolean {
    this.moveHorizon();
    // Cut-offs before the horizon are not kept: a token issued before it is asked about in the database.
    if (issuedAt.getTime() < this.horizonMs) return true;
    const cutoff = this.cutoffs.get(fingerprint(companyId, externalId));
    return cutoff !== undefined && cutoff > issuedAt.getTime();
  }

  /**
   * Whether the user with this external id, or with this Admit id (a session token's `uid`), may
   * be suspended; false only when it is not. Needs `live`.
   */
  mayBeSuspended(companyId: string, who: { externalId?: string | null; userId?: string | null }): boolean {
    return (
      (who.externalId != null && this.suspended.has(fingerprint(companyId, who.externalId))) ||
      (who.userId != null && this.suspended.has(fingerprint(companyId, `user:${who.userId}`)))
    );
  }

  /** Inside the transaction that suspends the user: applies it here now, and to every node at COMMIT. */
  async announceSuspension(
    manager: EntityManager,
    companyId: string,
    user: { id: string; externalId: string | null },
  ): Promise<void> {
    const prints = [fingerprint(companyId, `user:${user.id}`)];
    if (user.externalId) prints.push(fingerprint(companyId, user.externalId));
    for (const print of prints) {
      this.suspended.add(print);
      await announce(manager, "revocation", `s${print}`);
    }
  }

  /** Inside the transaction that revokes the jti: applies it here now, and to every node at COMMIT. */
  async announceJti(manager: EntityManager, companyId: string, jti: string): Promise<void> {
    const print = fingerprint(companyId, jti);
    this.newJtis.add(print);
    await announce(manager, "revocation", `j${print}`);
  }

  /**
   * Inside the transaction that has just set a user's tokens_revoked_before: applies the cut-off
   * here now, and to every node at COMMIT. A guest (no external id) is named by no join token.
   */
  async announceCutoff(manager: EntityManager, companyId: string, userId: string): Promise<void> {
    const [user] = await queryRows<{ external_id: string | null; tokens_revoked_before: Date | null }>(
      manager,
      "SELECT external_id, tokens_revoked_before FROM users WHERE id = $1 AND company_id = $2",
      [userId, companyId],
    );
    if (!user?.external_id || !user.tokens_revoked_before) return;
    const print = fingerprint(companyId, user.external_id);
    const cutoff = user.tokens_revoked_before.getTime();
    this.addCutoff(print, cutoff);
    await announce(manager, "revocation", `u${print}:${cutoff}`);
  }

  private addCutoff(print: number, cutoff: number): void {
    // The latest of every user with this fingerprint: a match is confirmed in the database.
    const known = this.cutoffs.get(print);
    if (known === undefined || cutoff > known) this.cutoffs.set(print, cutoff);
  }

  private apply(payload: string): void {
    const jti = /^j(-?\d+)$/.exec(payload);
    if (jti) {
      this.newJtis.add(Number(jti[1]));
      return;
    }
    const suspended = /^s(-?\d+)$/.exec(payload);
    if (suspended) {
      this.suspended.add(Number(suspended[1]));
      return;
    }
    const cutoff = /^u(-?\d+):(\d+)$/.exec(payload);
    if (cutoff) {
      this.addCutoff(Number(cutoff[1]), Number(cutoff[2]));
      return;
    }
    // A payload this version cannot read (another version of Admit during a rolling deploy):
    // whatever it said, a fresh load has it.
    this.deps.log.warn("revocation announcement not understood: reloading the revocation view");
    this.restart();
  }

  /** Forgets everything and loads again once the feed is live. */
  private restart(): void {
    const generation = ++this.generation;
    this.ready = false;
    this.loadedJtis = new Int32Array(0);
    this.newJtis = new Set();
    this.cutoffs = new Map();
    this.suspended = new Set();
    this.horizonMs = Number.POSITIVE_INFINITY;
    this.retryMs = RETRY_MIN_MS;
    queueMicrotask(() => void this.load(generation));
  }

  /**
   * Reads everything still relevant in two statements. The feed was listening before they ran,
   * so a revocation they miss (committed after their snapshot) is announced to this node, and
   * what is announced meanwhile is kept: the load adds to it rather than replacing it.
   */
  private async load(generation: number): Promise<void> {
    if (generation !== this.generation || !this.deps.changes.live) return;
    const horizonMs = this.deps.clock.now().getTime() - CUTOFF_HORIZON_MS;
    try {
      const jtis = await this.deps.dataSource.query<{ print: number }[]>(
        `SELECT ${FINGERPRINT_OF("jti")} AS print FROM revoked_tokens`,
      );
      const cutoffs = await this.deps.dataSource.query<{ print: number; cutoff: Date }[]>(
        `SELECT ${FINGERPRINT_OF("external_id")} AS print, max(tokens_revoked_before) AS cutoff FROM users
          WHERE tokens_revoked_before > $1 AND external_id IS NOT NULL GROUP BY 1`,
        [new Date(horizonMs)],
      );
      // Deleted users' external ids (deleteUser): their cut-off outlives the id on the user's row.
      const erased = await this.deps.dataSource.query<{ print: number; cutoff: Date }[]>(
        "SELECT print, erased_at AS cutoff FROM erased_subjects WHERE erased_at > $1",
        [new Date(horizonMs)],
      );
      const suspended = await this.deps.dataSource.query<{ print: number }[]>(
        `SELECT ${FINGERPRINT_OF("external_id")} AS print FROM users WHERE suspended_at IS NOT NULL AND external_id IS NOT NULL
         UNION ALL SELECT ${FINGERPRINT_OF("'user:' || id::text")} FROM users WHERE suspended_at IS NOT NULL`,
      );
      if (generation !== this.generation) return;
      for (const row of suspended) this.suspended.add(row.print);
      this.loadedJtis = Int32Array.from(jtis, (row) => row.print).sort();
      for (const row of [...cutoffs, ...erased]) this.addCutoff(row.print, new Date(row.cutoff).getTime());
      this.horizonMs = horizonMs;
      this.ready = true;
    } catch (error) {
      if (generation !== this.generation || !this.deps.changes.live) return;
      this.deps.log.warn(
        { err: error },
        "could not load the revocation view: revocations are checked in the database meanwhile",
      );
      const retry = setTimeout(() => void this.load(generation), this.retryMs);
      retry.unref();
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    }
  }

  /** Drops the cut-offs that fell behind the horizon, once a day. */
  private moveHorizon(): void {
    const horizonMs = this.deps.clock.now().getTime() - CUTOFF_HORIZON_MS;
    if (horizonMs - this.horizonMs < PRUNE_EVERY_MS) return;
    for (const [print, cutoff] of this.cutoffs) if (cutoff <= horizonMs) this.cutoffs.delete(print);
    this.horizonMs = horizonMs;
  }
}
