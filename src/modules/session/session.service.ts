import { randomUUID } from "node:crypto";
import { DataSource, EntityManager, IsNull } from "typeorm";
import { decodeJwt, type JWTPayload } from "jose";
import type { Clock } from "../../clock";
import { peekToken, signToken, TokenSigningKey } from "../../auth/tokens";
import { companyIdOf, Principal, RequestContext } from "../../request-context";
import { AppError, badInput, isAppError, notFound } from "../../errors";
import { EventStatus, Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { CompanyEntity } from "../company/company.entity";
import { EventEntity } from "../event/event.entity";
import { EventPrincipalEntity } from "../event/event-principal.entity";
import { eventStatus, EventService } from "../event/event.service";
import { RegistrantEntity } from "../registrant/registrant.entity";
import type { SigningKeyService } from "../token/signing-key.service";
import { isStorable, joinTokenOf, requireStorable, TokenService } from "../token/token.service";
import { UserEntity, type UserOriginValue } from "../user/user.entity";
import { permissionsOf } from "./role-permissions";
import { type UserRef, userIdOfRef, UserService, validateProfile } from "../user/user.service";
import { normalizeGrant, resolveRole, RoleResolution, RoleSubject } from "./role";
import { preparedQuery, queryRows, RawQuery } from "../../db/raw";
import { CredentialTypeValue, SessionEndReasonValue, SessionEntity } from "./session.entity";
import type { JoinEventInput } from "./session.inputs";
import { addressSubject, type AuthRateLimiter } from "../../auth/rate-limit";

export interface SessionServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  tokens: TokenService;
  signingKeys: SigningKeyService;
  events: EventService;
  users: UserService;
  limiter: AuthRateLimiter;
}

/**
 * Guest joins per client address and company: a bot on one address cannot fill a public event
 * (or its analytics) with made-up names, while an office behind one NAT still gets its people in.
 * Counted in the database like the password limits, so every node shares the count.
 */
export const GUEST_ADDRESS_LIMIT = { max: 60, windowSeconds: 600 } as const;

/** Session tokens are short-lived: a client refreshes it with every heartbeat. */
export const SESSION_TOKEN_TTL_SECONDS = 600;
/** How often a node looks for room in an event it found full (see SessionService.lookedForRoom). */
const LOOK_FOR_ROOM_EVERY_MS = 1_000;
/** How often clients should heartbeat; also how long a revocation takes to reach a live session. */
export const HEARTBEAT_INTERVAL_SECONDS = 30;
const MAX_DISPLAY_NAME = 100;

/** Who a credential lets in; resolved before any write. */
export type Entrant =
  /** Upserted by external id: refreshed, or created just in time (taking a seat). */
  | { kind: "external"; profile: ReturnType<typeof validateProfile> }
  /** An existing, non-guest user of the company (login link, password, partner `{ sub }`). */
  | { kind: "user"; userId: string }
  /** A display name only: a guest's own word names nobody. */
  | { kind: "guest"; name: string }
  | { kind: "registrant"; registrant: RegistrantEntity };

/** Everything a verified credential says about the join. */
export interface Admission {
  company: CompanyEntity;
  event: EventEntity;
  credentialType: CredentialTypeValue;
  jti: string | null;
  issuedAt: Date | null;
  expiresAt: Date | null;
  roleGrant: Role | null;
  ejectAfterElapsedSeconds: number | null;
  ejectAtTokenExpiry: boolean;
  metadata: Record<string, unknown>;
  entrant: Entrant;
  /**
   * Runs first inside the join transaction, for single-use credentials (one conditional UPDATE
   * that consumes the credential, throwing when it is already used) and for limits counted per
   * join (guests per address). A refusal later in the join rolls it back with everything else.
   */
  consume?: (manager: EntityManager) => Promise<void>;
  /** Runs after the session row is written, in the same transaction (e.g. to remember it). */
  onSession?: (manager: EntityManager, session: SessionEntity) => Promise<void>;
  /**
   * The origin recorded on a user this join creates just in time (users.created_via); default
   * the credential's (see ORIGIN_OF_CREDENTIAL). A token exchange names the credential it took.
   */
  createdVia?: UserOriginValue;
}

/** The origin of a user created just in time by a credential of this type. */
const ORIGIN_OF_CREDENTIAL: Readonly<Record<CredentialTypeValue, UserOriginValue>> = {
  JOIN_TOKEN: "JOIN_TOKEN",
  REGISTRATION_TOKEN: "REGISTRATION",
  LOGIN_LINK: "LOGIN_LINK",
  PARTNER_JWT: "PARTNER_JWT",
  OIDC_ID_TOKEN: "OIDC",
  PASSWORD: "PASSWORD",
  GUEST: "GUEST",
};

/** Admits a verified join token (signature, kind, issuer, times checked) that names a join request. */
export type JoinRequestAdmitter = (company: CompanyEntity, payload: JWTPayload, input: JoinEventInput) => Promise<Admission>;

/** Facts about the request a credential came with (rate limits key on the address). */
export interface JoinRequestFacts {
  ip: string;
}

/**
 * Verifies one kind of credential for joinEvent and says who it lets in; writes nothing (a
 * single-use credential is consumed by Admission.consume, inside the join transaction).
 */
export type CredentialAdmitter = (input: JoinEventInput, credential: string | null, facts: JoinRequestFacts) => Promise<Admission>;

export interface JoinOutcome {
  session: SessionEntity;
  sessionToken: string;
  sessionTokenExpiresAt: Date;
  role: Role;
}

export interface SessionStateOutcome {
  session: SessionEntity;
  role: Role;
  active: boolean;
  endReason: SessionEndReasonValue | null;
  sessionToken: string | null;
  sessionTokenExpiresAt: Date | null;
  ejectAt: Date | null;
}

