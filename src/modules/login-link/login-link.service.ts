import { DataSource, EntityManager } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import { generateOpaqueSecret, hashSecret, lookupOf, secretMatches } from "../../auth/opaque-secret";
import { MAX_REDIRECT_URL_LENGTH, checkRedirect, requireRedirect } from "../../auth/redirects";
import { queryRows, rawQuery, RawQuery } from "../../db/raw";
import { companyIdOf, RequestContext } from "../../request-context";
import { AppError, badInput, notFound } from "../../errors";
import * as v from "../../graphql/validate";
import { CompanyEntity } from "../company/company.entity";
import type { CompanyService } from "../company/company.service";
import { EventEntity } from "../event/event.entity";
import type { EventService } from "../event/event.service";
import type { Admission } from "../session/admission.service";
import type { SessionService } from "../session/session.service";
import type { JoinEventInput } from "../session/session.inputs";
import type { TokenService } from "../token/token.service";
import { UserEntity } from "../user/user.entity";
import { userIdOfRef } from "../user/user.service";
import { userOfRow, type UserRow } from "../user/user.sql";
import { LoginLinkEntity } from "./login-link.entity";
import type { CreateLoginLinkInput } from "./login-link.inputs";
import { LoginLinkStatus, LoginLinkType } from "./login-link.types";

export interface LoginLinkServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  publicUrl: string;
  companies: CompanyService;
  events: EventService;
  sessions: SessionService;
  tokens: TokenService;
  log: Logger;
}

/** A login link waits at most this long to be opened. */
export const MAX_LOGIN_LINK_TTL_SECONDS = 300;

/**
 * One message for every code that cannot be used for a reason other than "already used":
 * unknown, malformed, expired, revoked. It must not tell which.
 */
const EXPIRED_MESSAGE = "This login link is not valid (it may have expired or been revoked). Ask for a new link.";
const USED_MESSAGE = "This login link has already been used. Ask for a new link.";
const linkExpired = () => new AppError("LOGIN_LINK_EXPIRED", EXPIRED_MESSAGE);
const linkUsed = () => new AppError("LOGIN_LINK_USED", USED_MESSAGE);

/** Compared against when no row has the presented lookup, so that unknown codes cost the same. */
const NO_SUCH_HASH = hashSecret("no login link has this code");

/** The single statement that redeems a link: two racing redemptions cannot both pass. */
const CONSUME_SQL = `UPDATE login_links SET used_at = $2
  WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING id`;

/** A presented code that matched a link, with what the redemption needs. Nothing written yet. */
export interface VerifiedLoginLink {
  link: LoginLinkEntity;
  company: CompanyEntity;
  user: UserEntity;
}

/**
 * Who handles the reuse of a code whose consumption failed inside a join transaction: the
 * caller, once the transaction has rolled back (GET /login), or a statement queued right away
 * (joinEvent, whose caller cannot be reached).
 */
type ReuseHandling = "caller" | "background";

/** A login_links row as plain SQL returns it. */
export interface LoginLinkRow {
  id: string;
  company_id: string;
  user_id: string;
  event_id: string | null;
  code_lookup: string;
  code_hash: string;
  redirect_on_expiry_url: string | null;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
  session_id: string | null;
  reused_at: Date | null;
  created_at: Date;
}

export function linkOfRow(row: LoginLinkRow): LoginLinkEntity {
  return Object.assign(new LoginLinkEntity(), {
    id: row.id,
    companyId: row.company_id,
    userId: row.user_id,
    eventId: row.event_id,
    codeLookup: row.code_lookup,
    codeHash: row.code_hash,
    redirectOnExpiryUrl: row.redirect_on_expiry_url,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
    sessionId: row.session_id,
    reusedAt: row.reused_at,
    createdAt: row.created_at,
  });
}

