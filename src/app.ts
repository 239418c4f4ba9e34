import { randomUUID } from "node:crypto";
import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyRequest, LogController } from "fastify";
import { ApolloServer, ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { unwrapResolverError } from "@apollo/server/errors";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import type { GraphQLFormattedError } from "graphql";
import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { Config } from "./config";
import { createContainer, Services } from "./container";
import { ChangeFeed, openChangeFeed } from "./db/change-feed";
import { getSchema } from "./graphql/schema";
import { createLoaders } from "./graphql/loaders";
import { newAccessState } from "./graphql/access";
import type { Principal, RequestContext, RequestFacts } from "./graphql/context";
import { AppError, isAppError } from "./errors";
import { requestBudgetPlugin } from "./graphql/budget";
import { Pacer } from "./graphql/pacer";
import { stringifyInTurns } from "./graphql/stringify";
import { ANALYTICS_BUDGET_RULES } from "./modules/analytics/analytics.budget";
import { registerHealthRoutes } from "./http/health.routes";
import { registerJwksRoutes } from "./http/jwks.routes";
import { redactPath, registerLoginRoutes } from "./http/login.routes";
import { registerOAuthRoutes } from "./http/oauth.routes";
import { registerCompanyPageRoutes } from "./http/company-page.routes";
import { registerJoinPageRoutes } from "./http/join-page.routes";
import { bearerOf, principalOfBearer } from "./http/bearer";
import { refuseSubscriptionsOverHttp, registerLiveRoutes } from "./http/live.routes";
import { registerAttendeesCsvRoutes } from "./http/attendees-csv.routes";
import { registerReportPageRoutes } from "./http/report-page.routes";
import type { WebhookWorkerOptions } from "./modules/webhook/webhook.worker";
import { ReadRouter, type ReadReplicaSettings } from "./db/read-replica";
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseTimeouts } from "./db/pool";
import { embeddedPGliteOf } from "./db/database";
import { readinessConnection } from "./db/readiness-connection";

export interface AppDeps {
  config: Pick<Config, "publicUrl" | "adminApiKey" | "nodeEnv"> & Partial<Pick<Config, "trustProxy">>;
  /** 32 bytes that encrypt private keys at rest. */
  masterKey: Buffer;
  dataSource: DataSource;
  /**
   * A streaming replica of the database for analytics and the CSV export (DATABASE_READ_URL),
   * with the pool limits of its connections; absent: they read the primary.
   */
  readReplica?: { settings: ReadReplicaSettings; timeouts: DatabaseTimeouts } | null;
  /** DATABASE_DIRECT_URL: where the change feed LISTENs when the pool goes through a pooler; absent: the pool's URL. */
  directDatabaseUrl?: string | null;
  clock: Clock;
  log: Logger;
  /** Webhook delivery worker settings; main.ts starts the worker, tests may drive it by hand. */
  webhookWorker?: Partial<WebhookWorkerOptions>;
}

export interface App {
  fastify: FastifyInstance;
  services: Services;
  /** Changes announced by any node; the per-node caches trust themselves only while it is live. */
  changes: ChangeFeed;
  /**
   * Ends every live subscription and closes its WebSocket with `code` and `reason` (on shutdown:
   * 1001, "going away, reconnect"); the clients reconnect to another node and get a snapshot.
   */
  closeLive(code: number, reason: string): void;
  /** Stops taking requests, lets in-flight ones finish, closes the HTTP server. */
  close(): Promise<void>;
}

/** A request body larger than this is refused with 413 before it is parsed. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Apollo's own codes for requests that could not be parsed, validated or coerced. */
const CLIENT_ERROR_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

/** How to send a GraphQL request over HTTP, in the words each kind of malformed request needs. */
const HOW_TO_POST =
  'POST a JSON object {"query": "…", "variables": {…}} with the header content-type: application/json.';
const HTTP_HINTS: readonly (readonly [RegExp, string])[] = [
  [
    /Cross-Site Request Forgery/,
    `${HOW_TO_POST} A GET (queries only) needs ?query=… and the header apollo-require-preflight: 1.`,
  ],
  [/non-empty `query`/, `Put the operation in "query" (a GET: ?query=…). ${HOW_TO_POST}`],
  [/POST body missing|JSON object has no keys/, HOW_TO_POST],
  [/batching disabled/, "Send one operation per request: a JSON object, not an array."],
  [/GET requests only support query/, "Mutations are POSTed: " + HOW_TO_POST],
];