const earliest = (...dates: (Date | null)[]): Date | null =>
  dates.reduce<Date | null>((min, d) => (d && (!min || d.getTime() < min.getTime()) ? d : min), null);

export class SessionService {
  private readonly sql: RawQuery;
  private readonly admitters = new Map<CredentialTypeValue, CredentialAdmitter>();
  private joinRequestAdmitter: JoinRequestAdmitter | null = null;

  constructor(private readonly deps: SessionServiceDeps) {
    this.sql = preparedQuery(deps.dataSource);
  }

  // ---------------------------------------------------------------------------------------------
  // Join

  /** Plugs in the verifier of a credential type that another module owns (partner, login-link, password, knock, identity-provider). */
  registerCredential(type: CredentialTypeValue, admitter: CredentialAdmitter): void {
    this.admitters.set(type, admitter);
  }

  /** joinEvent: exchanges a credential for a session (F9). */
  async join(input: JoinEventInput, facts: JoinRequestFacts = { ip: "unknown" }): Promise<JoinOutcome> {
    return this.joinAdmitted(await this.admit(input, facts));
  }

  /**
   * Opens a session for a verified admission, under the event's row lock when it has a
   * capacity: the entrant's user is upserted, the duplicate-session policy and capacity applied,
   * the role resolved. Browser routes that verify a credential themselves (login links) call this.
   */
  async joinAdmitted(admission: Admission): Promise<JoinOutcome> {
    const now = this.deps.clock.now();
    // Fetched before any transaction: inside one, only its own connection may be used (PGlite has one).
    const key = await this.deps.signingKeys.currentKey(admission.company.id);
    if (eventStatus(admission.event, now) === EventStatus.ENDED) throw new AppError("EVENT_ENDED", "This event has ended.");
    const params = joinParams(admission, now, this.mayLookForRoom(admission.event.id, now));
    let row: JoinRow;
    try {
      row = await this.runJoinStatement(admission, params);
    } catch (error) {
      if (isAppError(error) && error.code === "EVENT_FULL") this.foundFull(admission.event.id, now);
      throw error;
    }
    const session = sessionOfRow(row);
    // Signed after COMMIT: the rows this join locked (a seat stripe, the event's for a capacity)
    // are not held while the signature is made.
    const { token, expiresAt } = await this.signSessionToken(key, admission.company, session, now);
    return { session, sessionToken: token, sessionTokenExpiresAt: expiresAt, role: session.role as Role };
  }

  /**
   * Events this node found full, and when it last looked for room in each by writing down their
   * stale sessions (admit_join's sweep when full): once a second per event at most, since a full
   * event refuses joins by the thousand and each look reads all of its live sessions. Meanwhile a
   * full event refuses at once; the periodic sweep ends stale sessions every 30 s regardless.
   */
  private readonly lookedForRoom = new Map<string, number>();

  private mayLookForRoom(eventId: string, now: Date): boolean {
    const at = this.lookedForRoom.get(eventId);
    return at === undefined || now.getTime() - at >= LOOK_FOR_ROOM_EVERY_MS || now.getTime() < at;
  }

  private foundFull(eventId: string, now: Date): void {
    if (!this.lookedForRoom.has(eventId) && this.lookedForRoom.size >= 10_000) this.lookedForRoom.clear();
    if (this.mayLookForRoom(eventId, now)) this.lookedForRoom.set(eventId, now.getTime());
  }

  private async runJoinStatement(admission: Admission, params: unknown[]): Promise<JoinRow> {
    let row: JoinRow;
    if (admission.consume || admission.onSession) {
      // A single-use credential is consumed in the same transaction as the join, so a refusal by
      // admit_join gives it back.
      row = await this.deps.dataSource.transaction(async (manager) => {
        if (admission.consume) await admission.consume(manager);
        const joined = await runJoin(admission, () => queryRows<JoinRow>(manager, JOIN_SQL, params));
        if (admission.onSession) await admission.onSession(manager, sessionOfRow(joined));
        return joined;
      });
    } else {
      // One statement, its own transaction: the whole join is one round trip (see admit_join).
      row = await runJoin(admission, () => this.sql<JoinRow>(JOIN_SQL, params));
    }
    return row;
  }

  /** Verifies the credential and names the event and entrant. Writes nothing. */
  private async admit(input: JoinEventInput, facts: JoinRequestFacts): Promise<Admission> {
    const credential = input.credential?.trim() || null;
    let type = input.credentialType ?? null;
    if (!type) {
      if (!credential) type = "GUEST";
      else {
        const kind = peekToken(credential).kind;
        if (kind === "join") type = "JOIN_TOKEN";
        else if (kind === "registration") type = "REGISTRATION_TOKEN";
        else throw new AppError("TOKEN_INVALID", "This credential cannot be used to join; name its credentialType.");
      }
    }
    switch (type) {
      case "JOIN_TOKEN":
        return this.admitJoinToken(input, requireCredential(credential));
      case "REGISTRATION_TOKEN":
        return this.admitRegistrationToken(input, requireCredential(credential));
      case "GUEST":
        return this.admitGuest(input, facts);
      case "LOGIN_LINK":
      case "PARTNER_JWT":
      case "OIDC_ID_TOKEN":
      case "PASSWORD": {
        const admitter = this.admitters.get(type);
        if (!admitter) throw badInput("credentialType", `${type} credentials are not accepted by this server.`);
        return admitter(input, credential, facts);
      }
    }
  }

  /**
   * Plugs in the admission of join tokens that carry a `jrq` claim: the single-use credential an
   * approved knock hands out (F8), owned by the join-request module.
   */
  registerJoinRequestCredential(admitter: JoinRequestAdmitter): void {
    this.joinRequestAdmitter = admitter;
  }

