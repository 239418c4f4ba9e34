#!/usr/bin/env bash
# Runs every example in examples/ against a real Admit, so that none of them can rot:
#   - quickstart.sh as written;
#   - backend-node: starts it, fetches its page, checks the page embeds a join URL that joins, the
#     join page lets that origin frame it, and (with Chromium) that the page's listener hears
#     "joined" from the iframe;
#   - partner-jwt: signs with jsonwebtoken, checks the join URL answers and its code joins.
#
#   npm run examples                      # builds if stale, starts Admit on embedded PGlite in a
#                                         # temporary DATA_DIR on a free port, stops it afterwards
#   ADMIT_URL=… ADMIT_ADMIN_KEY=… npm run examples   # against an Admit already running
#
# Needs curl and jq; the browser step runs when Chromium is found (CHROMIUM_PATH or /usr/bin/chromium),
# and is required when ADMIT_REQUIRE_BROWSER=1 (CI).
set -euo pipefail
cd "$(dirname "$0")/../.."

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
fail() { echo "examples: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

for tool in curl jq node; do command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install $tool)"; done

PIDS=()
TMP="$(mktemp -d)"
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() { # wait_for <url> <seconds>
  for _ in $(seq 1 "$2"); do curl -sf -o /dev/null "$1" && return 0; sleep 1; done
  return 1
}

if [ -z "${ADMIT_URL:-}" ]; then
  step "start Admit (embedded PGlite, temporary DATA_DIR)"
  node tools/build-if-stale.js
  ADMIT_PORT="$(free_port)"
  export ADMIT_URL="http://localhost:${ADMIT_PORT}"
  export ADMIT_ADMIN_KEY="admp_examples_$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')"
  env -u DATABASE_URL DATA_DIR="$TMP/data" PORT="$ADMIT_PORT" ADMIN_API_KEY="$ADMIT_ADMIN_KEY" \
    PUBLIC_URL="$ADMIT_URL" LOG_LEVEL=warn NODE_ENV=production node dist/src/main.js >"$TMP/admit.log" 2>&1 &
  PIDS+=($!)
  wait_for "$ADMIT_URL/readyz" 60 || { cat "$TMP/admit.log" >&2; fail "Admit did not become ready"; }
  echo "Admit at $ADMIT_URL"
fi
: "${ADMIT_ADMIN_KEY:?set ADMIT_ADMIN_KEY with ADMIT_URL}"

step "examples/quickstart.sh"
bash examples/quickstart.sh

# A company, an event and a partner secret for the other two examples.
gql() { # gql <bearer> <query> [variables]
  local answer
  answer="$(curl -sS "$ADMIT_URL/graphql" -H 'content-type: application/json' ${1:+-H "authorization: Bearer $1"} \
    -d "$(jq -n --arg q "$2" --argjson v "${3:-{\}}" '{query: $q, variables: $v}')")"
  [ "$(jq 'has("errors")' <<<"$answer")" = false ] || fail "GraphQL refused: $(jq -c .errors <<<"$answer")"
  jq .data <<<"$answer"
}
BACKEND_PORT="$(free_port)"
BACKEND_ORIGIN="http://localhost:${BACKEND_PORT}"
created="$(gql "$ADMIT_ADMIN_KEY" 'mutation($n: String!) { createCompany(input: { name: $n }) { company { slug } secret } }' \
  "$(jq -n --arg n "Examples $RANDOM$RANDOM" '{n: $n}')")"
KEY="$(jq -r .createCompany.secret <<<"$created")"
SLUG="$(jq -r .createCompany.company.slug <<<"$created")"
gql "$KEY" 'mutation($o: [String!]!) { updateCompanySettings(input: { allowedEmbedOrigins: $o }) { id } }' \
  "$(jq -n --arg o "$BACKEND_ORIGIN" '{o: [$o]}')" >/dev/null
