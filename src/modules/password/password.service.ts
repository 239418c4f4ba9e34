import type { DataSource } from "typeorm";
import type { Clock } from "../../clock";
import {
  dummyPasswordHash,
  hashPassword,
  needsRehash,
  validateNewPassword,
  verifyPassword,
} from "../../auth/password-hash";
import { rawQuery, RawQuery } from "../../db/raw";
import { companyIdOf, RequestContext } from "../../request-context";
import { AppError, badInput, notFound } from "../../errors";
import { EventStatus } from "../../graphql/enums";
import { CompanyEntity } from "../company/company.entity";
import { eventStatus, type EventService } from "../event/event.service";
import type { Admission, JoinRequestFacts } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import { isStorable, TokenService } from "../token/token.service";
import { UserEntity } from "../user/user.entity";
import { userIdOfRef } from "../user/user.service";
import type { SetUserPasswordInput } from "./password.inputs";
import {
  addressSubject,
  AuthRateLimiter,
  Count,
  PASSWORD_ADDRESS_LIMIT,
  PASSWORD_USERNAME_LIMIT,
  usernameSubject,
} from "../../auth/rate-limit";

export interface PasswordServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  events: EventService;
  tokens: TokenService;
  limiter: AuthRateLimiter;
}

/** Longer than any email or external id: such a username names nobody. */
const MAX_USERNAME_LENGTH = 320;

/** One message for an unknown user, a user without a password and a wrong password: no oracle. */
const invalidCredentials = () => new AppError("INVALID_CREDENTIALS", "The username or password is wrong.");

/**
 * The jti of a password admission: one per event and user, so a ban (endSession with ban, which
 * revokes the session's credential jti) keeps that user's password out of that event only, and
 * the heartbeat ends the user's other password sessions of the event.
 */
export function passwordCredentialJti(eventId: string, userId: string): string {
  return `pwd:${eventId}:${userId}`;
}

