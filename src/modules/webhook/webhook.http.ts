import http, { ClientRequest } from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import {
  guardedLookup,
  outboundHost,
  HostResolver,
  JwksAddressPolicy,
  refusedAddress,
} from "../../auth/external-tokens";
import { badInput } from "../../errors";

/** What came back from one POST: a status, or why there was none. */
export type PostOutcome = { status: number } | { error: string };

const MAX_URL = 2048;
/** The answer's body is read and dropped, at most this much (a receiver that streams forever is cut). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * A webhook URL Admit may POST to: https without credentials; plain http only on a loopback host
 * when loopback is allowed (outside production). IP literals of private, link-local, CGNAT,
 * reserved… ranges are refused, and loopback in production. The same address rules as the JWKS
 * fetcher; this is the early, clear answer, and every POST checks the addresses it connects to.
 */
export function checkWebhookUrl(value: string, policy: JwksAddressPolicy): string {
  const raw = value.trim();
  if (raw.length === 0 || raw.length > MAX_URL)
    throw badInput("url", `url must be an https URL of at most ${MAX_URL} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput("url", "url must be an absolute https URL.");
  }
  if (url.username || url.password) throw badInput("url", "url must not carry credentials.");
  if (url.hash) throw badInput("url", "url must not have a fragment.");
  const { kind, loopback } = outboundHost(url);
  if (loopback && !policy.allowLoopback) throw badInput("url", "url must be on a public host.");
  if (kind !== "invalid" && kind !== "public" && kind !== "loopback")
    throw badInput("url", "url must be on a public host.");
  if (url.protocol === "https:") return url.toString();
  if (url.protocol === "http:" && loopback) return url.toString();
  throw badInput("url", "url must be an https URL (http is allowed only on a loopback host outside production).");
}

/**
 * POSTs `body` with node:http(s): the host's addresses checked at connect time (no second
 * resolution a hostile DNS could answer differently), no redirects (a 3xx is a failure), given
 * up after `timeoutMs` in all (connect, send, answer).
 */
export function postWebhook(
  target: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; policy: JwksAddressPolicy; resolver?: HostResolver },
): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let request: ClientRequest | null = null;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request?.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ error: `no answer within ${options.timeoutMs} ms` }), options.timeoutMs);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return finish({ error: "the URL is not valid" });
    }
    const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : null;
    if (!client) return finish({ error: "the URL is neither https nor http" });
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host)) {
      const refusal = refusedAddress(host, options.policy);
      if (refusal) return finish({ error: `the host is a ${refusal}, which is refused` });
    }
    request = client.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        agent: false,
        lookup: guardedLookup(options.policy, options.resolver),
      },
      (response) => {
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) finish({ status: response.statusCode ?? 0 });
        });
        response.on("end", () => finish({ status: response.statusCode ?? 0 }));
        response.on("error", () => finish({ status: response.statusCode ?? 0 }));
      },
    );
    request.on("error", (error: Error & { code?: string }) =>
      finish({ error: `${error.code ?? error.name}: ${error.message}`.slice(0, 300) }),
    );
    request.end(body);
  });
}
