import { Field, InputType } from "type-graphql";
import { CredentialType } from "./session.types";
import type { CredentialTypeValue } from "./session.entity";

@InputType({ description: "A credential to exchange for a session (no API key needed)." })
export class JoinEventInput {
  @Field({ description: "Event id or slug (for a guest: id, or companySlug/eventSlug)." })
  event: string;

  @Field({ nullable: true, description: "Token, code or ID token; absent for GUEST." })
  credential?: string;

  @Field(() => CredentialType, {
    nullable: true,
    description: "May be omitted for Admit's own tokens (told by the JWT typ).",
  })
  credentialType?: CredentialTypeValue;

  @Field({ nullable: true, description: "GUEST: the name to show." })
  displayName?: string;

  @Field({ nullable: true, description: "PASSWORD: email or external id." })
  username?: string;

  @Field({ nullable: true, description: "PASSWORD: the password." })
  password?: string;
}
