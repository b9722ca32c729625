// The operators' dashboard (API.md, "Web app"): the admin token asked once
// and kept in session storage, then the cluster, run-time settings,
// failed uploads, open reports, a user's actor, and live charts of this
// node's /metrics. Everything users wrote reaches the page as text nodes.

import { api, token, setToken, clearToken, onUnauthorized, metrics } from "./api.js";
import { LineChart } from "./charts.js";
import { parse, sum, rate, buckets, quantile } from "./metrics.js";

const METRICS_EVERY = 2000; // ms between scrapes of /metrics
const LISTS_EVERY = 5000; // ms between refreshes of the cluster and the queues

const $ = (id) => document.getElementById(id);

// h makes an element with properties and children (strings become text).
function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") {
      e.className = v;
    } else if (k.startsWith("data-")) {
      e.setAttribute(k, v);
    } else if (k.startsWith("aria-")) {
      e.setAttribute(k, v);
    } else {
      e[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) {
      e.append(c instanceof Node ? c : String(c));
    }
  }
  return e;
}

function showError(id, err) {
  const p = $(id);
  p.textContent = err instanceof Error ? err.message : String(err);
  p.hidden = false;
}

function clearError(id) {
  const p = $(id);
  p.textContent = "";
  p.hidden = true;
}

function say(id, text) {
  $(id).textContent = text;
}