event="$(gql "$KEY" 'mutation { createEvent(input: { name: "All hands" }) { id slug } }')"
EVENT_ID="$(jq -r .createEvent.id <<<"$event")"
EVENT_SLUG="$(jq -r .createEvent.slug <<<"$event")"

# joins <credential> [credentialType]: joins as a browser would and prints the role.
joins() {
  gql "" 'mutation($i: JoinEventInput!) { joinEvent(input: $i) { role } }' \
    "$(jq -n --arg e "$EVENT_ID" --arg c "$1" --arg t "${2:-}" \
      '{i: ({event: $e, credential: $c} + (if $t == "" then {} else {credentialType: $t} end))}')" | jq -r .joinEvent.role
}

step "examples/backend-node"
ADMIT_API_KEY="$KEY" ADMIT_EVENT_ID="$EVENT_ID" PORT="$BACKEND_PORT" node examples/backend-node/server.js >"$TMP/backend.log" 2>&1 &
PIDS+=($!)
wait_for "$BACKEND_ORIGIN/" 20 || { cat "$TMP/backend.log" >&2; fail "backend-node did not start"; }
html="$(curl -sS -f "$BACKEND_ORIGIN/")"
join_url="$(grep -o 'src="[^"]*"' <<<"$html" | head -1 | sed -e 's/^src="//' -e 's/"$//' -e 's/&#38;/\&/g')"
case "$join_url" in "$ADMIT_URL/j/"*"token="*) ;; *) fail "the page embeds no join URL: $join_url" ;; esac
grep -q 'event.origin !== ADMIT_ORIGIN' <<<"$html" || fail "the page's message listener does not check the origin"
csp="$(curl -sS -o /dev/null -D - "$join_url" | tr -d '\r' | grep -i '^content-security-policy:')"
grep -q "frame-ancestors $BACKEND_ORIGIN" <<<"$csp" || fail "the join page does not let $BACKEND_ORIGIN frame it: $csp"
role="$(joins "${join_url#*token=}")"
[ "$role" = ATTENDEE ] || fail "the embedded join URL did not join (role: $role)"
echo "page embeds $ADMIT_URL/j/…?token=…; it joins as $role; frame-ancestors allows $BACKEND_ORIGIN"
if node -e 'process.exit(require("./test/examples/chromium.js").findChromium() ? 0 : 1)'; then
  node test/examples/open-in-browser.js "$BACKEND_ORIGIN/" "In the event as ATTENDEE."
elif [ "${ADMIT_REQUIRE_BROWSER:-}" = 1 ]; then
  fail "ADMIT_REQUIRE_BROWSER=1 but no Chromium was found"
else
  echo "(no Chromium: the in-browser check of the message listener is skipped)"
fi

step "examples/partner-jwt"
secret="$(gql "$KEY" 'mutation { createPartnerSecret(input: { name: "examples" }) { partnerSecret { id } secret } }')"
partner_url="$(ADMIT_COMPANY_SLUG="$SLUG" ADMIT_EVENT_SLUG="$EVENT_SLUG" \
  ADMIT_PARTNER_SECRET_ID="$(jq -r .createPartnerSecret.partnerSecret.id <<<"$secret")" \
  ADMIT_PARTNER_SECRET="$(jq -r .createPartnerSecret.secret <<<"$secret")" node examples/partner-jwt/sign.js)"
case "$partner_url" in "$ADMIT_URL/j/$SLUG/$EVENT_SLUG?code="*) ;; *) fail "sign.js printed no join URL: $partner_url" ;; esac
status="$(curl -s -o /dev/null -w '%{http_code}' "$partner_url")"
[ "$status" = 200 ] || fail "the partner join URL answered $status"
role="$(joins "${partner_url#*code=}" PARTNER_JWT)"
[ "$role" = ATTENDEE ] || fail "the partner JWT did not join (role: $role)"
echo "partner join URL answers 200; its code joins as $role"

printf '\nexamples: OK\n'
