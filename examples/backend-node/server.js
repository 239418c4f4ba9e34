// A company's backend, in plain Node (18+, no dependencies): for its logged-in user it asks Admit
// for a join URL (mintJoinToken, with the company's API key, server-side only) and serves a page
// that embeds the event in an iframe and listens to the join page's messages.
//
//   ADMIT_URL=http://localhost:4000 ADMIT_API_KEY=adm_… ADMIT_EVENT_ID=<event id> node server.js
//
// The page's origin (http://localhost:<PORT>, default 3000) must be in the company's
// allowedEmbedOrigins (updateCompanySettings), or the browser refuses to frame the join page.
"use strict";
const http = require("node:http");

const ADMIT_URL = (process.env.ADMIT_URL || "http://localhost:4000").replace(/\/$/, "");
const ADMIT_API_KEY = required("ADMIT_API_KEY");
const ADMIT_EVENT_ID = required("ADMIT_EVENT_ID");
const PORT = Number(process.env.PORT || 3000);

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`Set ${name}.`);
    process.exit(2);
  }
  return value;
}

/** Your own login decides who this is; here, a fixed user stands in for your session lookup. */
function currentUser(_request) {
  return { id: "u-42", name: "Ada Lovelace", email: "ada@example.com" };
}

/** One join URL per page view, for this user and this event; short-lived, since it is a credential. */
async function mintJoinUrl(user) {
  const response = await fetch(`${ADMIT_URL}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIT_API_KEY}` },
    body: JSON.stringify({
      query: `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { joinUrl expiresAt } }`,
      variables: { input: { eventId: ADMIT_EVENT_ID, ttlSeconds: 300, user } },
    }),
  });
  const body = await response.json();
  if (body.errors) {
    // Switch on extensions.code; the message and hint are for the developer, not the user.
    const [error] = body.errors;
    throw new Error(`Admit refused mintJoinToken: ${error.extensions.code}: ${error.message}`);
  }
  return body.data.mintJoinToken.joinUrl;
}

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(joinUrl) {
  const admitOrigin = new URL(ADMIT_URL).origin;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>All hands</title></head>
<body>
  <h1>All hands</h1>
  <p id="status">Joining…</p>
  <iframe id="admit" src="${escapeHtml(joinUrl)}" title="Event" width="800" height="500"
          allow="camera; microphone; display-capture; fullscreen"></iframe>
  <script>
    // Only messages from Admit's origin are Admit's: any other window can post to this one.
    const ADMIT_ORIGIN = ${JSON.stringify(admitOrigin)};
    window.addEventListener("message", (event) => {
      if (event.origin !== ADMIT_ORIGIN) return;
      const data = event.data;
      if (!data || data.type !== "admit:session") return;
      const status = document.getElementById("status");
      if (data.state === "joined") status.textContent = "In the event as " + data.role + ".";
      else if (data.state === "ended") status.textContent = "Session ended: " + data.endReason + ".";
      else if (data.state === "error") status.textContent = "Could not join: " + data.error + ".";
      else status.textContent = "Joining… (" + data.state + ")";
    });
  </script>
</body>
</html>`;
}

const server = http.createServer(async (request, response) => {
  if (request.method !== "GET" || new URL(request.url, "http://x").pathname !== "/") {
    response.writeHead(404).end("Not found\n");
    return;
  }
  try {
    const joinUrl = await mintJoinUrl(currentUser(request));
    response
      .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      .end(page(joinUrl));
  } catch (error) {
    console.error(error.message);
    response.writeHead(502, { "content-type": "text/plain" }).end("The event is unavailable right now.\n");
  }
});

server.listen(PORT, () => console.log(`backend-node example at http://localhost:${PORT}/`));
process.on("SIGTERM", () => server.close());
process.on("SIGINT", () => server.close());
