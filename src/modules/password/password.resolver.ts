import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import type { RequestContext } from "../../graphql/context";
import { toUserType } from "../user/user.service";
import { UserType } from "../user/user.types";
import { SetUserPasswordInput } from "./password.inputs";

@Resolver()
export class PasswordResolver {
  @Authorized("MANAGE_USERS")
  @Mutation(() => UserType, {
    description:
      "Gives a user a managed password (replacing any it had), for joinEvent with credentialType PASSWORD once the company enables passwordAuthEnabled. Guests cannot have one.",
  })
  async setUserPassword(@Arg("input") input: SetUserPasswordInput, @Ctx() ctx: RequestContext): Promise<UserType> {
    return toUserType(await ctx.services.passwords.setPassword(ctx, input));
  }
}
