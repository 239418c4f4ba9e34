import { Field, ID, ObjectType } from "type-graphql";
import { JSONObjectScalar } from "../../graphql/scalars";
import { Connection, ConnectionShape } from "../../graphql/connection";
import { SessionType } from "../session/session.types";

@ObjectType("Registrant", { description: "A registration for one event, with a join URL that opens that event only." })
export class RegistrantType {
  @Field(() => ID, {
    description: "Registrant id; also the jti of its registration tokens (revokeToken revokes its links).",
  })
  id: string;

  @Field(() => ID, { description: "The event registered for." })
  eventId: string;

  @Field({ description: "Name as given." })
  name: string;

  @Field({ description: "Email as given (trimmed); unique per event among live registrations, case-insensitively." })
  email: string;

  @Field({ description: "Whether the company vouched for the email at registration (registerForEvent emailVerified)." })
  emailVerified: boolean;

  @Field(() => JSONObjectScalar, {
    description: "Free metadata the company attached; carried into the registrant's sessions.",
  })
  metadata: Record<string, unknown>;

  @Field({ description: "When the registration was made." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When cancelRegistration cancelled it; null while live." })
  cancelledAt: Date | null;

  @Field({ description: "Whether the registration is live (not cancelled)." })
  active: boolean;

  /** Not in the schema: the tenant, for checks. */
  companyId: string;

  /** Not in the schema: Registrant.user resolves it. */
  userId: string | null;
}

export const RegistrantConnection = Connection(RegistrantType, "Registrant");
export type RegistrantConnection = InstanceType<typeof RegistrantConnection>;

export const SessionConnection = Connection(SessionType, "Session");
export type SessionConnection = InstanceType<typeof SessionConnection>;

/** A page whose totalCount is counted (through a loader) only when the query asks for it. */
export interface CountedConnection<T> extends ConnectionShape<T> {
  countTotal: () => Promise<number>;
}
