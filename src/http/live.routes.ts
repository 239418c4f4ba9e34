import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fastifyWebsocket from "@fastify/websocket";
import { CloseCode, handleProtocols, makeServer, type Context } from "graphql-ws";
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from "graphql";
import type { Logger } from "pino";
import type { Clock } from "../clock";
import type { Services } from "../container";
import { AppError, isAppError, type ErrorCode } from "../errors";
import { newAccessState } from "../graphql/access";
import type { Principal, RequestContext } from "../graphql/context";
import type { ApolloServerPlugin } from "@apollo/server";
import { Pacer } from "../graphql/pacer";
import type { LiveContext } from "../modules/live/live.resolver";
import { principalOfBearer } from "./bearer";

/*
 * GraphQL subscriptions over WebSocket at /graphql/ws, in the graphql-ws protocol
 * (graphql-transport-ws). Subscriptions only: queries and mutations stay on POST /graphql, with
 * their limits. Authentication: sessionUpdates takes its session token as an argument; eventLive
 * takes the bearer of connection_init { authorization: "Bearer …" } (an API key or an
 * organizer's session token). Refusals close the connection: 4401 when the credential does not
 * authenticate, 4403 when it is not allowed; the error message (with its code) comes first.
 */

export const LIVE_PATH = "/graphql/ws";
/** Subscriptions one connection may hold at once; the join page holds one. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 20;
/** A connection that has not sent connection_init by then is closed (4408). */
export const CONNECTION_INIT_TIMEOUT_MS = 5_000;
/** A WebSocket ping this often; a connection that does not answer by the next one is dropped. */
const KEEPALIVE_MS = 15_000;
/** Messages are small (one subscribe); anything larger is refused by the socket. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** Close reasons are at most 123 bytes. */
const MAX_REASON = 120;

/** Credentials that do not authenticate: the connection closes with 4401. */
const UNAUTHORIZED_CODES: ReadonlySet<ErrorCode> = new Set([
  "UNAUTHENTICATED",
  "TOKEN_INVALID",
  "TOKEN_EXPIRED",
  "TOKEN_NOT_YET_VALID",
  "TOKEN_REVOKED",
]);
/** Credentials that authenticate but are not allowed: 4403. */
const FORBIDDEN_CODES: ReadonlySet<ErrorCode> = new Set(["FORBIDDEN", "USER_SUSPENDED"]);

/** The close code for a refusal, or null for an error that leaves the connection open. */
export function closeCodeOf(code: string | undefined): number | null {
  if (code && UNAUTHORIZED_CODES.has(code as ErrorCode)) return CloseCode.Unauthorized;
  if (code && FORBIDDEN_CODES.has(code as ErrorCode)) return CloseCode.Forbidden;
  return null;
}

/** The part of a `ws` socket this server uses (ws ships no types of its own). */
interface LiveSocket {
  readonly protocol: string;
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string, callback: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): void;
  on(event: "message", listener: (data: Buffer) => void): void;
  on(event: "pong", listener: () => void): void;
  once(event: "close", listener: (code: number, reason: Buffer) => void): void;
  once(event: "error", listener: (error: Error) => void): void;
}

interface Extra {
  socket: LiveSocket;
  request: FastifyRequest;
  principal: Principal;
  bearer: string | null;
}

export interface LiveServerDeps {
  services: Services;
  clock: Clock;
  log: Logger;
  schema: GraphQLSchema;
  /** The same limits as POST /graphql (depth, aliases, directives). */
  validationRules: readonly ValidationRule[];
  /** POST /graphql's formatError: the same codes and masking. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

export interface LiveServer {
  /** Open WebSocket connections. */
  readonly connections: number;
  /**
   * Ends every subscription and closes every connection with `code` and `reason` (1001 and
   * "going away, reconnect" on shutdown: clients reconnect to another node and get a snapshot).
   */
  closeAll(code: number, reason: string): void;
}

