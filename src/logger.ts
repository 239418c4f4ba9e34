import pino, { Logger } from "pino";

/**
 * Secrets never reach the logs: the paths below are censored wherever they appear,
 * one level deep in any logged object as well.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "headers.cookie",
  ...[
    "secret",
    "password",
    "token",
    "apiKey",
    "credential",
    "sessionToken",
    "code",
    "privateJwk",
    "masterKey",
    "masterKeyOld",
    "adminApiKey",
  ].flatMap((key) => [key, `*.${key}`]),
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { service: "admit" } },
    destination,
  );
}
