import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { csvCell } from "../../src/modules/analytics/attendee-export";
import { insertSessions, join, leave, makeUsers, mintToken, minuteAfter, register, tokenOf } from "./analytics-helpers";

/** RFC 4180 reader for the tests (quoted cells, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

const t = useTestApp();

async function csv(
  company: TestCompany,
  eventId: string,
  options: { key?: string | null; query?: string; slug?: string } = {},
) {
  const key = options.key === undefined ? company.key : options.key;
  const response = await fetch(
    `${t.url}/c/${options.slug ?? company.slug}/events/${eventId}/attendees.csv${options.query ?? ""}`,
    {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    },
  );
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, rows: response.ok ? parseCsv(text) : [] };
}

/** Rows as objects keyed by the header. */
const records = (rows: string[][]) => rows.slice(1).map((r) => Object.fromEntries(rows[0].map((h, i) => [h, r[i]])));

describe("GET /c/<slug>/events/<id>/attendees.csv", () => {
  let company: TestCompany;
  let event: TestEvent;
  let T0: Date;
  const at = (s: number) => new Date(T0.getTime() + s * 1000);

  beforeAll(async () => {
    company = await makeCompany(t);
    event = await makeEvent(t, company, { maxSessionsPerUser: 3, organizers: [{ email: "a1@example.com" }] });
    await makeUsers(t, company, [
      { externalId: "u1", email: "a1@example.com", name: 'Ada, the "first"', metadata: { jobTitle: "Engineer" } },
      {
        externalId: "u2",
        email: "a2@example.com",
        name: '=HYPERLINK("http://evil")',
        metadata: { jobTitle: "Manager" },
      },
      { externalId: "u3", email: "a3@example.com", name: "Cy" },
    ]);
    const r1 = await register(t, company, event, "a1@example.com", { company: "Acme" });
    const r2 = await register(t, company, event, "a2@example.com", { company: "Acme\nLtd" });
    await register(t, company, event, "a9@example.com", { company: "Never came" });
    const u3 = await mintToken(t, company, {
      eventId: event.id,
      user: { id: "u3", email: "a3@example.com" },
      metadata: { source: "email" },
    });

    // u1 [0, 300); u2 [0, 120); u3 two overlapping sessions [30, 240) and [150, 360) = 330 s; u3's second is still live at 360.
    T0 = minuteAfter(t);
    t.clock.set(at(0));
    const s1 = await join(t, event, tokenOf(r1.joinUrl));
    const s2 = await join(t, event, tokenOf(r2.joinUrl));
    t.clock.set(at(30));
    const s3 = await join(t, event, u3);
    t.clock.set(at(120));
    await leave(t, s2);
    t.clock.set(at(150));
    await join(t, event, u3);
    t.clock.set(at(240));
    await leave(t, s3);
    t.clock.set(at(300));
    await leave(t, s1);
    t.clock.set(at(360));
  });

  it("streams one row per attendee, the same numbers as attendeeList, with metadata columns", async () => {
    const res = await csv(company, event.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${event.slug}-attendees.csv"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.rows[0]).toEqual([
      "user_id",
      "external_id",
      "name",
      "email",
      "registrant_id",
      "registrant_email",
      "role",
      "sessions",
      "first_joined_at",
      "total_attendance_seconds",
      "metadata.company",
      "metadata.jobTitle",
      "metadata.source",
    ]);
    const byExternal = Object.fromEntries(records(res.rows).map((r) => [r.external_id, r]));
    expect(Object.keys(byExternal).sort()).toEqual(["u1", "u2", "u3"]);
    expect(byExternal.u1).toMatchObject({
      total_attendance_seconds: "300",
      sessions: "1",
      role: "ORGANIZER",
      email: "a1@example.com",
      "metadata.company": "Acme",
      "metadata.jobTitle": "Engineer",
      name: 'Ada, the "first"',
      registrant_email: "a1@example.com",
    });
    expect(byExternal.u2).toMatchObject({
      total_attendance_seconds: "120",
      role: "ATTENDEE",
      "metadata.company": "Acme\nLtd",
    });
    // Overlapping sessions are not counted twice; the live one counts up to the (moved) clock.
    expect(byExternal.u3).toMatchObject({
      total_attendance_seconds: "330",
      sessions: "2",
      "metadata.source": "email",
      registrant_id: "",
    });
    expect(byExternal.u1.first_joined_at).toBe(at(0).toISOString());

    // The same as the GraphQL list at the same instant.
    const list = ok(
      await t.gql(
        `query($id: ID!) { eventAnalytics(eventId: $id) { attendeeList(first: 10) { edges { node { user { id } totalAttendanceSeconds sessions role } } } } }`,
        { id: event.id },
        { key: company.key },
      ),
    ).eventAnalytics.attendeeList.edges.map((e: any) => [
      e.node.user.id,
      String(e.node.totalAttendanceSeconds),
      String(e.node.sessions),
      e.node.role,
    ]);
    expect(records(res.rows).map((r) => [r.user_id, r.total_attendance_seconds, r.sessions, r.role])).toEqual(list);

    t.clock.set(at(420));
    const later = records((await csv(company, event.id)).rows).find((r) => r.external_id === "u3")!;
    expect(later.total_attendance_seconds).toBe("390");
  });

  it("neutralises cells a spreadsheet would run as formulas", async () => {
    const res = await csv(company, event.id);
    const u2 = records(res.rows).find((r) => r.external_id === "u2")!;
    expect(u2.name).toBe('\'=HYPERLINK("http://evil")');
    expect(csvCell("-1")).toBe("'-1");
    expect(csvCell(-1)).toBe("-1");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
  });

  it("honours a window like eventAnalytics does", async () => {
    const res = await csv(company, event.id, {
      query: `?from=${encodeURIComponent(at(100).toISOString())}&to=${encodeURIComponent(at(200).toISOString())}`,
    });
    expect(res.status).toBe(200);
    const secs = Object.fromEntries(records(res.rows).map((r) => [r.external_id, r.total_attendance_seconds]));
    expect(secs).toEqual({ u1: "100", u2: "20", u3: "100" });
    expect((await csv(company, event.id, { query: "?from=yesterday" })).status).toBe(400);
  });

  it("refuses without a key, with a key lacking READ_ANALYTICS, and another company's key alike", async () => {
    expect((await csv(company, event.id, { key: null })).status).toBe(401);
    const other = await makeCompany(t);
    const otherRes = await csv(company, event.id, { key: other.key });
    expect(otherRes.status).toBe(404);
    expect(JSON.parse(otherRes.text).error.code).toBe("NOT_FOUND");
    // Its own slug with our event id: still not found.
    expect((await csv(other, event.id)).status).toBe(404);
    expect((await csv(company, "not-a-uuid")).status).toBe(404);
    const narrow = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "n", scopes: [MINT_TOKENS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    expect((await csv(company, event.id, { key: narrow })).status).toBe(403);
  });

  it("pages through more attendees than one statement reads, each once, in first-join order", async () => {
    const big = await makeEvent(t, company);
    const n = 1234;
    const users: { id: string }[] = await t.db.dataSource.query(
      `INSERT INTO users (company_id, external_id, name, metadata)
       SELECT $1, 'bulk-' || g, 'Bulk ' || g, jsonb_build_object('n', g) FROM generate_series(1, $2) g RETURNING id`,
      [company.id, n],
    );
    const start = minuteAfter(t, 10);
    await insertSessions(
      t,
      company.id,
      users.map((u, i) => ({
        eventId: big.id,
        userId: u.id,
        joinedAt: new Date(start.getTime() + (i % 97) * 1000),
        endedAt: new Date(start.getTime() + 600_000),
      })),
    );
    t.clock.set(new Date(start.getTime() + 3_600_000));
    const res = await csv(company, big.id);
    expect(res.status).toBe(200);
    // Streamed: no length known up front.
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    expect(res.headers.get("content-length")).toBeNull();
    const rows = records(res.rows);
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(n);
    const keys = rows.map((r) => `${r.first_joined_at} ${r.user_id}`);
    expect([...keys].sort()).toEqual(keys);
    expect(res.rows[0]).toContain("metadata.n");
    expect(rows.every((r) => Number(r.total_attendance_seconds) === 600 - ((Number(r["metadata.n"]) - 1) % 97))).toBe(
      true,
    );
  });
});
