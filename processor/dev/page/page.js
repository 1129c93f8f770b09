// The live page of `processor dev`: the projections from GET /clients, the latest deliveries from
// GET /deliveries, both kept current by the server-sent events of GET /events. Every value from
// a client is set as text, never as HTML.
"use strict";

const MAX_DELIVERIES = 50;
const REFRESH_MS = 200;

let clients = [];
let deliveries = [];
let refreshing = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function time(ms) {
  if (ms === undefined || ms === null) return "";
  return new Date(ms).toISOString().slice(11, 19);
}

function timelineLink(id) {
  return el("a", { href: `clients/${encodeURIComponent(id)}/timeline`, text: "timeline" });
}

function connections(n) {
  if (n === 0) return "";
  return n === 1 ? "1 connection" : `${n} connections`;
}

// A session id's first characters: enough to tell sessions apart on one page.
function session(id) {
  if (!id) return "connected";
  return `session ${id.length > 12 ? `${id.slice(0, 8)}…` : id}`;
}

function dot(on) {
  return el("span", { class: on ? "dot on" : "dot", title: on ? "online" : "offline" });
}

// Fills a table's body with rows, and shows its "empty" note when there are none.
function fill(table, rows) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...rows);
  $(table).hidden = rows.length === 0;
  $(`${table}-empty`).hidden = rows.length !== 0;
}

function renderOnline() {
  const online = clients.filter((c) => c.online);
  fill("online", online.map((c) => el("tr", { "data-client": c.clientId },
    el("td", {}, dot(true), el("span", { class: "id", text: c.clientId })),
    el("td", { text: connections(c.connections.length) }),
    el("td", { class: "id", title: c.sessionId ?? "",
      text: c.connected ? session(c.sessionId) : "" }),
    el("td", { class: "wrap", text: c.rooms.join(", ") }),
    el("td", { text: c.connected ? time(c.since) : "" }),
    el("td", {}, timelineLink(c.clientId)))));
  const offline = clients.filter((c) => !c.online);
  fill("offline", offline.map((c) => el("tr", { "data-client": c.clientId },
    el("td", {}, dot(false), el("span", { class: "id", text: c.clientId })),
    el("td", { text: time(c.lastSeen) }),
    el("td", { text: c.lastDisconnectReason ?? "" }),
    el("td", {}, timelineLink(c.clientId)))));
  $("counts").textContent = `${online.length} online, ${offline.length} offline`;
}

// Groups clients by each name `key` lists: rooms and their members, devices and their watchers.
function renderGroups(list, key) {
  const groups = new Map();
  for (const c of clients) {
    for (const name of c[key]) {
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(c);
    }
  }
  const items = [...groups.keys()].sort().map((name) => el("li", { "data-name": name },
    el("span", { class: "name id", text: name }),
    ...groups.get(name).map((c) => el("span", { class: "member" }, dot(c.online),
      el("span", { class: "id", text: c.clientId })))));
  $(list).replaceChildren(...items);
  $(`${list}-empty`).hidden = items.length !== 0;
}

function renderDeliveries(fresh) {
  const newest = deliveries.slice().reverse();
  fill("deliveries", newest.map((d, i) => el("tr", i < fresh ? { class: "fresh" } : {},
    el("td", { text: time(d.at) }),
    el("td", {}, el("span", { class: `channel ${d.channel}`, text: d.channel })),
    el("td", { class: "id", text: d.to }),
    el("td", { class: "id", text: d.clientId ?? "" }),
    el("td", { text: d.kind }))));
}

function render() {
  renderOnline();
  renderGroups("rooms", "rooms");
  renderGroups("devices", "watching");
}

async function load() {
  const response = await fetch("clients");
  if (!response.ok) throw new Error(`GET /clients: ${response.status}`);
  clients = (await response.json()).sort((a, b) => a.clientId.localeCompare(b.clientId));
  render();
}

// Loads the projections again after a batch is folded, at most every REFRESH_MS.
function refreshSoon() {
  if (refreshing) return;
  refreshing = setTimeout(() => {
    refreshing = null;
    load().catch((e) => console.error(e));
  }, REFRESH_MS);
}

function listen() {
  const events = new EventSource("events");
  const status = $("status");
  events.onopen = () => {
    status.dataset.state = "live";
    status.textContent = "live";
    refreshSoon();
  };
  events.onerror = () => {
    status.dataset.state = "reconnecting";
    status.textContent = "reconnecting";
  };
  events.addEventListener("folded", refreshSoon);
  events.addEventListener("delivery", (e) => {
    deliveries.push(JSON.parse(e.data));
    deliveries = deliveries.slice(-MAX_DELIVERIES);
    renderDeliveries(1);
  });
}

async function start() {
  const response = await fetch("deliveries");
  if (response.ok) deliveries = await response.json();
  renderDeliveries(0);
  await load();
  listen();
}

start().catch((e) => {
  $("status").textContent = `failed: ${e.message}`;
});
