#!/usr/bin/env bash
# The README's first walk-through as a script: a company, an event, a join token for one of its
# users, the join a browser would make, a heartbeat, the JWKS, leaving, and the attendee CSV.
#
#   ADMIT_URL=http://localhost:4000 ADMIT_ADMIN_KEY=admp_… bash examples/quickstart.sh
#
# ADMIT_URL defaults to http://localhost:4000; ADMIT_ADMIN_KEY is the platform admin key the first
# `npm start` printed. Needs curl and jq. Every run makes a new company, so it can be re-run.
set -euo pipefail

URL="${ADMIT_URL:-http://localhost:4000}"
ADMIN="${ADMIT_ADMIN_KEY:?set ADMIT_ADMIN_KEY to the platform admin key the first start printed}"
GQL="$URL/graphql"

# gql <bearer or ""> <query> [variables as JSON]: prints `data`, or the errors and exits 1.
gql() {
  local auth=() answer
  [ -n "$1" ] && auth=(-H "authorization: Bearer $1")
  answer="$(curl -sS "$GQL" -H 'content-type: application/json' "${auth[@]}" \
    -d "$(jq -n --arg q "$2" --argjson v "${3:-{\}}" '{query: $q, variables: $v}')")"
  if [ "$(jq 'has("errors")' <<<"$answer")" = true ]; then
    echo "GraphQL refused: $(jq -c .errors <<<"$answer")" >&2
    exit 1
  fi
  jq .data <<<"$answer"
}

# 1. A company, with its first API key (its secret is shown only here).
company="$(gql "$ADMIN" 'mutation($name: String!) {
  createCompany(input: { name: $name }) { company { id slug } secret } }' \
  "$(jq -n --arg name "Acme $(date +%s)-$RANDOM" '{name: $name}')")"
KEY="$(jq -r .createCompany.secret <<<"$company")"
SLUG="$(jq -r .createCompany.company.slug <<<"$company")"
echo "company: $SLUG"

# 2. An event, with an organizer named by email. Later steps name it by id: slugs are made
#    unique per company, so a re-run's "all hands" may not be "all-hands".
event="$(gql "$KEY" 'mutation {
  createEvent(input: { name: "All hands", organizers: [{ email: "ceo@acme.test" }] }) { id slug joinUrl } }')"
EVENT_ID="$(jq -r .createEvent.id <<<"$event")"
echo "event:   $(jq -r .createEvent.slug <<<"$event") ($EVENT_ID)"

# 3. A join token for one of your users (your id for them is `id`). `joinUrl` goes in an iframe
#    or an email; `token` is the same credential on its own.
minted="$(gql "$KEY" 'mutation($eventId: ID!) {
  mintJoinToken(input: { eventId: $eventId, user: { id: "u-42", name: "Ada", email: "ada@acme.test" } }) {
    token joinUrl jti expiresAt } }' "$(jq -n --arg e "$EVENT_ID" '{eventId: $e}')")"
TOKEN="$(jq -r .mintJoinToken.token <<<"$minted")"
JOIN_URL="$(jq -r .mintJoinToken.joinUrl <<<"$minted")"
echo "join URL: $JOIN_URL"

# The join URL answers the join page (the browser then does what step 4 does).
page_status="$(curl -s -o /dev/null -w '%{http_code}' "$JOIN_URL")"
[ "$page_status" = 200 ] || { echo "the join page answered $page_status" >&2; exit 1; }

# 4. What the browser does with it: exchange the token for a session. No API key.
joined="$(gql "" 'mutation($event: String!, $token: String!) {
  joinEvent(input: { event: $event, credential: $token }) { role sessionToken session { id user { id externalId name } } } }' \
  "$(jq -n --arg e "$EVENT_ID" --arg t "$TOKEN" '{event: $e, token: $t}')")"
SESSION_TOKEN="$(jq -r .joinEvent.sessionToken <<<"$joined")"
echo "joined as $(jq -r .joinEvent.role <<<"$joined") (session $(jq -r .joinEvent.session.id <<<"$joined"))"

# 5. …and keeps it alive (every 30 s): the role is resolved again each time; each heartbeat
#    returns the session token to send next.
beat="$(gql "" 'mutation($t: String!) { heartbeat(sessionToken: $t) { active role endReason sessionToken } }' \
  "$(jq -n --arg t "$SESSION_TOKEN" '{t: $t}')")"
[ "$(jq -r .heartbeat.active <<<"$beat")" = true ] || { echo "the session is not active: $beat" >&2; exit 1; }
SESSION_TOKEN="$(jq -r .heartbeat.sessionToken <<<"$beat")"
echo "heartbeat: active"

# 6. The company's public keys, to verify its tokens yourself.
kids="$(curl -sS "$URL/c/$SLUG/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(",")')"
[ -n "$kids" ] || { echo "no keys in the JWKS" >&2; exit 1; }
echo "JWKS kids: $kids"

# 7. Leaving ends the session (the browser's "Leave" button does this).
left="$(gql "" 'mutation($t: String!) { leaveEvent(sessionToken: $t) { endReason } }' "$(jq -n --arg t "$SESSION_TOKEN" '{t: $t}')")"
echo "left: $(jq -r .leaveEvent.endReason <<<"$left")"

# 8. Who came: the attendee list as CSV. The route takes the event's id (not its slug).
csv="$(curl -sS -f -H "authorization: Bearer $KEY" "$URL/c/$SLUG/events/$EVENT_ID/attendees.csv")"
grep -q "u-42" <<<"$csv" || { echo "u-42 is not in the attendee CSV" >&2; exit 1; }
echo "attendees.csv: $(($(wc -l <<<"$csv") - 1)) attendee(s)"
echo "quickstart: OK"
