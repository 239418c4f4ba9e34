import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";

/*
 * What every HTML page Admit serves shares: one style sheet (join.css, light and dark), served
 * with the join page's script under /j/_/ with its content hash in the name (cached for good),
 * and one way to write a page with a strict Content-Security-Policy. The join page is a template
 * of its own; the small pages (a used login link, signed out, sign out?) are written by htmlPage.
 */

export interface Asset {
  name: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

export interface PageFiles {
  /** join.html, with {{placeholders}}. */
  template: string;
  script: Asset;
  style: Asset;
  /** /embed.js: served under its own stable name, so it is cached briefly, not for good. */
  embed: Asset;
  /** The hashed assets under /j/_/. */
  byName: Map<string, Asset>;
}

export const ASSET_PREFIX = "/j/_/";

let files: PageFiles | null = null;

/**
 * The pages' files, read once per process. They sit in src/http/join-page/; a build that
 * compiles to dist/ finds them in src/ (tsc copies no .html/.js/.css).
 */
export function pageFiles(): PageFiles {
  if (files) return files;
  const candidates = [join(__dirname, "join-page"), resolve(__dirname, "../../../src/http/join-page")];
  const dir = candidates.find((d) => existsSync(join(d, "join.html")));
  if (!dir)
    throw new Error(
      `The join page's files are missing: copy src/http/join-page/ beside the compiled join-page.routes.js (looked in ${candidates.join(", ")}).`,
    );
  const asset = (file: string, type: string, hashed: boolean): Asset => {
    const body = readFileSync(join(dir, file));
    const hash = createHash("sha256").update(body).digest("hex").slice(0, 16);
    const [base, ext] = file.split(".");
    return {
      name: hashed ? `${base}.${hash}.${ext}` : file,
      type,
      body,
      gzip: gzipSync(body, { level: 9 }),
      etag: `"${hash}"`,
    };
  };
  const script = asset("join.js", "text/javascript; charset=utf-8", true);
  const style = asset("join.css", "text/css; charset=utf-8", true);
  files = {
    template: readFileSync(join(dir, "join.html"), "utf8"),
    script,
    style,
    embed: asset("embed.js", "text/javascript; charset=utf-8", false),
    byName: new Map([script, style].map((a) => [a.name, a])),
  };
  return files;
}

/** The shared style sheet's address (hashed). */
export const styleHref = (): string => `${ASSET_PREFIX}${pageFiles().style.name}`;

/** Sends an asset: 304 to a matching If-None-Match, gzip to whoever accepts it. */
export function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset, cacheControl: string) {
  reply
    .header("content-type", asset.type)
    .header("cache-control", cacheControl)
    .header("etag", asset.etag)
    .header("vary", "accept-encoding")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer");
  if (request.headers["if-none-match"] === asset.etag) return reply.status(304).send();
  if (/\bgzip\b/.test(String(request.headers["accept-encoding"] ?? "")))
    return reply.header("content-encoding", "gzip").send(asset.gzip);
  return reply.send(asset.body);
}

/**
 * An HTML page in Admit's style: no external resources (a CSP that allows this origin's style
 * sheet and nothing else), no referrer, no sniffing, not stored, framed by nobody unless
 * `frameAncestors` names who may. Everything dynamic in `body` must already be escaped with
 * escapeHtml. `formAction`: the page has a form, which may post to this origin and be redirected
 * to these origins. `inlineScript`: one constant script, allowed by its hash and nothing else.
 */
export function htmlPage(
  reply: FastifyReply,
  status: number,
  title: string,
  body: string,
  options: { formAction?: string[]; frameAncestors?: readonly string[]; inlineScript?: string } = {},
) {
  const formAction = options.formAction ? ["'self'", ...options.formAction].join(" ") : "'none'";
  const ancestors = options.frameAncestors?.length ? options.frameAncestors.join(" ") : "'none'";
  const script = options.inlineScript;
  const scriptSrc = script ? `; script-src 'sha256-${createHash("sha256").update(script).digest("base64")}'` : "";
  if (options.frameAncestors && options.frameAncestors.length === 0) reply.header("x-frame-options", "DENY");
  return reply
    .status(status)
    .header("content-type", "text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
    .header(
      "content-security-policy",
      `default-src 'none'; style-src 'self'; img-src data:${scriptSrc}; base-uri 'none'; form-action ${formAction}; frame-ancestors ${ancestors}`,
    )
    .send(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title>${script ? `<script>${script}</script>` : ""}<link rel="icon" href="data:,"><link rel="stylesheet" href="${styleHref()}">` +
        `</head><body><main class="page">${body}</main></body></html>\n`,
    );
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
