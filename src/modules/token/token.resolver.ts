import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  registerEnumType,
  Resolver,
  Root,
} from "type-graphql";
import { Access } from "../../graphql/access";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { CompanyType } from "../company/company.types";
import { MintJoinTokenInput } from "./token.inputs";
import { AdmissionType, JoinTokenType, SigningKeyType, TokenValidationType } from "./token.types";
import type { SigningKeyEntity } from "./signing-key.entity";
import { literalEnum } from "../../graphql/enums";
import { SIGNING_ALGS, SigningAlg } from "../../auth/signing-keys";
import { CredentialType } from "../session/session.types";
import type { CredentialTypeValue } from "../session/session.entity";
import { toUserType } from "../user/user.service";

const SigningAlgorithm = literalEnum(SIGNING_ALGS);
registerEnumType(SigningAlgorithm, { name: "SigningAlgorithm", description: "Algorithms a company key may use." });

const toSigningKeyType = (key: SigningKeyEntity): SigningKeyType => ({
  kid: key.id,
  alg: key.alg,
  current: key.isCurrent,
  createdAt: key.createdAt,
  retiresAt: key.retiresAt,
});

@Resolver(() => CompanyType)
export class TokenResolver {
  @Authorized("MINT_TOKENS")
  @Mutation(() => JoinTokenType, { description: "Mints a join token for a user (stateless: nothing is stored)." })
  mintJoinToken(@Arg("input") input: MintJoinTokenInput, @Ctx() ctx: RequestContext): Promise<JoinTokenType> {
    return ctx.services.tokens.mintJoinToken(ctx, input);
  }

  @Authorized("MINT_TOKENS")
  @Mutation(() => Boolean, { description: "Revokes one token by its jti; true when it was not revoked before." })
  revokeToken(@Arg("jti", () => ID) jti: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.tokens.revokeToken(ctx, jti);
  }

  @Access("public")
  @Query(() => TokenValidationType, {
    description:
      "Verifies a credential without joining (a login link is only peeked at): Admit's tokens, partner JWTs, OIDC ID tokens and login-link codes.",
  })
  async validateToken(
    @Arg("token") token: string,
    @Ctx() ctx: RequestContext,
    @Arg("credentialType", () => CredentialType, {
      nullable: true,
      description: "Omitted: one of Admit's own tokens (told by its typ).",
    })
    credentialType?: CredentialTypeValue | null,
    @Arg("event", () => String, {
      nullable: true,
      description:
        "The event (id, slug or companySlug/eventSlug) to resolve the role in; also names the company of a foreign token.",
    })
    event?: string | null,
  ): Promise<TokenValidationType> {
    const { admits, ...result } = await ctx.services.tokenValidation.validate(
      ctx,
      token,
      credentialType ?? null,
      event ?? null,
    );
    const admitsOf = async (): Promise<AdmissionType | null> => {
      const facts = await admits();
      return (
        facts && {
          user: facts.user && toUserType(facts.user),
          event: facts.event && ctx.services.events.toType(facts.event),
          role: facts.role,
        }
      );
    };
    return { ...result, admits: null, admitsOf };
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => SigningKeyType, {
    description: "Makes a new current signing key; old keys keep verifying until their tokens have expired.",
  })
  async rotateSigningKey(
    @Ctx() ctx: RequestContext,
    @Arg("alg", () => SigningAlgorithm, { nullable: true, description: "EdDSA (Ed25519, the default) or ES256." })
    alg?: SigningAlg,
  ): Promise<SigningKeyType> {
    return toSigningKeyType(await ctx.services.signingKeys.rotate(ctx, alg ?? "EdDSA"));
  }

  @FieldResolver(() => [SigningKeyType], { description: "Signing keys that still verify tokens, newest first." })
  async signingKeys(@Root() _company: CompanyType, @Ctx() ctx: RequestContext): Promise<SigningKeyType[]> {
    return (await ctx.services.signingKeys.liveKeys(companyIdOf(ctx))).map(toSigningKeyType);
  }

  @FieldResolver(() => String, { description: "The iss of the company's tokens." })
  issuer(@Root() company: CompanyType, @Ctx() ctx: RequestContext): string {
    return ctx.services.tokens.issuerOf(company.slug);
  }

  @FieldResolver(() => String, { description: "Where the company's public keys are served." })
  jwksUri(@Root() company: CompanyType, @Ctx() ctx: RequestContext): string {
    return `${ctx.services.tokens.issuerOf(company.slug)}/.well-known/jwks.json`;
  }
}

/** `TokenValidation.admits`, found only when a query selects it. */
@Resolver(() => TokenValidationType)
export class TokenValidationResolver {
  @Access("public")
  @FieldResolver(() => AdmissionType, {
    nullable: true,
    description: "Whom it would admit (user, event, role), without joining; null unless valid.",
  })
  admits(@Root() validation: TokenValidationType): Promise<AdmissionType | null> | AdmissionType | null {
    return validation.admitsOf ? validation.admitsOf() : validation.admits;
  }
}