function when(iso) {
  if (!iso) {
    return "–";
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Sections. Each load function fetches, renders and reports its own
// error; a 401 anywhere ends the session (onUnauthorized).

const last = new Map(); // section → the JSON last rendered, to skip a redraw

function changed(section, data) {
  const s = JSON.stringify(data);
  if (last.get(section) === s) {
    return false;
  }
  last.set(section, s);
  return true;
}

async function loadCluster() {
  try {
    const [cluster, actors] = await Promise.all([api.cluster(), api.actors()]);
    clearError("cluster-error");
    say("node-name", `Node ${actors.node}`);
    if (!changed("cluster", [cluster, actors])) {
      return;
    }
    let members = cluster.members || [];
    if (!members.some((m) => m.node === actors.node)) {
      members = [{ id: "", node: actors.node, address: "", alive: true }, ...members];
    }
    let counted = false;
    const rows = members.map((m) => {
      const here = !counted && m.alive && m.node === actors.node;
      counted = counted || here;
      const num = (k, v) => h("td", { class: "num", "data-count": k }, here ? v : "–");
      return h("tr", here ? { class: "here", "data-node": m.node } : { "data-node": m.node },
        h("th", { scope: "row" }, m.node || "–", here ? h("span", { class: "tag" }, "this node") : null),
        h("td", { class: "mono" }, m.id || "–"),
        h("td", { class: "mono" }, m.address || "–"),
        h("td", {}, h("span", { class: m.alive ? "state ok" : "state gone" }, m.alive ? "alive" : "gone")),
        num("users", actors.users), num("sessions", actors.sessions), num("uploaders", actors.uploaders));
    });
    $("cluster-rows").replaceChildren(...rows);
  } catch (err) {
    showError("cluster-error", err);
  }
}

// Settings.

const SETTINGS = ["rewind_per_day", "rewind_window_seconds", "superlike_per_day"];

function showSettings(cfg) {
  for (const k of SETTINGS) {
    $(k).value = cfg[k];
    $(k).removeAttribute("aria-invalid");
  }
  say("settings-saved", "In force: " + SETTINGS.map((k) => `${k} ${cfg[k]}`).join(" · "));
}

async function loadSettings() {
  try {
    showSettings(await api.config());
    clearError("settings-error");
  } catch (err) {
    showError("settings-error", err);
  }
}

async function saveSettings(ev) {
  ev.preventDefault();
  clearError("settings-error");
  const patch = {};
  for (const k of SETTINGS) {
    const input = $(k);
    const v = input.value.trim();
    if (!/^\d+$/.test(v)) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      showError("settings-error", `${input.labels[0].textContent} must be a whole number, 0 or more.`);
      return;
    }
    input.removeAttribute("aria-invalid");
    patch[k] = Number(v);
  }
  const button = ev.submitter || $("settings-form").querySelector("button");
  button.disabled = true;
  try {
    showSettings(await api.saveConfig(patch));
    $("settings-saved").prepend("Saved. ");
  } catch (err) {
    if (err.field && $(err.field)) {
      $(err.field).setAttribute("aria-invalid", "true");
      $(err.field).focus();
    }
    showError("settings-error", err);
  } finally {
    button.disabled = false;
  }
}

// Failed uploads.

async function loadUploads() {
  try {
    const { jobs } = await api.failedUploads();
    clearError("uploads-error");
    if (!changed("uploads", jobs)) {
      return;
    }
    $("uploads-empty").hidden = jobs.length > 0;
    $("uploads").classList.toggle("is-empty", jobs.length === 0);
    $("uploads-rows").replaceChildren(...jobs.map((j) => {
      const retry = h("button", { type: "button", "aria-label": `Retry upload job ${j.id}` }, "Retry");
      retry.addEventListener("click", () => retryUpload(j.id, retry));
      return h("tr", { "data-job": String(j.id) },
        h("th", { scope: "row", class: "num" }, j.id),
        h("td", { class: "num" }, j.user_id),
        h("td", {}, j.kind || "put"),
        h("td", { class: "num" }, j.attempts),
        h("td", { class: "wrap" }, j.last_error || j.error || "–"),
        h("td", { class: "mono" }, when(j.created_at)),
        h("td", {}, retry));
    }));
  } catch (err) {
    showError("uploads-error", err);
  }
}

async function retryUpload(id, button) {
  button.disabled = true;
  clearError("uploads-error");
  try {
    const { job } = await api.retryUpload(id);
    say("uploads-status", `Job ${id} is ${job.status} again.`);
  } catch (err) {
    showError("uploads-error", err);
  }
  await loadUploads();
  button.disabled = false;
}

// Open reports.

// names: user id → a Promise of the user (null if unknown), for one
// load of the reports (a nickname may change between loads).
const names = new Map();

function userOf(id) {
  if (!names.has(id)) {
    names.set(id, api.user(id).then((r) => r.user, () => null));
  }
  return names.get(id);
}

async function loadReports() {
  try {
    const { reports } = await api.openReports();
    names.clear();
    const users = await Promise.all(reports.map((r) => userOf(r.user_id)));
    clearError("reports-error");
    if (!changed("reports", [reports, users])) {
      return;
    }
    $("reports-empty").hidden = reports.length > 0;
    $("reports-list").replaceChildren(...reports.map((r, i) => {
      const u = users[i];
      const who = u ? u.nickname : "(unknown user)";
      const dismiss = h("button", { type: "button", class: "quiet", "aria-label": `Dismiss report ${r.id}` }, "Dismiss");
      const ban = h("button", { type: "button", class: "danger", "aria-label": `Ban user ${r.user_id} (report ${r.id})` }, "Ban");
      dismiss.addEventListener("click", () => resolve(r, "dismiss", who, [dismiss, ban]));
      ban.addEventListener("click", () => resolve(r, "ban", who, [dismiss, ban]));
      return h("li", { class: "report", "data-report": String(r.id), "data-user": String(r.user_id) },
        h("div", { class: "report-head" },
          h("span", { class: "reason" }, r.reason),
          h("span", { class: "nickname" }, who),
          h("span", { class: "muted" }, ` user ${r.user_id} · reported by ${r.reporter_id} · ${when(r.created_at)}`)),
        r.note ? h("p", { class: "note" }, r.note) : null,
        h("div", { class: "actions" }, dismiss, ban));
    }));
  } catch (err) {
    showError("reports-error", err);
  }
}

async function resolve(r, action, who, buttons) {
  if (action === "ban" && !confirm(`Ban ${who} (user ${r.user_id})? Their sessions end, they vanish from recommendations and they can no longer log in.`)) {
    return;
  }
  buttons.forEach((b) => (b.disabled = true));
  clearError("reports-error");
  try {
    await api.resolveReport(r.id, action);
    say("reports-status", action === "ban" ? `User ${r.user_id} banned; report ${r.id} resolved.` : `Report ${r.id} dismissed.`);
  } catch (err) {
    showError("reports-error", err);
    buttons.forEach((b) => (b.disabled = false));
  }
  await loadReports();
}

// User lookup.

let looked = 0; // the user id shown in the lookup

const ACTOR_FIELDS = [
  ["node", "Node"], ["active", "Active"], ["sessions", "Sessions"], ["swiped", "Swiped"],
  ["pending_likes", "Pending likes"], ["friends", "Friends"], ["rewinds_today", "Rewinds today"],
  ["conversations", "Conversations"], ["unread_messages", "Unread messages"], ["activated_at", "Activated"],
];

async function lookup(ev) {
  ev.preventDefault();
  clearError("lookup-error");
  say("lookup-status", "");
  const raw = $("lookup-id").value.trim();
  if (!/^[1-9]\d{0,18}$/.test(raw)) {
    $("lookup-id").setAttribute("aria-invalid", "true");
    showError("lookup-error", "A user id is a whole number above 0.");
    return;
  }
  $("lookup-id").removeAttribute("aria-invalid");
  try {
    const [{ user }, actor] = await Promise.all([api.user(raw), api.actor(raw)]);
    looked = user.id;
    $("lookup-result").dataset.user = String(user.id);
    $("lookup-name").replaceChildren(h("span", { class: "nickname" }, user.nickname), ` · user ${user.id}`);
    $("lookup-actor").replaceChildren(...ACTOR_FIELDS.flatMap(([k, label]) => {
      let v = actor[k];
      if (k === "active") {
        v = v ? "yes" : "no";
      } else if (k === "activated_at") {
        v = when(v);
      }
      return [h("dt", {}, label), h("dd", { "data-field": k }, v)];
    }));
    $("vip-level").value = String(user.vip_level);
    $("minted").hidden = true;
    $("minted-token").value = "";
    $("lookup-result").hidden = false;
  } catch (err) {
    $("lookup-result").hidden = true;
    showError("lookup-error", err);
  }
}

async function setVIP(ev) {
  ev.preventDefault();
  clearError("lookup-error");
  const level = Number($("vip-level").value);
  try {
    const { user } = await api.setVIP(looked, level);
    say("lookup-status", `VIP level of user ${user.id} is now ${user.vip_level}.`);
  } catch (err) {
    showError("lookup-error", err);
  }
}

async function mint() {
  clearError("lookup-error");
  try {
    const { token: t } = await api.mintToken(looked);
    $("minted-token").value = t;
    $("minted").hidden = false;
    $("minted-token").focus();
    $("minted-token").select();
    say("lookup-status", `A login token for user ${looked}: it works like the user's own login until they log out.`);
  } catch (err) {
    showError("lookup-error", err);
  }
}

async function copyToken() {
  const input = $("minted-token");
  try {
    await navigator.clipboard.writeText(input.value);
    say("lookup-status", "The token is copied.");
  } catch {
    input.focus();
    input.select();
    say("lookup-status", "The token is selected: press Ctrl+C (⌘C) to copy it.");
  }
}

// Live charts from /metrics: rates between two scrapes.

let charts = null;
let prev = null; // {at, swipes, matches, latency}

function makeCharts() {
  charts = {
    swipes: new LineChart($("chart-swipes"), { title: "Swipes", unit: "/s", series: [{ name: "swipes/s", key: "v" }] }),
    matches: new LineChart($("chart-matches"), { title: "Matches", unit: "/s", series: [{ name: "matches/s", key: "v" }] }),
    latency: new LineChart($("chart-latency"), {
      title: "Push latency", unit: "ms",
      series: [{ name: "p50", key: "p50" }, { name: "p95", key: "p95" }],
    }),
    sockets: new LineChart($("chart-sockets"), { title: "Open sockets", series: [{ name: "sockets", key: "v" }] }),
  };
}

async function scrape() {
  let text;
  try {
    text = await metrics();
    clearError("charts-error");
  } catch (err) {
    showError("charts-error", err);
    return;
  }
  const s = parse(text);
  const now = {
    at: performance.now(),
    swipes: sum(s, "swiper_swipes_total"),
    matches: sum(s, "swiper_matches_total"),
    latency: buckets(s, "swiper_ws_push_latency_seconds"),
  };
  charts.sockets.push({ v: sum(s, "swiper_ws_sessions") });
  if (prev) {
    const dt = (now.at - prev.at) / 1000;
    charts.swipes.push({ v: rate(now.swipes, prev.swipes, dt) });
    charts.matches.push({ v: rate(now.matches, prev.matches, dt) });
    const ms = (q) => {
      const v = quantile(q, now.latency, prev.latency);
      return v === null ? null : v * 1000;
    };
    charts.latency.push({ p50: ms(0.5), p95: ms(0.95) });
  }
  prev = now;
}

// The session: the token asked once, the dashboard while it works.

let timers = [];

function stop() {
  timers.forEach(clearInterval);
  timers = [];
  prev = null;
  last.clear();
  names.clear();
}

function showLogin(message) {
  stop();
  $("dashboard").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  say("node-name", "");
  if (message) {
    showError("login-error", message);
  } else {
    clearError("login-error");
  }
  $("token").value = "";
  $("token").focus();
}

async function start() {
  // One call first, so that a wrong token shows on the form alone.
  try {
    await api.actors();
  } catch (err) {
    if (err.status !== 401) {
      showLogin(err.message);
    }
    return;
  }
  clearError("login-error");
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  makeCharts();
  await Promise.all([loadCluster(), loadSettings(), loadUploads(), loadReports(), scrape()]);
  timers.push(setInterval(scrape, METRICS_EVERY));
  timers.push(setInterval(() => {
    loadCluster();
    loadUploads();
    loadReports();
  }, LISTS_EVERY));
}

function init() {
  onUnauthorized((err) => showLogin(err.message));
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) {
      showError("login-error", "Enter the admin token.");
      return;
    }
    setToken(t);
    start();
  });
  $("logout").addEventListener("click", () => {
    clearToken();
    showLogin("");
  });
  $("settings-form").addEventListener("submit", saveSettings);
  $("lookup-form").addEventListener("submit", lookup);
  $("vip-form").addEventListener("submit", setVIP);
  $("mint").addEventListener("click", mint);
  $("copy-token").addEventListener("click", copyToken);
  const refresh = { cluster: loadCluster, uploads: loadUploads, reports: loadReports };
  for (const b of document.querySelectorAll("[data-refresh]")) {
    b.addEventListener("click", () => refresh[b.dataset.refresh]());
  }
  if (token()) {
    start();
  } else {
    showLogin("");
  }
}

init();