/** Managed passwords (F7): setUserPassword and the PASSWORD credential of joinEvent. */
export class PasswordService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: PasswordServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /**
   * setUserPassword: hashes (argon2id) and upserts the user's one password. Guests cannot have one
   * (BAD_USER_INPUT on userId: the user exists and the key may see it, so NOT_FOUND would mislead;
   * a guest has no external id or verified email to sign in with).
   */
  async setPassword(ctx: RequestContext, input: SetUserPasswordInput): Promise<UserEntity> {
    const companyId = companyIdOf(ctx);
    const password = validateNewPassword("password", input.password);
    const userId = await userIdOfRef(this.deps.dataSource, companyId, input);
    const user = await this.deps.dataSource.getRepository(UserEntity).findOneBy({ id: userId, companyId });
    if (!user) throw notFound("The user");
    if (user.isGuest)
      throw badInput(
        input.userId ? "userId" : "externalId",
        "Guest users cannot have a password; give one to a user made with upsertUser.",
      );
    const hash = await hashPassword(password);
    // One statement; the user's company and kind are checked again in it.
    const stored = await this.sql(
      `INSERT INTO user_passwords (user_id, company_id, password_hash, updated_at)
       SELECT u.id, u.company_id, $3, $4 FROM users u WHERE u.id = $1 AND u.company_id = $2 AND NOT u.is_guest
       ON CONFLICT (user_id, company_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = EXCLUDED.updated_at
       RETURNING user_id`,
      [user.id, companyId, hash, this.deps.clock.now()],
    );
    if (!stored.length) throw notFound("The user");
    return user;
  }

  /**
   * The PASSWORD credential of joinEvent. In order: the event (by id, companySlug/eventSlug or a
   * slug one company uses), the company's passwordAuthEnabled (PASSWORD_AUTH_DISABLED before
   * anything else is looked at), the input, the rate limits (RATE_LIMITED before any password is
   * verified, even a correct one), the password, then a ban from the event (TOKEN_REVOKED). Every
   * attempt is counted before it is verified and a correct one is taken back, so concurrent
   * guesses cannot slip past the limit.
   */
  async admit(input: JoinEventInput, facts: JoinRequestFacts): Promise<Admission> {
    const event = await this.deps.events.publicEventOf(input.event);
    const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id: event.companyId });
    if (!company.passwordAuthEnabled) {
      throw new AppError(
        "PASSWORD_AUTH_DISABLED",
        "This company does not accept passwords; use the link or token you were given.",
      );
    }
    const username = input.username?.trim() ?? "";
    if (!username) throw badInput("username", "username (your email or user id) is required to join with a password.");
    const password = input.password ?? "";
    if (!password) throw badInput("password", "password is required to join with a password.");
    const now = this.deps.clock.now();
    // No guessing through an event that is over.
    if (eventStatus(event, now) === EventStatus.ENDED) throw new AppError("EVENT_ENDED", "This event has ended.");

    // Counted before the username is looked up, the same way whether it names anyone or not: a
    // real username and an unknown one are refused alike, after the same number of attempts.
    // The address first, so a client it refuses cannot also use up a username's attempts.
    const counted: Count[] = [];
    for (const [subject, limit] of [
      [addressSubject(facts.ip), PASSWORD_ADDRESS_LIMIT],
      [usernameSubject(username), PASSWORD_USERNAME_LIMIT],
    ] as const) {
      const count = await this.deps.limiter.hit(company.id, subject, limit);
      const refusal = this.deps.limiter.refusal(count, limit);
      if (refusal) throw refusal;
      counted.push(count);
    }

    const account = await this.accountOf(company.id, username);
    // Without an account or a password, the same work against a dummy hash: the same time.
    const storedHash = account?.passwordHash ?? (await dummyPasswordHash());
    const matches = (await verifyPassword(storedHash, password)) && Boolean(account?.passwordHash);
    if (!matches || !account) throw invalidCredentials();

    // A success is no failure: the address's attempt is taken back, and the counts of every
    // username of this user (the one typed, its email, its external id) are cleared.
    await this.deps.limiter.release(company.id, counted[0]);
    const names = new Set([username, ...account.usernames].map(usernameSubject));
    for (const subject of names) await this.deps.limiter.clear(company.id, subject);
    if (needsRehash(storedHash)) await this.rehash(account.userId, storedHash, password);

    // endSession(ban: true) revokes this jti: the user's password no longer opens this event
    // (other events still). Checked only once the password is right, so it tells a guesser nothing.
    const jti = passwordCredentialJti(event.id, account.userId);
    if (await this.deps.tokens.isRevoked(company.id, jti))
      throw new AppError("TOKEN_REVOKED", "You were removed from this event.");
    return {
      company,
      event,
      credentialType: "PASSWORD",
      jti,
      // A password session is a credential issued now: revokeUserTokens ends it (its sessions
      // were issued before the cut-off), and a login after the cut-off is a new one that works.
      issuedAt: now,
      expiresAt: null,
      roleGrant: null,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: {},
      entrant: { kind: "user", userId: account.userId },
    };
  }

  /**
   * The non-guest user a username names, its password hash and its usernames (lower-cased email,
   * external id): the exact external id first, else the oldest user with that email
   * (case-insensitive) that has a password, else the oldest with that email. null when it names
   * nobody.
   */
  private async accountOf(
    companyId: string,
    username: string,
  ): Promise<{ userId: string; passwordHash: string | null; usernames: string[] } | null> {
    if (username.length > MAX_USERNAME_LENGTH || !isStorable(username)) return null;
    const [row] = await this.sql<{
      id: string;
      password_hash: string | null;
      external_id: string | null;
      email_normalized: string | null;
    }>(
      `SELECT u.id, p.password_hash, u.external_id, u.email_normalized
         FROM users u LEFT JOIN user_passwords p ON p.user_id = u.id AND p.company_id = u.company_id
        WHERE u.company_id = $1 AND NOT u.is_guest AND (u.external_id = $2 OR u.email_normalized = $3)
        ORDER BY COALESCE(u.external_id = $2, false) DESC, (p.password_hash IS NOT NULL) DESC, u.created_at, u.id
        LIMIT 1`,
      [companyId, username, username.toLowerCase()],
    );
    if (!row) return null;
    const usernames = [row.external_id, row.email_normalized].filter((name): name is string => Boolean(name));
    return { userId: row.id, passwordHash: row.password_hash, usernames };
  }

  /** Upgrades a hash made with older parameters; skipped when the password changed meanwhile. */
  private async rehash(userId: string, oldHash: string, password: string): Promise<void> {
    const hash = await hashPassword(password.normalize("NFC"));
    await this.sql("UPDATE user_passwords SET password_hash = $3 WHERE user_id = $1 AND password_hash = $2", [
      userId,
      oldHash,
      hash,
    ]);
  }
}
