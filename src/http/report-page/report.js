// Admit's event report page: headline numbers, attendance over time, a breakdown by a metadata
// key and the attendees, read from GraphQL with a report link's token. Charts are SVG drawn here
// (no library, nothing from another origin), each with its numbers in a table for screen readers.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const PAGE_SIZE = 20;

  // /c/<companySlug>/events/<eventId>/report
  const [, , companySlug, , eventId] = location.pathname.split("/");
  const STORE = `admit-report:${eventId}`;

  // The credential leaves the address bar (and the history entry) before anything else happens.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  const session = fragment.get("session");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  let token = given || (session ? null : stored());

  function stored() {
    try {
      return sessionStorage.getItem(STORE);
    } catch {
      return null;
    }
  }
  function store(value) {
    try {
      sessionStorage.setItem(STORE, value);
    } catch {
      // storage off: a reload asks for a new link
    }
  }

  async function gql(query, variables, bearer = token) {
    let body;
    try {
      const res = await fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query, variables }),
        cache: "no-store",
      });
      body = await res.json();
    } catch {
      throw { code: "NETWORK" };
    }
    const err = body.errors && body.errors[0];
    if (err) throw { code: (err.extensions && err.extensions.code) || "INTERNAL" };
    return body.data;
  }

  const Q = {
    link: `mutation($id: ID!) { createReportLink(eventId: $id) { url } }`,
    headline: `query($id: ID!) { eventAnalytics(eventId: $id) { event { name } registrants attendees attendanceRate sessions
      totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions } }`,
    timeline: `query($id: ID!, $b: Int!) { eventAnalytics(eventId: $id) { timeline(bucketSeconds: $b) { start activeSessions joins } } }`,
    breakdown: `query($id: ID!, $k: String!) { eventAnalytics(eventId: $id) { breakdown(metadataKey: $k, first: 20) { value attendees totalAttendanceSeconds } } }`,
    attendees: `query($id: ID!, $first: Int, $after: String) { eventAnalytics(eventId: $id) { attendeeList(first: $first, after: $after) {
      totalCount edges { node { user { name email externalId isGuest } metadata firstJoinedAt totalAttendanceSeconds sessions role } }
      pageInfo { hasNextPage endCursor } } } }`,
  };

  const MESSAGES = {
    UNAUTHENTICATED:
      "This report link has expired or is not valid. Ask for a new one: open the report again from the event's organizer view, or make a new link with createReportLink.",
    FORBIDDEN: "This link does not open this event's report.",
    NOT_FOUND: "This event does not exist.",
    NETWORK: "The report could not be reached. Check the connection and reload the page.",
    RATE_LIMITED: "Too many requests just now; reload the page in a moment.",
  };
  const message = (e) =>
    MESSAGES[e.code] ||
    (e.code && e.code.startsWith("TOKEN_")
      ? MESSAGES.UNAUTHENTICATED
      : "Something went wrong on our side; reload the page to try again.");

  function fail(e) {
    $("report").dataset.state = "error";
    $("view-loading").hidden = true;
    $("view-report").hidden = true;
    $("view-error").hidden = false;
    $("error-message").textContent = message(e);
    $("error-title").focus();
  }

  // ---- Formatting -------------------------------------------------------------------------------

  const int = new Intl.NumberFormat();
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
    const h = Math.floor(m / 60);
    return m % 60 ? `${int.format(h)} h ${m % 60} min` : `${int.format(h)} h`;
  }
  const percent = (rate) => (rate === null || rate === undefined ? "–" : `${Math.round(rate * 1000) / 10} %`);
  const dateTime = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const ROLES = { ATTENDEE: "Attendee", PRESENTER: "Presenter", ORGANIZER: "Organizer" };

  function cell(text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    return td;
  }
  function row(...cells) {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }
  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }
  // Drawn at the width it is shown at, so its text stays at the page's size on a phone.
  const chartWidth = (el) => Math.max(300, Math.min(960, el.clientWidth || 720));
  function svgRoot(width, height, titleId, title) {
    const svg = svgEl("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": titleId,
      focusable: "false",
    });
    svg.append(svgEl("title", { id: titleId }, title));
    return svg;
  }

  // ---- Headline ---------------------------------------------------------------------------------

  function renderHeadline(a) {
    const shown = {
      registrants: int.format(a.registrants),
      attendees: int.format(a.attendees),
      attendanceRate: percent(a.attendanceRate),
      sessions: int.format(a.sessions),
      peakConcurrentSessions: int.format(a.peakConcurrentSessions),
      totalAttendanceSeconds: duration(a.totalAttendanceSeconds),
      averageAttendanceSeconds: duration(a.averageAttendanceSeconds),
    };
    for (const dd of document.querySelectorAll("#headline dd")) {
      const name = dd.dataset.metric;
      dd.textContent = shown[name];
      // The exact figure, as the API gave it (tests compare it; the text is rounded for people).
      dd.dataset.value = a[name] === null ? "" : String(a[name]);
    }
    $("event-name").textContent = `${a.event.name}: report`;
    document.title = `${a.event.name}: report`;
  }

  // ---- Timeline ---------------------------------------------------------------------------------

  // Coarse to fine: the first width that gives enough buckets to draw a shape (one request each).
  const WIDTHS = [604800, 86400, 21600, 3600, 900, 300, 60];
  const WIDTH_NAMES = {
    604800: "week",
    86400: "day",
    21600: "6 hours",
    3600: "hour",
    900: "15 minutes",
    300: "5 minutes",
    60: "minute",
  };

  async function loadTimeline() {
    let buckets = [];
    let width = WIDTHS[0];
    for (width of WIDTHS) {
      buckets = (await gql(Q.timeline, { id: eventId, b: width })).eventAnalytics.timeline;
      if (buckets.length >= 12) break;
    }
    renderTimeline(buckets, width);
  }

  function renderTimeline(buckets, width) {
    const label = (iso) =>
      width >= 86400
        ? new Date(iso).toLocaleDateString([], { dateStyle: "medium" })
        : new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
    $("timeline-table").tBodies[0].replaceChildren(
      ...buckets.map((b) =>
        row(cell(label(b.start)), cell(int.format(b.activeSessions), true), cell(int.format(b.joins), true)),
      ),
    );
    const chart = $("timeline-chart");
    if (buckets.length === 0) {
      chart.replaceChildren();
      $("timeline-caption").textContent = "Nobody has joined yet.";
      return;
    }
    const W = chartWidth(chart),
      H = Math.round(W * 0.36) + 40,
      left = 40,
      right = 12,
      top = 12,
      bottom = 34;
    const max = Math.max(1, ...buckets.map((b) => Math.max(b.activeSessions, b.joins)));
    const step = (W - left - right) / buckets.length;
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    const peak = buckets.reduce((p, b) => (b.activeSessions > p.activeSessions ? b : p), buckets[0]);
    const joins = buckets.reduce((n, b) => n + b.joins, 0);
    const svg = svgRoot(
      W,
      H,
      "timeline-svg-title",
      `Attendance over time, per ${WIDTH_NAMES[width]}: at most ${peak.activeSessions} active sessions (from ${label(peak.start)}); ${joins} joins in all. The table below has every bucket.`,
    );
    for (const v of [0, Math.ceil(max / 2), max]) {
      svg.append(
        svgEl("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }),
        svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, int.format(v)),
      );
    }
    buckets.forEach((b, i) => {
      const h = y(0) - y(b.joins);
      if (b.joins > 0)
        svg.append(
          svgEl("rect", {
            class: "joins",
            x: left + i * step + step * 0.2,
            y: y(b.joins),
            width: Math.max(1, step * 0.6),
            height: h,
          }),
        );
    });
    // Active sessions as steps: flat across each bucket.
    const points = buckets.flatMap((b, i) => [
      `${left + i * step},${y(b.activeSessions)}`,
      `${left + (i + 1) * step},${y(b.activeSessions)}`,
    ]);
    svg.append(svgEl("polyline", { class: "active", points: points.join(" ") }));
    svg.append(svgEl("line", { class: "axis", x1: left, x2: W - right, y1: y(0), y2: y(0) }));
    svg.append(svgEl("text", { x: left, y: H - 10 }, label(buckets[0].start)));
    if (buckets.length > 1)
      svg.append(
        svgEl("text", { x: W - right, y: H - 10, "text-anchor": "end" }, label(buckets[buckets.length - 1].start)),
      );
    const legend = document.createElement("p");
    legend.className = "legend";
    legend.setAttribute("aria-hidden", "true");
    legend.innerHTML = '<span class="key-active">Active sessions</span><span class="key-joins">Joins</span>';
    chart.replaceChildren(svg, legend);
    $("timeline-caption").textContent = `One bar and step per ${WIDTH_NAMES[width]}.`;
  }

  // ---- Breakdown --------------------------------------------------------------------------------

  async function loadBreakdown(key) {
    const rows = (await gql(Q.breakdown, { id: eventId, k: key })).eventAnalytics.breakdown;
    renderBreakdown(key, rows);
  }

  function renderBreakdown(key, rows) {
    const name = (v) => (v === null ? "(none)" : v);
    $("breakdown-table").tBodies[0].replaceChildren(
      ...rows.map((r) =>
        row(cell(name(r.value)), cell(int.format(r.attendees), true), cell(duration(r.totalAttendanceSeconds), true)),
      ),
    );
    const chart = $("breakdown-chart");
    if (rows.length === 0) {
      chart.replaceChildren();
      $("breakdown-caption").textContent = "No attendees yet.";
      return;
    }
    const W = chartWidth(chart),
      labelW = Math.min(200, Math.round(W * 0.35)),
      barH = 22,
      gap = 10,
      top = 6;
    const H = top + rows.length * (barH + gap);
    const max = Math.max(1, ...rows.map((r) => r.attendees));
    const top3 = rows
      .slice(0, 3)
      .map((r) => `${name(r.value)} ${r.attendees}`)
      .join(", ");
    const svg = svgRoot(
      W,
      H,
      "breakdown-svg-title",
      `Attendees by ${key}: ${top3}${rows.length > 3 ? ", and more in the table below" : ""}.`,
    );
    rows.forEach((r, i) => {
      const yy = top + i * (barH + gap);
      const w = Math.max(2, ((W - labelW - 60) * r.attendees) / max);
      const text = name(r.value);
      svg.append(
        svgEl(
          "text",
          { class: "label", x: labelW - 8, y: yy + barH * 0.7, "text-anchor": "end" },
          text.length > labelW / 7 ? `${text.slice(0, Math.floor(labelW / 7) - 1)}…` : text,
        ),
        svgEl("rect", { class: "bar", x: labelW, y: yy, width: w, height: barH, rx: 3 }),
        svgEl("text", { x: labelW + w + 6, y: yy + barH * 0.7 }, int.format(r.attendees)),
      );
    });
    chart.replaceChildren(svg);
    $("breakdown-caption").textContent = `Attendees by ${key}, most first (at most 20 values).`;
  }

  $("breakdown-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("breakdown-key").value.trim();
    if (key)
      loadBreakdown(key).then(
        () => announce(`Breakdown by ${key} shown.`),
        (err) => announce(message(err)),
      );
  });

  // ---- Attendees --------------------------------------------------------------------------------

  const cursors = [null];
  let pageIndex = 0;

  async function loadAttendees(index) {
    const list = (await gql(Q.attendees, { id: eventId, first: PAGE_SIZE, after: cursors[index] })).eventAnalytics
      .attendeeList;
    pageIndex = index;
    cursors[index + 1] = list.pageInfo.hasNextPage ? list.pageInfo.endCursor : undefined;
    const people = list.edges.map((e) => e.node);
    $("attendee-table").tBodies[0].replaceChildren(
      ...people.map((a) =>
        row(
          cell(a.user.name || (a.user.isGuest ? "Guest" : a.user.externalId || "–")),
          cell(a.user.email || "–"),
          cell(ROLES[a.role] || a.role),
          cell(dateTime(a.firstJoinedAt)),
          cell(duration(a.totalAttendanceSeconds), true),
          cell(int.format(a.sessions), true),
        ),
      ),
    );
    $("attendee-count").textContent = int.format(list.totalCount);
    const from = list.totalCount === 0 ? 0 : index * PAGE_SIZE + 1;
    $("page-label").textContent = `${from}–${index * PAGE_SIZE + people.length} of ${int.format(list.totalCount)}`;
    $("prev-page").disabled = index === 0;
    $("next-page").disabled = !list.pageInfo.hasNextPage;
    return people;
  }

  const turn = (delta) => () =>
    loadAttendees(pageIndex + delta).then(
      () => announce($("page-label").textContent),
      (err) => announce(message(err)),
    );
  $("prev-page").addEventListener("click", turn(-1));
  $("next-page").addEventListener("click", turn(1));

  $("download-csv").addEventListener("click", async () => {
    try {
      const res = await fetch(`/c/${companySlug}/events/${eventId}/attendees.csv`, {
        headers: { authorization: `Bearer ${token}` },
        cache: "no-store",
      });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        throw { code: (body.error && body.error.code) || "INTERNAL" };
      }
      const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
      const href = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = href;
      a.download = name ? name[1] : "attendees.csv";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
      announce("The CSV is downloading.");
    } catch (err) {
      announce(message(err));
    }
  });

  function announce(text) {
    $("status").textContent = text;
  }

  // ---- Start ------------------------------------------------------------------------------------

  async function start() {
    if (!token && session) {
      // An organizer from the join page: their session token is traded for a report link once.
      const link = (await gql(Q.link, { id: eventId }, session)).createReportLink;
      token = new URLSearchParams(new URL(link.url).hash.slice(1)).get("token");
    }
    if (!token) throw { code: "UNAUTHENTICATED" };
    store(token);
    const headline = (await gql(Q.headline, { id: eventId })).eventAnalytics;
    renderHeadline(headline);
    const people = await loadAttendees(0);
    // Shown before the charts are drawn: they take the width they get.
    $("view-loading").hidden = true;
    $("view-report").hidden = false;
    await loadTimeline();
    const keys = [...new Set(people.flatMap((p) => Object.keys(p.metadata || {})))].sort();
    $("breakdown-keys").replaceChildren(
      ...keys.map((k) => Object.assign(document.createElement("option"), { value: k })),
    );
    const key = keys.includes("company") ? "company" : keys[0];
    if (key) {
      $("breakdown-key").value = key;
      await loadBreakdown(key);
    } else {
      $("breakdown-caption").textContent = "Type a metadata key to break the attendees down by it.";
    }
    $("report-note").textContent =
      `All sessions so far, as of ${new Date().toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}.`;
    $("view-loading").hidden = true;
    $("view-report").hidden = false;
    $("report").dataset.state = "ready";
    $("event-name").focus();
  }

  start().catch(fail);
})();