  private async admitJoinToken(input: JoinEventInput, token: string): Promise<Admission> {
    const { company, payload } = await this.deps.tokens.verify(token, ["join"]);
    if (payload.jrq !== undefined) {
      if (!this.joinRequestAdmitter) throw new AppError("TOKEN_INVALID", "This token cannot be used here.");
      return this.joinRequestAdmitter(company, payload, input);
    }
    const { claims, profile } = joinTokenOf(payload);
    const event = await this.eventOf(company.id, input.event);
    if (claims.eventId !== null && claims.eventId !== event.id) {
      throw new AppError("TOKEN_WRONG_EVENT", "This token opens another event.");
    }
    // sjt: the subject token a token exchange minted this one for; revoking it revokes this too.
    const subjectJti = typeof payload.sjt === "string" ? payload.sjt : null;
    if ((await this.deps.tokens.isRevoked(company.id, claims.jti)) || (subjectJti !== null && (await this.deps.tokens.isRevoked(company.id, subjectJti)))) {
      throw new AppError("TOKEN_REVOKED", "This token was revoked.");
    }
    return {
      company,
      event,
      credentialType: "JOIN_TOKEN",
      jti: claims.jti,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      roleGrant: claims.roleGrant,
      ejectAfterElapsedSeconds: claims.ejectAfterElapsedSeconds,
      ejectAtTokenExpiry: claims.ejectAtTokenExpiry,
      metadata: claims.metadata,
      entrant: { kind: "external", profile },
    };
  }

  private async admitRegistrationToken(input: JoinEventInput, token: string): Promise<Admission> {
    const { company, payload } = await this.deps.tokens.verify(token, ["registration"]);
    const event = await this.eventOf(company.id, input.event);
    const registrant = v.isUuid(payload.sub!)
      ? await this.deps.dataSource.getRepository(RegistrantEntity).findOneBy({ id: payload.sub!, companyId: company.id })
      : null;
    if (!registrant) throw new AppError("TOKEN_INVALID", "This registration does not exist.");
    if (registrant.eventId !== event.id) throw new AppError("TOKEN_WRONG_EVENT", "This registration is for another event.");
    if (registrant.cancelledAt || (await this.deps.tokens.isRevoked(company.id, payload.jti!))) {
      throw new AppError("TOKEN_REVOKED", "This registration was cancelled or revoked.");
    }
    return {
      company,
      event,
      credentialType: "REGISTRATION_TOKEN",
      jti: payload.jti!,
      issuedAt: new Date(payload.iat! * 1000),
      expiresAt: typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null,
      roleGrant: null,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: {},
      entrant: { kind: "registrant", registrant },
    };
  }

