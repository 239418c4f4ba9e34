import type { Logger } from "pino";
import type { Role } from "../../graphql/enums";
import type { SessionService, SessionStateOutcome } from "../session/session.service";
import { LiveWatch } from "./live-watch";

/**
 * sessionUpdates of one session: its state as heartbeat answers it (role, active, endReason,
 * ejectAt, a fresh session token while active), sent first and then whenever one of those
 * changes. Reading the state IS a heartbeat: the same statement verifies the token (revocation,
 * suspended user), applies the ending rules, resolves the live role and signs a token that
 * carries it, so a pushed role is the role a media server sees in the new token. A push comes
 * only after a change, so the heartbeats it adds are few; the client keeps its own heartbeats.
 */
export class SessionWatch extends LiveWatch<SessionStateOutcome> {
  /** The newest session token this watch holds: a heartbeat's refresh replaces the one it was given. */
  private token: string;
  private lastShown: string | null = null;
  /** The role last sent, or null before the first: the hub compares a re-resolved role with it. */
  role: Role | null = null;
  /** Where the hub files it: the session and event its token names. */
  sessionId = "";
  eventId = "";

  constructor(
    private readonly sessions: SessionService,
    sessionToken: string,
    log: Logger,
    onFinish: (watch: LiveWatch<SessionStateOutcome>) => void,
  ) {
    super(log, onFinish);
    this.token = sessionToken;
  }

  protected async compute(snapshot: boolean): Promise<SessionStateOutcome | null> {
    const state = await this.sessions.heartbeat(this.token);
    if (state.sessionToken) this.token = state.sessionToken;
    const shown = JSON.stringify([state.role, state.active, state.endReason, state.ejectAt?.getTime() ?? null]);
    if (!snapshot && shown === this.lastShown) return null;
    this.lastShown = shown;
    this.role = state.role;
    // An ended session does not come back: its final state is the last message.
    if (!state.active) this.lastValue = true;
    return state;
  }
}
