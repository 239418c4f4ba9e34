import { Field, ID, ObjectType } from "type-graphql";
import { Access } from "../../graphql/access";

@ObjectType("ReportLink", {
  description: "A short-lived link to an event's report page, for a person without an API key.",
})
export class ReportLinkType {
  @Access("public")
  @Field({
    description:
      "<PUBLIC_URL>/c/<companySlug>/events/<eventId>/report#token=<report token>. The token reads this event's report only, until expiresAt; it rides in the fragment, which browsers never send to a server.",
  })
  url: string;

  @Access("public")
  @Field({ description: "When the link stops working (the page then asks for a new one)." })
  expiresAt: Date;

  @Access("public")
  @Field(() => ID, { description: "The token's jti: revokeToken(jti) stops the link at once, on every node." })
  jti: string;
}
