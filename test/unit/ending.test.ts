import "reflect-metadata";
import type { SessionEntity } from "../../src/modules/session/session.entity";
import { decideEnding } from "../../src/modules/session/ending";

/**
 * Why a live session ends, case by case, without a database. The same rule also runs as SQL (the
 * sweep and the heartbeat's statement); test/join/lifecycle.test.ts drives those through the API.
 */

type Facts = Parameters<typeof decideEnding>[1];
type Ending = ReturnType<typeof decideEnding>;

const T0 = Date.parse("2030-01-01T10:00:00.000Z");
/** Minutes (and seconds) after 10:00. */
const at = (minutes: number, seconds = 0): Date => new Date(T0 + minutes * 60_000 + seconds * 1000);

/** Joined at 10:00 with a join token, last heartbeat at 10:05, no ejection planned. */
function session(overrides: Partial<SessionEntity> = {}): SessionEntity {
  return {
    credentialType: "JOIN_TOKEN",
    joinedAt: at(0),
    lastSeenAt: at(5),
    ejectAt: null,
    ejectReason: null,
    ...overrides,
  } as SessionEntity;
}

/** Inactivity window 2 minutes, first-heartbeat window 1 minute, nothing revoked, now 10:06. */
function facts(overrides: Partial<Facts> = {}): Facts {
  return {
    eventEnd: null,
    idleSeconds: 120,
    firstHeartbeatSeconds: 60,
    credentialRevoked: false,
    registrantGone: false,
    now: at(6),
    ...overrides,
  };
}

interface Case {
  name: string;
  session?: Partial<SessionEntity>;
  facts?: Partial<Facts>;
  ending: Ending;
}

