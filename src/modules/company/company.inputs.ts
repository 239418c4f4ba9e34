import { Field, InputType, Int } from "type-graphql";
import { Role } from "../../graphql/enums";
import { ApiScopeEnum } from "./company.types";
import type { ApiScope } from "./api-key.entity";

@InputType({ description: "A new company." })
export class CreateCompanyInput {
  @Field({ description: "Display name (at most 200 characters)." })
  name: string;

  @Field({ nullable: true, description: "Unique slug; made from the name when absent." })
  slug?: string;

  @Field(() => Int, { nullable: true, description: "Most non-guest users; absent is no limit." })
  seatLimit?: number;
}

@InputType({ description: "A new API key of the caller's company." })
export class CreateApiKeyInput {
  @Field({ description: "What the key is for." })
  name: string;

  @Field(() => [ApiScopeEnum], { nullable: true, description: "What it may do; every scope when absent." })
  scopes?: ApiScope[];
}

@InputType({ description: "The permissions one role carries in session tokens." })
export class RolePermissionsInput {
  @Field(() => Role, { description: "The role." })
  role: Role;

  @Field(() => [String], {
    description:
      "What it may do: 1 to 40 characters each (lower-case letters, digits, '_', '.', ':' or '-'), at most 20.",
  })
  permissions: string[];
}

@InputType({ description: "Settings to change; absent fields stay as they are." })
export class UpdateCompanySettingsInput {
  @Field(() => Int, { nullable: true, description: "60 to 604800 seconds." })
  sessionInactivityTimeoutSeconds?: number;

  @Field(() => Int, {
    nullable: true,
    description:
      "30 to 3600 seconds (default 120): a session with no heartbeat this long after joining ends as NO_HEARTBEAT.",
  })
  firstHeartbeatWindowSeconds?: number;

  @Field(() => Int, { nullable: true, description: "60 seconds up to maxTokenTtlSeconds." })
  defaultTokenTtlSeconds?: number;

  @Field(() => Int, { nullable: true, description: "60 seconds to 1 year." })
  maxTokenTtlSeconds?: number;

  @Field(() => Int, { nullable: true, description: "1 to 300 seconds." })
  loginLinkTtlSeconds?: number;

  @Field(() => Int, {
    nullable: true,
    description: "60 seconds to 30 days (default 7 days): how far ahead a partner JWT's exp may lie.",
  })
  partnerTokenMaxTtlSeconds?: number;

  @Field(() => Int, { nullable: true, description: "60 seconds to 7 days." })
  joinRequestTtlSeconds?: number;

  @Field({ nullable: true, description: "Allow username and password joins." })
  passwordAuthEnabled?: boolean;

  @Field({ nullable: true, description: "Allow join tokens without expiry." })
  allowNonExpiringTokens?: boolean;

  @Field(() => [String], { nullable: true, description: "Origins redirects may go to (scheme://host[:port])." })
  allowedRedirectOrigins?: string[];

  @Field(() => [String], { nullable: true, description: "Origins that may embed the join page." })
  allowedEmbedOrigins?: string[];

  @Field(() => Int, { nullable: true, description: "Most non-guest users; null removes the limit." })
  seatLimit?: number | null;

  @Field(() => [RolePermissionsInput], {
    nullable: true,
    description:
      "What each role named may do, as session tokens carry it (`permissions`); roles not named keep theirs.",
  })
  rolePermissions?: RolePermissionsInput[];

  @Field(() => String, {
    nullable: true,
    description:
      "The `aud` of session tokens, for a media server to pin (at most 2048 characters); null restores the default, the company's issuer.",
  })
  sessionTokenAudience?: string | null;
}
