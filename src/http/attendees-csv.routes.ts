import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Services } from "../container";
import { bearerOf, isReportToken } from "./bearer";

interface CsvRoute {
  Params: { slug: string; id: string };
  Querystring: { from?: string; to?: string };
}

/** Errors of this route, as JSON with the same codes as the GraphQL API. */
const refuse = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.status(status).header("cache-control", "no-store").send({ error: { code, message } });

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * GET /c/<companySlug>/events/<event id or slug>/attendees.csv[?from=&to=]: the attendee list as a
 * spreadsheet, for an API key of that company with READ_ANALYTICS or the token of that event's
 * report link (the report page's download). Streamed a page at a time.
 */
export function registerAttendeesCsvRoutes(fastify: FastifyInstance, deps: { services: Services }): void {
  const { services } = deps;
  fastify.get<CsvRoute>("/c/:slug/events/:id/attendees.csv", async (request, reply) => {
    const bearer = bearerOf(request);
    // The report page downloads with its report link's token; never a credential in the URL.
    const principal =
      bearer && isReportToken(bearer)
        ? await services.reportLinks.principalOf(bearer)
        : await services.companies.authenticate(bearer);
    if (principal.kind !== "apiKey" && principal.kind !== "report") {
      reply.header("www-authenticate", 'Bearer realm="admit"');
      return refuse(
        reply,
        401,
        "UNAUTHENTICATED",
        "A company API key or a report link's token is required (Authorization: Bearer …).",
      );
    }
    if (principal.kind === "apiKey" && !principal.scopes.includes("READ_ANALYTICS")) {
      return refuse(reply, 403, "FORBIDDEN", "This API key lacks the scope READ_ANALYTICS.");
    }
    const { slug, id } = request.params;
    const company = /^[a-z0-9-]{1,64}$/.test(slug) ? await services.companies.cachedCompany("slug", slug) : null;
    // Another company's event, or a slug that is not the key's company: not found, like a missing one.
    // The event by id, slug or companySlug/eventSlug, as everywhere an event is named; a report
    // link's token reads its own event only.
    const found =
      company && company.id === principal.companyId
        ? await services.events.eventOf(company.id, id).catch(() => null)
        : null;
    const event = found && (principal.kind === "apiKey" || principal.eventId === found.id) ? found : null;
    if (!event) return refuse(reply, 404, "NOT_FOUND", "The event was not found.");

    const window: { from: Date | null; to: Date | null } = { from: null, to: null };
    for (const field of ["from", "to"] as const) {
      const raw = request.query[field];
      if (raw === undefined) continue;
      const at = typeof raw === "string" && ISO_DATE_TIME.test(raw) ? new Date(raw) : null;
      if (!at || Number.isNaN(at.getTime()))
        return refuse(reply, 400, "BAD_USER_INPUT", `${field} must be an ISO 8601 date-time.`);
      window[field] = at;
    }
    if (window.from && window.to && window.to.getTime() <= window.from.getTime()) {
      return refuse(reply, 400, "BAD_USER_INPUT", "to must be after from.");
    }

    // The header row is read before answering, so a failure there is still a proper error status.
    const { asOf, lines } = await services.analytics.exportAttendees(company!.id, event.id, window);
    const stream = Readable.from(lines);
    stream.on("error", (err) => request.log.error({ err }, "attendee export failed while streaming"));
    return (
      reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${event.slug}-attendees.csv"`)
        .header("cache-control", "no-store")
        // How fresh the rows are: read from the replica, every change committed before this is in them.
        .header("x-admit-as-of", asOf.toISOString())
        .header("x-content-type-options", "nosniff")
        .send(stream)
    );
  });
}
