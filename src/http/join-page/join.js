// Admit's join page: exchanges the credential in the address for a session, keeps it alive,
// follows the live role, says why it ended, and tells the embedding page about every change.
// Plain JavaScript, no framework, no build step; every request goes to this origin only.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const cfg = JSON.parse($("admit-config").textContent);
  const ev = cfg.event || {};

  // The credential leaves the address bar (and the history entry) before anything else happens.
  const url = new URL(location.href);
  const fragment = new URLSearchParams(url.hash.slice(1));
  let credential = url.searchParams.get("token") || fragment.get("token");
  let credentialType = null;
  // A partner-signed JWT: ?code= or ?externalAuthCode= (as other platforms name it), or the same
  // in the fragment, where the embed helper puts it (a fragment never reaches a server's logs).
  const partnerCode = ["code", "externalAuthCode"].map((k) => url.searchParams.get(k) || fragment.get(k)).find(Boolean);
  if (!credential && partnerCode) [credential, credentialType] = [partnerCode, "PARTNER_JWT"];
  // ?heartbeat=<seconds> shortens the interval (tests use 1); bounded so it cannot hammer the server.
  const seconds = Number(url.searchParams.get("heartbeat")) || cfg.heartbeatSeconds || 30;
  const beatMs = Math.min(Math.max(seconds, 1), 300) * 1000;
  if (
    url.searchParams.has("token") ||
    url.searchParams.has("code") ||
    url.searchParams.has("externalAuthCode") ||
    url.hash
  ) {
    for (const k of ["token", "code", "externalAuthCode"]) url.searchParams.delete(k);
    history.replaceState(null, "", url.pathname + url.search);
  }

  const ROLES = { ATTENDEE: "Attendee", PRESENTER: "Presenter", ORGANIZER: "Organizer" };
  const ENDED = {
    LEFT: "You left the event.",
    LOGGED_OUT: "You logged out.",
    KICKED: "An organizer removed you from the event.",
    SUPERSEDED: "You signed in elsewhere, so this window was disconnected.",
    INACTIVE: "Your session expired because it was inactive for too long. Open your link again to rejoin.",
    ELAPSED: "Your time in this event is up.",
    TOKEN_EXPIRED: "Your access expired with your link.",
    EVENT_ENDED: "The event has ended.",
    REVOKED: "Your access to this event was revoked.",
    SUSPENDED: "Your account was suspended. Contact the organization that invited you.",
  };
  // Every code a join, a knock or a heartbeat can answer, as a sentence a person can act on.
  const ERRORS = {
    NETWORK: "We could not reach the server. Check your connection and try again.",
    NOT_FOUND: "This event does not exist, or this link is not for it.",
    CREDENTIAL_REQUIRED: "This event is private: open it with the link you were given.",
    TOKEN_INVALID: "This link is not valid. Ask whoever sent it for a new one.",
    TOKEN_EXPIRED: "This link has expired. Ask whoever sent it for a new one.",
    TOKEN_NOT_YET_VALID: "This link is not valid yet. Try again closer to the event.",
    TOKEN_REVOKED: "This link was revoked. Ask whoever sent it for a new one.",
    TOKEN_WRONG_EVENT: "This link is for another event.",
    LOGIN_LINK_USED: "This login link was already used. Ask for a new one.",
    LOGIN_LINK_EXPIRED: "This login link has expired. Ask for a new one.",
    SEAT_LIMIT_REACHED: "The organization has no seats left for new people. Contact the organizer.",
    EVENT_ENDED: "This event has ended.",
    EVENT_FULL: "This event is full. Try again when someone leaves.",
    ALREADY_IN_SESSION: "You are already in this event in another window or device. Leave there first.",
    PASSWORD_AUTH_DISABLED: "Signing in with a password is not enabled here.",
    INVALID_CREDENTIALS: "We could not sign you in with these details.",
    JOIN_REQUEST_PENDING: "Your request to join is still waiting for an organizer.",
    JOIN_REQUEST_DENIED: "An organizer declined your request to join.",
    JOIN_REQUEST_EXPIRED: "Nobody let you in in time. You can ask again.",
    APPROVAL_USED: "You were let in, but in another window. Ask again to join here.",
    SESSION_ENDED: "Your session has ended.",
    USER_SUSPENDED: "Your account is suspended. Contact the organization that invited you.",
    RATE_LIMITED: "Too many attempts. Wait a minute, then try again.",
    UNAUTHENTICATED: "Your session has expired. Open your link again.",
    FORBIDDEN: "You are not allowed to do this.",
    BAD_USER_INPUT: "Please check what you entered.",
    "BAD_USER_INPUT:displayName": "Please enter your name (at most 100 characters).",
    "BAD_USER_INPUT:name": "Please enter your name.",
    "BAD_USER_INPUT:email": "Please enter a valid email address, or leave it empty.",
    "BAD_USER_INPUT:event": "Several organizations use this address: open the full link you were given.",
    INTERNAL: "Something went wrong on our side. Try again in a moment.",
  };
  const TRANSIENT = ["NETWORK", "INTERNAL", "RATE_LIMITED"];
  const message = (e) => ERRORS[`${e.code}:${e.field}`] || ERRORS[e.code] || ERRORS.INTERNAL;

  const USER = "user { id name avatarUrl }";
  const EVENT = "event { id name startsAt endsAt }";
  const Q = {
    join: `mutation($input: JoinEventInput!) { joinEvent(input: $input) { role sessionToken session { id ejectAt lastSeenAt ${USER} ${EVENT} } } }`,
    resume: `mutation($t: String!) { heartbeat(sessionToken: $t) { active role endReason sessionToken ejectAt session { id lastSeenAt ${USER} ${EVENT} } } }`,
    beat: "mutation($t: String!) { heartbeat(sessionToken: $t) { active role endReason sessionToken ejectAt session { lastSeenAt } } }",
    leave: "mutation($t: String!) { leaveEvent(sessionToken: $t) { endReason } }",
    knock: "mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { secret request { id status } } }",
    poll: "query($id: ID!, $s: String) { joinRequest(id: $id, secret: $s) { status credential } }",
    live: "query { liveEvent { participantCount participants { sessionId name role } event { joinRequests(status: PENDING, first: 50) { edges { node { id name email } } } } } }",
    approve: "mutation($id: ID!) { approveJoinRequest(id: $id) { id status } }",
    deny: "mutation($id: ID!) { denyJoinRequest(id: $id) { id status } }",
  };

  const st = {
    state: "loading",
    token: null,
    sessionId: null,
    role: null,
    user: null,
    event: ev,
    endReason: null,
    error: null,
    offset: 0,
    ejectAt: null,
    request: null,
    rejoin: null,
  };
  const timers = {};
  const later = (name, fn, ms) => {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  };
  const stop = () => {
    Object.values(timers).forEach(clearTimeout);
    unlisten();
  };

  async function gql(query, variables, bearer) {
    const headers = { "content-type": "application/json" };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let body;
    try {
      const res = await fetch("/graphql", {
        method: "POST",
        headers,
        body: JSON.stringify({ query, variables }),
        cache: "no-store",
      });
      body = await res.json();
    } catch {
      throw { code: "NETWORK" };
    }
    const err = body.errors && body.errors[0];
    if (err)
      throw {
        code: (err.extensions && err.extensions.code) || "INTERNAL",
        field: err.extensions && err.extensions.field,
      };
    return body.data;
  }

  // ---- Rendering ----------------------------------------------------------------------------

  const VIEWS = ["loading", "confirm", "guest", "knock", "lobby", "joined", "ended", "error"];
  function show(view, announcement, focusId) {
    st.state = view;
    $("app").dataset.state = view;
    for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
    $("view-organizer").hidden = !(view === "joined" && st.role === "ORGANIZER");
    if (announcement) announce(announcement);
    if (focusId) $(focusId).focus({ preventScroll: true });
    post();
  }
  const announce = (text) => ($("status").textContent = text);

  function renderEvent(e) {
    if (!e || !e.name) return;
    $("event-name").textContent = document.title = e.name;
    const times = e.startsAt ? when(e.startsAt, e.endsAt) : e.endsAt ? `Until ${when(e.endsAt)}` : "";
    $("event-times").textContent = times;
    $("event-times").hidden = !times;
  }

  // In the reader's time zone, which is named ("10:00 – 11:00 AM CET"); the year only when it
  // is not this one; one day's range says the day once, so that it fits a phone's width.
  function when(start, end) {
    const [a, b] = [new Date(start), end && new Date(end)];
    const thisYear = new Date().getFullYear();
    const opts = { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" };
    if (a.getFullYear() !== thisYear || (b && b.getFullYear() !== thisYear)) opts.year = "numeric";
    const format = new Intl.DateTimeFormat([], opts);
    return b && format.formatRange ? format.formatRange(a, b) : format.format(a);
  }

  // Avatars are often Gravatar URLs: the page loads none from another origin (no third-party
  // requests, img-src 'self'), and shows initials instead.
  function renderUser(u) {
    $("user-name").textContent = u.name || "Guest";
    const box = $("avatar");
    let sameOrigin = false;
    try {
      sameOrigin = !!u.avatarUrl && new URL(u.avatarUrl, location.href).origin === location.origin;
    } catch {}
    if (sameOrigin) {
      const img = new Image();
      img.alt = "";
      img.src = u.avatarUrl;
      box.replaceChildren(img);
    } else {
      const words = (u.name || "?").trim().split(/\s+/).slice(0, 2);
      box.textContent =
        words
          .map((w) => Array.from(w)[0] || "")
          .join("")
          .toUpperCase() || "?";
    }
  }

  const clock = (s) => {
    const h = Math.floor(s / 3600),
      m = Math.floor((s % 3600) / 60),
      r = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
  };
  function tick() {
    if (st.state === "lobby" && st.request) {
      const waited = Math.max(0, Math.round((Date.now() - (st.request.at || Date.now())) / 1000));
      $("lobby-elapsed").textContent = clock(waited);
    }
    const el = $("time-left");
    el.hidden = !st.ejectAt || st.state !== "joined";
    if (el.hidden) return;
    const left = Math.max(0, Math.round((st.ejectAt - Date.now() - st.offset) / 1000));
    el.textContent = `Time left: ${clock(left)}`;
    if (left === 60) announce("One minute left.");
  }
  setInterval(tick, 1000);

  // ---- The embedding page ---------------------------------------------------------------------

  // Only the company's allowed embed origins hear from the page, never "*": to the parent's own
  // origin when the browser tells it and it is allowed, else to each allowed origin (the browser
  // drops a message whose target origin is not the parent's).
  function post() {
    if (window.parent === window) return;
    const allowed = cfg.embedOrigins || [];
    let parent = null;
    try {
      parent = (location.ancestorOrigins && location.ancestorOrigins[0]) || new URL(document.referrer).origin;
    } catch {}
    const message = {
      type: "admit:session",
      state: st.state,
      role: st.role,
      sessionId: st.sessionId,
      endReason: st.endReason,
      canRejoin: st.state === "ended" && !!st.rejoin,
      error: st.error,
      user: st.user && { id: st.user.id, name: st.user.name },
      event: st.event.id ? { id: st.event.id, name: st.event.name || null } : null,
    };
    for (const origin of allowed.includes(parent) ? [parent] : allowed) window.parent.postMessage(message, origin);
  }

  // ---- Session ----------------------------------------------------------------------------------

  // A reload in the same tab resumes the session (or the knock) instead of losing it.
  const store = (kind, value) => {
    if (!st.event.id) return;
    try {
      value
        ? sessionStorage.setItem(`admit:${kind}:${st.event.id}`, JSON.stringify(value))
        : sessionStorage.removeItem(`admit:${kind}:${st.event.id}`);
    } catch {}
  };
  const stored = (kind) => {
    if (!st.event.id) return null;
    try {
      return JSON.parse(sessionStorage.getItem(`admit:${kind}:${st.event.id}`));
    } catch {
      return null;
    }
  };

  // rejoinable: the credential may be presented again (a join token, a partner's JWT, the
  // sign-in of a login link, a guest's name), as opposed to a knock's one-time approval. It is
  // kept in this page's memory only: never in the address, never in storage.
  async function join(input, formView, rejoinable) {
    clearTimeout(timers.rejoin);
    show("loading");
    try {
      const joined = (await gql(Q.join, { input })).joinEvent;
      st.rejoin = rejoinable ? { input, until: expiry(input.credential) } : null;
      enter(joined.sessionToken, joined.role, joined.session, joined.session.ejectAt);
    } catch (e) {
      if (formView && (e.code === "BAD_USER_INPUT" || TRANSIENT.includes(e.code))) return formError(formView, e);
      fail(e);
    }
  }

  // When a JWT credential stops working (its exp, in ms); null when it does not say.
  function expiry(jwt) {
    try {
      const exp = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
      return typeof exp === "number" ? exp * 1000 : null;
    } catch {
      return null;
    }
  }

  async function resume(token) {
    try {
      const state = (await gql(Q.resume, { t: token })).heartbeat;
      st.user = state.session.user;
      renderEvent((st.event = { ...st.event, ...state.session.event }));
      if (!state.active) return end(state.endReason);
      enter(state.sessionToken, state.role, state.session, state.ejectAt);
    } catch (e) {
      // A token this tab kept from before is simply forgotten; the cookie's is reported.
      store("session", null);
      if (token === cfg.sessionToken) fail(e);
      else begin();
    }
  }

  function enter(token, role, session, ejectAt) {
    st.token = token;
    st.sessionId = session.id;
    st.user = session.user;
    st.event = { ...st.event, ...session.event };
    st.endReason = null;
    st.error = null;
    $("leave").disabled = false;
    $("notice").hidden = true;
    store("session", token);
    renderEvent(st.event);
    renderUser(st.user);
    update(role, ejectAt, session.lastSeenAt, true);
    show("joined", `You joined as ${ROLES[role]}.`, "joined-title");
    tick();
    performance.mark("admit:joined");
    later("beat", beat, nextBeat());
    listen();
  }

  // ---- Live push ----------------------------------------------------------------------------------
  // Where WebSocket works, the server pushes the session's state the moment it changes
  // (sessionUpdates on /graphql/ws, graphql-ws protocol): a kick, a ban or a role change shows at
  // once. Heartbeats go on regardless: they keep the session alive, and they are the fallback
  // while the socket is down (it reconnects with the newest session token).
  const PUSH =
    "subscription($t: String!) { sessionUpdates(sessionToken: $t) { active role endReason sessionToken ejectAt session { lastSeenAt } } }";
  let socket = null;
  function listen() {
    if (typeof WebSocket !== "function" || socket || !st.token) return;
    let ws;
    try {
      ws = new WebSocket(
        `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql/ws`,
        "graphql-transport-ws",
      );
    } catch {
      return;
    }
    socket = ws;
    const send = (message) => ws.readyState === 1 && ws.send(JSON.stringify(message));
    ws.onopen = () => send({ type: "connection_init" });
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "connection_ack")
        send({ id: "session", type: "subscribe", payload: { query: PUSH, variables: { t: st.token } } });
      else if (message.type === "ping") send({ type: "pong" });
      else if (message.type === "next" && message.payload && message.payload.data)
        pushed(message.payload.data.sessionUpdates);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      // Dropped (a restart, the network): again in a while. Refused (4401, 4403): the heartbeat says why.
      if (st.state === "joined" && event.code < 4400) later("listen", listen, 3000 + Math.random() * 2000);
    };
  }

  function unlisten() {
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000, "left");
  }

  function pushed(state) {
    if (st.state !== "joined" || !state) return;
    if (!state.active) return end(state.endReason);
    st.token = state.sessionToken;
    store("session", st.token);
    update(state.role, state.ejectAt, state.session.lastSeenAt);
  }

  // The next heartbeat: the configured interval, or just after a hard limit ends the session.
  const nextBeat = () =>
    Math.max(1000, Math.min(beatMs, st.ejectAt ? st.ejectAt - Date.now() - st.offset + 500 : beatMs));

  async function beat() {
    try {
      const state = (await gql(Q.beat, { t: st.token })).heartbeat;
      if (st.state !== "joined") return;
      $("notice").hidden = true;
      if (!state.active) return end(state.endReason);
      st.token = state.sessionToken;
      store("session", st.token);
      update(state.role, state.ejectAt, state.session.lastSeenAt);
    } catch (e) {
      if (st.state !== "joined") return;
      if (!TRANSIENT.includes(e.code)) return fail(e);
      $("notice").textContent = "Connection lost; trying again…";
      $("notice").hidden = false;
    }
    later("beat", beat, nextBeat());
  }

  function update(role, ejectAt, serverNow, first) {
    // The server's clock decides ejection: the countdown follows it, not this device's clock.
    if (serverNow) st.offset = Date.parse(serverNow) - Date.now();
    st.ejectAt = ejectAt ? Date.parse(ejectAt) : null;
    const changed = !first && role !== st.role;
    st.role = role;
    $("role").textContent = ROLES[role] || role;
    $("view-organizer").hidden = role !== "ORGANIZER";
    if (role !== "ORGANIZER") clearTimeout(timers.organizer);
    else if (first || changed) later("organizer", organizer, 0);
    tick();
    if (changed) {
      announce(`Your role is now ${ROLES[role]}.`);
      post();
    }
  }

  function end(reason) {
    stop();
    store("session", null);
    // A login link's session that ended by itself: the server sends the browser where the
    // company asked (redirectOnExpiryUrl), or renders the reason.
    if (cfg.sessionToken && reason !== "LEFT" && reason !== "LOGGED_OUT")
      return location.replace(location.pathname + location.search);
    st.endReason = reason;
    st.role = null;
    st.token = null;
    // Rejoin: after leaving, or a disconnection, while the credential is still usable (by the
    // server's clock); not after a removal, a revocation or the end of the event or of the time.
    const r = st.rejoin;
    if (r && (!REJOINABLE.includes(reason) || (r.until && r.until <= Date.now() + st.offset))) st.rejoin = null;
    $("rejoin").hidden = !st.rejoin;
    // The button goes when the credential expires, while the page stays open.
    if (st.rejoin && st.rejoin.until)
      later("rejoin", () => end(reason), Math.min(st.rejoin.until - Date.now() - st.offset, 2 ** 31 - 1));
    $("ended-reason").textContent = ENDED[reason] || ERRORS.SESSION_ENDED;
    show("ended", ENDED[reason], "ended-title");
  }
  const REJOINABLE = ["LEFT", "SUPERSEDED", "INACTIVE"];

  function fail(e) {
    stop();
    st.error = e.code;
    st.role = null;
    $("error-message").textContent = message(e);
    show("error", message(e), "error-title");
  }

  function formError(view, e) {
    show(view, message(e));
    $(`${view}-error`).textContent = message(e);
    $(`${view}-error`).hidden = false;
    const form = $(`${view}-form`);
    (form.querySelector(`[name="${e.field}"]`) || form.querySelector("input")).focus();
  }

  $("rejoin").addEventListener("click", () => {
    if (st.rejoin) join(st.rejoin.input, null, true);
  });

  $("leave").addEventListener("click", async () => {
    $("leave").disabled = true;
    try {
      end((await gql(Q.leave, { t: st.token })).leaveEvent.endReason || "LEFT");
    } catch (e) {
      $("leave").disabled = false;
      $("notice").textContent = message(e);
      $("notice").hidden = false;
    }
  });

  // The cookie reached this page from another site: join with the sign-in, or resume the
  // session, only when the person asks to.
  const resumable = cfg.sessionToken || stored("session");
  $("confirm-join").addEventListener("click", () =>
    resumable ? resume(resumable) : join({ event: st.event.id, credential: cfg.joinToken }, null, true),
  );

  $("guest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    join({ event: st.event.id, displayName: $("guest-name").value.trim() }, "guest", true);
  });

  // ---- Knocking ---------------------------------------------------------------------------------

  $("knock-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const email = $("knock-email").value.trim();
    show("loading");
    try {
      const ticket = (
        await gql(Q.knock, { input: { event: st.event.id, name: $("knock-name").value.trim(), email: email || null } })
      ).requestToJoin;
      st.request = { id: ticket.request.id, secret: ticket.secret, at: Date.now() };
      store("knock", st.request);
      lobby();
    } catch (err) {
      if (err.code === "BAD_USER_INPUT" || TRANSIENT.includes(err.code)) return formError("knock", err);
      fail(err);
    }
  });

  function lobby() {
    $("knock-note").hidden = true;
    show("lobby", "Your request was sent. Waiting for an organizer to let you in.", "lobby-title");
    tick();
    later("poll", poll, Math.min(beatMs, 5000));
  }

  // No API withdraws a request: Cancel stops waiting here and says that the organizers may
  // still see it until it expires.
  $("cancel-knock").addEventListener("click", () => {
    clearTimeout(timers.poll);
    store("knock", null);
    st.request = null;
    $("knock-error").hidden = true;
    $("knock-note").hidden = false;
    show("knock", "You stopped waiting.", "knock-title");
  });

  async function poll() {
    try {
      const request = (await gql(Q.poll, { id: st.request.id, s: st.request.secret })).joinRequest;
      if (st.state !== "lobby") return; // cancelled meanwhile
      if (!request || request.status !== "PENDING") store("knock", null);
      if (!request) return fail({ code: "NOT_FOUND" });
      if (request.status === "APPROVED")
        return request.credential
          ? join({ event: st.event.id, credential: request.credential })
          : fail({ code: "APPROVAL_USED" });
      if (request.status === "DENIED") return fail({ code: "JOIN_REQUEST_DENIED" });
      if (request.status === "EXPIRED") return formError("knock", { code: "JOIN_REQUEST_EXPIRED" });
    } catch (e) {
      if (st.state !== "lobby") return;
      if (!TRANSIENT.includes(e.code)) return fail(e);
    }
    if (st.state === "lobby") later("poll", poll, Math.min(beatMs, 5000));
  }

  // ---- The organizer's panel --------------------------------------------------------------------

  let shown = "";
  const known = new Set();
  async function organizer() {
    try {
      const live = (await gql(Q.live, {}, st.token)).liveEvent;
      render(live);
    } catch (e) {
      // Not (or no longer) an organizer: the next heartbeat brings the role that says so.
      if (e.code === "FORBIDDEN") return;
    }
    if (st.role === "ORGANIZER" && st.state === "joined") later("organizer", organizer, Math.min(beatMs, 10000));
  }

  function span(text) {
    const el = document.createElement("span");
    el.textContent = text;
    return el;
  }
  function item(text, extras) {
    const li = document.createElement("li");
    li.append(span(text), ...extras);
    return li;
  }
  function button(label, name, action, secondary) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("aria-label", `${label} ${name}`);
    if (secondary) b.className = "secondary";
    b.addEventListener("click", action);
    return b;
  }

  function render(live) {
    const requests = live.event.joinRequests.edges.map((e) => e.node);
    const text = JSON.stringify([live.participants, requests]);
    if (text === shown) return;
    shown = text;
    for (const r of requests.filter((r) => !known.has(r.id))) {
      known.add(r.id);
      announce(`${r.name} is asking to join.`);
    }
    $("requests").replaceChildren(
      ...requests.map((r) => {
        const label = r.email ? `${r.name} (${r.email})` : r.name;
        return item(label, [
          button("Let in", r.name, () => decide(r.id, "approve")),
          button("Deny", r.name, () => decide(r.id, "deny"), true),
        ]);
      }),
    );
    $("no-requests").hidden = requests.length > 0;
    $("participant-count").textContent = live.participantCount;
    $("participants").replaceChildren(
      ...live.participants.map((p) =>
        item(`${p.name || "Guest"}${p.sessionId === st.sessionId ? " (you)" : ""}`, [span(ROLES[p.role])]),
      ),
    );
  }

  async function decide(id, action) {
    try {
      await gql(Q[action], { id }, st.token);
      announce(action === "approve" ? "Let in." : "Denied.");
    } catch (e) {
      announce(message(e));
    }
    shown = "";
    later("organizer", organizer, 0);
    $("organizer-title").focus({ preventScroll: true });
  }

  // The report opens in a new tab with this session token in its fragment (never sent to a
  // server), which it trades for a report link; the address is made at the click, as the token
  // changes with every heartbeat. The company is named by the token's issuer (<PUBLIC_URL>/c/<slug>).
  $("report-link").addEventListener("click", (e) => {
    try {
      const iss = JSON.parse(atob(st.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).iss;
      e.currentTarget.href = `${new URL(iss).pathname}/events/${st.event.id}/report#session=${st.token}`;
    } catch {
      e.preventDefault();
    }
  });

  // ---- Start ------------------------------------------------------------------------------------

  function begin() {
    if (ev.privacy === "PUBLIC") show("guest", null, "guest-name");
    else if (ev.privacy === "PRIVATE" && ev.knockingEnabled) show("knock", null, "knock-name");
    // Without an id, several companies use this address: only a credential can tell whose it is.
    else fail(ev.id ? { code: "CREDENTIAL_REQUIRED" } : { code: "BAD_USER_INPUT", field: "event" });
  }

  renderEvent(ev);
  if (cfg.error) fail({ code: cfg.error });
  else if (credential)
    join({ event: ev.id || ev.ref, credential, ...(credentialType ? { credentialType } : {}) }, null, true);
  else if (cfg.confirmJoin && (resumable || cfg.joinToken)) show("confirm", null, "confirm-join");
  else if (resumable) resume(resumable);
  else if (cfg.joinToken) join({ event: ev.id, credential: cfg.joinToken }, null, true);
  else if (cfg.ended) end(cfg.ended);
  else if ((st.request = stored("knock"))) lobby();
  else begin();
})();