export function loginLinkStatus(link: LoginLinkEntity, now: Date): LoginLinkStatus {
  if (link.usedAt) return LoginLinkStatus.USED;
  if (link.revokedAt) return LoginLinkStatus.REVOKED;
  if (link.expiresAt.getTime() <= now.getTime()) return LoginLinkStatus.EXPIRED;
  return LoginLinkStatus.ACTIVE;
}

/**
 * One-time login links: createLoginLink, revokeLoginLink and loginLink; the LOGIN_LINK credential
 * of joinEvent; and the verification and consumption of a code for GET /login (a link without
 * event then signs in with CompanySignInService). A used code presented again is taken for a
 * stolen link.
 */
export class LoginLinkService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: LoginLinkServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /** Whether cookies must carry Secure: the public URL is https. */
  get secureCookies(): boolean {
    return this.deps.publicUrl.toLowerCase().startsWith("https:");
  }

  get publicUrl(): string {
    return this.deps.publicUrl;
  }

  /** The service clock's now, for the browser routes' cookie decisions. */
  now(): Date {
    return this.deps.clock.now();
  }

  toType(link: LoginLinkEntity, url: string | null = null): LoginLinkType {
    return {
      id: link.id,
      companyId: link.companyId,
      url,
      status: loginLinkStatus(link, this.deps.clock.now()),
      userId: link.userId,
      eventId: link.eventId,
      redirectOnExpiryUrl: link.redirectOnExpiryUrl,
      expiresAt: link.expiresAt,
      createdAt: link.createdAt,
      usedAt: link.usedAt,
      revokedAt: link.revokedAt,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // API

  /**
   * createLoginLink. The code (256 random bits) is stored only as its lookup prefix and
   * SHA-256; the URL that carries it is returned here and never again.
   */
  async create(ctx: RequestContext, input: CreateLoginLinkInput): Promise<{ link: LoginLinkEntity; url: string }> {
    const companyId = companyIdOf(ctx);
    const now = this.deps.clock.now();
    // Read fresh, not from the per-node cache: the window and the allow-list are settings.
    const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneBy({ id: companyId });
    if (!company) throw notFound("The company");

    const userId = await userIdOfRef(this.deps.dataSource, companyId, input);
    const [userRow] = await this.sql<UserRow>(
      "SELECT * FROM users WHERE id = $1 AND company_id = $2 AND NOT is_guest",
      [userId, companyId],
    );
    if (!userRow) {
      throw new AppError("NOT_FOUND", "No non-guest user of your company has this id.", {
        hint: "Login links are for users made with upsertUser or a credential; a guest cannot have one.",
      });
    }
    const user = userOfRow(userRow);

    let eventId: string | null = null;
    if (input.eventId !== undefined && input.eventId !== null) {
      const [event] = v.isUuid(input.eventId)
        ? await this.sql<{ id: string }>("SELECT id FROM events WHERE id = $1 AND company_id = $2", [
            input.eventId,
            companyId,
          ])
        : [];
      if (!event) throw notFound("The event");
      eventId = event.id;
    } else if (!user.externalId) {
      // The sign-in of a link without event is a join token, which names the user by external id.
      throw badInput("eventId", "This user has no external id: give the eventId the link should open.");
    }

    const ttl = v.intInRange(
      "ttlSeconds",
      input.ttlSeconds ?? company.loginLinkTtlSeconds,
      1,
      MAX_LOGIN_LINK_TTL_SECONDS,
    );

    let redirectOnExpiryUrl: string | null = null;
    if (input.redirectOnExpiryUrl !== undefined && input.redirectOnExpiryUrl !== null) {
      if (input.redirectOnExpiryUrl.length > MAX_REDIRECT_URL_LENGTH) {
        throw badInput(
          "redirectOnExpiryUrl",
          `redirectOnExpiryUrl must be at most ${MAX_REDIRECT_URL_LENGTH} characters.`,
        );
      }
      redirectOnExpiryUrl = requireRedirect(
        "redirectOnExpiryUrl",
        input.redirectOnExpiryUrl,
        company.allowedRedirectOrigins,
      );
      // Serialized again by the URL parser; still within the column.
      if (redirectOnExpiryUrl.length > MAX_REDIRECT_URL_LENGTH) {
        throw badInput(
          "redirectOnExpiryUrl",
          `redirectOnExpiryUrl must be at most ${MAX_REDIRECT_URL_LENGTH} characters.`,
        );
      }
    }

    const code = generateOpaqueSecret();
    // created_at comes from the service clock: it is the link's issuedAt, which revokeUserTokens
    // (also on that clock) compares against.
    const [row] = await this.sql<LoginLinkRow>(
      `INSERT INTO login_links (company_id, user_id, event_id, code_lookup, code_hash, redirect_on_expiry_url, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        companyId,
        user.id,
        eventId,
        code.lookup,
        code.hash,
        redirectOnExpiryUrl,
        new Date(now.getTime() + ttl * 1000),
        now,
      ],
    );
    return { link: linkOfRow(row), url: `${this.deps.publicUrl}/login/${code.secret}` };
  }

  /** A login link of the caller's company, or null (another company's is null too). */
  async get(ctx: RequestContext, id: string): Promise<LoginLinkEntity | null> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) return null;
    const [row] = await this.sql<LoginLinkRow>("SELECT * FROM login_links WHERE id = $1 AND company_id = $2", [
      id,
      companyId,
    ]);
    return row ? linkOfRow(row) : null;
  }

  /**
   * revokeLoginLink: an unopened link can no longer be opened, from now on (one conditional
   * UPDATE). Revoking again, or revoking a link already used, answers the link as it is; the
   * session a used link opened is ended with endSession.
   */
  async revoke(ctx: RequestContext, id: string): Promise<LoginLinkEntity> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) throw notFound("The login link");
    const [revoked] = await this.sql<LoginLinkRow>(
      `UPDATE login_links SET revoked_at = $3
        WHERE id = $1 AND company_id = $2 AND revoked_at IS NULL AND used_at IS NULL RETURNING *`,
      [id, companyId, this.deps.clock.now()],
    );
    if (revoked) return linkOfRow(revoked);
    const link = await this.get(ctx, id);
    if (!link) throw notFound("The login link");
    return link;
  }

  // ---------------------------------------------------------------------------------------------
  // Redemption

  /**
   * The link a presented code names, checked by lookup and a constant-time hash compare; writes
   * nothing, except when the code was already used: that is treated as a stolen link and the
   * session it made is ended (see handleReuse) before LOGIN_LINK_USED is thrown (not with `peek`).
   * @throws AppError LOGIN_LINK_EXPIRED for unknown, malformed, expired or revoked codes (one
   *   message for all), LOGIN_LINK_USED for a used one.
   */
  async verifyCode(code: string, options: { peek?: boolean } = {}): Promise<VerifiedLoginLink> {
    const presented = code.trim();
    const lookup = lookupOf(presented);
    const [row] = lookup
      ? await this.sql<LoginLinkRow>("SELECT * FROM login_links WHERE code_lookup = $1", [lookup])
      : [];
    const matches = secretMatches(presented, row?.code_hash ?? NO_SUCH_HASH) && row !== undefined;
    if (!matches) throw linkExpired();
    const link = linkOfRow(row);
    if (link.usedAt) {
      // validateToken only peeks: it neither redeems a link nor treats a look at a used one as theft.
      if (!options.peek) await this.handleReuse(link.id);
      throw linkUsed();
    }
    const now = this.deps.clock.now();
    if (link.revokedAt || link.expiresAt.getTime() <= now.getTime()) throw linkExpired();
    const company = await this.deps.companies.cachedCompany("id", link.companyId);
    const [userRow] = await this.sql<UserRow>("SELECT * FROM users WHERE id = $1 AND company_id = $2", [
      link.userId,
      link.companyId,
    ]);
    if (!company || !userRow) throw linkExpired();
    const user = userOfRow(userRow);
    // revokeUserTokens revokes the links created before it like any other credential.
    if (user.isGuest || (user.tokensRevokedBefore && link.createdAt.getTime() < user.tokensRevokedBefore.getTime()))
      throw linkExpired();
    return { link, company, user };
  }

  /** The LOGIN_LINK admitter of joinEvent: the code in `credential`, for the event `input.event` names. */
  async admitForJoin(input: JoinEventInput, credential: string | null): Promise<Admission> {
    if (!credential) throw badInput("credential", "credential is required for this credentialType.");
    const verified = await this.verifyCode(credential);
    const event = await this.deps.events.eventOf(verified.company.id, input.event);
    if (verified.link.eventId !== null && verified.link.eventId !== event.id) {
      throw new AppError("TOKEN_WRONG_EVENT", "This login link opens another event.");
    }
    return this.admissionOf(verified, event, "background");
  }

  /** The event a link with an event opens (GET /login); LOGIN_LINK_EXPIRED when it is gone. */
  async eventOfLink(verified: VerifiedLoginLink): Promise<EventEntity> {
    const event = verified.link.eventId
      ? await this.deps.dataSource
          .getRepository(EventEntity)
          .findOneBy({ id: verified.link.eventId, companyId: verified.company.id })
      : null;
    if (!event) throw linkExpired();
    return event;
  }

  /**
   * The admission of a verified link: the user it names, its id as jti, its creation as the
   * issue time (so revokeUserTokens also ends its session), consumed by one conditional UPDATE
   * inside the join transaction (a refusal later in the join rolls the consumption back).
   */
  admissionOf(verified: VerifiedLoginLink, event: EventEntity, reuse: ReuseHandling): Admission {
    const { link, company } = verified;
    return {
      company,
      event,
      credentialType: "LOGIN_LINK",
      jti: link.id,
      issuedAt: link.createdAt,
      expiresAt: null,
      roleGrant: null,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: {},
      entrant: { kind: "user", userId: link.userId },
      consume: async (manager) => {
        const consumed = await queryRows(manager, CONSUME_SQL, [link.id, this.deps.clock.now()]);
        if (consumed.length > 0) return;
        const error = await this.whyNotConsumed(link.id, manager);
        // Its own statements, after this transaction has rolled back: the mutex of PGlite's one
        // connection queues them behind it; on PostgreSQL they touch nothing this transaction holds.
        if (error.code === "LOGIN_LINK_USED" && reuse === "background") {
          this.handleReuse(link.id).catch((err) =>
            this.deps.log.error({ err }, "could not end the session of a reused login link"),
          );
        }
        throw error;
      },
      onSession: async (manager, session) => {
        await queryRows(manager, "UPDATE login_links SET session_id = $2 WHERE id = $1", [link.id, session.id]);
      },
    };
  }

  /**
   * Consumes a verified link outside a join (GET /login for a link without event): the same
   * single UPDATE. A link used meanwhile is a reuse, handled before LOGIN_LINK_USED is thrown.
   * @throws AppError LOGIN_LINK_USED, or LOGIN_LINK_EXPIRED when it is no longer valid.
   */
  async consume(linkId: string, now: Date): Promise<void> {
    const consumed = await this.sql(CONSUME_SQL, [linkId, now]);
    if (consumed.length > 0) return;
    const error = await this.whyNotConsumed(linkId);
    if (error.code === "LOGIN_LINK_USED") await this.handleReuse(linkId);
    throw error;
  }

  /**
   * A used code presented again: treated as a stolen link. Marks the link (reused_at, first time
   * kept) and ends what it opened as REVOKED: its session at once, and anything that came in
   * with its id as jti (the company-wide cookie of a link without event, and sessions joined
   * with it) by revoking that jti. Conditional statements, safe to repeat.
   */
  async handleReuse(linkId: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.dataSource.transaction(async (manager) => {
      const [row] = await queryRows<{ company_id: string; session_id: string | null }>(
        manager,
        `UPDATE login_links SET reused_at = COALESCE(reused_at, $2)
          WHERE id = $1 AND used_at IS NOT NULL RETURNING company_id, session_id`,
        [linkId, now],
      );
      if (!row) return;
      if (row.session_id) await this.deps.sessions.endLive(manager, row.session_id, row.company_id, "REVOKED", now);
      await this.deps.tokens.revokeJti(manager, row.company_id, linkId, null);
    });
  }

  /** Why the consuming UPDATE changed nothing: the link was used meanwhile, or it is no longer valid. */
  private async whyNotConsumed(linkId: string, manager?: EntityManager): Promise<AppError> {
    const sql = "SELECT used_at FROM login_links WHERE id = $1";
    const [row] = manager
      ? await queryRows<{ used_at: Date | null }>(manager, sql, [linkId])
      : await this.sql<{ used_at: Date | null }>(sql, [linkId]);
    return row?.used_at ? linkUsed() : linkExpired();
  }

  // ---------------------------------------------------------------------------------------------
  // The browser pages

  /**
   * Ends a live session as `reason` (logout: LOGGED_OUT); a session that a time limit had already
   * ended is written down as that instead (SessionService.endLive). Returns whether it ended it.
   */
  async endSession(sessionId: string, companyId: string, reason: "LOGGED_OUT" | "REVOKED"): Promise<boolean> {
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction((manager) =>
      this.deps.sessions.endLive(manager, sessionId, companyId, reason, now),
    );
  }

  /** "Ada Lovelace (ada@example.com)", for the landing page; not escaped. */
  async describeUser(userId: string): Promise<string> {
    const [user] = await this.sql<{ name: string | null; email: string | null; external_id: string | null }>(
      "SELECT name, email, external_id FROM users WHERE id = $1",
      [userId],
    );
    if (!user) return "a user";
    const described = [user.name, user.email ? `(${user.email})` : null].filter(Boolean).join(" ");
    return described || user.external_id || "a user";
  }

  // ---------------------------------------------------------------------------------------------
  // Redirects

  /**
   * The redirectOnExpiryUrl of the login link whose id a session came in with (its
   * credential_jti), or null. Checked again against the company's allow-list as it is now.
   */
  async redirectOnExpiryOf(companyId: string, credentialJti: string | null): Promise<string | null> {
    if (!credentialJti || !v.isUuid(credentialJti)) return null;
    const [row] = await this.sql<{ redirect_on_expiry_url: string | null }>(
      "SELECT redirect_on_expiry_url FROM login_links WHERE id = $1 AND company_id = $2",
      [credentialJti, companyId],
    );
    return this.allowedRedirect(companyId, row?.redirect_on_expiry_url ?? null);
  }

  /**
   * The redirectOnExpiryUrl of the login link a session came in with, or null (another
   * credential, no redirect, or one the allow-list no longer admits). Logout goes there when it
   * names no allowed redirect of its own.
   */
  async redirectOnExpiryOfSession(companyId: string, sessionId: string): Promise<string | null> {
    const [row] = await this.sql<{ redirect_on_expiry_url: string | null }>(
      `SELECT l.redirect_on_expiry_url FROM sessions s JOIN login_links l ON l.id::text = s.credential_jti AND l.company_id = s.company_id
        WHERE s.id = $1 AND s.company_id = $2 AND s.credential_type = 'LOGIN_LINK'`,
      [sessionId, companyId],
    );
    return this.allowedRedirect(companyId, row?.redirect_on_expiry_url ?? null);
  }

  /** `url` when the company's allow-list, read now (not from a cache), still admits it. */
  async allowedRedirect(companyId: string, url: string | null | undefined): Promise<string | null> {
    if (!url) return null;
    const [company] = await this.sql<{ allowed_redirect_origins: string[] }>(
      "SELECT allowed_redirect_origins FROM companies WHERE id = $1",
      [companyId],
    );
    return company ? checkRedirect(url, company.allowed_redirect_origins) : null;
  }
}
