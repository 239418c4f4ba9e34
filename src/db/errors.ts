import { QueryFailedError } from "typeorm";

interface DriverError {
  code?: string;
  constraint?: string;
}

function driverErrorOf(error: unknown): DriverError | null {
  if (error instanceof QueryFailedError) return (error as QueryFailedError & { driverError: DriverError }).driverError;
  return null;
}

/** A unique index said no (SQLSTATE 23505): pg and PGlite both report the code. */
export function isUniqueViolation(error: unknown): boolean {
  return driverErrorOf(error)?.code === "23505";
}
