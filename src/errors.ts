import { GraphQLError } from "graphql";

/** The closed set of error codes (docs/errors.md). Integrations switch on these. */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "EMAIL_ALREADY_REGISTERED",
  "SLUG_TAKEN",
  "ALREADY_IN_SESSION",
  "TOKEN_INVALID",
  "TOKEN_EXPIRED",
  "TOKEN_NOT_YET_VALID",
  "TOKEN_REVOKED",
  "TOKEN_WRONG_EVENT",
  "CREDENTIAL_REQUIRED",
  "LOGIN_LINK_USED",
  "LOGIN_LINK_EXPIRED",
  "SEAT_LIMIT_REACHED",
  "EVENT_ENDED",
  "EVENT_FULL",
  "PASSWORD_AUTH_DISABLED",
  "INVALID_CREDENTIALS",
  "JOIN_REQUEST_PENDING",
  "JOIN_REQUEST_DENIED",
  "REDIRECT_NOT_ALLOWED",
  "SESSION_ENDED",
  "USER_SUSPENDED",
  "RATE_LIMITED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The one error a service throws on purpose. Its message is shown to the caller, so it must be
 * a sentence a person can act on and must never carry a secret, SQL or a stack.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  readonly field?: string;

  readonly requestId?: string;
  /** What the caller should do instead, when the message alone does not say (`extensions.hint`). */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: { field?: string; requestId?: string; hint?: string } = {}) {
    super(message, {
      extensions: {
        code,
        ...(options.field ? { field: options.field } : {}),
        ...(options.requestId ? { requestId: options.requestId } : {}),
        ...(options.hint ? { hint: options.hint } : {}),
      },
    });
    this.name = "AppError";
    this.code = code;
    this.field = options.field;
    this.requestId = options.requestId;
    this.hint = options.hint;
  }
}

export const badInput = (field: string, message: string): AppError =>
  new AppError("BAD_USER_INPUT", message, { field });

export const notFound = (what: string): AppError => new AppError("NOT_FOUND", `${what} was not found.`);

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
