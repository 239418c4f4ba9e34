import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { Connection } from "../../graphql/connection";
import { literalEnum, Role } from "../../graphql/enums";
import { JOIN_REQUEST_STATUSES, JoinRequestStatusValue } from "./join-request.entity";

export const JoinRequestStatus = literalEnum(JOIN_REQUEST_STATUSES);
registerEnumType(JoinRequestStatus, {
  name: "JoinRequestStatus",
  description: "Where a knock on a private event stands.",
  valuesConfig: {
    PENDING: { description: "Waiting for an organizer to approve or deny it." },
    APPROVED: { description: "Approved: the requester's poll hands out a single-use credential." },
    DENIED: { description: "Denied by an organizer; denyReason may say why." },
    EXPIRED: { description: "Not decided within the company's joinRequestTtlSeconds; the requester must ask again." },
  },
});

// The requester's own knock (their secret), and their event's organizers' to decide.
@AccessOwner((r: JoinRequestType) => ({ companyId: r.companyId, eventId: r.eventId, joinRequestId: r.id }))
@ObjectType("JoinRequest", { description: "A knock on a PRIVATE event with knocking on." })
export class JoinRequestType {
  @Access("self")
  @Field(() => ID, { description: "Join request id." })
  id: string;

  @Access("self")
  @Field(() => ID, { description: "The event knocked on." })
  eventId: string;

  @Access("self")
  @Field(() => JoinRequestStatus, {
    description: "PENDING, APPROVED, DENIED or EXPIRED (a PENDING request past expiresAt reads as EXPIRED).",
  })
  status: JoinRequestStatusValue;

  @Access("self")
  @Field({ description: "The name the requester gave; they join as a guest under it." })
  name: string;

  @Access("self")
  @Field(() => String, {
    nullable: true,
    description:
      "The email the requester gave, unverified: it is not matched against organizer lists, only carried into the session metadata (unverifiedEmail).",
  })
  email: string | null;

  @Access("self")
  @Field(() => Role, { nullable: true, description: "The role granted on approval; null until approved." })
  role: Role | null;

  @Access("self")
  @Field(() => String, { nullable: true, description: "Why it was denied, when the organizer said." })
  denyReason: string | null;

  @Access("self")
  @Field({ description: "When the requester knocked." })
  createdAt: Date;

  @Access("self")
  @Field({ description: "A request still PENDING at this time expires." })
  expiresAt: Date;

  @Access("self")
  @Field(() => Date, { nullable: true, description: "When an organizer approved or denied it." })
  decidedAt: Date | null;

  @Access("self")
  @Field(() => Date, {
    nullable: true,
    description: "When the approval's credential was used to join (it works once).",
  })
  usedAt: Date | null;

  @Access("self")
  @Field(() => String, {
    nullable: true,
    description:
      "A join token for joinEvent (credentialType JOIN_TOKEN, or omitted): only when polled with the requester's secret, once APPROVED and not yet used; freshly signed on each poll, valid about 10 minutes, single use. Null for organizers.",
  })
  credential: string | null;

  /** Not in the schema: the tenant. */
  companyId: string;
}

@AccessOwner((t: JoinRequestTicketType) => ({
  companyId: t.request.companyId,
  eventId: t.request.eventId,
  joinRequestId: t.request.id,
}))
@ObjectType("JoinRequestTicket", { description: "A new join request and the secret to poll it with (shown once)." })
export class JoinRequestTicketType {
  @Access("self")
  @Field(() => JoinRequestType, { description: "The request, PENDING." })
  request: JoinRequestType;

  @Access("self")
  @Field({ description: "Poll joinRequest(id, secret) with it; it is shown only here and stored only as a hash." })
  secret: string;
}

export const JoinRequestConnection = Connection(JoinRequestType, "JoinRequest");
export type JoinRequestConnection = InstanceType<typeof JoinRequestConnection>;
