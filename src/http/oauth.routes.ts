import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Services } from "../container";
import { isAppError } from "../errors";
import { isStorable } from "../modules/token/token.service";
import { SUBJECT_TOKEN_TYPES } from "../modules/token/token-exchange.service";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const FORM = "application/x-www-form-urlencoded";
/** Subject tokens are at most 8 KB; a form larger than this is refused before it is parsed. */
const FORM_BODY_LIMIT_BYTES = 64 * 1024;
/** Parameters that RFC 8693 lets a client repeat; every other one may appear once (RFC 6749 §3.2). */
const REPEATABLE = new Set(["audience", "resource"]);

/** An RFC 6749 §5.2 error answer. */
class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

const invalidRequest = (description: string) => new OAuthError(400, "invalid_request", description);

function send(
  reply: FastifyReply,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  // Tokens and errors alike are never cached (RFC 6749 §5.1).
  return reply
    .status(status)
    .headers({ "cache-control": "no-store", pragma: "no-cache", ...headers })
    .send(body);
}

const sendError = (reply: FastifyReply, error: OAuthError) =>
  send(reply, error.status, { error: error.error, error_description: error.description }, error.headers);

/** The form's parameters, each once (except those RFC 8693 lets repeat). */
function formOf(request: FastifyRequest): Map<string, string[]> {
  const mediaType = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== FORM) throw invalidRequest(`The request body must be ${FORM} (RFC 6749 §3.2).`);
  const params = new Map<string, string[]>();
  const add = (name: string, value: unknown) => {
    if (typeof value !== "string") throw invalidRequest(`The parameter ${name.slice(0, 40)} is malformed.`);
    params.set(name, [...(params.get(name) ?? []), value]);
  };
  const body = request.body;
  if (body instanceof URLSearchParams) {
    for (const [name, value] of body) add(name, value);
  } else if (typeof body === "object" && body !== null) {
    // A form parser registered elsewhere may hand over an object.
    for (const [name, value] of Object.entries(body))
      for (const one of Array.isArray(value) ? value : [value]) add(name, one);
  }
  for (const [name, values] of params) {
    if (values.length > 1 && !REPEATABLE.has(name))
      throw invalidRequest(`The parameter ${name.slice(0, 40)} is given more than once.`);
  }
  return params;
}

/** How the client authenticated (RFC 6749 §2.3.1, and a Bearer API key). */
type ClientAuth = { secret: string; clientId: string | null; scheme: "Basic" | "Bearer" | "Post" };

const CHALLENGE = { "www-authenticate": 'Basic realm="admit"' };

/**
 * The API key the client authenticates with, by exactly one method: HTTP Basic (client_secret =
 * the key), `client_secret_post` (client_id and client_secret in the form: what standard OAuth
 * libraries send by default) or Bearer. The client_id, when given, is the company's slug (or id).
 */
function clientAuthOf(request: FastifyRequest, form: Map<string, string[]>): ClientAuth {
  const header = request.headers.authorization;
  const posted = form.get("client_secret")?.[0];
  const postedId = form.get("client_id")?.[0] ?? null;
  if (header && posted !== undefined) {
    throw invalidRequest(
      "Authenticate the client one way only: the Authorization header or client_secret in the form (RFC 6749 §2.3).",
    );
  }
  if (!header) {
    if (posted) return { secret: posted, clientId: postedId, scheme: "Post" };
    throw new OAuthError(
      401,
      "invalid_client",
      "Authenticate with a company API key: HTTP Basic or client_secret_post (client_secret = the key), or Bearer.",
      CHALLENGE,
    );
  }
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return { secret: bearer[1], clientId: postedId, scheme: "Bearer" };
  const basic = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon >= 0) {
      try {
        // RFC 6749 §2.3.1: client_id and client_secret are form-encoded before base64.
        const formDecode = (text: string) => decodeURIComponent(text.replace(/\+/g, " "));
        return {
          secret: formDecode(decoded.slice(colon + 1)),
          clientId: formDecode(decoded.slice(0, colon)) || postedId,
          scheme: "Basic",
        };
      } catch {
        // falls through to invalid_client
      }
    }
  }
  throw new OAuthError(401, "invalid_client", "The Authorization header is not HTTP Basic or Bearer.", CHALLENGE);
}

