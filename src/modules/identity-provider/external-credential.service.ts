import type { DataSource, EntityManager } from "typeorm";
import { tokenInvalid } from "../../auth/external-tokens";
import { isStorable } from "../../db/storable";
import { AppError, badInput, isAppError, notFound } from "../../errors";
import type { Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { rawQuery, RawQuery } from "../../db/raw";
import type { CompanyEntity } from "../company/company.entity";
import type { CompanyService } from "../company/company.service";
import type { EventService } from "../event/event.service";
import type { Admission, Entrant } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import type { TokenService } from "../token/token.service";
import { validateProfile } from "../user/user.service";

export interface ExternalCredentialServiceDeps {
  dataSource: DataSource;
  companies: CompanyService;
  events: EventService;
  tokens: TokenService;
}

export type ValidatedProfile = ReturnType<typeof validateProfile>;

/** Who a verified external credential names. */
export type ExternalSubject =
  /** An existing non-guest user with this external id (`{ sub }`; OIDC with jitEnabled false). */
  | { kind: "externalId"; externalId: string }
  /** An existing non-guest user with this Admit id, else this external id (`{ id }`). */
  | { kind: "id"; id: string }
  /** The oldest existing non-guest user with this email (`{ email }`). */
  | { kind: "email"; normalized: string }
  /** Created or refreshed just in time (`{ user }`, a voice-SDK ticket, OIDC with jitEnabled). */
  | { kind: "profile"; profile: ValidatedProfile };

/** What a verified partner JWT or ID token says about a join. */
export interface ExternalCredential {
  credentialType: "PARTNER_JWT" | "OIDC_ID_TOKEN";
  subject: ExternalSubject;
  /** The token's jti (a ticket's `vxi:<iss>:<vxi>`), else its syntheticJti. */
  jti: string;
  issuedAt: Date | null;
  expiresAt: Date;
  roleGrant: Role | null;
  metadata: Record<string, unknown>;
  /** A voice-SDK ticket names its channel: the slug of the one event it opens. */
  channel: string | null;
  /**
   * Records that what verified the token was used (a partner secret's lastUsedAt), inside the
   * join's transaction when given its manager; null when there is nothing to record.
   */
  recordUse: ((manager?: EntityManager) => Promise<void>) | null;
  /** The verified payload, as validateToken shows it to the token's holder. */
  claims: Record<string, unknown>;
}

/** Verifies a token for one company: the partner JWT or the ID token verifier. */
export type ExternalVerifier = (company: CompanyEntity, token: string) => Promise<ExternalCredential>;

/** validateProfile, with its refusals as TOKEN_INVALID (the token's claims, not the caller's input). */
export function profileOf(profile: Parameters<typeof validateProfile>[0], prefix: string): ValidatedProfile {
  if (!isStorable(profile)) throw tokenInvalid("The token's user claims contain characters that cannot be stored.");
  try {
    return validateProfile(profile, prefix);
  } catch (error) {
    if (isAppError(error)) throw tokenInvalid(`The token's user claims are malformed: ${error.message}`);
    throw error;
  }
}

/**
 * What partner JWTs and OIDC ID tokens share once verified: the admission into joinEvent (the
 * event names the company, the token's jti must not be revoked, the user it names must exist
 * unless it is created just in time) and the lookup of the existing user a token names, which
 * token exchange and validateToken use too. Verification is the verifiers' (partner-jwt.service,
 * id-token.service).
 */
export class ExternalCredentialService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: ExternalCredentialServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /** The admission of a joinEvent credential that `verify` checks for the company of the event joined. */
  async admit(input: JoinEventInput, credential: string | null, verify: ExternalVerifier): Promise<Admission> {
    if (!credential) throw badInput("credential", "credential is required for this credentialType.");
    // The event names the company; the token's key is looked up in that company only.
    const event = await this.deps.events.publicEventOf(input.event);
    const company = await this.companyOf(event.companyId);
    const verified = await verify(company, credential);
    if (verified.channel !== null && verified.channel !== event.slug) {
      throw new AppError("TOKEN_WRONG_EVENT", "This ticket opens another channel (event).");
    }
    await this.refuseRevoked(company, verified);
    const entrant = await this.entrantOf(company, verified.subject);
    const recordUse = verified.recordUse;
    return {
      company,
      event,
      credentialType: verified.credentialType,
      jti: verified.jti,
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: verified.roleGrant,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: verified.metadata,
      entrant,
      onSession: recordUse ? (manager) => recordUse(manager) : undefined,
    };
  }

  /** @throws AppError TOKEN_REVOKED when the token's jti (or synthetic jti) is revoked. */
  async refuseRevoked(company: CompanyEntity, verified: ExternalCredential): Promise<void> {
    if (await this.deps.tokens.isRevoked(company.id, verified.jti)) {
      throw new AppError("TOKEN_REVOKED", "This token was revoked.");
    }
  }

  /** The existing non-guest user a subject names (a profile: by its external id), or null. */
  async existingUser(companyId: string, subject: ExternalSubject) {
    type Row = {
      id: string;
      external_id: string | null;
      email: string | null;
      name: string | null;
      avatar_url: string | null;
      tokens_revoked_before: Date | null;
    };
    const columns = "id, external_id, email, name, avatar_url, tokens_revoked_before";
    if (subject.kind === "email") {
      const [row] = await this.sql<Row>(
        `SELECT ${columns} FROM users WHERE company_id = $1 AND email_normalized = $2 AND NOT is_guest ORDER BY created_at, id LIMIT 1`,
        [companyId, subject.normalized],
      );
      return row ?? null;
    }
    if (subject.kind === "id") {
      // Admit's own id first (a UUID), then the company's external id.
      const [row] = await this.sql<Row>(
        `SELECT ${columns} FROM users
          WHERE company_id = $1 AND NOT is_guest AND (external_id = $2 OR ($3::uuid IS NOT NULL AND id = $3::uuid))
          ORDER BY (id::text = $2) DESC LIMIT 1`,
        [companyId, subject.id, v.isUuid(subject.id) ? subject.id : null],
      );
      return row ?? null;
    }
    const externalId = subject.kind === "externalId" ? subject.externalId : subject.profile.externalId;
    const [row] = await this.sql<Row>(
      `SELECT ${columns} FROM users WHERE company_id = $1 AND external_id = $2 AND NOT is_guest`,
      [companyId, externalId],
    );
    return row ?? null;
  }

  private async companyOf(companyId: string): Promise<CompanyEntity> {
    const company = await this.deps.companies.cachedCompany("id", companyId);
    if (!company) throw notFound("The company");
    return company;
  }

  /** The entrant a subject names: existing users are looked up here, profiles are upserted by the join. */
  private async entrantOf(company: CompanyEntity, subject: ExternalSubject): Promise<Entrant> {
    if (subject.kind === "profile") return { kind: "external", profile: subject.profile };
    const user = await this.existingUser(company.id, subject);
    if (!user) throw new AppError("INVALID_CREDENTIALS", "No user of this company matches this token.");
    return { kind: "user", userId: user.id };
  }
}
