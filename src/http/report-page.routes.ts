import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import { isUuid } from "../graphql/validate";
import { joinPageCsp } from "./join-page.routes";

/*
 * GET /c/<companySlug>/events/<eventId>/report: the event report page. The HTML is a shell with
 * no data in it: the page's script reads the report link's token from the address fragment (or
 * trades an organizer's session token for one) and asks GraphQL with it, so who may read what is
 * decided by the field rules alone. Its script and style sheet, and the join page's shared style
 * sheet, are served under /report/_/ with their content hash in the name.
 */

interface Asset {
  name: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const ASSET_PREFIX = "/report/_/";

/** The page's files, read once: beside this module, or in src/ when running from dist/ without the copy. */
function pageFiles(): { template: string; assets: Asset[] } {
  const dirs = (name: string) => [join(__dirname, name), resolve(__dirname, "../../../src/http", name)];
  const find = (name: string, file: string): string => {
    const dir = dirs(name).find((d) => existsSync(join(d, file)));
    if (!dir)
      throw new Error(
        `The report page's files are missing: copy src/http/${name}/ beside the compiled report-page.routes.js.`,
      );
    return join(dir, file);
  };
  const asset = (path: string, type: string): Asset => {
    const body = readFileSync(path);
    const hash = createHash("sha256").update(body).digest("hex").slice(0, 16);
    const file = path.slice(path.lastIndexOf("/") + 1);
    const [base, ext] = file.split(".");
    return { name: `${base}.${hash}.${ext}`, type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${hash}"` };
  };
  return {
    template: readFileSync(find("report-page", "report.html"), "utf8"),
    assets: [
      asset(find("join-page", "join.css"), "text/css; charset=utf-8"),
      asset(find("report-page", "report.css"), "text/css; charset=utf-8"),
      asset(find("report-page", "report.js"), "text/javascript; charset=utf-8"),
    ],
  };
}

export function registerReportPageRoutes(fastify: FastifyInstance): void {
  const { template, assets } = pageFiles();
  const byName = new Map(assets.map((a) => [a.name, a]));
  const [shared, style, script] = assets;
  const html = template
    .replace("{{sharedStyle}}", `${ASSET_PREFIX}${shared.name}`)
    .replace("{{style}}", `${ASSET_PREFIX}${style.name}`)
    .replace("{{script}}", `${ASSET_PREFIX}${script.name}`);

  fastify.get<{ Params: { file: string } }>(`${ASSET_PREFIX}:file`, async (request, reply) => {
    const asset = byName.get(request.params.file);
    if (!asset) return reply.status(404).header("cache-control", "no-store").send({ error: "No such file." });
    reply
      .header("content-type", asset.type)
      .header("cache-control", "public, max-age=31536000, immutable")
      .header("etag", asset.etag)
      .header("vary", "accept-encoding")
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer");
    if (request.headers["if-none-match"] === asset.etag) return reply.status(304).send();
    if (/\bgzip\b/.test(String(request.headers["accept-encoding"] ?? "")))
      return reply.header("content-encoding", "gzip").send(asset.gzip);
    return reply.send(asset.body);
  });

  // The same page for every event: whether the event exists, and whose it is, is for the token to
  // prove, so the address alone tells nothing (a malformed one is simply not a page).
  fastify.get<{ Params: { companySlug: string; id: string } }>(
    "/c/:companySlug/events/:id/report",
    async (request, reply) => {
      const { companySlug, id } = request.params;
      const wellFormed = /^[a-z0-9-]{1,64}$/.test(companySlug) && isUuid(id);
      return (
        reply
          .status(wellFormed ? 200 : 404)
          .header("content-type", "text/html; charset=utf-8")
          // The join page's policy: this origin only, no inline script or style; never framed.
          .header("content-security-policy", joinPageCsp([]))
          .header("x-frame-options", "DENY")
          .header("referrer-policy", "no-referrer")
          .header("x-content-type-options", "nosniff")
          .header("cache-control", "no-store")
          .send(wellFormed ? html : "<!doctype html><title>Not found</title><p>There is no report at this address.</p>")
      );
    },
  );
}
