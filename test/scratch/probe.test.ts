import { startTestApp } from "../support/harness";
import { makeCompany } from "../support/factories";
it("probe", async () => {
  const t = await startTestApp();
  const c = await makeCompany(t);
  const r = await t.gql(`mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }`, { input: { name: "x", capacity: "ten", privacy: "SECRET" } }, { key: c.key });
  console.log(JSON.stringify(r.errors));
  const r2 = await t.gql(`mutation { createEvent(input: { name: "x", startsAt: "yesterday" }) { id } }`, {}, { key: c.key });
  console.log(JSON.stringify(r2.errors));
  const r3 = await t.gql(`mutation { upsertUser(input: { externalId: "x", metadata: [1,2] }) { id } }`, {}, { key: c.key });
  console.log(JSON.stringify(r3.errors));
  await t.close();
});
