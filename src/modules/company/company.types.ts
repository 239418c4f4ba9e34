import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { API_SCOPES } from "./api-key.entity";
import { literalEnum, Role } from "../../graphql/enums";

export const ApiScopeEnum = literalEnum(API_SCOPES);
registerEnumType(ApiScopeEnum, {
  name: "ApiScope",
  description: "What an API key may do.",
  valuesConfig: {
    MANAGE_COMPANY: { description: "Company settings, API keys, signing keys, partner secrets, identity providers." },
    MANAGE_EVENTS: {
      description: "Events, their presenter and organizer lists, registrations, sessions and join requests.",
    },
    MANAGE_USERS: { description: "Users and their passwords." },
    MINT_TOKENS: { description: "Join tokens, login links and token revocation." },
    READ_ANALYTICS: { description: "Engagement analytics." },
  },
});

@ObjectType("RolePermissions", { description: "The permissions one role carries in session tokens." })
export class RolePermissionsType {
  @Field(() => Role, { description: "The role." })
  role: Role;

  @Field(() => [String], { description: "What it may do (the session token's `permissions`)." })
  permissions: string[];
}

@ObjectType({ description: "A company's settings." })
export class CompanySettings {
  @Field(() => Int, { description: "A session with no heartbeat for this long ends as INACTIVE." })
  sessionInactivityTimeoutSeconds: number;

  @Field(() => Int, {
    description: "A session that sends no heartbeat this long after joining ends as NO_HEARTBEAT, attending nothing.",
  })
  firstHeartbeatWindowSeconds: number;

  @Field(() => Int, { description: "Lifetime of a join token minted without ttlSeconds or expiresAt." })
  defaultTokenTtlSeconds: number;

  @Field(() => Int, { description: "Longest lifetime a join token may be given." })
  maxTokenTtlSeconds: number;

  @Field(() => Int, { description: "How long a one-time login link may wait to be opened (at most 300)." })
  loginLinkTtlSeconds: number;

  @Field(() => Int, {
    description: "How far ahead a partner-signed JWT's exp may lie (default 7 days, at most 30 days).",
  })
  partnerTokenMaxTtlSeconds: number;

  @Field(() => Int, { description: "How long a knock waits for an organizer before it expires." })
  joinRequestTtlSeconds: number;

  @Field({ description: "Whether users may join with a username and password." })
  passwordAuthEnabled: boolean;

  @Field({ description: "Whether join tokens without an expiry may be minted." })
  allowNonExpiringTokens: boolean;

  @Field(() => [String], { description: "Origins that redirects (logout, login-link expiry) may go to." })
  allowedRedirectOrigins: string[];

  @Field(() => [String], { description: "Origins that may frame the join page and receive its messages." })
  allowedEmbedOrigins: string[];

  @Field(() => [RolePermissionsType], {
    description: "What each role may do: session tokens carry it as `permissions`, for media servers to enforce.",
  })
  rolePermissions: RolePermissionsType[];

  @Field({ description: "The `aud` of the company's session tokens (default: its issuer)." })
  sessionTokenAudience: string;
}

@ObjectType("Company", { description: "A tenant: its users, events, keys and settings belong to it alone." })
export class CompanyType {
  @Field(() => ID, { description: "Company id." })
  id: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "URL-safe unique name; part of the token issuer." })
  slug: string;

  @Field(() => Int, { nullable: true, description: "Most non-guest users the company may have; null is no limit." })
  seatLimit: number | null;

  @Field(() => CompanySettings, { description: "Settings." })
  settings: CompanySettings;

  @Field({ description: "When the company was created." })
  createdAt: Date;
}

@ObjectType("ApiKey", { description: "A company API key. Its secret is shown once, at creation." })
export class ApiKeyType {
  @Field(() => ID, { description: "API key id." })
  id: string;

  @Field({ description: "What the key is for." })
  name: string;

  @Field({ description: "The first characters of the key, to recognise it (adm_xxxxxxxxxxxx…)." })
  prefix: string;

  @Field(() => [ApiScopeEnum], { description: "What the key may do." })
  scopes: string[];

  @Field({ description: "When the key was created." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When the key was last used (to the minute)." })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When the key was revoked; null while it works." })
  revokedAt: Date | null;
}

@ObjectType({ description: "A new company, its first API key and that key's secret (shown once)." })
export class CreateCompanyPayload {
  @Field(() => CompanyType, { description: "The company." })
  company: CompanyType;

  @Field(() => ApiKeyType, { description: "Its first API key, with every scope." })
  apiKey: ApiKeyType;

  @Field({ description: "The API key's secret. Shown once: store it now." })
  secret: string;
}

@ObjectType({ description: "A new API key and its secret (shown once)." })
export class CreateApiKeyPayload {
  @Field(() => ApiKeyType, { description: "The key." })
  apiKey: ApiKeyType;

  @Field({ description: "The key's secret. Shown once: store it now." })
  secret: string;
}