/**
 * A request to /graphql that never reached GraphQL (no JSON content type, a body that is not
 * JSON, too large a body, another method) answers in the same shape as every other refusal, so
 * a client has one error path: `{"errors":[{"message","extensions":{"code","hint"}}]}`.
 */
function graphqlHttpError(status: number, message: string, hint: string) {
  return { status, body: { errors: [{ message, extensions: { code: "BAD_USER_INPUT", hint } }] } };
}

function graphqlHttpErrorOf(error: { code?: string; message?: string; statusCode?: number }) {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return graphqlHttpError(
        413,
        `Request body is larger than ${BODY_LIMIT_BYTES} bytes.`,
        "Send a smaller operation: large inputs belong in several requests.",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return graphqlHttpError(415, "This content type is not accepted here.", HOW_TO_POST);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return graphqlHttpError(400, "The request body is empty.", HOW_TO_POST);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return graphqlHttpError(400, "The request body is not valid JSON.", HOW_TO_POST);
    default:
      return graphqlHttpError(error.statusCode ?? 400, error.message ?? "Bad request.", HOW_TO_POST);
  }
}

const DATABASE_DOWN =
  /ECONNREFUSED|ECONNRESET|Connection terminated|terminating connection|timeout exceeded when trying to connect|Query read timeout|the database system is (starting up|shutting down)/i;
/** PostgreSQL cancelled a statement that ran past DATABASE_STATEMENT_TIMEOUT_MS. */
const DATABASE_SLOW = /canceling statement due to statement timeout/i;

const factsOf = new WeakMap<FastifyRequest, RequestFacts>();

/**
 * Only AppErrors and the client's own request errors keep their message; everything else becomes
 * INTERNAL with no stack, SQL or secret (the cause is logged with the request id).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (isAppError(original)) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: original.code,
        ...(original.field ? { field: original.field } : {}),
        ...(original.requestId ? { requestId: original.requestId } : {}),
        ...(original.hint ? { hint: original.hint } : {}),
        // RATE_LIMITED says when to retry.
        ...(typeof original.extensions.retryAfterSeconds === "number"
          ? { retryAfterSeconds: original.extensions.retryAfterSeconds }
          : {}),
      },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === "string" && CLIENT_ERROR_CODES.has(code)) {
    const field = fieldOfCoercionError(formatted.message);
    const hint = HTTP_HINTS.find(([pattern]) => pattern.test(formatted.message))?.[1];
    return {
      message: formatted.message,
      locations: formatted.locations,
      extensions: { code: "BAD_USER_INPUT", ...(field ? { field } : {}), ...(hint ? { hint } : {}) },
    };
  }
  return { message: internalMessage(original), path: formatted.path, extensions: { code: "INTERNAL" } };
}

function internalMessage(error: unknown): string {
  const text = error instanceof Error ? `${error.message} ${(error as { code?: string }).code ?? ""}` : "";
  if (DATABASE_DOWN.test(text)) return "The database is unavailable right now; try again in a moment.";
  if (DATABASE_SLOW.test(text)) return "The database took too long to answer; try again in a moment, or ask for less.";
  return "Something went wrong on our side; quote the request id when reporting it.";
}

/**
 * The input field a graphql-js coercion error is about, as our own errors name it: `Variable
 * "$input" got invalid value … at "input.capacity"` → "capacity"; `Field "name" of required
 * type …` → "name"; otherwise the variable's name.
 */
export function fieldOfCoercionError(message: string): string | undefined {
  const at = /at "([^"]+)"/.exec(message);
  if (at) return at[1].replace(/^input\./, "");
  const required = /Field "([^"]+)" of required type/.exec(message);
  if (required) return required[1];
  const variable = /Variable "\$([^"]+)"/.exec(message);
  return variable ? variable[1] : undefined;
}

