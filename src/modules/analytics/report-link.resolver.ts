import { Arg, Ctx, ID, Mutation, Resolver } from "type-graphql";
import { Access } from "../../graphql/access";
import type { RequestContext } from "../../graphql/context";
import { ReportLinkType } from "./report-link.types";

@Resolver()
export class ReportLinkResolver {
  // No @Authorized: an organizer's session token may make one too (ReportLinkService.create).
  @Access("public")
  @Mutation(() => ReportLinkType, {
    description:
      "A short-lived link to the event's report page (API key with READ_ANALYTICS, or a live ORGANIZER session token of the event as bearer).",
  })
  createReportLink(
    @Ctx() ctx: RequestContext,
    @Arg("eventId", () => ID, { description: "The event." }) eventId: string,
  ): Promise<ReportLinkType> {
    return ctx.services.reportLinks.create(ctx, eventId);
  }
}
