import type { Clock } from "../../clock";
import { tokenInvalid } from "../../auth/external-tokens";
import { isStorable } from "../../db/storable";
import { AppError, isAppError } from "../../errors";
import type { CompanyEntity } from "../company/company.entity";
import type { EventEntity } from "../event/event.entity";
import type { EventService } from "../event/event.service";
import type { ExternalCredential, ExternalCredentialService } from "../identity-provider/external-credential.service";
import type { IdTokenService } from "../identity-provider/id-token.service";
import type { PartnerJwtService } from "../partner/partner-jwt.service";
import type { TokenService } from "./token.service";
import type { JoinTokenType } from "./token.types";

export interface TokenExchangeServiceDeps {
  clock: Clock;
  events: EventService;
  tokens: TokenService;
  externalCredentials: ExternalCredentialService;
  partnerJwts: PartnerJwtService;
  idTokens: IdTokenService;
}

export const SUBJECT_TOKEN_TYPES = {
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
} as const;

export type SubjectTokenType = (typeof SUBJECT_TOKEN_TYPES)[keyof typeof SUBJECT_TOKEN_TYPES];

/**
 * Token exchange (RFC 8693, POST /oauth/token): a partner JWT or an OIDC ID token, verified as
 * joinEvent verifies it, for an Admit join token. The join token has its own jti and the subject
 * token's jti (or synthetic jti) in its `sjt` claim: revoking the subject token's jti refuses the
 * join tokens derived from it too, at join and in validateToken (a session already open with one
 * carries on until it ends or is kicked).
 */
export class TokenExchangeService {
  constructor(private readonly deps: TokenExchangeServiceDeps) {}

  /**
   * Verifies the subject token for this company and mints the join token it is exchanged for: for
   * `event` only when given (else for any event of the company; a ticket always opens its
   * channel's event). The user is the one the subject names: an existing user's external id and
   * profile, or the just-in-time profile, which the join then creates. It expires with the
   * subject token, or sooner by the company's default token lifetime.
   * @throws AppError when the subject token does not hold up (the caller answers invalid_grant).
   */
  async exchange(
    company: CompanyEntity,
    subjectTokenType: SubjectTokenType,
    subjectToken: string,
    event: EventEntity | null,
  ): Promise<{ token: JoinTokenType; expiresIn: number }> {
    const verified =
      subjectTokenType === SUBJECT_TOKEN_TYPES.idToken
        ? await this.deps.idTokens.verify(company, subjectToken)
        : await this.deps.partnerJwts.verify(company, subjectToken);
    return this.mint(company, verified, event);
  }

  private async mint(
    company: CompanyEntity,
    verified: ExternalCredential,
    event: EventEntity | null,
  ): Promise<{ token: JoinTokenType; expiresIn: number }> {
    if (verified.channel !== null) {
      if (event && event.slug !== verified.channel)
        throw new AppError("TOKEN_WRONG_EVENT", "This ticket opens another channel (event).");
      event ??= isStorable(verified.channel)
        ? await this.deps.events.findByIdOrSlug(company.id, verified.channel)
        : null;
      if (!event) throw new AppError("TOKEN_WRONG_EVENT", "This ticket's channel names no event of this company.");
    }
    await this.deps.externalCredentials.refuseRevoked(company, verified);
    const subject = verified.subject;
    const existing = await this.deps.externalCredentials.existingUser(company.id, subject);
    if (subject.kind !== "profile" && (!existing || existing.external_id === null)) {
      throw new AppError("INVALID_CREDENTIALS", "No user of this company matches this token.");
    }
    if (
      existing?.tokens_revoked_before &&
      verified.issuedAt &&
      verified.issuedAt.getTime() < existing.tokens_revoked_before.getTime()
    ) {
      throw new AppError("TOKEN_REVOKED", "This token was revoked.");
    }
    const user =
      subject.kind === "profile"
        ? {
            id: subject.profile.externalId,
            name: subject.profile.name ?? undefined,
            email: subject.profile.email?.email ?? undefined,
            avatarUrl: subject.profile.avatarUrl ?? undefined,
            metadata: subject.profile.metadata ?? undefined,
          }
        : {
            id: existing.external_id!,
            name: existing.name ?? undefined,
            email: existing.email ?? undefined,
            avatarUrl: existing.avatar_url ?? undefined,
          };
    const now = this.deps.clock.now();
    const byDefault = new Date(now.getTime() + company.defaultTokenTtlSeconds * 1000);
    const expiresAt = verified.expiresAt.getTime() < byDefault.getTime() ? verified.expiresAt : byDefault;
    if (expiresAt.getTime() <= now.getTime()) throw new AppError("TOKEN_EXPIRED", "The subject token has expired.");
    let token: JoinTokenType;
    try {
      const input = {
        eventId: event?.id,
        eventSpecific: event !== null,
        user,
        role: verified.roleGrant ?? undefined,
        expiresAt,
        metadata: Object.keys(verified.metadata).length > 0 ? verified.metadata : undefined,
      };
      // sjt: revoking the subject token's jti (or a ban of its session) refuses this token too.
      token = await this.deps.tokens.mintJoinTokenFor(company.id, input, { subjectJti: verified.jti });
    } catch (error) {
      // The claims could not make a join token (the subject token's fault, not the request's).
      if (isAppError(error) && error.code === "BAD_USER_INPUT")
        throw tokenInvalid(`The subject token's claims cannot make a join token: ${error.message}`);
      throw error;
    }
    if (verified.recordUse) await verified.recordUse();
    const expiresIn = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    return { token, expiresIn };
  }
}