/**
 * POST /oauth/token: RFC 8693 token exchange. A company backend, authenticated by an API key
 * with MINT_TOKENS (HTTP Basic or client_secret_post with the key as client_secret and the
 * company's slug as client_id, or Bearer), exchanges a partner JWT (subject_token_type
 * urn:ietf:params:oauth:token-type:jwt) or an ID token of one of its OIDC providers
 * (urn:ietf:params:oauth:token-type:id_token) for an Admit join token. `audience` (an event id or
 * slug of the company) makes the token open that event only. The join token has its own jti and
 * carries the subject token's jti (or, without one, `sha256:<hex SHA-256 of the subject token>`)
 * as `sjt`: revokeToken of that value, or a ban of a session the subject token opened, refuses
 * the join tokens minted from it too. Errors are RFC 6749 §5.2 JSON:
 * invalid_request, invalid_client (401), unauthorized_client, unsupported_grant_type,
 * invalid_grant (the subject token does not hold up), invalid_target (the audience).
 */
export function registerOAuthRoutes(fastify: FastifyInstance, services: Services): void {
  void fastify.register(async (scope) => {
    if (!scope.hasContentTypeParser(FORM)) {
      scope.addContentTypeParser(
        FORM,
        { parseAs: "string", bodyLimit: FORM_BODY_LIMIT_BYTES },
        (_request, body, done) => {
          done(null, new URLSearchParams(body as string));
        },
      );
    }

    scope.setErrorHandler((error, request, reply) => {
      const err = error as { statusCode?: number; code?: string };
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) {
        request.log.error({ err: error }, "token exchange failed");
        return send(reply, 500, {
          error: "server_error",
          error_description: "Something went wrong on our side.",
          requestId: request.id,
        });
      }
      const description =
        err.code === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? `The request body is larger than ${FORM_BODY_LIMIT_BYTES} bytes.`
          : err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
            ? `The request body must be ${FORM}.`
            : "The request could not be read.";
      return send(reply, status, { error: "invalid_request", error_description: description });
    });

    // RFC 8414 metadata of each company's issuer, at the address the issue names
    // (<issuer>/.well-known/…) and where RFC 8414 §3.1 puts it for an issuer with a path
    // (/.well-known/oauth-authorization-server/c/<slug>), which is what clients ask for.
    const metadata = async (request: FastifyRequest<{ Params: { slug: string } }>, reply: FastifyReply) => {
      const company = /^[a-z0-9-]{1,64}$/.test(request.params.slug)
        ? await services.companies.cachedCompany("slug", request.params.slug)
        : null;
      if (!company)
        return reply.status(404).header("cache-control", "no-store").send({ error: "No company has this slug." });
      const issuer = services.tokens.issuerOf(company.slug);
      return reply.header("cache-control", "public, max-age=300").send({
        issuer,
        token_endpoint: `${services.loginLinks.publicUrl}/oauth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        grant_types_supported: [TOKEN_EXCHANGE],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        // No authorization endpoint: no response type is supported.
        response_types_supported: [],
        subject_token_types_supported: [SUBJECT_TOKEN_TYPES.jwt, SUBJECT_TOKEN_TYPES.idToken],
        issued_token_types_supported: [JWT_TOKEN_TYPE],
      });
    };
    scope.get("/c/:slug/.well-known/oauth-authorization-server", metadata);
    scope.get("/.well-known/oauth-authorization-server/c/:slug", metadata);

    scope.route({
      method: ["GET", "PUT", "PATCH", "DELETE"],
      url: "/oauth/token",
      handler: (_request, reply) =>
        send(
          reply,
          405,
          { error: "invalid_request", error_description: "The token endpoint takes POST only." },
          { allow: "POST" },
        ),
    });

    scope.post("/oauth/token", async (request, reply) => {
      try {
        return await exchange(request, reply, services);
      } catch (error) {
        if (error instanceof OAuthError) return sendError(reply, error);
        throw error;
      }
    });
  });
}

async function exchange(request: FastifyRequest, reply: FastifyReply, services: Services) {
  const form = formOf(request);
  const client = clientAuthOf(request, form);
  const challenge = { "www-authenticate": `${client.scheme === "Bearer" ? "Bearer" : "Basic"} realm="admit"` };
  const principal = await services.companies.authenticate(client.secret);
  if (principal.kind !== "apiKey")
    throw new OAuthError(401, "invalid_client", "The API key is unknown or has been revoked.", challenge);
  if (!principal.scopes.includes("MINT_TOKENS")) {
    throw new OAuthError(400, "unauthorized_client", "This API key lacks the scope MINT_TOKENS.");
  }

  const one = (name: string): string | null => form.get(name)?.[0] ?? null;
  const grantType = one("grant_type");
  if (!grantType) throw invalidRequest("grant_type is required.");
  if (grantType !== TOKEN_EXCHANGE)
    throw new OAuthError(400, "unsupported_grant_type", `Only ${TOKEN_EXCHANGE} is supported.`);
  const subjectToken = one("subject_token");
  const subjectTokenType = one("subject_token_type");
  if (!subjectToken) throw invalidRequest("subject_token is required.");
  if (!subjectTokenType) throw invalidRequest("subject_token_type is required.");
  if (subjectTokenType !== SUBJECT_TOKEN_TYPES.jwt && subjectTokenType !== SUBJECT_TOKEN_TYPES.idToken) {
    throw invalidRequest(
      `subject_token_type must be ${SUBJECT_TOKEN_TYPES.jwt} (a partner JWT) or ${SUBJECT_TOKEN_TYPES.idToken}.`,
    );
  }
  const requested = one("requested_token_type");
  if (requested !== null && requested !== JWT_TOKEN_TYPE)
    throw invalidRequest(`requested_token_type may only be ${JWT_TOKEN_TYPE}.`);
  if (form.has("actor_token") || form.has("actor_token_type"))
    throw invalidRequest("Delegation (actor_token) is not supported.");
  if (form.has("resource"))
    throw new OAuthError(400, "invalid_target", "resource is not supported: name the event with audience.");
  const audiences = form.get("audience") ?? [];
  if (audiences.length > 1)
    throw new OAuthError(400, "invalid_target", "Give at most one audience (an event id or slug).");

  const company = await services.companies.cachedCompany("id", principal.companyId);
  if (!company) throw new OAuthError(401, "invalid_client", "The API key's company no longer exists.", challenge);
  // A client_id names the company the key must belong to: a key of another company is refused.
  if (client.clientId !== null && client.clientId !== company.slug && client.clientId !== company.id) {
    throw new OAuthError(401, "invalid_client", "client_id is not the slug of the API key's company.", challenge);
  }
  let event = null;
  if (audiences.length === 1) {
    const audience = audiences[0].trim();
    event =
      audience && audience.length <= 255 && isStorable(audience)
        ? await services.events.findByIdOrSlug(company.id, audience)
        : null;
    if (!event)
      throw new OAuthError(
        400,
        "invalid_target",
        "audience names no event of this company (give an event id or slug).",
      );
  }

  try {
    const { token, expiresIn } = await services.tokenExchange.exchange(company, subjectTokenType, subjectToken, event);
    return send(reply, 200, {
      access_token: token.token,
      issued_token_type: JWT_TOKEN_TYPE,
      token_type: "N_A",
      expires_in: expiresIn,
    });
  } catch (error) {
    if (isAppError(error) && error.code !== "INTERNAL") throw new OAuthError(400, "invalid_grant", error.message);
    throw error;
  }
}
