import { LiveClient, liveUrlOf } from "../../bench/live-client";

export const SESSION_UPDATES = `subscription($t: String!) {
  sessionUpdates(sessionToken: $t) { active role endReason sessionToken ejectAt session { id role active endReason user { name } } }
}`;

export const EVENT_LIVE = `subscription($id: ID!) {
  eventLive(eventId: $id) {
    snapshot eventId participantCount
    participants { sessionId name role isGuest joinedAt }
    departures { sessionId endReason endedAt }
    joinRequests { id status name }
  }
}`;

/** A connection to the live endpoint of the app at `httpBase`, acknowledged. */
export async function connectLive(httpBase: string, payload?: Record<string, unknown>): Promise<LiveClient> {
  const client = await LiveClient.connect(liveUrlOf(httpBase), payload);
  await client.acknowledged;
  return client;
}

export { LiveClient, liveUrlOf };
