import type { DataSource } from "typeorm";
import type { Clock } from "../../clock";
import { signToken } from "../../auth/tokens";
import { rawQuery, RawQuery } from "../../db/raw";
import { isAppError } from "../../errors";
import * as v from "../../graphql/validate";
import type { CompanyEntity } from "../company/company.entity";
import type { SigningKeyService } from "../token/signing-key.service";
import type { TokenService } from "../token/token.service";
import type { LoginLinkEntity } from "./login-link.entity";
import { linkOfRow, type LoginLinkRow, type LoginLinkService, type VerifiedLoginLink } from "./login-link.service";

export interface CompanySignInServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  tokens: TokenService;
  signingKeys: SigningKeyService;
  loginLinks: LoginLinkService;
}

/** What the company-wide cookie of a link without event says, once verified. */
export type CompanyCookieState =
  | {
      kind: "live";
      token: string;
      expiresAt: Date;
      company: CompanyEntity;
      userId: string;
      linkId: string;
      redirectOnExpiryUrl: string | null;
    }
  | {
      kind: "ended";
      endReason: "INACTIVE" | "REVOKED";
      company: CompanyEntity;
      linkId: string;
      redirectTo: string | null;
    };

/**
 * The company-wide sign-in of a login link without event. GET /login consumes the link and the
 * `admit_session` cookie then carries a join token that is not event-specific, with the link's id
 * as jti: the company page lists the open events and the join page joins any of them with it.
 * Each read of a live cookie signs a fresh token for another inactivity window (sliding, like a
 * heartbeat); revoking the link's id (logout, revokeToken, a reuse of the code) ends it.
 */
export class CompanySignInService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: CompanySignInServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /**
   * GET /login for a link without event: consumes it (the same single UPDATE as a join) and signs
   * the sign-in that the cookie carries, for the inactivity window (see signIn).
   * @throws AppError LOGIN_LINK_USED or LOGIN_LINK_EXPIRED when the link cannot be consumed.
   */
  async redeem(verified: VerifiedLoginLink): Promise<{ token: string; expiresAt: Date }> {
    const { link, company, user } = verified;
    const key = await this.deps.signingKeys.currentKey(company.id);
    const now = this.deps.clock.now();
    await this.deps.loginLinks.consume(link.id, now);
    return this.signIn(company, user.externalId!, link, now, key);
  }

  /**
   * Reads the company-wide cookie: null when it is not one (a join token that does not name a
   * used login link of its company and user, or does not verify). Live: a fresh token for
   * another inactivity window. Ended: its window passed (INACTIVE) or it was revoked (REVOKED),
   * with the link's redirect when still allowed.
   */
  async readCookie(token: string): Promise<CompanyCookieState | null> {
    let verified: Awaited<ReturnType<TokenService["verify"]>>;
    try {
      verified = await this.deps.tokens.verify(token, ["join"], { acceptExpired: true });
    } catch (error) {
      if (isAppError(error)) return null;
      throw error;
    }
    const { company, payload } = verified;
    if (payload.evt !== undefined || !v.isUuid(payload.jti!)) return null;
    const [row] = await this.sql<LoginLinkRow & { external_id: string | null }>(
      `SELECT l.*, u.external_id FROM login_links l JOIN users u ON u.id = l.user_id
        WHERE l.id = $1 AND l.company_id = $2 AND l.event_id IS NULL AND l.used_at IS NOT NULL`,
      [payload.jti, company.id],
    );
    if (!row || row.external_id !== payload.sub) return null;
    const link = linkOfRow(row);
    if (verified.expired || (await this.deps.tokens.isTokenRevoked(company, "join", payload))) {
      return {
        kind: "ended",
        endReason: verified.expired ? "INACTIVE" : "REVOKED",
        company,
        linkId: link.id,
        redirectTo: await this.deps.loginLinks.allowedRedirect(company.id, link.redirectOnExpiryUrl),
      };
    }
    const fresh = await this.signIn(company, row.external_id, link, this.deps.clock.now());
    return {
      kind: "live",
      token: fresh.token,
      expiresAt: fresh.expiresAt,
      company,
      userId: link.userId,
      linkId: link.id,
      redirectOnExpiryUrl: await this.deps.loginLinks.allowedRedirect(company.id, link.redirectOnExpiryUrl),
    };
  }

  /** Logout of the company-wide cookie: its jti is revoked, so a copy of the cookie is dead too. */
  async revokeCookie(companyId: string, linkId: string): Promise<void> {
    await this.deps.tokens.revokeJti(this.deps.dataSource.manager, companyId, linkId, null);
  }

  /**
   * A join token that is not event-specific, signed with the company's current key: sub the
   * user's external id, jti the link id (revokeToken(link id) and a reuse of the code revoke
   * it), iat the link's creation (revokeUserTokens revokes it), exp the inactivity window from
   * now. No profile claims: joining with it changes nothing about the user.
   */
  private async signIn(
    company: CompanyEntity,
    externalId: string,
    link: Pick<LoginLinkEntity, "id" | "createdAt">,
    now: Date,
    key?: Awaited<ReturnType<SigningKeyService["currentKey"]>>,
  ): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(now.getTime() + company.sessionInactivityTimeoutSeconds * 1000);
    const token = await signToken({
      kind: "join",
      key: key ?? (await this.deps.signingKeys.currentKey(company.id)),
      issuer: this.deps.tokens.issuerOf(company.slug),
      subject: externalId,
      jti: link.id,
      issuedAt: link.createdAt,
      expiresAt,
      claims: { usr: {} },
    });
    return { token, expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000) };
  }
}
