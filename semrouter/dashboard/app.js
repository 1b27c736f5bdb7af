// semrouter dashboard: plain JS, no build step, no third-party code. Data comes from the router's
// read-only APIs: /api/v1/decisions/stream (server-sent events: a "hello" naming the worker, that worker's
// recent ring, then its live decisions), /api/v1/policy (the configured graph) and POST /api/v1/route (dry
// run). Everything on the Live tab comes from the one worker that serves the stream (with several server
// workers, each keeps its own decisions; /metrics covers them all). Text from the server is only ever set
// with textContent, never parsed as HTML.
"use strict";

const BUCKETS = 30; // bars per chart; the window grows from one to five minutes as history builds up
const MIN_WINDOW_S = 60;
const MAX_WINDOW_S = 300;
const MAX_ROWS = 200;
const PALETTE = ["#2f6fde", "#1f9d55", "#d97706", "#9333ea", "#d64545", "#0891b2", "#a16207", "#db2777",
                 "#4b5563", "#65a30d", "#7c3aed", "#ea580c", "#0d9488", "#be123c"];
const $ = (id) => document.getElementById(id);

const state = { records: [], colors: new Map(), policy: null, total: 0, backlog: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function colorOf(name) {
  if (!state.colors.has(name)) state.colors.set(name, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(name);
}

// ---------------------------------------------------------------------------- tabs

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    for (const p of document.querySelectorAll(".panel")) p.classList.toggle("active", p.id === "tab-" + tab.dataset.tab);
    if (tab.dataset.tab === "policy") drawPolicy();
    if (tab.dataset.tab === "live") drawCharts();
  });
}

// ---------------------------------------------------------------------------- live stream

function addRecord(r, fresh) {
  state.records.push(r);
  state.total += 1;
  if (state.records.length > 5000) state.records.splice(0, state.records.length - 5000);
  const guards = [];
  if (r.guard && r.guard.pii_types && r.guard.pii_types.length) guards.push("PII " + r.guard.pii_types.join(","));
  if (r.guard && r.guard.jailbreak && r.guard.jailbreak.detected) guards.push("jailbreak " + (r.guard.jailbreak.type || ""));
  const tokens = r.tokens ? `${r.tokens.input ?? "?"} → ${r.tokens.output ?? "?"}` : "";
  const dot = el("i", { class: "dot" });
  dot.style.background = colorOf(r.decision || "none"); // the decision's colour in the traffic chart
  const row = el("tr", { class: fresh ? "fresh" : "", "data-decision": r.decision || "none", "data-worker": r.worker || "" },
    new Date(r.ts * 1000).toLocaleTimeString(),
    el("td", {}, el("span", { class: "pill" }, dot, r.decision || "—")),
    r.category || "—",
    r.model || "—",
    r.reasoning ? (r.reasoning_effort ? "on (" + r.reasoning_effort + ")" : "on") : "off",
    el("td", {}, el("span", { class: "pill " + r.path }, r.path + (r.status && r.status >= 400 ? " " + r.status : ""))),
    r.cache,
    guards.join("; ") || "—",
    r.latency_ms.toFixed(1) + " ms",
    tokens,
    el("td", { class: "mono" }, (r.request_id || "").slice(0, 12)));
  // plain strings became text nodes: wrap them in cells
  for (const child of Array.from(row.childNodes)) if (child.nodeType === Node.TEXT_NODE) row.replaceChild(el("td", {}, child.textContent), child);
  const body = $("decisions");
  body.insertBefore(row, body.firstChild);
  while (body.childNodes.length > MAX_ROWS) body.removeChild(body.lastChild);
}

let redraw = null;
function scheduleDraw() {
  if (redraw) return;
  redraw = setTimeout(() => { redraw = null; updateStats(); drawCharts(); }, 250);
}

let source = null;
function connect() {
  if (source) source.close();
  const es = source = new EventSource("/api/v1/decisions/stream");
  es.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn on"; };
  // each (re)connection starts afresh: the worker's ring follows, possibly another worker's than before
  es.addEventListener("hello", (ev) => {
    const h = JSON.parse(ev.data);
    state.records = [];
    $("decisions").replaceChildren();
    state.total = h.total - h.backlog;
    state.backlog = h.backlog;
    showWorker(h);
    scheduleDraw();
  });
  es.onmessage = (ev) => {
    const fresh = state.backlog <= 0;
    if (!fresh) state.backlog -= 1;
    addRecord(JSON.parse(ev.data), fresh);
    scheduleDraw();
  };
  es.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn off"; };
}