const CASES: Case[] = [
  // Nothing reached.
  { name: "a live session within its window goes on", ending: null },
  {
    name: "one millisecond before the inactivity window closes: still live",
    facts: { now: new Date(at(7).getTime() - 1) },
    ending: null,
  },
  { name: "an event ending later does not end it now", facts: { eventEnd: at(30) }, ending: null },
  {
    name: "a planned ejection later does not end it now",
    session: { ejectAt: at(10), ejectReason: "KICKED" },
    ending: null,
  },

  // Inactivity.
  {
    name: "the inactivity window closes at last heartbeat + idleSeconds: INACTIVE",
    facts: { now: at(7) },
    ending: { endedAt: at(5), endReason: "INACTIVE" },
  },
  {
    name: "an idle session's time stops at its last heartbeat",
    facts: { now: at(50) },
    ending: { endedAt: at(5), endReason: "INACTIVE" },
  },
  {
    name: "a join token that never heartbeated has the full inactivity window",
    session: { lastSeenAt: at(0) },
    facts: { now: at(1, 30) },
    ending: null,
  },
  {
    name: "a join token that never heartbeated idles out as INACTIVE",
    session: { lastSeenAt: at(0) },
    facts: { now: at(2) },
    ending: { endedAt: at(0), endReason: "INACTIVE" },
  },

  // A guest that never heartbeated.
  {
    name: "a guest that never heartbeated ends after the first-heartbeat window: NO_HEARTBEAT",
    session: { credentialType: "GUEST", lastSeenAt: at(0) },
    facts: { now: at(1) },
    ending: { endedAt: at(0), endReason: "NO_HEARTBEAT" },
  },
  {
    name: "a guest that never heartbeated, within the first-heartbeat window: live",
    session: { credentialType: "GUEST", lastSeenAt: at(0) },
    facts: { now: at(0, 59) },
    ending: null,
  },
  {
    name: "a first-heartbeat window longer than the inactivity one: the shorter applies",
    session: { credentialType: "GUEST", lastSeenAt: at(0) },
    facts: { firstHeartbeatSeconds: 600, now: at(2) },
    ending: { endedAt: at(0), endReason: "NO_HEARTBEAT" },
  },
  {
    name: "a guest that heartbeated once has the inactivity window, as INACTIVE",
    session: { credentialType: "GUEST", lastSeenAt: at(0, 1) },
    facts: { now: at(1, 30) },
    ending: null,
  },
  {
    name: "a guest that heartbeated, idle past its window: INACTIVE",
    session: { credentialType: "GUEST", lastSeenAt: at(0, 1) },
    facts: { now: at(2, 1) },
    ending: { endedAt: at(0, 1), endReason: "INACTIVE" },
  },

  // The event's end.
  {
    name: "the event ended: EVENT_ENDED at its end",
    facts: { eventEnd: at(5, 30) },
    ending: { endedAt: at(5, 30), endReason: "EVENT_ENDED" },
  },
  {
    name: "an event that ended before the join: the session's time is zero, not negative",
    session: { joinedAt: at(3), lastSeenAt: at(3) },
    facts: { eventEnd: at(2), now: at(4) },
    ending: { endedAt: at(3), endReason: "EVENT_ENDED" },
  },

  // A planned ejection (ejectAt).
  {
    name: "an ejection time passed: its reason, at that time",
    session: { ejectAt: at(5, 30), ejectReason: "KICKED" },
    ending: { endedAt: at(5, 30), endReason: "KICKED" },
  },
  {
    name: "an ejection time without a reason: ELAPSED",
    session: { ejectAt: at(5, 30) },
    ending: { endedAt: at(5, 30), endReason: "ELAPSED" },
  },
  {
    name: "an ejection for an expiring credential keeps its reason",
    session: { ejectAt: at(5, 30), ejectReason: "TOKEN_EXPIRED" },
    ending: { endedAt: at(5, 30), endReason: "TOKEN_EXPIRED" },
  },

  // Several limits passed: the one reached first decides.
  {
    name: "idle before the event ended: INACTIVE, time stops at the last heartbeat",
    facts: { eventEnd: at(20), now: at(30) },
    ending: { endedAt: at(5), endReason: "INACTIVE" },
  },
  {
    name: "the event ended before the session went idle: EVENT_ENDED",
    facts: { eventEnd: at(6), now: at(30) },
    ending: { endedAt: at(6), endReason: "EVENT_ENDED" },
  },
  {
    name: "ejected before the event ended: the ejection",
    session: { ejectAt: at(5, 10), ejectReason: "KICKED" },
    facts: { eventEnd: at(5, 20), now: at(5, 30) },
    ending: { endedAt: at(5, 10), endReason: "KICKED" },
  },
  {
    name: "event end, ejection and inactivity at the same instant: the event's end wins the tie",
    session: { ejectAt: at(7), ejectReason: "KICKED" },
    facts: { eventEnd: at(7), now: at(8) },
    ending: { endedAt: at(7), endReason: "EVENT_ENDED" },
  },
  {
    name: "ejection and inactivity at the same instant: the ejection wins the tie",
    session: { ejectAt: at(7), ejectReason: "KICKED" },
    facts: { now: at(8) },
    ending: { endedAt: at(7), endReason: "KICKED" },
  },

  // Revocation, once no time limit has passed.
  {
    name: "a revoked credential: REVOKED now",
    facts: { credentialRevoked: true },
    ending: { endedAt: at(6), endReason: "REVOKED" },
  },
  {
    name: "a cancelled registration: REVOKED now",
    facts: { registrantGone: true },
    ending: { endedAt: at(6), endReason: "REVOKED" },
  },
  {
    name: "revoked, but already idle: the time limit decides, not the revocation",
    facts: { credentialRevoked: true, now: at(9) },
    ending: { endedAt: at(5), endReason: "INACTIVE" },
  },
  {
    name: "registration cancelled after the event ended: EVENT_ENDED",
    facts: { registrantGone: true, eventEnd: at(5, 45) },
    ending: { endedAt: at(5, 45), endReason: "EVENT_ENDED" },
  },
];

describe("decideEnding", () => {
  it.each(CASES)("$name", ({ session: s, facts: f, ending }) => {
    expect(decideEnding(session(s), facts(f))).toEqual(ending);
  });
});
