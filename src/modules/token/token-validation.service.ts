import type { DataSource } from "typeorm";
import { peekToken } from "../../auth/tokens";
import { peekExternalToken, tokenInvalid } from "../../auth/external-tokens";
import type { RequestContext } from "../../request-context";
import { AppError, badInput, isAppError } from "../../errors";
import type { Role } from "../../graphql/enums";
import type { CompanyEntity } from "../company/company.entity";
import type { CompanyService } from "../company/company.service";
import { EventEntity } from "../event/event.entity";
import { EventPrincipalEntity } from "../event/event-principal.entity";
import type { EventService } from "../event/event.service";
import type { ExternalCredential, ExternalCredentialService } from "../identity-provider/external-credential.service";
import type { IdTokenService } from "../identity-provider/id-token.service";
import type { LoginLinkService } from "../login-link/login-link.service";
import type { PartnerJwtService } from "../partner/partner-jwt.service";
import type { PartnerService } from "../partner/partner.service";
import { RegistrantEntity } from "../registrant/registrant.entity";
import { resolveRole, RoleSubject, subjectOf } from "../session/role";
import type { CredentialTypeValue } from "../session/session.entity";
import { SessionEntity } from "../session/session.entity";
import { UserEntity } from "../user/user.entity";
import { joinTokenOf, type TokenService } from "./token.service";
import type { TokenValidationType } from "./token.types";

export interface TokenValidationServiceDeps {
  dataSource: DataSource;
  companies: CompanyService;
  tokens: TokenService;
  events: EventService;
  partners: PartnerService;
  partnerJwts: PartnerJwtService;
  idTokens: IdTokenService;
  externalCredentials: ExternalCredentialService;
  loginLinks: LoginLinkService;
}

/** Whom a credential would admit, found without joining. */
export interface AdmissionFacts {
  user: UserEntity | null;
  event: EventEntity | null;
  role: Role | null;
}

/**
 * The verdict, and whom the credential would admit as a thunk: finding the user, the event and
 * the role takes statements that a caller asking only "is it valid?" (the hot path: the revocation
 * view answers that without any) should not pay for. The resolver runs it when `admits` is asked.
 */
export type ValidationOutcome = Omit<TokenValidationType, "admits" | "admitsOf"> & {
  admits: () => Promise<AdmissionFacts | null>;
};

const none = async (): Promise<null> => null;
const known = (facts: AdmissionFacts) => async (): Promise<AdmissionFacts> => facts;

/**
 * validateToken for every credential kind: Admit's own tokens, partner JWTs, OIDC ID tokens and
 * login-link codes. It verifies exactly as joinEvent would (same verifiers), writes nothing (a
 * login link is peeked at, never redeemed, and a look at a used one is not taken for a theft),
 * and says whom the credential would admit: the existing user (null when the join would create
 * them), the event (the one the credential opens, else the one named), and the role the event's
 * lists and the credential's grant give now (null without an event).
 *
 * A foreign token names its company by the event named, else by the caller's API key, else (a
 * partner JWT) by its kid. Never throws for a bad credential: `valid: false` and the code.
 */
export class TokenValidationService {
  constructor(private readonly deps: TokenValidationServiceDeps) {}

  async validate(
    ctx: RequestContext,
    token: string,
    credentialType: CredentialTypeValue | null,
    eventRef: string | null,
  ): Promise<ValidationOutcome> {
    const failed = (error: AppError, tokenType: string | null): ValidationOutcome => ({
      valid: false,
      errorCode: error.code,
      tokenType,
      claims: null,
      expiresAt: null,
      admits: none,
    });
    const kind = credentialType ?? "ADMIT";
    const tokenType = FOREIGN_TYPES[kind as keyof typeof FOREIGN_TYPES] ?? null;
    try {
      switch (kind) {
        case "ADMIT":
        case "JOIN_TOKEN":
        case "REGISTRATION_TOKEN":
          return await this.admitToken(token, eventRef);
        case "PARTNER_JWT":
        case "OIDC_ID_TOKEN":
          return await this.externalToken(ctx, kind, token, eventRef);
        case "LOGIN_LINK":
          return await this.loginLink(token, eventRef);
        default:
          throw badInput("credentialType", `${kind} is not a token: nothing to validate.`);
      }
    } catch (error) {
      if (!isAppError(error) || error.code === "BAD_USER_INPUT" || error.code === "INTERNAL") throw error;
      return failed(error, tokenType);
    }
  }

