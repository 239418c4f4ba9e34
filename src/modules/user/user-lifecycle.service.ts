import { createHash } from "node:crypto";
import { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../clock";
import { companyIdOf, RequestContext } from "../../request-context";
import { notFound } from "../../errors";
import * as v from "../../graphql/validate";
import { queryRows } from "../../db/raw";
import { usernameSubject } from "../../auth/rate-limit";
import type { TokenService } from "../token/token.service";
import type { SessionService } from "../session/session.service";
import { fingerprint } from "../token/revocations";
import { eraseUserFromWebhookMessages } from "../webhook/webhook.service";
import { UserEntity } from "./user.entity";
import { LOCK_USER, userOfRow, type UserRow } from "./user.sql";

export interface UserLifecycleServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  tokens: TokenService;
  sessions: SessionService;
}

/** Shown in place of a deleted person's name where a name is required (registrants, knocks). */
export const ERASED_NAME = "Deleted user";

/**
 * The digest erased_subjects keeps of a deleted user's external id: SHA-256 of
 * "<company id> <external id>" (admit_join computes the same in SQL).
 */
export function erasedSubjectDigest(companyId: string, externalId: string): string {
  return createHash("sha256").update(`${companyId.toLowerCase()} ${externalId}`, "utf8").digest("hex");
}

/**
 * What happens to a user over its life after creation: suspension (every credential refused,
 * the seat kept) and deletion (erasure for privacy requests: the person goes, the numbers stay).
 */
export class UserLifecycleService {
  constructor(private readonly deps: UserLifecycleServiceDeps) {}

