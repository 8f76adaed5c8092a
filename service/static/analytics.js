// The analytics page: reads the plan's routes of this service and draws SVG charts (no library, no CDN).
"use strict";

const body = document.body;
const eventId = body.dataset.eventId;
const timezone = body.dataset.timezone;
const api = `/api/events/${encodeURIComponent(eventId)}/analytics`;
const number = new Intl.NumberFormat("en-US");
const SVG = "http://www.w3.org/2000/svg";
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const CARDS = [
  ["total_views", "Views"],
  ["total_unique_views", "Unique views"],
  ["total_clicks", "Clicks"],
  ["total_shares", "Shares"],
  ["total_favorites", "Favorites"],
  ["total_ticket_clicks", "Ticket clicks"],
  ["total_external_clicks", "External clicks"],
  ["views_24h", "Views, 24 h"],
  ["views_7d", "Views, 7 days"],
  ["views_30d", "Views, 30 days"],
  ["avg_time_on_page_seconds", "Avg time on page"],
  ["bounce_rate", "Bounce rate"],
  ["peak_hour", "Peak hour"],
  ["peak_day", "Peak day"],
];

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(`${response.status} ${message}`);
  }
  return response.json();
}

function formatMetric(name, value) {
  if (value === null || value === undefined) return "–";
  if (name === "avg_time_on_page_seconds") return `${Number(value).toFixed(1)} s`;
  if (name === "bounce_rate") return `${(Number(value) * 100).toFixed(1)} %`;
  if (name === "peak_hour") return `${String(value).padStart(2, "0")}:00`;
  if (typeof value === "number") return number.format(value);
  return String(value);
}

function renderSummary(summary) {
  const box = document.getElementById("summary");
  box.replaceChildren();
  for (const [name, label] of CARDS) {
    const card = el("div", { class: "card", "data-metric": name, "data-value": summary[name] ?? "" });
    card.append(el("div", { class: "label" }, label), el("div", { class: "value" }, formatMetric(name, summary[name])));
    box.append(card);
  }
}

function renderBars(id, counts) {
  const box = document.getElementById(id);
  box.replaceChildren();
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
  if (!entries.length) { box.append(el("p", { class: "empty" }, "no data yet")); return; }
  const top = entries[0][1] || 1;
  for (const [name, count] of entries) {
    const row = el("div", { class: "bar-row", "data-key": name, "data-count": count });
    const track = el("div", { class: "track" });
    track.append(el("div", { class: "fill", style: `width:${Math.max(1, (100 * count) / top)}%` }));
    row.append(el("span", { class: "name", title: name }, name), track, el("span", { class: "count" }, number.format(count)));
    box.append(row);
  }
}

function tickLabel(iso, period) {
  const options = { timeZone: timezone };
  if (period === "hour") Object.assign(options, { month: "short", day: "numeric", hour: "2-digit", hourCycle: "h23" });
  else if (period === "month") Object.assign(options, { year: "numeric", month: "short" });
  else Object.assign(options, { month: "short", day: "numeric" });
  return new Intl.DateTimeFormat("en-GB", options).format(new Date(iso));
}

