import type { AnalyticsRead, SqlReader } from "../../db/read-replica";
import { Role } from "../../graphql/enums";
import { analyticsLoaders, AttendeeRow } from "./analytics.loaders";
import type { AnalyticsWindow } from "./analytics.sql";
import {
  ATTENDEE_METADATA_KEYS,
  EXPORT_REGISTRANTS,
  EXPORT_USERS,
  type AttendeeCursor,
  type ExportRegistrantRow,
  type ExportUserRow,
} from "./attendance.sql";

/** Attendees read per statement while streaming: memory stays flat whatever the event's size. */
export const EXPORT_PAGE_SIZE = 500;
/** Metadata keys beyond this many are left out of the columns (a spreadsheet, not a dump). */
export const MAX_METADATA_COLUMNS = 200;

const ROLES_BY_RANK = [Role.ATTENDEE, Role.PRESENTER, Role.ORGANIZER];

const FIXED_COLUMNS = [
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
] as const;

export interface AttendeeExportScope {
  companyId: string;
  eventId: string;
  window: AnalyticsWindow;
  /** Pinned once: every row is as of the same instant. */
  now: Date;
}

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled.
 * A text cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed
 * with an apostrophe (OWASP "CSV injection"): names and metadata come from end users.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a cell is a scalar or a JSON object; objects take the JSON branch
  let text = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: unknown[]): string => `${cells.map(csvCell).join(",")}\r\n`;

/**
 * The attendees of one event as CSV lines, one row per attendee with the same numbers as
 * `eventAnalytics.attendeeList` (the same loaders and statements), then one column per metadata
 * key (`metadata.<key>`). Read a page at a time by keyset, so the caller can stream it.
 */
export async function* attendeeCsv(read: AnalyticsRead, scope: AttendeeExportScope): AsyncGenerator<string> {
  const query = read.reader;
  const keys = await metadataKeys(query, scope.eventId);
  yield csvLine([...FIXED_COLUMNS, ...keys.map((k) => `metadata.${k}`)]);
  let after: AttendeeCursor | null = null;
  for (;;) {
    // Fresh loaders per page: their cache would otherwise hold every page until the end.
    const loaders = analyticsLoaders(query, () => Promise.resolve(read)).analytics;
    const rows: AttendeeRow[] = await loaders.attendeePage.load({
      companyId: scope.companyId,
      eventId: scope.eventId,
      from: scope.window.from,
      to: scope.window.to,
      now: scope.now,
      take: EXPORT_PAGE_SIZE,
      after,
    });
    if (rows.length === 0) return;
    const people = await peopleOf(query, scope.companyId, rows);
    let chunk = "";
    for (const row of rows) {
      const user = people.users.get(row.userId);
      const registrant = row.registrantId ? people.registrants.get(row.registrantId) : undefined;
      chunk += csvLine([
        row.userId,
        user?.external_id ?? null,
        user?.name ?? registrant?.name ?? null,
        user?.email ?? null,
        row.registrantId,
        registrant?.email ?? null,
        ROLES_BY_RANK[row.roleRank] ?? Role.ATTENDEE,
        row.sessions,
        row.firstJoinedAt.toISOString(),
        Math.round(row.attendedMs / 1000),
        ...keys.map((k) => row.metadata[k]),
      ]);
    }
    yield chunk;
    if (rows.length < EXPORT_PAGE_SIZE) return;
    const last = rows[rows.length - 1];
    after = { firstJoinedAt: last.firstJoinedAt, userId: last.userId };
  }
}

/** The columns of the metadata, one per key (see ATTENDEE_METADATA_KEYS), sorted. */
async function metadataKeys(query: SqlReader, eventId: string): Promise<string[]> {
  const rows = await query<{ k: string }>(ATTENDEE_METADATA_KEYS, [eventId, MAX_METADATA_COLUMNS]);
  return rows.map((r) => r.k);
}

interface PersonRows {
  users: Map<string, ExportUserRow>;
  registrants: Map<string, ExportRegistrantRow>;
}

/** Names and emails of one page's attendees: two statements per page, never one per row. */
async function peopleOf(query: SqlReader, companyId: string, rows: AttendeeRow[]): Promise<PersonRows> {
  const userIds = rows.map((r) => r.userId);
  const registrantIds = rows.flatMap((r) => (r.registrantId ? [r.registrantId] : []));
  const [users, registrants] = await Promise.all([
    query<ExportUserRow>(EXPORT_USERS, [companyId, userIds]),
    registrantIds.length
      ? query<ExportRegistrantRow>(EXPORT_REGISTRANTS, [companyId, registrantIds])
      : Promise.resolve([]),
  ]);
  return {
    users: new Map(users.map((u) => [u.id, u])),
    registrants: new Map(registrants.map((r) => [r.id, r])),
  };
}
