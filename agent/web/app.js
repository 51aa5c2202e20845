// ns-agent live view. Every value shown comes from an event of the
// agents' decision stream (/events); the page computes nothing it then
// presents as a decision: it only formats and draws what agents decided.
"use strict";

const WINDOW_MS = 120000;
const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a7b83", "#e16f24", "#6e7781", "#bf3989"];
const nodes = new Map(); // id -> {el, last, points: [{t, timeout, gap}], color}
const marks = [];        // {t, text, kind}
const latencies = [];    // decision -> screen, ms
const STALE_MS = 3000;   // no decision for this long: the node (or its link to the agent) is down
let events = 0, dirty = false, pendingLatency = [], live = false, token = "";
const terms = [];        // {t, term}: each rise of the highest term seen, for elections per minute
window.nsStats = { events: 0, latP50: null, latP99: null };

const $ = (s) => document.querySelector(s);
const ms = (ns) => ns / 1e6;
function fmt(msv) {
  if (msv === null || msv === undefined || isNaN(msv)) return "–";
  if (msv >= 1000) return (msv / 1000).toFixed(2) + " s";
  if (msv >= 10) return Math.round(msv) + " ms";
  return msv.toFixed(1) + " ms";
}
// Durations inside the policy's reasons come with Go's full precision
// ("603.070131ms"); three significant digits are what a reader needs.
function roundDurations(text) {
  return String(text).replace(/(\d+\.\d+)(ns|µs|ms|s)\b/g, (_, v, u) => {
    const x = Number(v);
    return (x >= 100 ? Math.round(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2)).toString().replace(/\.?0+$/, "") + u;
  });
}
function ago(msv) { return msv < 1000 ? "just now" : msv < 60000 ? Math.round(msv / 1000) + " s ago" : Math.round(msv / 60000) + " min ago"; }
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }

