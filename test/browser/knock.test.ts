import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { mint } from "../join/join-helpers";
import {
  describeInBrowser,
  focusedId,
  newPage,
  pageUrl,
  screenshot,
  textOf,
  useBrowser,
  waitForState,
} from "./browser-helpers";

jest.setTimeout(60_000);

const t = useTestApp();
const b = useBrowser();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

/** A PRIVATE event with knocking on, and its organizer's page, joined. */
async function eventWithOrganizer(name: string) {
  const host = `host-${Date.now()}`;
  const event = await makeEvent(t, company, { name, knockingEnabled: true, organizers: [{ userId: host }] });
  const minted = await mint(t, company, { eventId: event.id, user: { id: host, name: "Hedy Lamarr" } });
  const organizer = await newPage(b.browser);
  await organizer.page.goto(pageUrl(t, event.slug, { token: minted.token }));
  await waitForState(organizer.page, "joined");
  await organizer.page.waitForSelector("#view-organizer:not([hidden])");
  t.clock.advance(1); // whoever joins next joins later: the participant list is in join order
  return { event, organizer };
}

/** A visitor without a credential knocks and lands in the lobby. */
async function knock(slug: string, name: string, email: string) {
  const visitor = await newPage(b.browser);
  await visitor.page.goto(pageUrl(t, slug));
  await waitForState(visitor.page, "knock");
  expect(await focusedId(visitor.page)).toBe("knock-name");
  await visitor.page.getByRole("textbox", { name: "Your name" }).fill(name);
  await visitor.page.getByRole("textbox", { name: /Your email/ }).fill(email);
  await visitor.page.getByRole("button", { name: "Ask to join" }).click();
  await waitForState(visitor.page, "lobby");
  return visitor;
}

describeInBrowser("knocking on a private event from the join page", () => {
  it("ask to join → lobby → an organizer lets them in from their own page → the requester is in by itself", async () => {
    const { event, organizer } = await eventWithOrganizer("Private briefing");
    expect(await textOf(organizer.page, "#no-requests")).toBe("Nobody is waiting.");

    const visitor = await knock(event.slug, "Katherine Johnson", "katherine@nasa.test");
    expect(await textOf(visitor.page, "#status")).toBe(
      "Your request was sent. Waiting for an organizer to let you in.",
    );
    // The private event's name is not shown before joining.
    expect(await textOf(visitor.page, "#event-name")).toBe("Join the event");
    await screenshot(visitor.page, "lobby-waiting");

    await organizer.page.waitForSelector("#requests li");
    expect(await textOf(organizer.page, "#requests li span")).toBe("Katherine Johnson (katherine@nasa.test)");
    expect(await textOf(organizer.page, "#status")).toBe("Katherine Johnson is asking to join.");
    expect(await organizer.page.isHidden("#no-requests")).toBe(true);
    await screenshot(organizer.page, "organizer-pending-request");

    await organizer.page.getByRole("button", { name: "Let in Katherine Johnson" }).click();
    await waitForState(visitor.page, "joined");
    expect(await textOf(visitor.page, "#user-name")).toBe("Katherine Johnson");
    expect(await textOf(visitor.page, "#role")).toBe("Attendee");
    expect(await textOf(visitor.page, "#event-name")).toBe("Private briefing");

    // The organizer's page now lists them among those in, and nobody waiting.
    await organizer.page.waitForSelector(`#participant-count:text-is("2")`);
    expect(await organizer.page.locator("#participants li").allTextContents()).toEqual([
      "Hedy Lamarr (you)Organizer",
      "Katherine JohnsonAttendee",
    ]);
    await organizer.page.waitForSelector("#no-requests:not([hidden])");

    const requests = ok(
      await t.gql(
        `query($id: ID!) { event(id: $id) { joinRequests { edges { node { name status } } } } }`,
        { id: event.id },
        { key: company.key },
      ),
    ).event.joinRequests.edges;
    expect(requests).toEqual([{ node: { name: "Katherine Johnson", status: "APPROVED" } }]);
    await organizer.context.close();
    await visitor.context.close();
  });

  it("a denied request says so; the lobby survives a reload while it waits", async () => {
    const { event, organizer } = await eventWithOrganizer("Closed door");
    const visitor = await knock(event.slug, "Uninvited Guest", "guest@example.test");
    await visitor.page.reload();
    await waitForState(visitor.page, "lobby");

    await organizer.page.getByRole("button", { name: "Deny Uninvited Guest" }).click();
    await waitForState(visitor.page, "error");
    expect(await textOf(visitor.page, "#error-message")).toBe("An organizer declined your request to join.");
    await organizer.page.waitForSelector("#no-requests:not([hidden])");
    await organizer.context.close();
    await visitor.context.close();
  });

  it("a bad email is said next to the form, which stays", async () => {
    const event = await makeEvent(t, company, { knockingEnabled: true });
    const visitor = await newPage(b.browser);
    await visitor.page.goto(pageUrl(t, event.slug));
    await waitForState(visitor.page, "knock");
    await visitor.page.getByRole("textbox", { name: "Your name" }).fill("Someone");
    // type="email" would stop the form in the browser; a script-set value reaches the server.
    await visitor.page
      .locator("#knock-email")
      .evaluate((input) => ((input as unknown as { type: string }).type = "text"));
    await visitor.page.locator("#knock-email").fill("not an email");
    await visitor.page.getByRole("button", { name: "Ask to join" }).click();
    await visitor.page.waitForSelector("#knock-error:not([hidden])");
    expect(await textOf(visitor.page, "#knock-error")).toBe("Please enter a valid email address, or leave it empty.");
    expect(await visitor.page.getAttribute("main", "data-state")).toBe("knock");
    await visitor.context.close();
  });
});