  /** Admit's own tokens: TokenService.validate, and (when asked) whom they admit. */
  private async admitToken(token: string, eventRef: string | null): Promise<ValidationOutcome> {
    const result = await this.deps.tokens.validate(token);
    if (!result.valid || !result.claims) return { ...result, admits: none };
    const claims = result.claims;
    let facts: Promise<AdmissionFacts | null> | null = null;
    return { ...result, admits: () => (facts ??= this.admissionOf(token, result.tokenType, claims, eventRef)) };
  }

  private async admissionOf(
    token: string,
    tokenType: string | null,
    payload: Record<string, unknown>,
    eventRef: string | null,
  ): Promise<AdmissionFacts | null> {
    const company = await this.deps.tokens.companyForIssuer(peekToken(token).issuer);
    if (!company) return null;
    const repo = <T extends object>(entity: new () => T) => this.deps.dataSource.getRepository(entity);
    if (tokenType === "session") {
      const session = await repo(SessionEntity).findOneBy({ id: String(payload.sub), companyId: company.id });
      if (!session) return null;
      const [user, event] = await Promise.all([
        repo(UserEntity).findOneBy({ id: session.userId }),
        repo(EventEntity).findOneBy({ id: session.eventId }),
      ]);
      return { user, event, role: session.role as Role };
    }
    if (tokenType === "registration") {
      const registrant = await repo(RegistrantEntity).findOneBy({ id: String(payload.sub), companyId: company.id });
      if (!registrant) return null;
      const user = registrant.userId ? await repo(UserEntity).findOneBy({ id: registrant.userId }) : null;
      const event = await repo(EventEntity).findOneBy({ id: registrant.eventId });
      // An unverified registration's email is a label: it matches no list (see registerForEvent).
      const subject = user
        ? subjectOf(user)
        : { externalId: null, emailNormalized: registrant.emailVerified ? registrant.emailNormalized : null };
      return { user, event, role: await this.roleIn(event, subject, null) };
    }
    const { claims, profile } = joinTokenOf(payload);
    const event = claims.eventId
      ? await repo(EventEntity).findOneBy({ id: claims.eventId })
      : await this.namedEvent(company, eventRef);
    const user = await repo(UserEntity).findOneBy({
      companyId: company.id,
      externalId: claims.externalId,
      isGuest: false,
    });
    const subject = {
      externalId: claims.externalId,
      emailNormalized: profile.email ? profile.email.normalized : (user?.emailNormalized ?? null),
    };
    return { user, event, role: await this.roleIn(event, subject, claims.roleGrant) };
  }