function node(id) {
  let n = nodes.get(id);
  if (n) return n;
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.node = id;
  el.setAttribute("aria-label", "node " + id);
  $("#nodes").appendChild(el);
  n = { id, el, last: null, points: [], color: COLORS[nodes.size % COLORS.length] };
  nodes.set(id, n);
  const sorted = [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  sorted.forEach((x) => $("#nodes").appendChild(x.el));
  $("#legend").innerHTML = sorted.map((x) => `<span><i style="background:${x.color}"></i>${esc(x.id)}</span>`).join("");
  return n;
}

function onDecision(ev) {
  events++;
  const n = node(ev.node);
  const prev = n.last;
  n.last = ev;
  const t = ms(Number(ev.at_unix_nano));
  const s = ev.sample || {};
  n.points.push({ t, timeout: ms(Number(ev.decision_ns)), gap: s.heartbeat_gap_ns != null ? ms(Number(s.heartbeat_gap_ns)) : null });
  while (n.points.length && n.points[0].t < t - WINDOW_MS) n.points.shift();
  if (s.term != null && (!terms.length || Number(s.term) > terms[terms.length - 1].term)) {
    if (terms.length) terms.push({ t, term: Number(s.term) }); else terms.push({ t: -Infinity, term: Number(s.term) });
  }
  n.seenAt = live ? Date.now() : t; // a replayed decision is as old as it is
  if (prev && prev.sample && s.term != null && prev.sample.term != null && Number(s.term) > Number(prev.sample.term)) {
    mark(t, `${ev.node} saw term ${s.term}` + (s.leader ? ` (leader ${s.leader})` : ""), "election");
  }
  render(n);
  if (live) pendingLatency.push(t);
  dirty = true;
}

function render(n) {
  const ev = n.last, s = ev.sample || {};
  const d = ms(Number(ev.decision_ns)), p = ms(Number(ev.previous_ns)), lo = ms(Number(ev.min_ns)), hi = ms(Number(ev.max_ns));
  const move = p && d > p ? `<span class="up" aria-label="raised">▲</span>` : p && d < p ? `<span class="down" aria-label="lowered">▼</span>` : "";
  const pos = hi > lo ? Math.max(0, Math.min(100, (Math.log(d) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) * 100)) : 0;
  // Rules that moved or held the value are listed; the ones the sample
  // could not evaluate are one muted, collapsed line.
  const rule = (c) => {
    const reason = roundDurations(c.reason.startsWith(c.effect) ? c.reason : `${c.effect}: ${c.reason}`);
    return `<li class="${esc(c.effect)}"><b>${esc(c.name)}</b> ${esc(reason)} <a href="policy?pos=${encodeURIComponent(c.pos)}" title="where the rule is written">${esc(c.pos)}</a></li>`;
  };
  const checks = ev.checks || [];
  const acted = checks.filter((c) => c.effect === "changed" || c.effect === "held").map(rule).join("");
  const skipped = checks.filter((c) => c.effect === "not evaluated");
  const role = s.role || "unknown";
  n.el.innerHTML = `
    <h3>${esc(n.id)} <span class="role ${esc(role)}" data-role="${esc(role)}">${esc(role)}</span></h3>
    <div class="muted">term ${esc(s.term ?? "–")} · leader ${esc(s.leader || "none")} · ${esc(ev.recommender)}${ev.live ? "" : " · advisory"}</div>
    <div class="age muted" data-at="${ms(Number(ev.at_unix_nano))}"></div>
    <div><span class="timeout" data-ms="${d}" data-min="${lo}" data-max="${hi}">${fmt(d)}</span> ${move}
      <span class="muted">election timeout</span></div>
    <div class="bar" role="img" aria-label="timeout between bounds ${fmt(lo)} and ${fmt(hi)}"><span style="left:calc(${pos}% - 2px)"></span></div>
    <div class="muted">bounds ${fmt(lo)} – ${fmt(hi)}</div>
    <dl>
      <dt>proposal</dt><dd>${fmt(ms(Number(ev.proposal_ns)))} · confidence ${(ev.confidence * 100).toFixed(0)}%</dd>
      <dt>heartbeat gap</dt><dd>${s.heartbeat_gap_ns != null ? fmt(ms(Number(s.heartbeat_gap_ns))) : "–"}</dd>
      <dt>RTT p99</dt><dd>${s.rtt ? fmt(ms(Number(s.rtt.p99_ns))) : "–"}</dd>
      <dt>in force</dt><dd>${ev.live ? (ev.applied ? "applied" : `<span class="error">not applied${ev.error ? ": " + esc(roundDurations(ev.error)) : ""}</span>`) : "advice only"}${ev.held ? " · held" : ""}${ev.unstable ? " · unstable" : ""}</dd>
    </dl>
    ${acted ? `<ul class="rules" aria-label="rules that moved or held the value">${acted}</ul>` : `<div class="muted">no rule changed the proposal</div>`}
    ${skipped.length ? `<details class="skipped"><summary>${skipped.length} rule${skipped.length > 1 ? "s" : ""} not evaluated</summary><ul class="rules">${skipped.map(rule).join("")}</ul></details>` : ""}`;
  age(n, Date.now());
}

// age marks a card whose node has gone quiet: no decision for STALE_MS
// means its host stopped sampling (killed, paused, cut off from its agent).
function age(n, now) {
  const el = n.el.querySelector(".age");
  if (!el || !n.last) return;
  const quiet = now - n.seenAt;
  const stale = quiet > STALE_MS;
  n.el.classList.toggle("stale", stale);
  const at = Number(el.dataset.at);
  el.textContent = stale ? `no decision for ${ago(quiet).replace(" ago", "")}: node down or disconnected · last decided ${new Date(at).toLocaleTimeString()}`
    : `decided ${ago(Math.max(0, now - at))}`;
  el.classList.toggle("error", stale);
  const badge = n.el.querySelector(".role");
  if (badge) badge.textContent = stale ? "was " + badge.dataset.role : badge.dataset.role;
}

// summary is the cluster at a glance, from the nodes' latest decisions:
// who leads, in which term, whether a quorum is up, how often terms
// change, which nodes are down and which agents are not steering.
function summary(now) {
  const all = [...nodes.values()].filter((n) => n.last);
  if (!all.length) return;
  const up = all.filter((n) => now - n.seenAt <= STALE_MS);
  const down = all.filter((n) => now - n.seenAt > STALE_MS).map((n) => n.id);
  const size = Math.max(all.length, ...up.map((n) => Number((n.last.sample || {}).cluster_size || 0)));
  const quorum = Math.floor(size / 2) + 1;
  const leaders = up.filter((n) => (n.last.sample || {}).role === "leader").map((n) => n.id);
  const votes = {};
  for (const n of up) { const l = (n.last.sample || {}).leader; if (l) votes[l] = (votes[l] || 0) + 1; }
  const named = Object.entries(votes).sort((a, b) => b[1] - a[1])[0];
  const leader = leaders.length === 1 ? leaders[0] : named && !down.includes(named[0]) ? named[0] : null;
  const term = Math.max(...up.map((n) => Number((n.last.sample || {}).term || 0)), 0);
  while (terms.length > 1 && terms[1].t < now - 60000) terms.shift();
  const perMin = terms.filter((x) => x.t >= now - 60000).length;
  const notSteering = up.filter((n) => n.last.live && !n.last.applied).map((n) => n.id);
  const set = (id, text, bad) => { const el = $(id); el.textContent = text; el.parentElement.classList.toggle("bad", !!bad); };
  set("#s-leader", leader ? `${leader}` : "none", !leader);
  set("#s-term", term ? String(term) : "–");
  set("#s-quorum", `${up.length} of ${size} up (needs ${quorum})`, up.length < quorum);
  set("#s-elections", `${perMin} in the last minute`, perMin > 2);
  set("#s-down", down.length ? down.join(", ") : "none", down.length > 0);
  set("#s-steering", notSteering.length ? notSteering.join(", ") : "none", notSteering.length > 0);
  window.nsSummary = { leader, term, up: up.length, size, quorum, electionsPerMin: perMin, down, notSteering };
}

function mark(t, text, kind) {
  marks.push({ t, text, kind });
  while (marks.length && marks[0].t < t - WINDOW_MS) marks.shift();
  const li = document.createElement("li");
  li.textContent = new Date(t).toLocaleTimeString() + " — " + text;
  if (kind === "error") li.className = "error";
  $("#notes").prepend(li);
  while ($("#notes").children.length > 200) $("#notes").lastChild.remove();
  dirty = true;
}

let lastTick = 0;
function draw() {
  if (dirty) {
    dirty = false;
    const now = Date.now();
    for (const t of pendingLatency) latencies.push(now - t);
    pendingLatency = [];
    while (latencies.length > 1000) latencies.shift();
    if (latencies.length) {
      const sorted = [...latencies].sort((a, b) => a - b);
      window.nsStats.latP50 = sorted[Math.floor((sorted.length - 1) * 0.5)];
      window.nsStats.latP99 = sorted[Math.floor((sorted.length - 1) * 0.99)];
    }
    window.nsStats.events = events;
    $("#stats").textContent = `${events} decisions from ${nodes.size} nodes`;
    $("#stats").title = `decision→screen p50 ${fmt(window.nsStats.latP50)}, p99 ${fmt(window.nsStats.latP99)}`;
    chart(now);
  }
  const t = Date.now();
  if (t - lastTick >= 500) {
    lastTick = t;
    for (const n of nodes.values()) age(n, t);
    summary(t);
  }
  requestAnimationFrame(draw);
}

function chart(now) {
  const c = $("#timeline"), g = c.getContext("2d");
  const dpr = window.devicePixelRatio || 1, W = c.clientWidth, H = c.clientHeight;
  if (c.width !== W * dpr) { c.width = W * dpr; c.height = H * dpr; }
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  const L = 56, R = 8, T = 8, B = 22, t0 = now - WINDOW_MS;
  let lo = Infinity, hi = 0;
  for (const n of nodes.values()) {
    if (n.last) { lo = Math.min(lo, ms(Number(n.last.min_ns))); hi = Math.max(hi, ms(Number(n.last.max_ns))); }
  }
  if (!isFinite(lo)) return;
  lo = Math.max(1, lo / 2);
  const x = (t) => L + (t - t0) / WINDOW_MS * (W - L - R);
  const y = (v) => T + (1 - (Math.log(Math.max(v, lo)) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (H - T - B);
  const css = getComputedStyle(document.body);
  g.strokeStyle = css.getPropertyValue("--line"); g.fillStyle = css.getPropertyValue("--muted");
  g.font = "11px system-ui"; g.lineWidth = 1;
  for (const v of [10, 30, 100, 300, 1000, 3000, 10000]) {
    if (v < lo || v > hi) continue;
    g.beginPath(); g.moveTo(L, y(v)); g.lineTo(W - R, y(v)); g.stroke();
    g.fillText(fmt(v), 4, y(v) + 4);
  }
  for (let s = 0; s <= WINDOW_MS; s += 20000) g.fillText(`-${(WINDOW_MS - s) / 1000}s`, x(t0 + s) - 10, H - 6);
  for (const m of marks) {
    if (m.t < t0) continue;
    g.strokeStyle = m.kind === "election" ? css.getPropertyValue("--warn") : css.getPropertyValue("--bad");
    g.setLineDash([3, 3]); g.beginPath(); g.moveTo(x(m.t), T); g.lineTo(x(m.t), H - B); g.stroke(); g.setLineDash([]);
    if (m.kind === "election") { g.fillStyle = g.strokeStyle; g.fillText("▲", x(m.t) - 4, T + 10); }
  }
  for (const n of nodes.values()) {
    g.strokeStyle = n.color; g.fillStyle = n.color; g.lineWidth = 2;
    g.beginPath();
    let first = true;
    for (const p of n.points) {
      if (p.t < t0) continue;
      if (first) { g.moveTo(x(p.t), y(p.timeout)); first = false; } else g.lineTo(x(p.t), y(p.timeout));
    }
    g.stroke();
    g.globalAlpha = 0.45;
    for (const p of n.points) if (p.gap && p.t >= t0) g.fillRect(x(p.t) - 1, y(p.gap) - 1, 2, 2);
    g.globalAlpha = 1;
  }
}

async function control(action) {
  const msg = $("#control-msg");
  msg.textContent = "…";
  try {
    const r = await fetch("api/control", { method: "POST", headers: { "Content-Type": "application/json", "X-Ns-Agent-Token": token }, body: JSON.stringify(action) });
    msg.textContent = r.ok ? "done: " + action.kind : "failed: " + (await r.text());
    msg.className = r.ok ? "" : "error";
  } catch (e) { msg.textContent = "failed: " + e; msg.className = "error"; }
}

async function setup() {
  const cfg = await (await fetch("api/config")).json();
  token = cfg.token || "";
  $("#title").textContent = cfg.title || "ns-agent";
  document.title = cfg.title || "ns-agent";
  if (cfg.controls) {
    $("#controls").hidden = false;
    for (const l of cfg.links || []) $("#link").add(new Option(l.replace("->", " → "), l));
    for (const n of cfg.nodes || []) $("#node").add(new Option(n, n));
    for (const s of cfg.strategies || []) $("#strategy").add(new Option(s, s));
    $("#f-latency").addEventListener("submit", (e) => {
      e.preventDefault();
      control({ kind: "latency", link: $("#link").value, latency_ms: +$("#latency").value, jitter_ms: +$("#jitter").value });
    });
    $("#clear-latency").addEventListener("click", () => control({ kind: "clear", link: $("#link").value }));
    $("#apply-stall").addEventListener("click", () => control({ kind: "stall", link: $("#link").value, duration_ms: +$("#stall").value }));
    document.querySelectorAll("#f-node button[data-kind]").forEach((b) =>
      b.addEventListener("click", () => control({ kind: b.dataset.kind, node: $("#node").value })));
    $("#switch").addEventListener("click", () => control({ kind: "strategy", node: $("#node").value, strategy: $("#strategy").value }));
  }
  const es = new EventSource("events");
  es.addEventListener("open", () => { $("#conn").textContent = "live"; });
  es.addEventListener("error", () => { $("#conn").textContent = "reconnecting…"; });
  es.addEventListener("live", () => { live = true; });
  es.addEventListener("decision", (e) => onDecision(JSON.parse(e.data)));
  es.addEventListener("note", (e) => { const n = JSON.parse(e.data); mark(n.at_unix_nano / 1e6, n.text + (n.error ? " — " + n.error : ""), n.error ? "error" : "fault"); });
  requestAnimationFrame(draw);
}
setup();