function loggingPlugin(log: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            if (isAppError(original)) continue;
            const code = error.extensions?.code;
            if (typeof code === "string" && CLIENT_ERROR_CODES.has(code)) continue;
            (contextValue?.log ?? log).error({ err: original }, "unexpected error");
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== "single") return;
          const errors = response.body.singleResult.errors;
          if (!errors || !contextValue) return;
          response.body.singleResult.errors = errors.map((e) =>
            e.extensions?.code === "INTERNAL"
              ? { ...e, extensions: { ...e.extensions, requestId: contextValue.requestId } }
              : e,
          );
        },
      };
    },
  };
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { dataSource, log } = deps;
  // Per-node caches on the hot paths drop what any node changes, through the database's LISTEN/NOTIFY.
  const changes = openChangeFeed(dataSource, log, deps.directDatabaseUrl ?? null);
  try {
    await changes.whenLive();
    return await assembleApp(deps, changes);
  } catch (error) {
    await changes.close();
    throw error;
  }
}

async function assembleApp(deps: AppDeps, changes: ChangeFeed): Promise<App> {
  const { dataSource, clock, log, config } = deps;
  if (deps.readReplica && embeddedPGliteOf(dataSource))
    throw new Error("A read replica needs a PostgreSQL server: the embedded PGlite database has none.");
  const reads = new ReadRouter(
    dataSource,
    deps.readReplica?.settings ?? null,
    deps.readReplica?.timeouts ?? DEFAULT_DATABASE_TIMEOUTS,
    log,
  );
  const services = createContainer({
    dataSource,
    reads,
    clock,
    log,
    config,
    masterKey: deps.masterKey,
    changes,
    webhookWorker: deps.webhookWorker,
  });
  const production = config.nodeEnv === "production";

  const fastify = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- Fastify infers its logger type from here; routes take a FastifyBaseLogger instance.
    loggerInstance: log as FastifyBaseLogger,
    // One access-log line per request comes from the onResponse hook below, with the request id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // request.ip is the client's address behind these proxies only (X-Forwarded-For), for the
    // per-address rate limits; never `true`, which would let any client name its own address.
    trustProxy: config.trustProxy ? [...config.trustProxy] : false,
  });

  const armor = new ApolloArmor({
    // A connection inside a connection inside `company` is depth 8: leave room.
    maxDepth: { n: 12 },
    maxAliases: { n: 20 },
    maxTokens: { n: 2000 },
    // graphql-armor multiplies by page sizes written into the query: a dashboard listing 20
    // events with 50 registrants each costs about 160k, three nested pages of 100 far more.
    costLimit: { maxCost: 250_000 },
    maxDirectives: { n: 20 },
    blockFieldSuggestion: { enabled: production },
  });
  const protection = armor.protect();

  const schema = await getSchema();
  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    // main.ts owns SIGTERM/SIGINT: it drains, then closes the database.
    stopOnTerminationSignals: false,
    validationRules: protection.validationRules,
    plugins: [
      ...(protection.plugins as ApolloServerPlugin<RequestContext>[]),
      // List items per request (buckets, breakdown rows, page items), counted before execution.
      requestBudgetPlugin(ANALYTICS_BUDGET_RULES),
      // No cache hints are used; left on, it wraps every field's resolver, leaves included.
      ApolloServerPluginCacheControlDisabled(),
      fastifyApolloDrainPlugin(fastify),
      refuseSubscriptionsOverHttp,
      loggingPlugin(log),
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ operationName, operation, contextValue }) {
              const facts = contextValue.facts;
              if (!facts) return;
              // Anonymous operations are logged by their kind and first field: "mutation joinEvent".
              const first = operation?.selectionSet.selections.find((s) => s.kind === "Field");
              facts.operationName =
                operationName ??
                `${operation?.operation ?? "operation"} ${first && first.kind === "Field" ? first.name.value : "?"}`;
            },
          };
        },
      },
    ],
    formatError,
    // Long lists (a 10,000-bucket timeline) are written a slice per event-loop turn.
    stringifyResult: stringifyInTurns,
  });
  await apollo.start();

  fastify.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  fastify.addHook("onResponse", async (request, reply) => {
    const facts = factsOf.get(request);
    request.log.info(
      {
        method: request.method,
        // Unmatched paths are logged with anything secret-looking blanked (a login code).
        url: request.routeOptions.url ?? redactPath(request.url.split("?")[0]),
        status: reply.statusCode,
        operation: facts?.operationName ?? undefined,
        companyId: facts?.companyId ?? undefined,
        errors: facts?.errorCodes.length ? facts.errorCodes : undefined,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        outcome:
          reply.statusCode >= 500 || facts?.errorCodes.includes("INTERNAL")
            ? "error"
            : facts?.errorCodes.length
              ? "refused"
              : "ok",
      },
      "request",
    );
  });

  fastify.setErrorHandler((error, request, reply) => {
    const err = error as { statusCode?: number; message?: string; code?: string };
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const graphql = request.url.split("?")[0] === "/graphql";
    if (status >= 500) {
      request.log.error({ err: error }, "unhandled error");
      const message = "Something went wrong on our side.";
      return reply
        .status(500)
        .send(
          graphql
            ? { errors: [{ message, extensions: { code: "INTERNAL", requestId: request.id } }] }
            : { error: message, requestId: request.id },
        );
    }
    if (graphql) {
      const { status: graphqlStatus, body } = graphqlHttpErrorOf(err);
      return reply.status(graphqlStatus).send(body);
    }
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return reply.status(413).send({ error: `Request body is larger than ${BODY_LIMIT_BYTES} bytes.` });
    }
    return reply.status(status).send({ error: err.message ?? "Bad request." });
  });

  await fastify.register(fastifyApollo(apollo), {
    path: "/graphql",
    method: ["GET", "POST", "OPTIONS"],
    context: async (request): Promise<RequestContext> => {
      const facts: RequestFacts = { operationName: null, companyId: null, errorCodes: [] };
      factsOf.set(request, facts);
      const bearer = bearerOf(request);
      let principal: Principal;
      try {
        // A JWT as bearer is a session token (an organizer acting from the embed page).
        principal = await principalOfBearer(services, bearer);
      } catch (error) {
        // Before the request pipeline exists, so it is logged here, with the request id.
        request.log.error({ err: error }, "could not authenticate the request");
        throw new AppError("INTERNAL", internalMessage(error), { requestId: request.id });
      }
      if (principal.kind === "apiKey" || principal.kind === "session" || principal.kind === "report")
        facts.companyId = principal.companyId;
      return {
        requestId: request.id,
        principal,
        ip: request.ip,
        clock,
        services,
        loaders: createLoaders(dataSource, reads),
        access: newAccessState(),
        pacer: new Pacer(),
        log: request.log as Logger,
        facts,
      };
    },
  });

  // Any other method on /graphql: 405 in the GraphQL error shape, with the methods it takes.
  fastify.route({
    method: ["PUT", "PATCH", "DELETE"],
    url: "/graphql",
    handler: async (_request, reply) => {
      const { status, body } = graphqlHttpError(405, "/graphql takes POST (and GET for queries).", HOW_TO_POST);
      return reply.status(status).header("allow", "GET, POST, OPTIONS").send(body);
    },
  });

  // Error codes for the access log, read from the response Apollo sends.
  fastify.addHook("onSend", async (request, _reply, payload) => {
    const facts = factsOf.get(request);
    if (!facts || typeof payload !== "string" || !payload.includes('"errors"')) return payload;
    try {
      const body = JSON.parse(payload) as { errors?: { extensions?: { code?: string } }[] };
      facts.errorCodes = (body.errors ?? []).map((e) => e.extensions?.code ?? "UNKNOWN");
    } catch {
      // not JSON: nothing to record
    }
    return payload;
  });

  // GraphQL subscriptions over WebSocket (/graphql/ws), with POST /graphql's validation limits.
  const live = await registerLiveRoutes(fastify, {
    services,
    clock,
    log,
    schema,
    validationRules: protection.validationRules ?? [],
    formatError,
  });

  const readiness = readinessConnection(dataSource);
  registerHealthRoutes(fastify, services.masterKeys, readiness);
  registerJwksRoutes(fastify, services);
  registerLoginRoutes(fastify, services);
  registerCompanyPageRoutes(fastify, services);
  registerOAuthRoutes(fastify, services);
  registerJoinPageRoutes(fastify, services);
  registerAttendeesCsvRoutes(fastify, { services });
  registerReportPageRoutes(fastify);

  // apollo.stop() drains: the drain plugin closes Fastify, which waits for in-flight requests.
  return {
    fastify,
    services,
    changes,
    closeLive: (code, reason) => live.closeAll(code, reason),
    close: async () => {
      live.closeAll(1001, "going away, reconnect");
      await apollo.stop();
      await services.webhookWorker.stop();
      await changes.close();
      await reads.close();
      await readiness.close();
    },
  };
}
