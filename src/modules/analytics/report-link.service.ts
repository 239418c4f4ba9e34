import { randomUUID } from "node:crypto";
import type { Clock } from "../../clock";
import { signToken } from "../../auth/tokens";
import {
  analyticsReaderCompany,
  organizerCompany,
  reportTokenRefusal,
  type LiveRoleOf,
  type Principal,
  type RequestContext,
} from "../../request-context";
import { AppError, isAppError, notFound } from "../../errors";
import * as v from "../../graphql/validate";
import type { CompanyService } from "../company/company.service";
import type { EventService } from "../event/event.service";
import type { SigningKeyService } from "../token/signing-key.service";
import type { TokenService } from "../token/token.service";
import type { ReportLinkType } from "./report-link.types";

/**
 * How long a report link works. Long enough to read a report and page through it; short enough
 * that a link forwarded or left in a history is soon worth nothing (a new one costs one call).
 */
export const REPORT_LINK_TTL_SECONDS = 15 * 60;

export interface ReportLinkServiceDeps {
  clock: Clock;
  companies: CompanyService;
  events: EventService;
  signingKeys: SigningKeyService;
  tokens: TokenService;
  /** The organizer rule asks a bearer session's role now (SessionService.liveRoleOf). */
  liveRoleOf: LiveRoleOf;
}

/**
 * Report links: a signed `report+jwt` (subject: the event) that lets whoever holds it read that
 * event's report (eventAnalytics and the attendee CSV) for a few minutes, with no API key in any
 * URL. What the token may read is decided by the field rules (src/graphql/access.ts).
 */
export class ReportLinkService {
  constructor(private readonly deps: ReportLinkServiceDeps) {}

  /**
   * createReportLink: for an API key with READ_ANALYTICS, or a live ORGANIZER session of the
   * event as bearer (the join page's organizer view opens the report this way).
   * @throws AppError UNAUTHENTICATED, FORBIDDEN or NOT_FOUND.
   */
  async create(ctx: RequestContext, eventId: string): Promise<ReportLinkType> {
    const companyId = await this.creatorCompany(ctx, eventId);
    const event = v.isUuid(eventId) ? await this.deps.events.findByIdOrSlug(companyId, eventId) : null;
    if (!event || event.id !== eventId) throw notFound("The event");
    const company = await this.deps.companies.cachedCompany("id", companyId);
    if (!company) throw notFound("The event");
    const now = this.deps.clock.now();
    const expiresAt = new Date((Math.floor(now.getTime() / 1000) + REPORT_LINK_TTL_SECONDS) * 1000);
    const issuer = this.deps.tokens.issuerOf(company.slug);
    const jti = randomUUID();
    const token = await signToken({
      kind: "report",
      key: await this.deps.signingKeys.currentKey(companyId),
      issuer,
      subject: event.id,
      jti,
      issuedAt: now,
      expiresAt,
    });
    return { url: `${issuer}/events/${event.id}/report#token=${token}`, expiresAt, jti };
  }

  private async creatorCompany(ctx: RequestContext, eventId: string): Promise<string> {
    const principal = ctx.principal;
    if (principal.kind === "session") {
      // An organizer opens the report of the event they are in, and no other.
      if (principal.eventId !== eventId)
        throw new AppError("FORBIDDEN", "Only an organizer of this event may open its report.");
      return organizerCompany(ctx, this.deps.liveRoleOf);
    }
    // A link does not renew itself: its short life would mean nothing.
    if (principal.kind === "report") throw reportTokenRefusal();
    return analyticsReaderCompany(ctx, eventId);
  }

  /** The principal of a report token used as a bearer; "invalid" when it does not verify (expired or revoked included). */
  async principalOf(token: string): Promise<Principal> {
    try {
      const { company, payload } = await this.deps.tokens.verify(token, ["report"]);
      if (!v.isUuid(payload.sub!)) return { kind: "invalid" };
      // A leaked link is stopped with revokeToken(jti); the revocation view usually answers without SQL.
      if (await this.deps.tokens.isRevoked(company.id, payload.jti!)) return { kind: "invalid" };
      return { kind: "report", companyId: company.id, eventId: payload.sub! };
    } catch (error) {
      if (isAppError(error)) return { kind: "invalid" };
      throw error;
    }
  }
}