  private async admitGuest(input: JoinEventInput, facts: JoinRequestFacts): Promise<Admission> {
    const event = await this.publicEventOf(input.event);
    const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id: event.companyId });
    if (event.privacy !== "PUBLIC") {
      throw new AppError(
        "CREDENTIAL_REQUIRED",
        event.knockingEnabled
          ? "This event is private: ask to join (requestToJoin) or use your invitation link."
          : "This event is private: use the link or token you were given.",
      );
    }
    if (!input.displayName?.trim()) throw badInput("displayName", "displayName is required to join as a guest.");
    const name = v.requiredText("displayName", requireStorable("displayName", input.displayName), MAX_DISPLAY_NAME);
    return {
      company,
      event,
      credentialType: "GUEST",
      jti: null,
      issuedAt: null,
      expiresAt: null,
      roleGrant: null,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: {},
      entrant: { kind: "guest", name },
      // Counted in the join's transaction: a guest join refused for any reason counts nothing.
      consume: async (manager) => {
        const counted = await this.deps.limiter.hit(company.id, `guest:${addressSubject(facts.ip)}`, GUEST_ADDRESS_LIMIT, manager);
        const limited = this.deps.limiter.refusal(counted, GUEST_ADDRESS_LIMIT, "Too many guests have joined from your address");
        if (limited) throw limited;
      },
    };
  }

  /**
   * The event of this company that a reference names: its id, its slug, or
   * "companySlug/eventSlug" (the form of the join page's address), as everywhere an event is named.
   * Another company's event is NOT_FOUND, like a missing one.
   */
  async eventOf(companyId: string, ref: string): Promise<EventEntity> {
    const trimmed = isStorable(ref) ? ref.trim() : "";
    if (trimmed.includes("/")) {
      const event = await this.publicEventOf(trimmed);
      if (event.companyId !== companyId) throw notFound("The event");
      return event;
    }
    const event = trimmed ? await this.deps.events.findByIdOrSlug(companyId, trimmed) : null;
    if (!event) throw notFound("The event");
    return event;
  }

  /**
   * An event named without a credential: by id, by "companySlug/eventSlug", or by a slug that
   * only one company uses.
   */
  async publicEventOf(ref: string): Promise<EventEntity> {
    const trimmed = ref.trim();
    // No event has such a name, and PostgreSQL would refuse the text itself.
    if (!isStorable(trimmed)) throw notFound("The event");
    const repo = this.deps.dataSource.getRepository(EventEntity);
    if (v.isUuid(trimmed)) {
      const byId = await repo.findOneBy({ id: trimmed });
      if (byId) return byId;
    }
    const slash = trimmed.indexOf("/");
    if (slash > 0) {
      const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneBy({ slug: trimmed.slice(0, slash) });
      const event = company ? await repo.findOneBy({ companyId: company.id, slug: trimmed.slice(slash + 1) }) : null;
      if (event) return event;
      throw notFound("The event");
    }
    const matches = await repo.find({ where: { slug: trimmed }, take: 2 });
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw badInput("event", "Several companies use this slug: name the event by its id or as companySlug/eventSlug.");
    throw notFound("The event");
  }

  /** Signs a session token and remembers it on this node (replacing the one it refreshes), see TokenService.rememberSessionToken. */
  private async signSessionToken(key: TokenSigningKey, company: CompanyEntity, session: SessionEntity, now: Date, replaces?: string) {
    // Never past the session's first hard limit: a refresh cannot extend it.
    const expiresAt = earliest(new Date(now.getTime() + SESSION_TOKEN_TTL_SECONDS * 1000), session.ejectAt)!;
    const role = session.role as Role;
    const token = await signToken({
      kind: "session",
      key,
      issuer: this.deps.tokens.issuerOf(company.slug),
      audience: this.deps.tokens.sessionTokenAudience(company),
      subject: session.id,
      jti: randomUUID(),
      issuedAt: now,
      expiresAt,
      // What a media server enforces without calling Admit: the role as of this token (a
      // heartbeat re-signs it, so a role change reaches the next token) and what it may do.
      claims: { evt: session.eventId, uid: session.userId, role, permissions: permissionsOf(company.rolePermissions, role) },
    });
    this.deps.tokens.rememberSessionToken(token, company.id, decodeJwt(token), replaces);
    return { token, expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000) };
  }

  // ---------------------------------------------------------------------------------------------
  // Live sessions

  /**
   * The session a session token names, verified. An expired session token is accepted here: the
   * session's own state (inactivity window, hard limits, revocation) decides what happens to it,
   * so a client that slept through its token's expiry still learns why its session ended, or
   * picks it up again while the session is within the inactivity window. Bearer use
   * (principalOf) still requires an unexpired token.
   */
  async sessionOfToken(sessionToken: string): Promise<{ company: CompanyEntity; sessionId: string }> {
    const { company, payload } = await this.deps.tokens.verify(sessionToken, ["session"], { acceptExpired: true });
    if (!v.isUuid(payload.sub!)) throw new AppError("TOKEN_INVALID", "The session token is malformed.");
    return { company, sessionId: payload.sub! };
  }

  /** The principal of a session token used as a bearer; "invalid" when it does not verify. */
  async principalOf(sessionToken: string): Promise<Principal> {
    try {
      const { company, payload } = await this.deps.tokens.verify(sessionToken, ["session"]);
      if (!v.isUuid(payload.sub!) || typeof payload.evt !== "string") return { kind: "invalid" };
      return { kind: "session", companyId: company.id, sessionId: payload.sub!, eventId: payload.evt };
    } catch (error) {
      if (isAppError(error)) return { kind: "invalid" };
      throw error;
    }
  }

  /**
   * heartbeat (F10, F10b): re-checks everything join checked, ends the session when a rule says
   * so, re-resolves the role, and hands out a fresh session token that never outlives ejectAt.
   */
  async heartbeat(sessionToken: string): Promise<SessionStateOutcome> {
    const { company, sessionId } = await this.sessionOfToken(sessionToken);
    const now = this.deps.clock.now();
    const key = await this.deps.signingKeys.currentKey(company.id);
    // One statement reads every fact, decides (the ending rule of decideEnding, the role of
    // roleFromLists) and writes: the session ended, or refreshed with its live role. No lock is
    // needed: a session ended meanwhile (kick, supersede, sweep) is not updated, and the answer is
    // then the ended session.
    const [row] = await this.sql<SessionRow>(HEARTBEAT_SQL, [sessionId, company.id, now]);
    if (!row) return this.endedMeanwhile(sessionId, company.id);
    const session = sessionOfRow(row);
    if (session.endReason === "SUSPENDED") throw userSuspended();
    if (session.endedAt) return this.stateOf(session, false);
    const { token, expiresAt } = await this.signSessionToken(key, company, session, now, sessionToken);
    return { ...this.stateOf(session, true), sessionToken: token, sessionTokenExpiresAt: expiresAt };
  }

  /** The answer for a session the heartbeat did not update: already ended, ended meanwhile, or unknown. */
  private async endedMeanwhile(sessionId: string, companyId: string): Promise<SessionStateOutcome> {
    const session = await this.deps.dataSource.getRepository(SessionEntity).findOneBy({ id: sessionId, companyId });
    if (!session) throw new AppError("TOKEN_INVALID", "This session does not exist.");
    // Ended by suspendUser: refused while the user stays suspended; once unsuspended, the client
    // learns the session ended (and may join again).
    if (session.endReason === "SUSPENDED") {
      const user = await this.deps.dataSource.getRepository(UserEntity).findOneBy({ id: session.userId });
      if (user?.suspendedAt) throw userSuspended();
    }
    return this.stateOf(session, session.endedAt === null);
  }

  /** decideEnding, with its facts read inside the caller's transaction. */
  private async endingOf(
    manager: EntityManager,
    company: CompanyEntity,
    event: EventEntity,
    user: UserEntity,
    session: SessionEntity,
    now: Date,
  ): Promise<Pick<SessionEntity, "endedAt" | "endReason"> | null> {
    const credentialRevoked =
      (session.credentialJti !== null && (await this.deps.tokens.isRevoked(company.id, session.credentialJti, manager))) ||
      (user.tokensRevokedBefore !== null &&
        session.credentialIssuedAt !== null &&
        session.credentialIssuedAt.getTime() < user.tokensRevokedBefore.getTime());
    let registrantGone = false;
    if (session.registrantId) {
      const registrant = await manager.findOneBy(RegistrantEntity, { id: session.registrantId });
      registrantGone = !registrant || registrant.cancelledAt !== null;
    }
    return decideEnding(session, {
      eventEnd: earliest(event.endedAt, event.endsAt),
      idleSeconds: company.sessionInactivityTimeoutSeconds,
      firstHeartbeatSeconds: company.firstHeartbeatWindowSeconds,
      credentialRevoked,
      registrantGone,
      now,
    });
  }

  private stateOf(session: SessionEntity, active: boolean): SessionStateOutcome {
    return {
      session,
      role: session.role as Role,
      active,
      endReason: session.endReason,
      sessionToken: null,
      sessionTokenExpiresAt: null,
      ejectAt: session.ejectAt,
    };
  }

  /**
   * leaveEvent: ends the caller's own session as LEFT; leaving twice answers the ended session. A
   * session that a limit had already ended (idle, ejected, event over) is recorded as that, so
   * analytics do not count the time after it.
   */
  async leave(sessionToken: string): Promise<SessionEntity> {
    const { company, sessionId } = await this.sessionOfToken(sessionToken);
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      const session = await manager.findOne(SessionEntity, { where: { id: sessionId, companyId: company.id }, lock: { mode: "pessimistic_write" } });
      if (!session) throw new AppError("TOKEN_INVALID", "This session does not exist.");
      if (session.endedAt) return session;
      const event = await manager.findOneByOrFail(EventEntity, { id: session.eventId });
      const user = await manager.findOneByOrFail(UserEntity, { id: session.userId });
      const ending = (await this.endingOf(manager, company, event, user, session, now)) ?? { endedAt: now, endReason: "LEFT" as const };
      await manager.update(SessionEntity, { id: session.id }, ending);
      return { ...session, ...ending };
    });
  }

  /**
   * endSession (F10b): an organizer or the company's API key ends a session as KICKED; with ban,
   * the credential it came in with is revoked too, so the same link cannot rejoin.
   */
  async kick(ctx: RequestContext, id: string, ban: boolean): Promise<SessionEntity> {
    const session = await this.sessionForOrganizer(ctx, id);
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      await this.endLive(manager, session.id, session.companyId, "KICKED", now);
      if (ban && session.credentialJti) {
        await this.deps.tokens.revokeJti(manager, session.companyId, session.credentialJti, session.credentialExpiresAt);
      }
      return manager.findOneByOrFail(SessionEntity, { id: session.id });
    });
  }

  /**
   * Ends one live session of the company as `reason` (a kick, a logout, a stolen link), in the
   * caller's transaction. A session that a time limit had already ended (idle, ejected, event
   * over) is first written down as that (SWEEP_SQL), never hidden under `reason`. Returns whether
   * this call ended it.
   */
  async endLive(manager: EntityManager, sessionId: string, companyId: string, reason: SessionEndReasonValue, now: Date): Promise<boolean> {
    await manager.query(`${SWEEP_SQL} AND s.id = $2`, [now, sessionId]);
    const ended = await queryRows(
      manager,
      "UPDATE sessions SET ended_at = $3, end_reason = $4 WHERE id = $1 AND company_id = $2 AND ended_at IS NULL RETURNING id",
      [sessionId, companyId, now, reason],
    );
    return ended.length > 0;
  }

  /** A session the caller may act on as organizer: its company's API key, or an ORGANIZER session of its event. */
  async sessionForOrganizer(ctx: RequestContext, id: string): Promise<SessionEntity> {
    const companyId = await this.organizerCompany(ctx);
    const session = v.isUuid(id) ? await this.deps.dataSource.getRepository(SessionEntity).findOneBy({ id, companyId }) : null;
    if (!session) throw notFound("The session");
    if (ctx.principal.kind === "session" && ctx.principal.eventId !== session.eventId) throw notFound("The session");
    return session;
  }

  /**
   * The company of an API-key caller (MANAGE_EVENTS) or of a live ORGANIZER session. The
   * organizer's role is resolved now, from the lists as they are, not read from its last
   * heartbeat: someone removed from the organizers loses the power at once.
   */
  async organizerCompany(ctx: RequestContext): Promise<string> {
    const principal = ctx.principal;
    if (principal.kind === "session") {
      const forbidden = () => new AppError("FORBIDDEN", "Only an organizer of this event may do this.");
      const manager = this.deps.dataSource.manager;
      const organizer = await manager.findOneBy(SessionEntity, { id: principal.sessionId, companyId: principal.companyId, endedAt: IsNull() });
      if (!organizer) throw forbidden();
      const [company, event, user, principals] = await Promise.all([
        manager.findOneByOrFail(CompanyEntity, { id: organizer.companyId }),
        manager.findOneByOrFail(EventEntity, { id: organizer.eventId }),
        manager.findOneByOrFail(UserEntity, { id: organizer.userId }),
        manager.findBy(EventPrincipalEntity, { eventId: organizer.eventId }),
      ]);
      if (await this.endingOf(manager, company, event, user, organizer, this.deps.clock.now())) throw forbidden();
      if (resolveRole(principals, subjectOf(user), normalizeGrant(organizer.roleGrant)).role !== Role.ORGANIZER) throw forbidden();
      return organizer.companyId;
    }
    if (principal.kind === "apiKey" && !principal.scopes.includes("MANAGE_EVENTS")) {
      throw new AppError("FORBIDDEN", "This API key lacks the scope MANAGE_EVENTS.");
    }
    return companyIdOf(ctx);
  }

  async get(ctx: RequestContext, id: string): Promise<SessionEntity | null> {
    if (!v.isUuid(id)) return null;
    return this.deps.dataSource.getRepository(SessionEntity).findOneBy({ id, companyId: companyIdOf(ctx) });
  }

  /** revokeUserTokens: every credential of the user issued before now is refused; live sessions end as REVOKED. */
  async revokeUserTokens(ctx: RequestContext, ref: UserRef): Promise<number> {
    const companyId = companyIdOf(ctx);
    const now = this.deps.clock.now();
    const userId = await userIdOfRef(this.deps.dataSource, companyId, ref);
    return this.deps.dataSource.transaction(async (manager) => {
      const result = await manager.update(UserEntity, { id: userId, companyId }, { tokensRevokedBefore: now });
      if (!result.affected) throw notFound("The user");
      await this.deps.tokens.announceUserTokensRevoked(manager, companyId, userId);
      // Sessions a limit had already ended are written down as that first; the rest end REVOKED.
      await manager.query(`${SWEEP_SQL} AND s.user_id = $2`, [now, userId]);
      const ended = await manager
        .createQueryBuilder()
        .update(SessionEntity)
        .set({ endedAt: now, endReason: "REVOKED" })
        .where("user_id = :userId AND company_id = :companyId AND ended_at IS NULL", { userId, companyId })
        .andWhere("credential_issued_at IS NOT NULL")
        .execute();
      return ended.affected ?? 0;
    });
  }

  /** effectiveRole (F9): the role a user or email would have in the event now, from its lists. */
  async effectiveRole(ctx: RequestContext, eventId: string, userId?: string | null, email?: string | null): Promise<RoleResolution> {
    const event = await this.deps.events.get(ctx, eventId);
    if (!userId && !email) throw badInput("userId", "Give userId, email or both.");
    const subject: RoleSubject = {
      externalId: userId ?? null,
      emailNormalized: email ? v.normalizeEmail("email", email).normalized : null,
    };
    if (userId && !subject.emailNormalized) {
      const user = await this.deps.dataSource.getRepository(UserEntity).findOneBy({ companyId: event.companyId, externalId: userId });
      subject.emailNormalized = user?.emailNormalized ?? null;
    }
    const principals = await this.deps.dataSource.getRepository(EventPrincipalEntity).findBy({ eventId: event.id });
    return resolveRole(principals, subject, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Sweeping: sessions whose end is already decided by time, written down.

  /** Ends the event's live sessions whose end time has already decided (see SWEEP_SQL). */
  private async sweepEvent(manager: EntityManager, eventId: string, now: Date): Promise<void> {
    await manager.query(`${SWEEP_SQL} AND s.event_id = $2`, [now, eventId]);
  }

  /**
   * Ends every live session whose end time has already decided: idled out, past ejectAt, or
   * outlived its event. Every node runs this periodically, so analytics see ended sessions as
   * ended; heartbeat and join apply the same rule themselves. Returns how many it ended.
   */
  async sweep(now: Date = this.deps.clock.now()): Promise<number> {
    const result: unknown = await this.deps.dataSource.query(SWEEP_SQL, [now]);
    return Array.isArray(result) && typeof result[1] === "number" ? result[1] : 0;
  }

  /**
   * endEvent, in its transaction (the event's ended_at is already set): its live sessions end as
   * EVENT_ENDED at once, except those that a limit had ended before (idle, ejected).
   */
  async endEventSessions(manager: EntityManager, eventId: string, at: Date): Promise<void> {
    await this.sweepEvent(manager, eventId, at);
    await manager.update(SessionEntity, { eventId, endedAt: IsNull() }, { endedAt: at, endReason: "EVENT_ENDED" });
  }
}

/*
 * The end-of-session rule of endingOf, as one UPDATE: of the limits that have passed (event end,
 * ejectAt, last heartbeat + the company's inactivity window), the first reached decides the
 * reason and the end time; ties go to the event end, then ejectAt. One statement, so that under
 * READ COMMITTED a concurrent heartbeat's newer last_seen_at is re-checked before the row is
 * ended. LEAST ignores NULLs. $1 is now.
 */
/**
 * A guest's session that never heartbeated (last_seen_at is still its join) has the first-heartbeat
 * window instead: anonymous joins that never come alive (bots) give their place back.
 */
const NEVER_BEATEN = "(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at)";
const IDLE_AT = `(s.last_seen_at + make_interval(secs => CASE WHEN ${NEVER_BEATEN}
    THEN LEAST(c.first_heartbeat_window_seconds, c.session_inactivity_timeout_seconds) ELSE c.session_inactivity_timeout_seconds END))`;
const IDLE_REASON = `CASE WHEN ${NEVER_BEATEN} THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END`;
const EVENT_END = "LEAST(e.ended_at, e.ends_at)";
const FIRST_LIMIT = `LEAST(${IDLE_AT}, s.eject_at, ${EVENT_END})`;
interface EndingFacts {
  eventEnd: Date | null;
  idleSeconds: number;
  firstHeartbeatSeconds: number;
  credentialRevoked: boolean;
  registrantGone: boolean;
  now: Date;
}

/**
 * Why a live session must end now, or null. Of the limits that time has passed (event end,
 * ejectAt, the inactivity window) the one reached first decides, so a session that idled out
 * before the event ended is INACTIVE and its time stops at its last heartbeat. Then revocation.
 * The same rule, in SQL, is SWEEP_SQL.
 */
export function decideEnding(session: SessionEntity, facts: EndingFacts): Pick<SessionEntity, "endedAt" | "endReason"> | null {
  const limits: { at: Date; endedAt: Date; endReason: SessionEndReasonValue }[] = [];
  if (facts.eventEnd) limits.push({ at: facts.eventEnd, endedAt: maxDate(facts.eventEnd, session.joinedAt), endReason: "EVENT_ENDED" });
  if (session.ejectAt) limits.push({ at: session.ejectAt, endedAt: session.ejectAt, endReason: session.ejectReason ?? "ELAPSED" });
  // A guest's session that never heartbeated gives its place back sooner, as NO_HEARTBEAT (bots
  // that join and never come alive); its time stops at its join.
  const neverBeaten = session.credentialType === "GUEST" && session.lastSeenAt.getTime() === session.joinedAt.getTime();
  const idleSeconds = neverBeaten ? Math.min(facts.firstHeartbeatSeconds, facts.idleSeconds) : facts.idleSeconds;
  const idleAt = new Date(session.lastSeenAt.getTime() + idleSeconds * 1000);
  limits.push({ at: idleAt, endedAt: session.lastSeenAt, endReason: neverBeaten ? "NO_HEARTBEAT" : "INACTIVE" });
  // Stable sort: on a tie the order above (event, eject, idle) decides, as in SWEEP_SQL.
  const reached = limits.filter((l) => l.at.getTime() <= facts.now.getTime()).sort((a, b) => a.at.getTime() - b.at.getTime())[0];
  if (reached) return { endedAt: reached.endedAt, endReason: reached.endReason };
  if (facts.credentialRevoked || facts.registrantGone) return { endedAt: facts.now, endReason: "REVOKED" };
  return null;
}

/** The columns of a sessions row, as plain SQL returns them (SESSION_COLUMNS). */
interface SessionRow {
  id: string;
  company_id: string;
  event_id: string;
  user_id: string;
  registrant_id: string | null;
  credential_type: SessionEntity["credentialType"];
  credential_jti: string | null;
  credential_issued_at: Date | null;
  credential_expires_at: Date | null;
  role_grant: string | null;
  role: string;
  joined_at: Date;
  last_seen_at: Date;
  ended_at: Date | null;
  end_reason: SessionEndReasonValue | null;
  eject_at: Date | null;
  eject_reason: SessionEndReasonValue | null;
  metadata: Record<string, unknown> | null;
}

interface JoinRow extends SessionRow {
  user_created: boolean;
}

const SESSION_COLUMNS = `id, company_id, event_id, user_id, registrant_id, credential_type, credential_jti, credential_issued_at,
       credential_expires_at, role_grant, role, joined_at, last_seen_at, ended_at, end_reason, eject_at, eject_reason, metadata`;

/**
 * A heartbeat in one statement: the facts of decideEnding (time limits first, in SWEEP_SQL's order,
 * then revocation of the credential, the user's cut-off or the registration), and the role of
 * roleFromLists from the list entries naming this user and the credential's grant. An ending
 * session keeps its last_seen_at and role; a live one is touched and takes its live role.
 * $1 session id, $2 company id, $3 now.
 */
const HEARTBEAT_SQL = `
WITH facts AS (
  SELECT s.id, ${EVENT_END} AS event_end, ${FIRST_LIMIT} AS first_limit,
         ${FIRST_LIMIT} <= $3::timestamptz AS timed_out,
         COALESCE(s.credential_jti IS NOT NULL AND EXISTS (
                    SELECT 1 FROM revoked_tokens r WHERE r.company_id = s.company_id AND r.jti = s.credential_jti), false)
           OR COALESCE(s.credential_issued_at < u.tokens_revoked_before, false)
           OR (s.registrant_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM registrants g WHERE g.id = s.registrant_id AND g.cancelled_at IS NULL)) AS revoked,
         u.suspended_at IS NOT NULL AS suspended,
         ARRAY(SELECT p.role::text FROM event_principals p
                WHERE p.event_id = s.event_id
                  AND (p.user_external_id = u.external_id OR p.email = u.email_normalized)) AS listed,
         CASE WHEN upper(s.role_grant) IN ('ADMIN', 'OWNER', 'ORGANIZER') THEN 'ORGANIZER' ELSE upper(s.role_grant) END AS granted
    FROM sessions s
    JOIN events e ON e.id = s.event_id
    JOIN users u ON u.id = s.user_id
    JOIN companies c ON c.id = s.company_id
   WHERE s.id = $1 AND s.company_id = $2 AND s.ended_at IS NULL
)
UPDATE sessions s
   SET ended_at = CASE WHEN f.timed_out THEN CASE WHEN f.event_end = f.first_limit THEN GREATEST(s.joined_at, f.event_end)
                                                  WHEN s.eject_at = f.first_limit THEN s.eject_at
                                                  ELSE s.last_seen_at END
                       WHEN f.suspended OR f.revoked THEN $3::timestamptz END,
       end_reason = CASE WHEN f.timed_out THEN CASE WHEN f.event_end = f.first_limit THEN 'EVENT_ENDED'
                                                    WHEN s.eject_at = f.first_limit THEN COALESCE(s.eject_reason, 'ELAPSED')
                                                    ELSE ${IDLE_REASON} END
                         WHEN f.suspended THEN 'SUSPENDED'
                         WHEN f.revoked THEN 'REVOKED' END,
       last_seen_at = CASE WHEN f.timed_out OR f.suspended OR f.revoked THEN s.last_seen_at ELSE $3::timestamptz END,
       role = CASE WHEN f.timed_out OR f.suspended OR f.revoked THEN s.role
                   WHEN 'ORGANIZER' = ANY(f.listed) OR f.granted = 'ORGANIZER' THEN 'ORGANIZER'
                   WHEN 'PRESENTER' = ANY(f.listed) OR f.granted = 'PRESENTER' THEN 'PRESENTER'
                   ELSE 'ATTENDEE' END
  FROM facts f
 WHERE s.id = f.id AND s.ended_at IS NULL
RETURNING ${SESSION_COLUMNS.replace(/(\w+)/g, "s.$1")}`;

/** The join's writes in one statement: admit_join (migration JoinInOneStatement) says what it does. */
const JOIN_SQL = `SELECT ${SESSION_COLUMNS}, user_created
  FROM admit_join($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`;

/** The refusals admit_join raises (SQLSTATE AD001, the code as message), as a person reads them. */
const JOIN_REFUSALS: Readonly<Record<string, string>> = {
  EVENT_ENDED: "This event has ended.",
  EVENT_FULL: "This event is full; try again when someone leaves.",
  ALREADY_IN_SESSION: "You are already in this event elsewhere; leave that session first.",
  SEAT_LIMIT_REACHED: "The company has used every seat of its seat limit; raise seatLimit to add users.",
  INVALID_CREDENTIALS: "The user this credential names no longer exists.",
  TOKEN_REVOKED: "This credential was revoked.",
  USER_SUSPENDED: "This user is suspended: the company must unsuspend them before they can join.",
};

/** Runs admit_join, turning its refusals into the API's errors. */
async function runJoin(admission: Admission, run: () => Promise<JoinRow[]>): Promise<JoinRow> {
  try {
    const [row] = await run();
    return row;
  } catch (error) {
    const failure = error as { code?: string; message?: string; driverError?: { code?: string; message?: string } };
    const code = failure.driverError?.code ?? failure.code;
    const refusal = failure.driverError?.message ?? failure.message ?? "";
    if (code !== "AD001") throw error;
    if (refusal === "NOT_FOUND") throw notFound("The event");
    if (refusal === "TOKEN_REVOKED" && admission.entrant.kind === "registrant") {
      throw new AppError("TOKEN_REVOKED", "This registration was cancelled or revoked.");
    }
    const message = JOIN_REFUSALS[refusal];
    if (!message) throw error;
    throw new AppError(refusal as keyof typeof JOIN_REFUSALS & AppError["code"], message);
  }
}

/** admit_join's parameters for an admission; refuses a session that would already be over. */
function joinParams(admission: Admission, now: Date, sweepWhenFull: boolean): unknown[] {
  const ejectCandidates: { at: Date; reason: SessionEndReasonValue }[] = [];
  if (admission.ejectAfterElapsedSeconds) {
    ejectCandidates.push({ at: new Date(now.getTime() + admission.ejectAfterElapsedSeconds * 1000), reason: "ELAPSED" });
  }
  if (admission.ejectAtTokenExpiry && admission.expiresAt) ejectCandidates.push({ at: admission.expiresAt, reason: "TOKEN_EXPIRED" });
  const eject = ejectCandidates.sort((a, b) => a.at.getTime() - b.at.getTime())[0] ?? null;
  // A token accepted within the clock skew after its exp would open a session already over.
  if (eject && eject.at.getTime() <= now.getTime()) throw new AppError("TOKEN_EXPIRED", "The token has expired.");

  const entrant = admission.entrant;
  let profile: Record<string, unknown> = {};
  if (entrant.kind === "external") {
    const p = entrant.profile;
    if (p.email !== undefined) {
      profile.email = p.email?.email ?? null;
      profile.email_normalized = p.email?.normalized ?? null;
    }
    if (p.name !== undefined) profile.name = p.name;
    if (p.avatarUrl !== undefined) profile.avatar_url = p.avatarUrl;
    if (p.metadata !== undefined) profile.metadata = p.metadata ?? {};
  } else if (entrant.kind === "guest") {
    profile = { name: entrant.name };
  }
  const metadata = entrant.kind === "registrant" ? { ...admission.metadata, ...entrant.registrant.metadata } : admission.metadata;
  return [
    admission.company.id,
    admission.event.id,
    now,
    admission.company.sessionInactivityTimeoutSeconds,
    admission.company.firstHeartbeatWindowSeconds,
    entrant.kind,
    entrant.kind === "user" ? entrant.userId : null,
    entrant.kind === "external" ? entrant.profile.externalId : null,
    JSON.stringify(profile),
    entrant.kind === "registrant" ? entrant.registrant.id : null,
    admission.credentialType,
    admission.jti,
    admission.issuedAt,
    admission.expiresAt,
    admission.roleGrant,
    eject?.at ?? null,
    eject?.reason ?? null,
    JSON.stringify(metadata),
    sweepWhenFull,
    admission.createdVia ?? ORIGIN_OF_CREDENTIAL[admission.credentialType],
  ];
}

function sessionOfRow(row: SessionRow): SessionEntity {
  return Object.assign(new SessionEntity(), {
    id: row.id,
    companyId: row.company_id,
    eventId: row.event_id,
    userId: row.user_id,
    registrantId: row.registrant_id,
    credentialType: row.credential_type,
    credentialJti: row.credential_jti,
    credentialIssuedAt: row.credential_issued_at,
    credentialExpiresAt: row.credential_expires_at,
    roleGrant: row.role_grant,
    role: row.role,
    joinedAt: row.joined_at,
    lastSeenAt: row.last_seen_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    ejectAt: row.eject_at,
    ejectReason: row.eject_reason,
    metadata: row.metadata ?? {},
  });
}

const SWEEP_SQL = `UPDATE sessions s
    SET ended_at = CASE WHEN ${EVENT_END} = ${FIRST_LIMIT} THEN GREATEST(s.joined_at, ${EVENT_END})
                        WHEN s.eject_at = ${FIRST_LIMIT} THEN s.eject_at
                        ELSE s.last_seen_at END,
        end_reason = CASE WHEN ${EVENT_END} = ${FIRST_LIMIT} THEN 'EVENT_ENDED'
                          WHEN s.eject_at = ${FIRST_LIMIT} THEN COALESCE(s.eject_reason, 'ELAPSED')
                          ELSE ${IDLE_REASON} END
   FROM events e, companies c
  WHERE e.id = s.event_id AND c.id = s.company_id
    AND s.ended_at IS NULL AND ${FIRST_LIMIT} <= $1::timestamptz`;

const userSuspended = (): AppError =>
  new AppError("USER_SUSPENDED", "This user is suspended: the company must unsuspend them before they can join.");

function requireCredential(credential: string | null): string {
  if (!credential) throw badInput("credential", "credential is required for this credentialType.");
  return credential;
}

function subjectOf(user: UserEntity): RoleSubject {
  return { externalId: user.externalId, emailNormalized: user.emailNormalized };
}

const maxDate = (a: Date, b: Date): Date => (a.getTime() >= b.getTime() ? a : b);
