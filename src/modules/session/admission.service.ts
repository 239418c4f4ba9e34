import type { DataSource } from "typeorm";
import { peekToken } from "../../auth/tokens";
import { addressSubject, type AuthRateLimiter } from "../../auth/rate-limit";
import { AppError, badInput } from "../../errors";
import * as v from "../../graphql/validate";
import { CompanyEntity } from "../company/company.entity";
import type { EventService } from "../event/event.service";
import { RegistrantEntity } from "../registrant/registrant.entity";
import { joinTokenOf, requireStorable, type TokenService } from "../token/token.service";
import {
  GUEST_ADDRESS_LIMIT,
  type Admission,
  type CredentialAdmitters,
  type JoinRequestAdmitter,
  type JoinRequestFacts,
} from "./admission.types";
export * from "./admission.types";
import type { JoinEventInput } from "./session.inputs";
import type { JoinOutcome, SessionService } from "./session.service";

const MAX_DISPLAY_NAME = 100;

export interface AdmissionServiceDeps {
  sessions: SessionService;
  admitters: CredentialAdmitters;
}

/**
 * joinEvent: names the type of the credential presented, has its admitter verify it, and hands
 * the admission to SessionService.joinAdmitted.
 */
export class AdmissionService {
  constructor(private readonly deps: AdmissionServiceDeps) {}

  /** joinEvent: exchanges a credential for a session. */
  async join(input: JoinEventInput, facts: JoinRequestFacts = { ip: "unknown" }): Promise<JoinOutcome> {
    return this.deps.sessions.joinAdmitted(await this.admit(input, facts));
  }

  /**
   * Verifies the credential and names the event and entrant. Writes nothing. Without a
   * credentialType, Admit's own tokens are told by their JWT typ, and no credential is a guest.
   */
  async admit(input: JoinEventInput, facts: JoinRequestFacts): Promise<Admission> {
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
    return this.deps.admitters[type](input, credential, facts);
  }
}

export interface OwnCredentialsDeps {
  dataSource: DataSource;
  tokens: TokenService;
  events: EventService;
  limiter: AuthRateLimiter;
  /** Join tokens carrying `jrq`: the single-use credential of an approved knock, owned by the knock module. */
  joinRequests: JoinRequestAdmitter;
}

/** The credentials Admit verifies without another module: its join and registration tokens, and guests. */
export class OwnCredentials {
  constructor(private readonly deps: OwnCredentialsDeps) {}

  /** JOIN_TOKEN: a join token minted by mintJoinToken (or a token exchange), or an approved knock's. */
  async joinToken(input: JoinEventInput, credential: string | null): Promise<Admission> {
    const token = requireCredential(credential);
    const { company, payload } = await this.deps.tokens.verify(token, ["join"]);
    if (payload.jrq !== undefined) return this.deps.joinRequests(company, payload, input);
    const { claims, profile } = joinTokenOf(payload);
    const event = await this.deps.events.eventOf(company.id, input.event);
    if (claims.eventId !== null && claims.eventId !== event.id) {
      throw new AppError("TOKEN_WRONG_EVENT", "This token opens another event.");
    }
    // sjt: the subject token a token exchange minted this one for; revoking it revokes this too.
    const subjectJti = typeof payload.sjt === "string" ? payload.sjt : null;
    if (
      (await this.deps.tokens.isRevoked(company.id, claims.jti)) ||
      (subjectJti !== null && (await this.deps.tokens.isRevoked(company.id, subjectJti)))
    ) {
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

  /** REGISTRATION_TOKEN: a registrant's token, for the event they registered for. */
  async registrationToken(input: JoinEventInput, credential: string | null): Promise<Admission> {
    const token = requireCredential(credential);
    const { company, payload } = await this.deps.tokens.verify(token, ["registration"]);
    const event = await this.deps.events.eventOf(company.id, input.event);
    const registrant = v.isUuid(payload.sub!)
      ? await this.deps.dataSource
          .getRepository(RegistrantEntity)
          .findOneBy({ id: payload.sub!, companyId: company.id })
      : null;
    if (!registrant) throw new AppError("TOKEN_INVALID", "This registration does not exist.");
    if (registrant.eventId !== event.id)
      throw new AppError("TOKEN_WRONG_EVENT", "This registration is for another event.");
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

  /** GUEST: a display name, for a PUBLIC event; counted per client address (GUEST_ADDRESS_LIMIT). */
  async guest(input: JoinEventInput, facts: JoinRequestFacts): Promise<Admission> {
    const event = await this.deps.events.publicEventOf(input.event);
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
        const counted = await this.deps.limiter.hit(
          company.id,
          `guest:${addressSubject(facts.ip)}`,
          GUEST_ADDRESS_LIMIT,
          manager,
        );
        const limited = this.deps.limiter.refusal(
          counted,
          GUEST_ADDRESS_LIMIT,
          "Too many guests have joined from your address",
        );
        if (limited) throw limited;
      },
    };
  }
}

/** The credential of a type that has one; BAD_USER_INPUT on `credential` when it is missing. */
export function requireCredential(credential: string | null): string {
  if (!credential) throw badInput("credential", "credential is required for this credentialType.");
  return credential;
}