  /**
   * suspendUser: live sessions end as SUSPENDED, and every credential of the user is refused with
   * USER_SUSPENDED (admit_join, heartbeat, validateToken) until unsuspendUser. The seat is kept.
   */
  async suspend(ctx: RequestContext, id: string): Promise<UserEntity> {
    const companyId = companyIdOf(ctx);
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      const user = await this.lockUser(manager, companyId, id);
      if (!user.suspendedAt) {
        await manager.update(UserEntity, { id: user.id }, { suspendedAt: now });
        await this.deps.tokens.revocations.announceSuspension(manager, companyId, user);
      }
      await this.endLiveSessions(manager, user.id, now, "SUSPENDED");
      return manager.findOneByOrFail(UserEntity, { id: user.id });
    });
  }

  /** unsuspendUser: credentials work again (those issued meanwhile too); ended sessions stay ended. */
  async unsuspend(ctx: RequestContext, id: string): Promise<UserEntity> {
    const companyId = companyIdOf(ctx);
    return this.deps.dataSource.transaction(async (manager) => {
      const user = await this.lockUser(manager, companyId, id);
      if (user.suspendedAt) await manager.update(UserEntity, { id: user.id }, { suspendedAt: null });
      return manager.findOneByOrFail(UserEntity, { id: user.id });
    });
  }

  /**
   * deleteUser: erasure for a privacy request, in one transaction. Live sessions end, every
   * credential is revoked, the seat is freed, and whatever names the person (name, email, avatar,
   * external id, metadata) is removed from the user, its registrations, sessions, knocks, login
   * links, passwords and the events' presenter and organizer lists. The user's row stays,
   * anonymous, with its sessions' times: analytics keep their counts and seconds.
   */
  async delete(ctx: RequestContext, id: string): Promise<boolean> {
    const companyId = companyIdOf(ctx);
    const now = this.deps.clock.now();
    await this.deps.dataSource.transaction(async (manager) => {
      const user = await this.lockUser(manager, companyId, id);
      const params = [user.id, companyId];

      // Credentials: a cut-off for every token, the registrations cancelled and their jtis
      // revoked (as cancelRegistration does), login links and the password gone.
      await manager.update(UserEntity, { id: user.id }, { tokensRevokedBefore: now });
      await this.deps.tokens.announceUserTokensRevoked(manager, companyId, user.id);
      if (user.externalId) {
        // A credential issued before now that names the external id must not create the person again.
        await manager.query(
          `INSERT INTO erased_subjects (company_id, digest, print, erased_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (company_id, digest) DO UPDATE SET erased_at = EXCLUDED.erased_at`,
          [companyId, erasedSubjectDigest(companyId, user.externalId), fingerprint(companyId, user.externalId), now],
        );
      }
      const registrants = await queryRows<{ id: string }>(
        manager,
        `SELECT id FROM registrants WHERE company_id = $2 AND (user_id = $1 OR ($3::text IS NOT NULL AND email_normalized = $3))`,
        [...params, user.emailNormalized],
      );
      for (const { id: registrantId } of registrants)
        await this.deps.tokens.revokeJti(manager, companyId, registrantId, null);
      await manager.query("DELETE FROM login_links WHERE user_id = $1 AND company_id = $2", params);
      await manager.query("DELETE FROM user_passwords WHERE user_id = $1 AND company_id = $2", params);
      await this.endLiveSessions(manager, user.id, now, "REVOKED");

      // The seat: a deleted user no longer counts against the limit (guests never did).
      if (!user.isGuest && !user.deletedAt) await this.freeSeat(manager, companyId);

      // What names the person. Registrations are cancelled and renamed; their id keeps the
      // email slot unique. Sessions keep their times, roles and reasons, not their metadata.
      await manager.query(
        `UPDATE registrants SET name = $3, email = 'erased-' || id || '@erased.invalid', email_normalized = 'erased-' || id || '@erased.invalid',
                email_verified = false, metadata = '{}'::jsonb, cancelled_at = COALESCE(cancelled_at, $4)
          WHERE id = ANY ($1::uuid[]) AND company_id = $2`,
        [registrants.map((r) => r.id), companyId, ERASED_NAME, now],
      );
      await manager.query("UPDATE sessions SET metadata = '{}'::jsonb WHERE user_id = $1 AND company_id = $2", params);
      const names = [user.emailNormalized, user.email?.trim().toLowerCase()].filter((e): e is string => Boolean(e));
      if (names.length > 0) {
        await manager.query(
          `UPDATE join_requests SET name = $3, email = NULL, email_normalized = NULL
            WHERE company_id = $1 AND email_normalized = ANY ($2::text[])`,
          [companyId, names, ERASED_NAME],
        );
      }
      await manager.query(
        `DELETE FROM event_principals p
          WHERE p.company_id = $1
            AND ((p.user_external_id IS NOT NULL AND p.user_external_id = $2) OR (p.email IS NOT NULL AND p.email = ANY ($3::text[])))`,
        [companyId, user.externalId, names],
      );
      // Failed password attempts are counted under a digest of the username typed.
      const usernames = [user.externalId, ...names].filter((n): n is string => Boolean(n)).map(usernameSubject);
      await manager.query("DELETE FROM auth_failures WHERE company_id = $1 AND subject = ANY ($2::text[])", [
        companyId,
        usernames,
      ]);
      await manager.query(
        `UPDATE users SET external_id = NULL, email = NULL, email_normalized = NULL, name = NULL, avatar_url = NULL,
                metadata = '{}'::jsonb, suspended_at = NULL, deleted_at = COALESCE(deleted_at, $3), updated_at = now()
          WHERE id = $1 AND company_id = $2`,
        [...params, now],
      );
      // Last: the steps above wrote webhook messages of their own (sessions ended, registrations
      // cancelled) that still name the person.
      await eraseUserFromWebhookMessages(manager, {
        companyId,
        userId: user.id,
        registrantIds: registrants.map((r) => r.id),
        emails: names,
      });
      // The analytics sums learn of the metadata just removed through pending rows that still
      // name its values, folded once a second; fold them now, so that a value only this person
      // had is gone when this commits, not a second later.
      await manager.query("SELECT analytics_fold_attendance()");
    });
    return true;
  }

  /** The user named by Admit's id or the company's external id, locked for the change. */
  private async lockUser(manager: EntityManager, companyId: string, id: string): Promise<UserEntity> {
    const [row] = await queryRows<UserRow>(manager, LOCK_USER, [companyId, v.isUuid(id) ? id : null, id]);
    if (!row) throw notFound("The user");
    return userOfRow(row);
  }

  /** Ends the user's live sessions as `reason`; those a time limit had ended are written down as that first. */
  private async endLiveSessions(
    manager: EntityManager,
    userId: string,
    now: Date,
    reason: "SUSPENDED" | "REVOKED",
  ): Promise<void> {
    const live = await queryRows<{ id: string; company_id: string }>(
      manager,
      "SELECT id, company_id FROM sessions WHERE user_id = $1 AND ended_at IS NULL",
      [userId],
    );
    for (const session of live) await this.deps.sessions.endLive(manager, session.id, session.company_id, reason, now);
  }

  /** Gives back one seat: from a stripe that counts one (admit_take_seat), else from the count kept before stripes. */
  private async freeSeat(manager: EntityManager, companyId: string): Promise<void> {
    const freed = await queryRows(
      manager,
      `UPDATE seat_stripes s SET used = s.used - 1
        WHERE s.company_id = $1 AND s.stripe = (SELECT t.stripe FROM seat_stripes t WHERE t.company_id = $1 AND t.used > 0
                                                 ORDER BY t.used DESC, t.stripe LIMIT 1 FOR UPDATE)
        RETURNING s.stripe`,
      [companyId],
    );
    if (freed.length === 0)
      await manager.query("UPDATE companies SET seats_used = seats_used - 1 WHERE id = $1 AND seats_used > 0", [
        companyId,
      ]);
  }
}
