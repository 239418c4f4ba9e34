import type { Clock } from "../../clock";
import { idClaim, jtiClaim, malformedClaim, syntheticJti } from "../../auth/external-claims";
import {
  ID_TOKEN_MAX_LIFETIME_SECONDS,
  peekExternalToken,
  tokenInvalid,
  verifyExternalToken,
} from "../../auth/external-tokens";
import type { CompanyEntity } from "../company/company.entity";
import type { PartnerService } from "../partner/partner.service";
import type { Admission } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import {
  profileOf,
  type ExternalCredential,
  type ExternalCredentialService,
  type ExternalSubject,
} from "./external-credential.service";
import type { ProviderKeySets } from "./provider-key-sets";

export interface IdTokenServiceDeps {
  clock: Clock;
  /** Holds the identity provider rows (providerByIssuer). */
  partners: PartnerService;
  keySets: ProviderKeySets;
  externalCredentials: ExternalCredentialService;
}

/**
 * OIDC ID tokens: the OIDC_ID_TOKEN credential of joinEvent, and a subject token of POST
 * /oauth/token.
 *
 * The event names the company; `iss` names its OIDC identity provider (exact). Verified against
 * the provider's JWKS (see ProviderKeySets), `alg` in the provider's list, `iss` and `aud` exact
 * (`aud` a string, or an array holding it with `azp` naming it when it holds others), `exp`
 * required (30 s skew), `nbf` honoured. Claims read: the mapped external-id claim (default `sub`,
 * required), the `email` claim only when `email_verified` is the boolean true (absent, false,
 * "true" as a string: the email is not taken, so an address the provider did not verify cannot
 * match an organizer list; an existing user's email is left as it is), the mapped name claim
 * (default `name`), `iat` (revokeUserTokens refuses tokens issued before its cut-off) and `jti`
 * (else the synthetic jti, as for partner JWTs). An email mapped to a claim other than `email` is
 * never taken: `email_verified` speaks of `email` only, and there is no per-provider option to
 * trust another claim. jitEnabled: the user is created or refreshed just in time; otherwise only
 * an existing user with that external id gets in (else INVALID_CREDENTIALS).
 */
export class IdTokenService {
  constructor(private readonly deps: IdTokenServiceDeps) {}

  /** The OIDC_ID_TOKEN credential of joinEvent. */
  admit(input: JoinEventInput, credential: string | null): Promise<Admission> {
    return this.deps.externalCredentials.admit(input, credential, (company, token) => this.verify(company, token));
  }

  /** Verifies an ID token of one of this company's OIDC providers and maps its claims. */
  async verify(company: CompanyEntity, token: string): Promise<ExternalCredential> {
    const peek = peekExternalToken(token);
    const provider = peek.issuer ? await this.deps.partners.providerByIssuer(company.id, "OIDC", peek.issuer) : null;
    if (!provider) throw tokenInvalid("No identity provider of this company has this ID token's issuer (iss).");
    const verified = await verifyExternalToken(token, {
      key: this.deps.keySets.of(provider),
      algorithms: provider.algorithms,
      issuer: provider.issuer,
      // Required for OIDC providers at registration.
      audience: provider.audience ?? "",
      now: this.deps.clock.now(),
      maxLifetimeSeconds: ID_TOKEN_MAX_LIFETIME_SECONDS,
    });
    const payload = verified.payload as Record<string, unknown>;
    const externalId = idClaim(payload, provider.externalIdClaim);
    if (externalId === undefined)
      throw tokenInvalid(`The ID token has no ${provider.externalIdClaim} claim to name the user by.`);
    let subject: ExternalSubject;
    if (provider.jitEnabled) {
      const email = payload[provider.emailClaim];
      const name = payload[provider.nameClaim];
      if (email !== undefined && email !== null && typeof email !== "string") throw malformedClaim(provider.emailClaim);
      if (name !== undefined && name !== null && typeof name !== "string") throw malformedClaim(provider.nameClaim);
      // Organizer lists match by email: only an address the provider says it verified is taken.
      // email_verified speaks of the `email` claim alone, so a mapped claim is never trusted.
      const verifiedEmail = provider.emailClaim === "email" && payload.email_verified === true;
      const trustedEmail = verifiedEmail ? (email ?? undefined) : undefined;
      subject = {
        kind: "profile",
        profile: profileOf({ externalId, email: trustedEmail, name: name ?? undefined }, ""),
      };
    } else {
      subject = { kind: "externalId", externalId };
    }
    return {
      credentialType: "OIDC_ID_TOKEN",
      subject,
      jti: jtiClaim(payload) ?? syntheticJti(token),
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: null,
      metadata: {},
      channel: null,
      recordUse: null,
      claims: payload,
    };
  }
}
