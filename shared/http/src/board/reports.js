// The Reports page (#/reports/<pipeline>): a period picker and three
// charts drawn as SVG by hand — time in stage (bars), conversion (a
// funnel), robot activity (a table with stacked bars) — over
// GET /v1/reports/{stage-time,conversion,robots}. It keeps to itself: its
// own container next to #main (shown instead of it on #/reports), its own
// nav link (kept in the header's nav when app.js redraws it), the texts of
// strings.js, the key and language app.js stores.
"use strict";
(function (B) {
  const SVG = "http://www.w3.org/2000/svg";
  const STATUSES = ["done", "skipped", "cancelled", "failed", "loop_stopped"];
  const $main = document.getElementById("main");
  const $nav = document.getElementById("nav");
  const $link = document.getElementById("nav-reports");
  const $page = document.createElement("main");
  $page.id = "reports";
  $page.hidden = true;
  $main.after($page);
  // `today`: the last day of the server's default period (its clock's day).
  const state = { from: null, to: null, today: null, responsible: "" };

  function lang() { return localStorage.getItem("crm.lang") || "en"; }
  function t(key, vars) {
    const table = window.STRINGS[lang()] || window.STRINGS.en;
    let s = table[key] !== undefined ? table[key] : window.STRINGS.en[key];
    if (s === undefined) return key;
    if (vars) for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(vars[k]);
    return s;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) if (c) e.append(c);
    return e;
  }
  function key() { return sessionStorage.getItem("crm.key"); }
  function pipelineId(arg) { return arg || localStorage.getItem("crm.pipeline") || "deals"; }
  function iso(d) { return d.toISOString().slice(0, 10); }
  // No period chosen yet: the server's default (the last 30 days by its
  // clock, which may be a manual one), then shown in the picker.
  function query(pid, extra) {
    const q = new URLSearchParams({ pipeline_id: pid });
    if (state.from) q.set("from", state.from);
    if (state.to) q.set("to", state.to);
    for (const [k, v] of Object.entries(extra || {})) if (v) q.set(k, v);
    return q.toString();
  }
  async function get(path, accept) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + key(), Accept: accept || "application/json" } });
    const text = await r.text();
    let data = null;
    if (!accept) { try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; } }
    return { ok: r.ok, status: r.status, data, text };
  }
  function short(s) { return s.length > 26 ? s.slice(0, 25) + "…" : s; }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return t("reports.sec", { n: Math.round(s) });
    if (s < 3600) return t("reports.min", { n: Math.round(s / 60) });
    if (s < 86400 * 2) return t("reports.hours", { n: (s / 3600).toFixed(1) });
    return t("reports.days", { n: (s / 86400).toFixed(1) });
  }

  // ------------------------------------------------------------ charts
  // Horizontal bars: one row per stage, bar = mean time, tick = p90.
  function stageChart(report) {
    const rows = report.stages;
    const max = Math.max(1, ...rows.map((r) => Math.max(r.mean_seconds || 0, r.p90_seconds || 0)));
    const W = 760, L = 200, R = 290, ROW = 30, H = rows.length * ROW + 10;
    const scale = (v) => ((W - L - R) * (v || 0)) / max;
    return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("reports.stage_time") },
      rows.map((r, i) => {
        const y = 5 + i * ROW;
        return svg("g", { class: "row", "data-stage": r.stage_id },
          svg("text", { x: L - 8, y: y + 18, "text-anchor": "end", class: "label", text: short(r.name) }),
          svg("rect", { x: L, y: y + 4, width: Math.max(r.count ? 2 : 0, scale(r.mean_seconds)), height: 18, rx: 3, class: "bar sem-" + r.semantic },
            svg("title", { text: `${r.name}: ${t("reports.mean")} ${duration(r.mean_seconds)}, ${t("reports.median")} ${duration(r.median_seconds)}, p90 ${duration(r.p90_seconds)}` })),
          r.p90_seconds ? svg("line", { x1: L + scale(r.p90_seconds), x2: L + scale(r.p90_seconds), y1: y + 1, y2: y + 25, class: "p90" }) : null,
          svg("text", { x: L + scale(Math.max(r.mean_seconds || 0, r.p90_seconds || 0)) + 8, y: y + 18, class: "value",
            text: r.count ? `${duration(r.mean_seconds)} · ${t("reports.median")} ${duration(r.median_seconds)} · n=${r.count}` : t("reports.none") }));
      }));
  }
  // A funnel: centred bars as wide as the entries, with the % of the previous.
  function funnelChart(report) {
    const rows = report.stages;
    const max = Math.max(1, ...rows.map((r) => r.entered));
    const W = 760, ROW = 34, H = rows.length * ROW + 10, MID = 400, WIDTH = 380;
    return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("reports.conversion") },
      rows.map((r, i) => {
        const y = 5 + i * ROW, w = Math.max(r.entered ? 4 : 1, (WIDTH * r.entered) / max);
        return svg("g", { class: "step", "data-stage": r.stage_id },
          svg("text", { x: 8, y: y + 20, class: "label", text: short(r.name) }),
          svg("rect", { x: MID - w / 2, y: y + 3, width: w, height: 24, rx: 3, class: "bar sem-" + r.semantic }),
          svg("text", { x: MID, y: y + 20, "text-anchor": "middle", class: "inbar", text: String(r.entered) }),
          svg("text", { x: W - 8, y: y + 20, "text-anchor": "end", class: "value",
            text: r.conversion_percent === null ? "" : r.conversion_percent + " %" }));
      }));
  }
  // Stacked bars of runs by status, one per robot.
  function robotBars(robots) {
    const max = Math.max(1, ...robots.map((r) => r.total));
    const W = 760, L = 200, ROW = 26, H = robots.length * ROW + 34;
    let legendX = L;
    const legend = STATUSES.map((s) => {
      const g = svg("g", {}, svg("rect", { x: legendX, y: robots.length * ROW + 14, width: 12, height: 12, class: "st-" + s }),
        svg("text", { x: legendX + 16, y: robots.length * ROW + 25, class: "legend", text: t("status." + s) }));
      legendX += 92;
      return g;
    });
    return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("reports.robots") },
      robots.map((r, i) => {
        const y = 5 + i * ROW;
        let x = L;
        const parts = STATUSES.filter((s) => r.runs[s] > 0).map((s) => {
          const w = ((W - L - 20) * r.runs[s]) / max;
          const rect = svg("rect", { x, y: y + 3, width: w, height: 18, class: "st-" + s },
            svg("title", { text: `${t("status." + s)}: ${r.runs[s]}` }));
          x += w;
          return rect;
        });
        return svg("g", { class: "robot", "data-robot": r.robot_id },
          svg("text", { x: L - 8, y: y + 17, "text-anchor": "end", class: "label", text: short(r.name || r.type) },
            svg("title", { text: r.name || r.type })), parts);
      }), legend);
  }
  function robotTable(robots) {
    return el("div", { class: "table-scroll" }, el("table", { class: "runs reports-table" },
      el("thead", {}, el("tr", {}, el("th", { text: t("reports.robot") }),
        STATUSES.map((s) => el("th", { text: t("status." + s) })),
        el("th", { text: t("reports.late_p50") }), el("th", { text: t("reports.late_p99") }))),
      el("tbody", {}, robots.map((r) => el("tr", { "data-robot": r.robot_id },
        el("td", {}, el("strong", { text: r.name || r.type }), " ", el("span", { class: "type", text: r.type })),
        STATUSES.map((s) => el("td", { class: "num", text: String(r.runs[s]) })),
        el("td", { class: "num", text: r.lateness.count ? duration(r.lateness.p50_seconds) : "–" }),
        el("td", { class: "num", text: r.lateness.count ? duration(r.lateness.p99_seconds) : "–" }))))));
  }

  // ------------------------------------------------------------ page
  function csvButton(pid, report, extra) {
    return el("button", { type: "button", class: "csv", "data-report": report, text: t("reports.csv"), onclick: async () => {
      const r = await get(`/v1/reports/${report}?` + query(pid, extra), "text/csv");
      if (!r.ok) return;
      const a = el("a", { href: URL.createObjectURL(new Blob([r.text], { type: "text/csv" })), download: `${report}_${state.from}_${state.to}.csv` });
      document.body.append(a); a.click(); a.remove();
    } });
  }
  function picker(pid) {
    const from = el("input", { type: "date", id: "rep-from", value: state.from, required: true });
    const to = el("input", { type: "date", id: "rep-to", value: state.to, required: true });
    const who = el("input", { id: "rep-responsible", value: state.responsible, size: 10, placeholder: t("reports.everyone") });
    const preset = (days) => el("button", { type: "button", "data-days": days, text: t("reports.last_days", { n: days }), onclick: () => {
      const end = new Date(state.today || to.value || iso(new Date()));
      state.to = iso(end); state.from = iso(new Date(end.getTime() - (days - 1) * 86400000));
      render(pid);
    } });
    return el("form", { class: "panel picker", onsubmit: (e) => {
      e.preventDefault();
      state.from = from.value; state.to = to.value; state.responsible = who.value.trim();
      render(pid);
    } },
      el("label", { for: "rep-from", text: t("reports.from") }), from,
      el("label", { for: "rep-to", text: t("reports.to") }), to,
      el("label", { for: "rep-responsible", text: t("reports.responsible") }), who,
      el("button", { type: "submit", class: "primary", text: t("reports.show") }),
      preset(7), preset(30), preset(90),
      el("span", { class: "hint", text: t("reports.utc") }));
  }
  function problem(res) {
    const e = res.data && res.data.error;
    return el("p", { class: "field-error", role: "alert", text: e ? e.message : t("error.generic") + " (" + res.status + ")" });
  }
  async function render(arg) {
    const pid = pipelineId(arg);
    $page.replaceChildren(el("h1", { text: t("reports.title") }), picker(pid), el("p", { text: t("loading") }));
    const [st, conv, rob] = await Promise.all([
      get("/v1/reports/stage-time?" + query(pid, { responsible_id: state.responsible })),
      get("/v1/reports/conversion?" + query(pid)),
      get("/v1/reports/robots?" + query(pid)),
    ]);
    if (st.ok && !state.to) { state.from = st.data.from; state.to = st.data.to; state.today = st.data.to; }
    const sections = [];
    if (!st.ok) sections.push(problem(st));
    else sections.push(el("section", { class: "panel", id: "rep-stage-time" },
      el("h2", {}, t("reports.stage_time"), " ", csvButton(pid, "stage-time", { responsible_id: state.responsible })),
      el("p", { class: "hint", text: t("reports.stage_time_hint", { from: st.data.from, to: st.data.to }) }),
      stageChart(st.data)));
    if (conv.ok) {
      const p = conv.data.processing_time;
      sections.push(el("section", { class: "panel", id: "rep-conversion" },
        el("h2", {}, t("reports.conversion"), " ", csvButton(pid, "conversion")),
        el("p", { class: "summary", text: t("reports.outcome", { won: conv.data.success, lost: conv.data.failure,
          mean: duration(p.mean_seconds), median: duration(p.median_seconds), n: p.count }) }),
        funnelChart(conv.data)));
    } else if (st.ok) sections.push(problem(conv));
    if (rob.ok) {
      sections.push(el("section", { class: "panel", id: "rep-robots" },
        el("h2", {}, t("reports.robots"), " ", csvButton(pid, "robots")),
        rob.data.robots.length ? [robotBars(rob.data.robots), robotTable(rob.data.robots)] : el("p", { text: t("reports.no_robots") })));
    } else if (st.ok) sections.push(problem(rob));
    $page.replaceChildren(el("h1", { text: t("reports.title") + " · " + pid }), picker(pid), ...sections);
  }

  // ------------------------------------------------------------ wiring
  function placeLink() {
    if (!$link || !key()) { if ($link) $link.hidden = !key(); return; }
    $link.hidden = false;
    $link.href = "#/reports/" + encodeURIComponent(pipelineId());
    $link.textContent = t("nav.reports");
    if ($link.parentElement !== $nav) {
      const before = $nav.querySelector("label.pipe");
      $nav.insertBefore($link, before);
    }
    const on = (location.hash || "").startsWith("#/reports");
    $link.classList.toggle("active", on);
    if (on) $nav.querySelectorAll("a.active").forEach((a) => { if (a !== $link) a.classList.remove("active"); });
  }
  function show() {
    const [, page, arg] = (location.hash || "").split("/");
    const on = page === "reports" && key();
    $page.hidden = !on;
    $main.hidden = !!on;
    placeLink();
    if (on) render(arg ? decodeURIComponent(arg) : null);
  }
  new MutationObserver(placeLink).observe($nav, { childList: true });
  window.addEventListener("hashchange", show);
  document.getElementById("lang").addEventListener("change", () => setTimeout(show, 0));
  show();
  B.reportsPage = show;
})(window.Board = window.Board || {});
