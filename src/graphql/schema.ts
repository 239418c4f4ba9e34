import "reflect-metadata";
import { buildSchema, type PubSub } from "type-graphql";
import type { GraphQLSchema } from "graphql";
import { applyAccessRules } from "./access-guard";
import { authChecker } from "./auth-checker";
import { DateTimeScalar } from "./scalars";
import { CompanyResolver } from "../modules/company/company.resolver";
import { EventResolver } from "../modules/event/event.resolver";
import { UserResolver } from "../modules/user/user.resolver";
import { TokenResolver, TokenValidationResolver } from "../modules/token/token.resolver";
import { SessionResolver } from "../modules/session/session.resolver";
import { REGISTRANT_RESOLVERS } from "../modules/registrant/registrant.resolver";
import { ANALYTICS_RESOLVERS } from "../modules/analytics/analytics.resolver";
import { PasswordResolver } from "../modules/password/password.resolver";
import { JOIN_REQUEST_RESOLVERS } from "../modules/knock/join-request.resolver";
import { OrganizerResolver } from "../modules/session/organizer.resolver";
import { PARTNER_RESOLVERS } from "../modules/partner/partner.resolver";
import { LOGIN_LINK_RESOLVERS } from "../modules/login-link/login-link.resolver";
import { WEBHOOK_RESOLVERS } from "../modules/webhook/webhook.resolver";
import { LiveResolver } from "../modules/live/live.resolver";

export const RESOLVERS = [
  CompanyResolver,
  EventResolver,
  UserResolver,
  TokenResolver,
  TokenValidationResolver,
  SessionResolver,
  ...REGISTRANT_RESOLVERS,
  ...ANALYTICS_RESOLVERS,
  PasswordResolver,
  ...JOIN_REQUEST_RESOLVERS,
  OrganizerResolver,
  ...PARTNER_RESOLVERS,
  ...LOGIN_LINK_RESOLVERS,
  ...WEBHOOK_RESOLVERS,
  LiveResolver,
] as const;

const NO_TOPICS: PubSub = {
  publish: () => {
    throw new Error("Subscriptions here read their own streams; nothing is published by topic.");
  },
  subscribe: () => {
    throw new Error("Subscriptions here read their own streams; nothing is subscribed by topic.");
  },
};

let built: Promise<GraphQLSchema> | null = null;

/** The schema is the same for every app in a process: built once. */
export function getSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [...RESOLVERS],
    authChecker,
    authMode: "error",
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
    emitSchemaFile: false,
    // Subscriptions bring their own streams (src/modules/live): no topics are published.
    pubSub: NO_TOPICS,
  }).then((schema) => {
    // Every field answers only whom its @Access rule admits (src/graphql/access.ts).
    applyAccessRules(schema);
    return schema;
  });
  return built;
}
