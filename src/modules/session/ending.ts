import type { SessionEndReasonValue, SessionEntity } from "./session.entity";

/** What decides whether a live session must end now, read by SessionService at each heartbeat. */
export interface EndingFacts {
  eventEnd: Date | null;
  idleSeconds: number;
  firstHeartbeatSeconds: number;
  credentialRevoked: boolean;
  registrantGone: boolean;
  now: Date;
}

/**
 * Why a live session must end now, or null. Of the limits that time has passed (event end,
 * ejectAt, the inactivity window) the one reached first decides, so a session that idled out
 * before the event ended is INACTIVE and its time stops at its last heartbeat. Then revocation.
 * The same rule, in SQL, is SWEEP_SQL (session.sql.ts).
 */
export function decideEnding(
  session: SessionEntity,
  facts: EndingFacts,
): Pick<SessionEntity, "endedAt" | "endReason"> | null {
  const limits: { at: Date; endedAt: Date; endReason: SessionEndReasonValue }[] = [];
  if (facts.eventEnd)
    limits.push({ at: facts.eventEnd, endedAt: maxDate(facts.eventEnd, session.joinedAt), endReason: "EVENT_ENDED" });
  if (session.ejectAt)
    limits.push({ at: session.ejectAt, endedAt: session.ejectAt, endReason: session.ejectReason ?? "ELAPSED" });
  // A guest's session that never heartbeated gives its place back sooner, as NO_HEARTBEAT (bots
  // that join and never come alive); its time stops at its join.
  const neverBeaten = session.credentialType === "GUEST" && session.lastSeenAt.getTime() === session.joinedAt.getTime();
  const idleSeconds = neverBeaten ? Math.min(facts.firstHeartbeatSeconds, facts.idleSeconds) : facts.idleSeconds;
  const idleAt = new Date(session.lastSeenAt.getTime() + idleSeconds * 1000);
  limits.push({ at: idleAt, endedAt: session.lastSeenAt, endReason: neverBeaten ? "NO_HEARTBEAT" : "INACTIVE" });
  // Stable sort: on a tie the order above (event, eject, idle) decides, as in SWEEP_SQL.
  const reached = limits
    .filter((l) => l.at.getTime() <= facts.now.getTime())
    .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
  if (reached) return { endedAt: reached.endedAt, endReason: reached.endReason };
  if (facts.credentialRevoked || facts.registrantGone) return { endedAt: facts.now, endReason: "REVOKED" };
  return null;
}

const maxDate = (a: Date, b: Date): Date => (a.getTime() >= b.getTime() ? a : b);
