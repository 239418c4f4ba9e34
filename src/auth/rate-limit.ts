import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { DataSource } from "typeorm";
import type { Clock } from "../clock";
import type { EntityManager } from "typeorm";
import { queryRows, rawQuery, RawQuery } from "../db/raw";
import { AppError } from "../errors";

/**
 * Password attempts (F7), limited per company in fixed windows kept in auth_failures, so every
 * node shares the counts:
 * - per username ("name:<sha256 of the username, trimmed and lower-cased>"): 5 per 15 minutes,
 *   which stops guessing one account's password. Counted for every username, whether it names a
 *   user or not, so the limit cannot tell which usernames exist (a user's email and external id
 *   are two usernames: at most 10 guesses per window on one account, before the address limit);
 * - per address ("ip:<address>"; IPv6 by its /64, which one client usually holds whole): 20 per
 *   15 minutes, which stops one client from trying one common password on many accounts while
 *   leaving room for the several people behind one office NAT. Behind a load balancer the address
 *   is the client's only with TRUST_PROXY set (config.ts).
 * A window opens at its first counted attempt and lasts windowSeconds whatever happens in it
 * (a fixed window: a lockout is never extended by more attempts). An attempt is counted before
 * its password is verified and taken back when it was right (the user's usernames are cleared), so
 * the count is the failures plus the attempts in flight: concurrent guesses cannot get past the
 * limit. Refused attempts (RATE_LIMITED) count too, within the same window; the address is
 * counted first, and an attempt it refuses is not counted against the username.
 */
export const PASSWORD_USERNAME_LIMIT = { max: 5, windowSeconds: 900 } as const;
export const PASSWORD_ADDRESS_LIMIT = { max: 20, windowSeconds: 900 } as const;

export interface Limit {
  max: number;
  windowSeconds: number;
}

export interface Count {
  subject: string;
  /** Attempts counted in the current window, this one included. */
  count: number;
  windowStartedAt: Date;
}

/**
 * Counts an attempt: ONE upsert that opens a new window when the stored one has run out and
 * otherwise adds one, returning the count. Concurrent attempts on any node each get their own
 * number, so the limit holds however many run at once.
 */
const HIT_SQL = `
INSERT INTO auth_failures AS f (company_id, subject, window_started_at, failures)
VALUES ($1, $2, $3::timestamptz, 1)
ON CONFLICT (company_id, subject) DO UPDATE SET
  failures = CASE WHEN f.window_started_at <= $3::timestamptz - make_interval(secs => $4) THEN 1 ELSE f.failures + 1 END,
  window_started_at = CASE WHEN f.window_started_at <= $3::timestamptz - make_interval(secs => $4) THEN $3::timestamptz
                           ELSE f.window_started_at END
RETURNING failures, window_started_at`;

export class AuthRateLimiter {
  private readonly sql: RawQuery;

  constructor(private readonly deps: { dataSource: DataSource; clock: Clock }) {
    this.sql = rawQuery(deps.dataSource);
  }

  /**
   * Counts one attempt against `subject` (see HIT_SQL). Inside a transaction pass its manager: the
   * count is then taken back if the transaction rolls back, and the subject's row stays locked
   * until it ends, so attempts of one subject take turns.
   */
  async hit(companyId: string, subject: string, limit: Limit, manager?: EntityManager): Promise<Count> {
    const params = [companyId, subject, this.deps.clock.now(), limit.windowSeconds];
    type Row = { failures: number; window_started_at: Date };
    const [row] = manager ? await queryRows<Row>(manager, HIT_SQL, params) : await this.sql<Row>(HIT_SQL, params);
    return { subject, count: Number(row.failures), windowStartedAt: new Date(row.window_started_at) };
  }

  /**
   * Takes back an attempt that turned out not to be a failure (a correct password), in the window
   * it was counted in only: a window that has since restarted is left alone.
   */
  async release(companyId: string, counted: Count): Promise<void> {
    await this.sql(
      `UPDATE auth_failures SET failures = failures - 1
        WHERE company_id = $1 AND subject = $2 AND window_started_at = $3 AND failures > 0`,
      [companyId, counted.subject, counted.windowStartedAt],
    );
  }

  /** Forgets a subject's failures (a username whose user got their password right). */
  async clear(companyId: string, subject: string): Promise<void> {
    await this.sql("DELETE FROM auth_failures WHERE company_id = $1 AND subject = $2", [companyId, subject]);
  }

  /**
   * Deletes the rows whose window ran out more than a day ago (no limit here is longer than a
   * day), so the table holds recent subjects only. Nodes run it with the session sweep.
   */
  async purgeExpired(): Promise<number> {
    const rows = await this.sql(
      "DELETE FROM auth_failures WHERE window_started_at < $1::timestamptz - interval '1 day' RETURNING subject",
      [this.deps.clock.now()],
    );
    return rows.length;
  }

  /** RATE_LIMITED with when to retry, when `counted` is over `limit`; else null. */
  refusal(counted: Count, limit: Limit, what = "Too many failed sign-in attempts"): AppError | null {
    if (counted.count <= limit.max) return null;
    const retryAt = counted.windowStartedAt.getTime() + limit.windowSeconds * 1000;
    const retryAfterSeconds = Math.max(1, Math.ceil((retryAt - this.deps.clock.now().getTime()) / 1000));
    const error = new AppError(
      "RATE_LIMITED",
      `${what}; try again in ${describeSeconds(retryAfterSeconds)} (at ${new Date(retryAt).toISOString()}).`,
    );
    error.extensions.retryAfterSeconds = retryAfterSeconds;
    return error;
  }
}

function describeSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/**
 * The subject a username is counted under: a SHA-256 of it trimmed and lower-cased (as an email
 * is matched; external ids differing only in case share a count), so the table holds no usernames
 * and its rows have one length whatever was typed.
 */
export function usernameSubject(username: string): string {
  return `name:${createHash("sha256").update(username.trim().toLowerCase(), "utf8").digest("hex")}`;
}

/**
 * The subject an address is counted under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4),
 * IPv6 by its /64 network, anything else (no address known) as one bucket.
 */
export function addressSubject(ip: string): string {
  const address = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped && isIPv4(mapped[1])) return `ip:${mapped[1]}`;
  if (isIPv4(address)) return `ip:${address}`;
  const withoutZone = address.split("%")[0];
  if (isIPv6(withoutZone)) return `ip:${ipv6Prefix64(withoutZone)}::/64`;
  return "ip:unknown";
}

/** The first four groups of an IPv6 address, each without leading zeros. */
function ipv6Prefix64(address: string): string {
  let groups: string[];
  if (address.includes("::")) {
    const [head, tail] = address.split("::");
    const left = head ? head.split(":") : [];
    const right = tail ? tail.split(":") : [];
    // A trailing dotted IPv4 part stands for two groups.
    const rightGroups = right.length && right[right.length - 1].includes(".") ? right.length + 1 : right.length;
    groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill("0"), ...right];
  } else {
    groups = address.split(":");
  }
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":");
}
