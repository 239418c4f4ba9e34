import { randomUUID } from "node:crypto";
import { DataSource, EntityManager, IsNull } from "typeorm";
import { decodeJwt } from "jose";
import type { Clock } from "../../clock";
import { signToken, TokenSigningKey } from "../../auth/tokens";
import { companyIdOf, organizerCompany, Principal, RequestContext } from "../../request-context";
import { AppError, badInput, isAppError, notFound } from "../../errors";
import { EventStatus, Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { preparedQuery, queryRows, RawQuery } from "../../db/raw";
import { CompanyEntity } from "../company/company.entity";
import { EventEntity } from "../event/event.entity";
import { EventPrincipalEntity } from "../event/event-principal.entity";
import { eventStatus, EventService } from "../event/event.service";
import { RegistrantEntity } from "../registrant/registrant.entity";
import type { SigningKeyService } from "../token/signing-key.service";
import type { TokenService } from "../token/token.service";
import { UserEntity } from "../user/user.entity";
import { type UserRef, userIdOfRef } from "../user/user.service";
import type { Admission } from "./admission.types";
import { permissionsOf } from "./role-permissions";
import { normalizeGrant, resolveRole, RoleResolution, RoleSubject, subjectOf } from "./role";
import { SessionEndReasonValue, SessionEntity } from "./session.entity";
import { decideEnding } from "./ending";
import { HEARTBEAT_SQL, joinParams, runJoin, SessionRow, sessionOfRow, SWEEP_SQL } from "./session.sql";

// The guest admitter (admission.service.ts) owns this limit; it is still read from here too.
export { GUEST_ADDRESS_LIMIT } from "./admission.types";

export interface SessionServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  tokens: TokenService;
  signingKeys: SigningKeyService;
  events: EventService;
}