function showWorker(h) {
  const many = h.workers > 1;
  $("worker").textContent = many ? `worker pid ${h.pid} · one of ${h.workers}` : `pid ${h.pid}`;
  $("scope").classList.toggle("hidden", !many);
  $("scope").textContent = many
    ? `This page shows worker pid ${h.pid}, one of ${h.workers} server workers: each keeps its own decisions, so ` +
      "the numbers, charts and table here cover only the requests this worker served. Prometheus (/metrics, " +
      "the Grafana dashboard) and the JSONL decision log cover all workers."
    : "";
}

// ---------------------------------------------------------------------------- numbers and charts

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function updateStats() {
  const rs = state.records;
  $("stat-total").textContent = String(state.total);
  const hits = rs.filter((r) => r.cache === "hit").length;
  const looked = hits + rs.filter((r) => r.cache === "miss").length;
  $("stat-cache").textContent = looked ? (100 * hits / looked).toFixed(1) + " %" : "–";
  const lat = rs.map((r) => r.latency_ms).sort((a, b) => a - b);
  $("stat-latency").textContent = lat.length
    ? [0.5, 0.95, 0.99].map((p) => percentile(lat, p).toFixed(1)).join(" / ") + " ms" : "–";
  $("stat-blocked").textContent = String(rs.filter((r) => r.path === "blocked").length);
  $("stat-errors").textContent = String(rs.filter((r) => r.path === "error").length);
}

// The chart window: one minute (2 s bars) for a fresh router, growing with the history to five (10 s bars).
function chartWindow() {
  const now = Date.now() / 1000;
  const oldest = state.records.length ? state.records[0].ts : now;
  const need = Math.ceil((now - oldest) / MIN_WINDOW_S) * MIN_WINDOW_S;
  const span = Math.min(MAX_WINDOW_S, Math.max(MIN_WINDOW_S, need));
  return { span, bucket: span / BUCKETS };
}

function buckets(win) {
  const now = Date.now() / 1000;
  const end = Math.floor(now / win.bucket) * win.bucket + win.bucket;
  const start = end - BUCKETS * win.bucket;
  const out = Array.from({ length: BUCKETS }, (_, i) => ({ t: start + i * win.bucket, recs: [] }));
  for (const r of state.records) {
    const i = Math.floor((r.ts - start) / win.bucket);
    if (i >= 0 && i < BUCKETS) out[i].recs.push(r);
  }
  return out;
}