function renderTimeline(rows, period) {
  const box = document.getElementById("timeline");
  box.replaceChildren();
  box.dataset.period = period;
  box.dataset.points = rows.length;
  box.dataset.totalViews = rows.reduce((sum, r) => sum + r.views_count, 0);
  if (!rows.length) { box.append(el("p", { class: "empty" }, "no rows for this period type yet")); return; }
  const W = 900, H = 260, left = 48, right = 12, top = 12, bottom = 36;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `views per ${period}` });
  const max = Math.max(1, ...rows.map((r) => r.views_count));
  const x = (i) => left + (rows.length === 1 ? (W - left - right) / 2 : (i * (W - left - right)) / (rows.length - 1));
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  for (let k = 0; k <= 4; k++) {
    const value = Math.round((max * k) / 4);
    chart.append(svg("line", { x1: left, x2: W - right, y1: y(value), y2: y(value), stroke: "#e3e6ee" }));
    chart.append(svg("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7385" }, number.format(value)));
  }
  const step = Math.max(1, Math.ceil(rows.length / 8));
  rows.forEach((r, i) => {
    if (i % step !== 0) return;
    // The outermost labels hang inwards so that they are not cut at the edges.
    const anchor = rows.length > 1 && i === 0 ? "start" : rows.length > 1 && i === rows.length - 1 ? "end" : "middle";
    chart.append(svg("text", { x: x(i), y: H - 14, "text-anchor": anchor, "font-size": 11, fill: "#6b7385" }, tickLabel(r.period_start, period)));
  });
  for (const [field, color] of [["views_count", "#3b6fd8"], ["unique_views_count", "#e0803a"]]) {
    const points = rows.map((r, i) => `${x(i).toFixed(1)},${y(r[field]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2, "data-series": field }));
    rows.forEach((r, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(r[field]), r: 2.5, fill: color });
      dot.append(svg("title", {}, `${tickLabel(r.period_start, period)}: ${number.format(r[field])} ${field === "views_count" ? "views" : "unique views"}`));
      chart.append(dot);
    });
  }
  box.append(chart);
}

const localParts = new Intl.DateTimeFormat("en-US", { timeZone: timezone, weekday: "short", hour: "2-digit", hourCycle: "h23" });

function renderHeatmap(rows) {
  const grid = Array.from({ length: 7 }, () => new Array(24).fill(0));
  for (const r of rows) {
    const parts = Object.fromEntries(localParts.formatToParts(new Date(r.period_start)).map((p) => [p.type, p.value]));
    grid[WEEKDAYS.indexOf(parts.weekday)][Number(parts.hour) % 24] += r.views_count;
  }
  const box = document.getElementById("heatmap");
  box.replaceChildren();
  const max = Math.max(1, ...grid.flat());
  box.dataset.totalViews = grid.flat().reduce((a, b) => a + b, 0);
  const cell = 30, left = 40, top = 18;
  const chart = svg("svg", { viewBox: `0 0 ${left + 24 * cell + 4} ${top + 7 * cell + 4}`, role: "img", "aria-label": "views by weekday and hour" });
  for (let h = 0; h < 24; h += 3) chart.append(svg("text", { x: left + h * cell + cell / 2, y: 12, "text-anchor": "middle", "font-size": 11, fill: "#6b7385" }, String(h).padStart(2, "0")));
  WEEKDAYS.forEach((day, d) => {
    chart.append(svg("text", { x: left - 6, y: top + d * cell + cell / 2 + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7385" }, day));
    for (let h = 0; h < 24; h++) {
      const v = grid[d][h];
      const shade = v === 0 ? "#f0f2f7" : `rgba(59,111,216,${(0.15 + (0.85 * v) / max).toFixed(3)})`;
      const rect = svg("rect", { x: left + h * cell + 1, y: top + d * cell + 1, width: cell - 2, height: cell - 2, rx: 3, fill: shade, "data-views": v });
      rect.append(svg("title", {}, `${day} ${String(h).padStart(2, "0")}:00 – ${number.format(v)} views`));
      chart.append(rect);
    }
  });
  box.append(chart);
}

async function loadTimeline(period) {
  for (const b of document.querySelectorAll("#period-selector button")) b.classList.toggle("active", b.dataset.period === period);
  renderTimeline(await getJSON(`${api}/periods?period_type=${period}`), period);
}

async function main() {
  const status = document.getElementById("status");
  try {
    const since = new Date(Date.now() - 28 * 86400 * 1000).toISOString();
    const [summary, allTime, hours] = await Promise.all([
      getJSON(api),
      getJSON(`${api}/periods?period_type=all_time`),
      getJSON(`${api}/periods?period_type=hour&start_date=${encodeURIComponent(since)}`),
    ]);
    renderSummary(summary);
    renderBars("sources", summary.traffic_sources);
    renderBars("devices", summary.device_types);
    const row = allTime[0] || {};
    renderBars("ages", row.age_groups);
    renderBars("genders", row.genders);
    renderHeatmap(hours);
    await loadTimeline("day");
    status.textContent = summary.as_of ? `figures as of ${new Date(summary.as_of).toISOString().slice(0, 16).replace("T", " ")} UTC` : "no figures yet";
    body.dataset.ready = "true";
  } catch (exc) {
    status.textContent = `could not load: ${exc.message}`;
    body.dataset.ready = "error";
  }
  for (const b of document.querySelectorAll("#period-selector button")) {
    b.addEventListener("click", () => loadTimeline(b.dataset.period).catch((exc) => { document.getElementById("status").textContent = exc.message; }));
  }
}

main();