/** Session tokens are short-lived: a client refreshes it with every heartbeat. */
export const SESSION_TOKEN_TTL_SECONDS = 600;
/** How often a node looks for room in an event it found full (see SessionService.lookedForRoom). */
const LOOK_FOR_ROOM_EVERY_MS = 1_000;
/** How often clients should heartbeat; also how long a revocation takes to reach a live session. */
export const HEARTBEAT_INTERVAL_SECONDS = 30;

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

  constructor(private readonly deps: SessionServiceDeps) {
    this.sql = preparedQuery(deps.dataSource);
  }

  // ---------------------------------------------------------------------------------------------
  // Join

  /**
   * Opens a session for a verified admission, under the event's row lock when it has a
   * capacity: the entrant's user is upserted, the duplicate-session policy and capacity applied,
   * the role resolved. Browser routes that verify a credential themselves (login links) call this.
   */
  async joinAdmitted(admission: Admission): Promise<JoinOutcome> {
    const now = this.deps.clock.now();
    // Fetched before any transaction: inside one, only its own connection may be used (PGlite has one).
    const key = await this.deps.signingKeys.currentKey(admission.company.id);
    if (eventStatus(admission.event, now) === EventStatus.ENDED)
      throw new AppError("EVENT_ENDED", "This event has ended.");
    const params = joinParams(admission, now, this.mayLookForRoom(admission.event.id, now));
    let session: SessionEntity;
    try {
      session = await this.writeJoin(admission, params);
    } catch (error) {
      if (isAppError(error) && error.code === "EVENT_FULL") this.foundFull(admission.event.id, now);
      throw error;
    }
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

  /**
   * admit_join (JOIN_SQL) with its parameters. Alone it is one statement in its own transaction:
   * the whole join is one round trip. A credential to consume, or a session to remember, joins it
   * in one transaction, so that a refusal by admit_join gives a single-use credential back.
   */
  private async writeJoin(admission: Admission, params: unknown[]): Promise<SessionEntity> {
    if (!admission.consume && !admission.onSession) return sessionOfRow(await runJoin(this.sql, params, admission));
    return this.deps.dataSource.transaction(async (manager) => {
      await admission.consume?.(manager);
      const inTransaction: RawQuery = (sql, values) => queryRows(manager, sql, values);
      const session = sessionOfRow(await runJoin(inTransaction, params, admission));
      await admission.onSession?.(manager, session);
      return session;
    });
  }

  /** Signs a session token and remembers it on this node (replacing the one it refreshes), see TokenService.rememberSessionToken. */
  private async signSessionToken(
    key: TokenSigningKey,
    company: CompanyEntity,
    session: SessionEntity,
    now: Date,
    replaces?: string,
  ) {
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
      claims: {
        evt: session.eventId,
        uid: session.userId,
        role,
        permissions: permissionsOf(company.rolePermissions, role),
      },
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
   * heartbeat: re-checks everything join checked, ends the session when a rule says
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
      (session.credentialJti !== null &&
        (await this.deps.tokens.isRevoked(company.id, session.credentialJti, manager))) ||
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
      const session = await manager.findOne(SessionEntity, {
        where: { id: sessionId, companyId: company.id },
        lock: { mode: "pessimistic_write" },
      });
      if (!session) throw new AppError("TOKEN_INVALID", "This session does not exist.");
      if (session.endedAt) return session;
      const event = await manager.findOneByOrFail(EventEntity, { id: session.eventId });
      const user = await manager.findOneByOrFail(UserEntity, { id: session.userId });
      const ending = (await this.endingOf(manager, company, event, user, session, now)) ?? {
        endedAt: now,
        endReason: "LEFT" as const,
      };
      await manager.update(SessionEntity, { id: session.id }, ending);
      return { ...session, ...ending };
    });
  }

  /**
   * endSession: an organizer or the company's API key ends a session as KICKED; with ban,
   * the credential it came in with is revoked too, so the same link cannot rejoin.
   */
  async kick(ctx: RequestContext, id: string, ban: boolean): Promise<SessionEntity> {
    const session = await this.sessionForOrganizer(ctx, id);
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      await this.endLive(manager, session.id, session.companyId, "KICKED", now);
      if (ban && session.credentialJti) {
        await this.deps.tokens.revokeJti(
          manager,
          session.companyId,
          session.credentialJti,
          session.credentialExpiresAt,
        );
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
  async endLive(
    manager: EntityManager,
    sessionId: string,
    companyId: string,
    reason: SessionEndReasonValue,
    now: Date,
  ): Promise<boolean> {
    await manager.query(`${SWEEP_SQL} AND s.id = $2`, [now, sessionId]);
    const ended = await queryRows(
      manager,
      "UPDATE sessions SET ended_at = $3, end_reason = $4 WHERE id = $1 AND company_id = $2 AND ended_at IS NULL RETURNING id",
      [sessionId, companyId, now, reason],
    );
    return ended.length > 0;
  }

  /** A session the caller may act on as organizer: its company's API key, or an ORGANIZER session of its event. */
  private async sessionForOrganizer(ctx: RequestContext, id: string): Promise<SessionEntity> {
    const companyId = await organizerCompany(ctx, (companyId, sessionId) => this.liveRoleOf(companyId, sessionId));
    const session = v.isUuid(id)
      ? await this.deps.dataSource.getRepository(SessionEntity).findOneBy({ id, companyId })
      : null;
    if (!session) throw notFound("The session");
    if (ctx.principal.kind === "session" && ctx.principal.eventId !== session.eventId) throw notFound("The session");
    return session;
  }

  /**
   * The role a live session of the company holds now, resolved from its event's lists as they are
   * (not read from its last heartbeat); null when it has ended or a rule of endingOf ends it now.
   * Reads only: the next heartbeat or sweep writes the ending down. The organizer rule
   * (organizerCompany in src/graphql/auth-checker.ts) asks this of a session token as bearer.
   */
  async liveRoleOf(companyId: string, sessionId: string): Promise<Role | null> {
    const manager = this.deps.dataSource.manager;
    const session = await manager.findOneBy(SessionEntity, { id: sessionId, companyId, endedAt: IsNull() });
    if (!session) return null;
    const [company, event, user, principals] = await Promise.all([
      manager.findOneByOrFail(CompanyEntity, { id: session.companyId }),
      manager.findOneByOrFail(EventEntity, { id: session.eventId }),
      manager.findOneByOrFail(UserEntity, { id: session.userId }),
      manager.findBy(EventPrincipalEntity, { eventId: session.eventId }),
    ]);
    if (await this.endingOf(manager, company, event, user, session, this.deps.clock.now())) return null;
    return resolveRole(principals, subjectOf(user), normalizeGrant(session.roleGrant)).role;
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

  /** effectiveRole: the role a user or email would have in the event now, from its lists. */
  async effectiveRole(
    ctx: RequestContext,
    eventId: string,
    userId?: string | null,
    email?: string | null,
  ): Promise<RoleResolution> {
    const event = await this.deps.events.get(ctx, eventId);
    if (!userId && !email) throw badInput("userId", "Give userId, email or both.");
    const subject: RoleSubject = {
      externalId: userId ?? null,
      emailNormalized: email ? v.normalizeEmail("email", email).normalized : null,
    };
    if (userId && !subject.emailNormalized) {
      const user = await this.deps.dataSource
        .getRepository(UserEntity)
        .findOneBy({ companyId: event.companyId, externalId: userId });
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

const userSuspended = (): AppError =>
  new AppError("USER_SUSPENDED", "This user is suspended: the company must unsuspend them before they can join.");
