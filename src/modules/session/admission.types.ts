import type { EntityManager } from "typeorm";
import type { JWTPayload } from "jose";
import type { Role } from "../../graphql/enums";
import type { CompanyEntity } from "../company/company.entity";
import type { EventEntity } from "../event/event.entity";
import type { RegistrantEntity } from "../registrant/registrant.entity";
import type { UserOriginValue } from "../user/user.entity";
import type { validateProfile } from "../user/user.service";
import type { CredentialTypeValue, SessionEntity } from "./session.entity";
import type { JoinEventInput } from "./session.inputs";

/**
 * What admission hands to the join: the shapes shared by AdmissionService, the modules that own a
 * credential type, and SessionService's join transaction. A leaf file, so none of them import
 * each other for their types.
 */

/**
 * Guest joins per client address and company: a bot on one address cannot fill a public event
 * (or its analytics) with made-up names, while an office behind one NAT still gets its people in.
 * Counted in the database like the password limits, so every node shares the count.
 */
export const GUEST_ADDRESS_LIMIT = { max: 60, windowSeconds: 600 } as const;

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
   * the credential's (ORIGIN_OF_CREDENTIAL in session.entity.ts). A token exchange names
   * the credential it took.
   */
  createdVia?: UserOriginValue;
}

/** Facts about the request a credential came with (rate limits key on the address). */
export interface JoinRequestFacts {
  ip: string;
}

/**
 * Verifies one kind of credential for joinEvent and says who it lets in; writes nothing (a
 * single-use credential is consumed by Admission.consume, inside the join transaction).
 */
export type CredentialAdmitter = (
  input: JoinEventInput,
  credential: string | null,
  facts: JoinRequestFacts,
) => Promise<Admission>;

/**
 * The admitter of every credential type of joinEvent. A mapped type over CredentialTypeValue: a
 * new credential type does not compile until it has its admitter here.
 */
export type CredentialAdmitters = { readonly [Type in CredentialTypeValue]: CredentialAdmitter };

/** Admits a verified join token (signature, kind, issuer, times checked) that names a join request. */
export type JoinRequestAdmitter = (
  company: CompanyEntity,
  payload: JWTPayload,
  input: JoinEventInput,
) => Promise<Admission>;