function canvasCtx(id) {
  const c = $(id);
  const ratio = window.devicePixelRatio || 1;
  const w = c.clientWidth || c.width, h = c.clientHeight || c.height;
  if (c.width !== Math.round(w * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(h * ratio); }
  const g = c.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  return { g, w, h };
}

// The y axis for values up to v: a tick step of 1, 2 or 5 × 10^k (whole numbers for counts), at most
// five ticks, and the top at a tick, so every label is a round number.
function scale(v, integer) {
  const raw = Math.max(v, 1e-9) / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = [1, 2, 5, 10].map((m) => m * p).find((x) => x >= raw);
  if (integer) step = Math.max(1, Math.round(step));
  return { top: step * Math.max(1, Math.ceil(v / step - 1e-9)), step };
}

function axes(g, w, h, sc, unit, span) {
  const L = 42, B = 18, T = 8;
  g.strokeStyle = "#e3e6eb"; g.fillStyle = "#6b7280"; g.lineWidth = 1;
  const decimals = Math.max(0, -Math.floor(Math.log10(sc.step)));
  for (let v = 0; v <= sc.top * (1 + 1e-9); v += sc.step) {
    const y = T + (h - B - T) * (1 - v / sc.top);
    g.beginPath(); g.moveTo(L, y); g.lineTo(w - 4, y); g.stroke();
    g.fillText(v.toFixed(decimals) + (unit || ""), 2, y + 4);
  }
  g.fillText("-" + Math.round(span / 60) + " min", L, h - 4);
  g.fillText("now", w - 28, h - 4);
  return { L, B, T, pw: w - 4 - L, ph: h - B - T };
}

function legend(id, names) {
  const box = $(id);
  box.replaceChildren(...names.map(([name, color]) => {
    const sw = el("i"); sw.style.background = color;
    return el("span", {}, sw, name);
  }));
}

function drawCharts() {
  if (!$("tab-live").classList.contains("active")) return;
  const win = chartWindow();
  const bs = buckets(win);
  const per = `per ${win.bucket} s`;
  $("cap-traffic").textContent = `Requests ${per}, by decision`;
  $("cap-latency").textContent = `Latency ${per} (ms): p50, p95, p99`;
  $("cap-cache").textContent = `Cache hit ratio (line) and blocked requests (bars) ${per}`;
  // traffic by decision, stacked bars
  {
    const { g, w, h } = canvasCtx("chart-traffic");
    const names = [...new Set(state.records.map((r) => r.decision || "none"))];
    const sc = scale(Math.max(1, ...bs.map((b) => b.recs.length)), true);
    const a = axes(g, w, h, sc, "", win.span);
    const bw = a.pw / BUCKETS;
    bs.forEach((b, i) => {
      let y = a.T + a.ph;
      for (const name of names) {
        const n = b.recs.filter((r) => (r.decision || "none") === name).length;
        if (!n) continue;
        const bh = a.ph * n / sc.top;
        g.fillStyle = colorOf(name);
        g.fillRect(a.L + i * bw + 1, y - bh, bw - 2, bh);
        y -= bh;
      }
    });
    legend("legend-traffic", names.map((n) => [n, colorOf(n)]));
  }
  // latency percentiles
  {
    const { g, w, h } = canvasCtx("chart-latency");
    const series = [[0.5, "#1f9d55"], [0.95, "#d97706"], [0.99, "#d64545"]].map(([p, color]) => [p, color, bs.map((b) => {
      const lat = b.recs.map((r) => r.latency_ms).sort((x, y) => x - y);
      return percentile(lat, p);
    })]);
    const sc = scale(Math.max(1, ...series.flatMap((s) => s[2].filter((v) => v != null))), false);
    const a = axes(g, w, h, sc, "", win.span);
    // p99 first, with the largest markers: where few requests make the percentiles equal, all three show
    [...series].reverse().forEach(([, color, values], i) => line(g, a, values, sc.top, color, 4 - i));
    legend("legend-latency", series.map(([p, color]) => ["p" + Math.round(p * 100), color]));
  }
  // cache hit ratio and blocks
  {
    const { g, w, h } = canvasCtx("chart-cache");
    const blocks = bs.map((b) => b.recs.filter((r) => r.path === "blocked").length);
    const maxB = scale(Math.max(1, ...blocks), true).top;
    const a = axes(g, w, h, { top: 100, step: 25 }, "%", win.span);
    const bw = a.pw / BUCKETS;
    g.fillStyle = "rgba(217, 119, 6, 0.55)";
    blocks.forEach((n, i) => { if (n) { const bh = a.ph * n / maxB; g.fillRect(a.L + i * bw + 2, a.T + a.ph - bh, bw - 4, bh); } });
    const ratio = bs.map((b) => {
      const hits = b.recs.filter((r) => r.cache === "hit").length;
      const looked = hits + b.recs.filter((r) => r.cache === "miss").length;
      return looked ? 100 * hits / looked : null;
    });
    line(g, a, ratio, 100, "#2f6fde");
    if (blocks.some((n) => n)) { g.fillStyle = "#9a4a06"; g.fillText("bars: blocked, max " + maxB, w - 130, 16); }
  }
  // totals by model and category
  {
    const { g, w, h } = canvasCtx("chart-totals");
    const count = (key) => {
      const m = new Map();
      for (const r of state.records) m.set(r[key] || "none", (m.get(r[key] || "none") || 0) + 1);
      return [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6);
    };
    const rows = [...count("model").map(([k, v]) => ["model " + k, v]), ...count("category").map(([k, v]) => ["category " + k, v])];
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const rh = Math.min(18, (h - 8) / Math.max(1, rows.length));
    rows.forEach(([name, n], i) => {
      const y = 4 + i * rh;
      g.fillStyle = name.startsWith("model") ? "#1f9d55" : "#2f6fde";
      const bwid = (w - 200) * n / max;
      g.fillRect(160, y + 2, bwid, rh - 5);
      g.fillStyle = "#1d2330";
      g.fillText(name.length > 26 ? name.slice(0, 25) + "…" : name, 2, y + rh - 5);
      g.fillText(String(n), 164 + bwid, y + rh - 5);
    });
  }
}

function line(g, a, values, max, color, radius = 2.5) {
  g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
  const bw = a.pw / values.length;
  let started = false;
  values.forEach((v, i) => {
    if (v == null) { started = false; return; }
    const x = a.L + i * bw + bw / 2, y = a.T + a.ph * (1 - Math.min(v, max) / max);
    if (!started) { g.moveTo(x, y); started = true; } else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = color;
  values.forEach((v, i) => {
    if (v == null) return;
    g.beginPath(); g.arc(a.L + i * bw + bw / 2, a.T + a.ph * (1 - Math.min(v, max) / max), radius, 0, 7); g.fill();
  });
}

setInterval(() => { if (state.records.length) drawCharts(); }, 5000);
window.addEventListener("resize", () => drawCharts());

// ---------------------------------------------------------------------------- routing policy graph

async function loadPolicy() {
  const resp = await fetch("/api/v1/policy");
  // with a token configured the views need it: asked once, kept as a same-site cookie for this session
  // (EventSource cannot send an Authorization header; the cookie opens the read-only views only)
  $("login").classList.toggle("hidden", resp.status !== 401);
  if (!resp.ok) return;
  state.policy = await resp.json();
  const admin = state.policy.admin_enabled && state.policy.cache_enabled;
  $("admin").classList.toggle("hidden", !admin);
  drawPolicy();
}

function drawPolicy() {
  const p = state.policy;
  const svg = $("policy");
  if (!p || !$("tab-policy").classList.contains("active")) return;
  const NW = 200, NH = 40, GAP = 12, COLW = 360, TOP = 36;
  const decisions = [...p.decisions].sort((a, b) => (b.priority - a.priority) || (a.default - b.default));
  const cols = [p.signals, decisions, p.models];
  const height = TOP + Math.max(...cols.map((c) => c.length)) * (NH + GAP) + 10;
  const width = 40 + 2 * COLW + NW;
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const pos = new Map();
  const place = (items, col, kind) => items.forEach((it, i) => {
    const colH = items.length * (NH + GAP);
    const y0 = TOP + (height - TOP - colH) / 2;
    pos.set(kind + ":" + it.name, { x: 20 + col * COLW, y: y0 + i * (NH + GAP) });
  });
  place(p.signals, 0, "signal"); place(decisions, 1, "decision"); place(p.models, 2, "model");
  ["Signals", "Decisions (by priority)", "Models"].forEach((t, i) => svg.append(svgEl("text", { x: 20 + i * COLW, y: 18, class: "col-title" }, t)));
  const edges = svgEl("g"), nodes = svgEl("g");
  svg.append(edges, nodes);
  const edgeList = [];
  const curve = (a, b) => {
    const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
    return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
  };
  for (const d of decisions) {
    for (const s of d.signals) {
      const a = pos.get("signal:" + s), b = pos.get("decision:" + d.name);
      if (a && b) edgeList.push([edges.appendChild(svgEl("path", { d: curve(a, b), class: "edge" })), "signal:" + s, "decision:" + d.name]);
    }
    for (const m of d.models) {
      const a = pos.get("decision:" + d.name), b = pos.get("model:" + m.model);
      if (a && b) {
        const path = edges.appendChild(svgEl("path", { d: curve(a, b), class: "edge" }));
        path.append(svgEl("title", {}, `${d.name} → ${m.model} (score ${m.score})`));
        edgeList.push([path, "decision:" + d.name, "model:" + m.model]);
      }
    }
  }
  const node = (key, kind, title, sub, extra, detail) => {
    const { x, y } = pos.get(key);
    const g = svgEl("g", { class: `node ${kind} ${extra || ""}`, "data-node": key, transform: `translate(${x},${y})` });
    g.append(svgEl("rect", { width: NW, height: NH, rx: 6 }), svgEl("text", { x: 10, y: 17 }, title),
             svgEl("text", { x: 10, y: 32, fill: "#6b7280" }, sub));
    g.addEventListener("mouseenter", () => {
      for (const [path, from, to] of edgeList) path.classList.toggle("hot", from === key || to === key);
      g.classList.add("hot");
      $("policy-detail").textContent = detail;
    });
    g.addEventListener("mouseleave", () => { for (const [path] of edgeList) path.classList.remove("hot"); g.classList.remove("hot"); });
    nodes.append(g);
  };
  for (const s of p.signals) node("signal:" + s.name, "signal", s.name, s.type, "", `signal ${s.name} (${s.type})`);
  for (const d of decisions) {
    const sub = `priority ${d.priority}` + (d.use_reasoning ? ` · reasoning ${d.reasoning_effort}` : "") + (d.default ? " · default" : "");
    const detail = `${d.name}: ${d.description || ""} rules ${d.rules ? JSON.stringify(d.rules) : "(default only)"}; ` +
      `models ${d.models.map((m) => m.model + "@" + m.score).join(", ")} (${d.selection})` +
      (d.system_prompt ? `; system prompt (${d.system_prompt_mode}): ${d.system_prompt}` : "");
    node("decision:" + d.name, "decision", d.name, sub, (d.default ? "default " : "") + (d.use_reasoning ? "reasoning" : ""), detail);
  }
  for (const m of p.models) {
    const sub = `${m.family || "—"} · ${m.endpoints} endpoint${m.endpoints === 1 ? "" : "s"}`;
    const detail = `${m.name}: $${m.pricing.prompt_per_1m}/1M in, $${m.pricing.completion_per_1m}/1M out` +
      (m.fallback.length ? `; fallback ${m.fallback.join(", ")}` : "");
    node("model:" + m.name, "model", m.name, sub, "", detail);
  }
}

$("login-go").addEventListener("click", () => {
  document.cookie = "semrouter_token=" + encodeURIComponent($("read-token").value) + "; path=/; SameSite=Strict";
  loadPolicy();
  connect();
});

$("flush-cache").addEventListener("click", async () => {
  const resp = await fetch("/api/v1/cache/flush", { method: "POST", headers: { authorization: "Bearer " + $("admin-token").value } });
  const data = await resp.json().catch(() => ({}));
  $("admin-result").textContent = resp.ok ? `flushed ${data.flushed} entries` : (data.error && data.error.message) || resp.status;
});

// ---------------------------------------------------------------------------- playground

$("route").addEventListener("click", runPlayground);
$("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runPlayground(); });

async function runPlayground() {
  const text = $("prompt").value.trim();
  if (!text) return;
  $("route").disabled = true;
  try {
    const resp = await fetch("/api/v1/route", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) });
    const r = await resp.json();
    $("result").classList.remove("hidden");
    if (!resp.ok) { $("r-decision").textContent = (r.error && r.error.message) || "error " + resp.status; return; }
    $("r-decision").textContent = r.blocked ? `${r.decision} (blocked: ${r.block_reason})` : r.decision;
    $("r-decision").classList.toggle("bad", !!r.blocked);
    $("r-model").textContent = r.model || "—";
    $("r-category").textContent = r.category ? `${r.category}` + (r.category_confidence != null ? ` (${r.category_confidence.toFixed(2)})` : "") : "—";
    $("r-reasoning").textContent = r.reasoning ? `on (${r.reasoning_effort})` : "off";
    const d = state.policy && state.policy.decisions.find((x) => x.name === r.decision);
    $("r-system").textContent = r.system_prompt_injected && d && d.system_prompt ? `${d.system_prompt} (${d.system_prompt_mode})` : "none";
    const guards = [];
    if (r.pii && r.pii.detected) guards.push("PII: " + r.pii.entities.map((e) => e.type).join(", "));
    if (r.jailbreak && r.jailbreak.score != null) guards.push(`jailbreak ${r.jailbreak.detected ? "detected" : "no"} (${r.jailbreak.score})`);
    $("r-guards").textContent = guards.join("; ") || "—";
    $("r-latency").textContent = r.latency_ms.toFixed(1) + " ms";
    $("r-signals").replaceChildren(...Object.entries(r.signals).map(([name, s]) =>
      el("tr", {}, el("td", {}, name), el("td", {}, s.matched ? "yes" : "no"), el("td", {}, s.confidence.toFixed(3)), el("td", {}, s.value ?? ""))));
    const want = $("want-answer").checked && !r.blocked;
    $("answer-title").classList.toggle("hidden", !want);
    $("answer").classList.toggle("hidden", !want);
    if (want) {
      $("answer").textContent = "…";
      const model = (state.policy && state.policy.virtual_models[0]) || "auto";
      const ans = await fetch("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: text }] }) });
      const body = await ans.json();
      $("answer").textContent = ans.ok ? body.choices[0].message.content : (body.error && body.error.message) || String(ans.status);
    }
  } finally {
    $("route").disabled = false;
  }
}

// ---------------------------------------------------------------------------- start

loadPolicy();
connect();
