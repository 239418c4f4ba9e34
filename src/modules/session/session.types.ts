import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { literalEnum, Role } from "../../graphql/enums";
import { JSONObjectScalar } from "../../graphql/scalars";
import { RoleSource } from "./role";
import { CREDENTIAL_TYPES, SESSION_END_REASONS } from "./session.entity";

export const CredentialType = literalEnum(CREDENTIAL_TYPES);
registerEnumType(CredentialType, { name: "CredentialType", description: "What a browser presents to join." });

export const SessionEndReason = literalEnum(SESSION_END_REASONS);
registerEnumType(SessionEndReason, {
  name: "SessionEndReason",
  description: "Why a session ended.",
  valuesConfig: {
    LEFT: { description: "The user left." },
    LOGGED_OUT: { description: "The user logged out." },
    KICKED: { description: "An organizer or the company ended it." },
    SUPERSEDED: { description: "A newer session of the same user or registrant replaced it." },
    INACTIVE: { description: "No heartbeat within the company's inactivity window." },
    ELAPSED: { description: "ejectAfterElapsedSeconds was reached." },
    TOKEN_EXPIRED: { description: "The token expired and ejectAtTokenExpiry was set." },
    EVENT_ENDED: { description: "The event ended." },
    REVOKED: { description: "Its credential or registration was revoked." },
    SUSPENDED: { description: "Its user was suspended (suspendUser)." },
  },
});

registerEnumType(RoleSource, { name: "RoleSource", description: "Why a role was resolved as it was." });

@AccessOwner((s: SessionType) => ({ companyId: s.companyId, eventId: s.eventId, sessionId: s.id }))
@ObjectType("Session", { description: "One presence of one user in one event." })
export class SessionType {
  @Access("self")
  @Field(() => ID, { description: "Session id." })
  id: string;

  @Access("self")
  @Field(() => ID, { description: "The event's id." })
  eventId: string;

  @Access("self")
  @Field(() => ID, { description: "The user's id." })
  userId: string;

  @Access("self")
  @Field(() => ID, { nullable: true, description: "The registration it came in with, if any." })
  registrantId: string | null;

  @Access("self")
  @Field(() => Role, { description: "The role, as last resolved (join or heartbeat)." })
  role: Role;

  @Access("self")
  @Field(() => CredentialType, { description: "The credential it came in with." })
  credentialType: string;

  @Access("self")
  @Field({ description: "When the user joined." })
  joinedAt: Date;

  @Access("self")
  @Field({ description: "Last join or heartbeat." })
  lastSeenAt: Date;

  @Access("self")
  @Field(() => Date, { nullable: true, description: "When it ended; null while live." })
  endedAt: Date | null;

  @Access("self")
  @Field(() => SessionEndReason, { nullable: true, description: "Why it ended." })
  endReason: string | null;

  @Access("self")
  @Field(() => Date, { nullable: true, description: "When it will be ended by a hard limit." })
  ejectAt: Date | null;

  @Access("self")
  @Field({ description: "Whether it is live." })
  active: boolean;

  @Access("self")
  @Field(() => Int, { description: "Seconds from join to end (or to the last heartbeat while live)." })
  durationSeconds: number;

  @Access("self")
  @Field(() => JSONObjectScalar, { description: "Metadata carried in by the credential or registration." })
  metadata: Record<string, unknown>;

  /** Not in the schema: the tenant, for access rules. */
  companyId: string;
}

// The answer to the caller's own session token or credential: the session's rules.
@AccessOwner((r: JoinResultType) => ({
  companyId: r.session.companyId,
  eventId: r.session.eventId,
  sessionId: r.session.id,
}))
@ObjectType("JoinResult", { description: "A new session and its short-lived session token." })
export class JoinResultType {
  @Access("self")
  @Field(() => SessionType, { description: "The session." })
  session: SessionType;

  @Access("self")
  @Field({ description: "Present it to heartbeat and leaveEvent; refreshed by every heartbeat." })
  sessionToken: string;

  @Access("self")
  @Field({ description: "When the session token expires (never after ejectAt)." })
  sessionTokenExpiresAt: Date;

  @Access("self")
  @Field(() => Role, { description: "The role resolved at join." })
  role: Role;
}

// The answer to the caller's own session token or credential: the session's rules.
@AccessOwner((r: SessionStateType) => ({
  companyId: r.session.companyId,
  eventId: r.session.eventId,
  sessionId: r.session.id,
}))
@ObjectType("SessionState", { description: "A session's live state, as heartbeat sees it." })
export class SessionStateType {
  @Access("self")
  @Field(() => SessionType, { description: "The session." })
  session: SessionType;

  @Access("self")
  @Field(() => Role, { description: "The live role." })
  role: Role;

  @Access("self")
  @Field({ description: "False once ended; endReason says why." })
  active: boolean;

  @Access("self")
  @Field(() => SessionEndReason, { nullable: true, description: "Why it ended." })
  endReason: string | null;

  @Access("self")
  @Field(() => String, { nullable: true, description: "A fresh session token while active." })
  sessionToken: string | null;

  @Access("self")
  @Field(() => Date, { nullable: true, description: "When the fresh session token expires." })
  sessionTokenExpiresAt: Date | null;

  @Access("self")
  @Field(() => Date, { nullable: true, description: "When a hard limit will end the session." })
  ejectAt: Date | null;
}

@ObjectType("RoleResolution", { description: "A role and why." })
export class RoleResolutionType {
  @Field(() => Role, { description: "The role." })
  role: Role;

  @Field(() => RoleSource, { description: "Where it comes from." })
  source: RoleSource;
}