  /** A partner JWT or an OIDC ID token, verified as joinEvent verifies it. */
  private async externalToken(
    ctx: RequestContext,
    kind: "PARTNER_JWT" | "OIDC_ID_TOKEN",
    token: string,
    eventRef: string | null,
  ): Promise<ValidationOutcome> {
    const named = eventRef ? await this.deps.events.publicEventOf(eventRef) : null;
    let companyId = named?.companyId ?? (ctx.principal.kind === "apiKey" ? ctx.principal.companyId : null);
    if (!companyId && kind === "PARTNER_JWT") {
      const kid = peekExternalToken(token).kid;
      companyId = kid ? await this.deps.partners.companyOfSecret(kid) : null;
    }
    const company = companyId ? await this.deps.companies.cachedCompany("id", companyId) : null;
    if (!company)
      throw tokenInvalid(
        "Name the event this token is for (event), or call with the company's API key: the token does not say whose it is.",
      );
    const verified: ExternalCredential =
      kind === "PARTNER_JWT"
        ? await this.deps.partnerJwts.verify(company, token)
        : await this.deps.idTokens.verify(company, token);
    const base = { tokenType: FOREIGN_TYPES[kind], claims: { ...verified.claims }, expiresAt: verified.expiresAt };
    const existing = await this.deps.externalCredentials.existingUser(company.id, verified.subject);
    const revoked =
      (await this.deps.tokens.isRevoked(company.id, verified.jti)) ||
      (existing?.tokens_revoked_before != null &&
        verified.issuedAt !== null &&
        verified.issuedAt < existing.tokens_revoked_before);
    if (revoked) return { valid: false, errorCode: "TOKEN_REVOKED", ...base, admits: none };
    // Nobody to admit: joinEvent would refuse it the same way.
    if (!existing && verified.subject.kind !== "profile")
      return { valid: false, errorCode: "INVALID_CREDENTIALS", ...base, admits: none };
    const user = existing ? await this.deps.dataSource.getRepository(UserEntity).findOneBy({ id: existing.id }) : null;
    const refusal = standingOf(user);
    if (refusal) return { valid: false, errorCode: refusal, ...base, admits: none };
    let event = named;
    if (verified.channel !== null) {
      event ??= await this.deps.events.eventOf(company.id, verified.channel).catch(() => null);
      if (event?.slug !== verified.channel)
        return { valid: false, errorCode: "TOKEN_WRONG_EVENT", ...base, admits: none };
    }
    if (event && event.companyId !== company.id) throw tokenInvalid("The event named is another company's.");
    const profile = verified.subject.kind === "profile" ? verified.subject.profile : null;
    const subject: RoleSubject = {
      externalId: user?.externalId ?? profile?.externalId ?? null,
      emailNormalized: profile?.email ? profile.email.normalized : (user?.emailNormalized ?? null),
    };
    return {
      valid: true,
      errorCode: null,
      ...base,
      admits: known({ user, event, role: await this.roleIn(event, subject, verified.roleGrant) }),
    };
  }

  /** A login link's code: peeked at, never redeemed. */
  private async loginLink(code: string, eventRef: string | null): Promise<ValidationOutcome> {
    const { link, company, user } = await this.deps.loginLinks.verifyCode(code, { peek: true });
    const refusal = standingOf(user);
    if (refusal)
      throw new AppError(refusal, refusal === "USER_SUSPENDED" ? "This user is suspended." : "This link was revoked.");
    const event = link.eventId
      ? await this.deps.dataSource.getRepository(EventEntity).findOneBy({ id: link.eventId })
      : await this.namedEvent(company, eventRef);
    const claims = {
      jti: link.id,
      sub: user.externalId ?? user.id,
      evt: link.eventId,
      iat: Math.floor(link.createdAt.getTime() / 1000),
      exp: Math.floor(link.expiresAt.getTime() / 1000),
      redirectOnExpiryUrl: link.redirectOnExpiryUrl,
    };
    return {
      valid: true,
      errorCode: null,
      tokenType: FOREIGN_TYPES.LOGIN_LINK,
      claims,
      expiresAt: link.expiresAt,
      admits: known({ user, event, role: await this.roleIn(event, subjectOf(user), null) }),
    };
  }

  /** The company's event a reference names, or null when none was named. */
  private async namedEvent(company: CompanyEntity, eventRef: string | null): Promise<EventEntity | null> {
    return eventRef ? this.deps.events.eventOf(company.id, eventRef) : null;
  }

  private async roleIn(event: EventEntity | null, subject: RoleSubject, grant: Role | null): Promise<Role | null> {
    if (!event) return null;
    const principals = await this.deps.dataSource.getRepository(EventPrincipalEntity).findBy({ eventId: event.id });
    return resolveRole(principals, subject, grant).role;
  }
}

/** tokenType of the credentials that carry no typ of Admit's. */
const FOREIGN_TYPES = { PARTNER_JWT: "partner_jwt", OIDC_ID_TOKEN: "oidc_id_token", LOGIN_LINK: "login_link" } as const;

/** What joinEvent would answer for a user who is there but may not come in: suspended, or erased. */
const standingOf = (user: UserEntity | null): "USER_SUSPENDED" | "TOKEN_REVOKED" | null =>
  user?.deletedAt ? "TOKEN_REVOKED" : user?.suspendedAt ? "USER_SUSPENDED" : null;