export async function registerLiveRoutes(fastify: FastifyInstance, deps: LiveServerDeps): Promise<LiveServer> {
  const { services, clock, log, schema, formatError } = deps;
  const sockets = new Set<LiveSocket>();
  const rules = [...specifiedRules, ...deps.validationRules];

  const closeWith = (socket: LiveSocket, code: number, reason: string) =>
    socket.close(code, reason.slice(0, MAX_REASON));

  /** Formats a message's errors as POST /graphql would, and closes the connection on a refusal. */
  const formatted = (extra: Extra, errors: readonly GraphQLError[]): GraphQLFormattedError[] => {
    const out = errors.map((error) => {
      // graphql-js's own request errors (variables that do not coerce) carry no code: the client's.
      const plain = error.toJSON();
      const own = error.originalError == null && error.path === undefined && !isAppError(error);
      if (own) return formatError({ ...plain, extensions: { ...plain.extensions, code: "BAD_USER_INPUT" } }, error);
      // A stream that failed after its start: graphql-ws wraps the AppError without a path.
      return formatError(plain, isAppError(error.originalError) ? error.originalError : error);
    });
    for (const [i, error] of out.entries()) {
      const code = error.extensions?.code as string | undefined;
      if (code === "INTERNAL") log.error({ err: errors[i].originalError ?? errors[i] }, "live subscription failed");
      const close = closeCodeOf(code);
      // After the error message is on its way (graphql-ws sends it when this returns).
      if (close !== null) setImmediate(() => closeWith(extra.socket, close, code!));
    }
    return out;
  };

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    schema,
    connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
    onConnect: async (ctx: Context<Record<string, unknown> | undefined, Extra>) => {
      const authorization = ctx.connectionParams?.authorization;
      if (authorization === undefined || authorization === null) return true;
      const bearer = typeof authorization === "string" ? (/^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? "") : "";
      const principal = bearer ? await principalOfBearer(services, bearer) : ({ kind: "invalid" } as const);
      if (principal.kind === "invalid") {
        closeWith(ctx.extra.socket, CloseCode.Unauthorized, "UNAUTHENTICATED");
        return false;
      }
      ctx.extra.principal = principal;
      ctx.extra.bearer = bearer;
      return true;
    },
    onSubscribe: (ctx, id, payload) => {
      if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        return [
          new AppError(
            "BAD_USER_INPUT",
            `At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection: complete one, or open another connection.`,
          ),
        ];
      }
      let document;
      try {
        document = parse(payload.query, { maxTokens: 2000 });
      } catch (error) {
        return [badRequest(error instanceof Error ? error.message : "The query does not parse.")];
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return errors.map((e) => badRequest(e.message));
      const operation = getOperationAST(document, payload.operationName);
      if (!operation) return [badRequest("Name the operation to run (operationName).")];
      if (operation.operation !== "subscription") {
        return [badRequest("Only subscriptions are served here: queries and mutations go to POST /graphql.")];
      }
      const extra = ctx.extra;
      const context: LiveContext = {
        requestId: `${id}@${randomUUID()}`,
        principal: extra.principal,
        bearer: extra.bearer,
        ip: extra.request.ip,
        clock,
        services,
        loaders: services.live.newLoaders(),
        access: newAccessState(),
        pacer: new Pacer(),
        log: (extra.request.log as Logger).child({ subscription: id }),
      };
      const args: ExecutionArgs = {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: context,
      };
      return args;
    },
    onNext: (ctx, _id, _payload, _args, result) =>
      result.errors ? { ...result, errors: formatted(ctx.extra, result.errors) } : undefined,
    onError: (ctx, _id, _payload, errors) => formatted(ctx.extra, errors),
  });

  await fastify.register(fastifyWebsocket, {
    options: { maxPayload: MAX_MESSAGE_BYTES, handleProtocols: (protocols: Set<string>) => handleProtocols(protocols) },
  });

  fastify.get(LIVE_PATH, { websocket: true }, (raw: unknown, request: FastifyRequest) => {
    const socket = raw as LiveSocket;
    sockets.add(socket);
    let answered = true;
    const keepAlive = setInterval(() => {
      // No pong since the last ping: the peer is gone without closing.
      if (!answered) return socket.terminate();
      answered = false;
      socket.ping();
    }, KEEPALIVE_MS);
    keepAlive.unref();
    socket.on("pong", () => (answered = true));
    socket.once("error", (error) => {
      request.log.warn({ err: error }, "live connection error");
      socket.terminate();
    });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => closeWith(socket, code ?? 1000, reason ?? ""),
        onMessage: (handle) =>
          socket.on("message", (data) => {
            handle(String(data)).catch((error: unknown) => {
              request.log.error({ err: error }, "live message handling failed");
              closeWith(socket, CloseCode.InternalServerError, "Internal server error");
            });
          }),
      },
      { socket, request, principal: { kind: "anonymous" }, bearer: null },
    );
    socket.once("close", (code, reason) => {
      clearInterval(keepAlive);
      sockets.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    get connections() {
      return sockets.size;
    },
    closeAll(code, reason) {
      services.live.stop();
      for (const socket of sockets) closeWith(socket, code, reason);
    },
  };
}

/**
 * POST /graphql refuses a subscription operation (graphql-js would run its field once, without a
 * stream), saying where subscriptions are served.
 */
export const refuseSubscriptionsOverHttp: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== "subscription") return;
        const error = new AppError(
          "BAD_USER_INPUT",
          `Subscriptions are served over WebSocket at ${LIVE_PATH} (graphql-ws protocol), not over HTTP.`,
          {
            hint: `Open a WebSocket to ${LIVE_PATH} with the subprotocol graphql-transport-ws (see docs/live.md).`,
          },
        );
        // A client error, as a query that does not validate: 400, not Apollo's 500 for a plugin's throw.
        error.extensions.http = { status: 400 };
        throw error;
      },
    };
  },
};

/** A request the client got wrong, in the shape and code of POST /graphql's. */
function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
}
