// The Reports page (#/reports/<pipeline>), a page of the router like the
// others: a period picker and three charts drawn as SVG by hand — time in
// stage (bars), conversion (a funnel), robot activity (stacked bars and a
// table, cards on phones) — over GET /v1/reports/{stage-time,conversion,
// robots}. On a phone the charts are drawn in a narrow layout (labels above
// the bars) so their text stays readable at the screen's width.
"use strict";
(function (B) {
  const { el, t } = B;
  const SVG = "http://www.w3.org/2000/svg";
  const STATUSES = ["done", "skipped", "cancelled", "failed", "loop_stopped"];
  const NARROW = 600; // px: below this the charts use the narrow layout
  // `today`: the last day of the server's default period (its clock's day).
  const state = { from: null, to: null, today: null, responsible: "" };

  const narrow = () => window.innerWidth < NARROW;
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) if (c) e.append(c);
    return e;
  }
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
  function short(s, n) { n = n || 26; return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return t("reports.sec", { n: Math.round(s) });
    if (s < 3600) return t("reports.min", { n: Math.round(s / 60) });
    if (s < 86400 * 2) return t("reports.hours", { n: (s / 3600).toFixed(1) });
    return t("reports.days", { n: (s / 86400).toFixed(1) });
  }
  const chartAttrs = (W, H, label, thin) => ({ viewBox: `0 0 ${W} ${H}`, class: "chart" + (thin ? " narrow" : ""), role: "img", "aria-label": label });

  // ------------------------------------------------------------ charts
  // Horizontal bars: one row per stage, bar = mean time, tick = p90. Wide:
  // label | bar | figures on one line; narrow: label and figures above the bar.
  function stageChart(report, thin) {
    const rows = report.stages;
    const max = Math.max(1, ...rows.map((r) => Math.max(r.mean_seconds || 0, r.p90_seconds || 0)));
    const W = thin ? 340 : 760, L = thin ? 0 : 200, R = thin ? 10 : 290, ROW = thin ? 50 : 30, H = rows.length * ROW + 10;
    const scale = (v) => ((W - L - R) * (v || 0)) / max;
    const figures = (r) => r.count ? `${duration(r.mean_seconds)} · ${t("reports.median")} ${duration(r.median_seconds)} · n=${r.count}` : t("reports.none");
    return svg("svg", chartAttrs(W, H, t("reports.stage_time"), thin),
      rows.map((r, i) => {
        const y = 5 + i * ROW, by = thin ? y + 24 : y + 4;
        return svg("g", { class: "row", "data-stage": r.stage_id },
          svg("text", thin ? { x: 0, y: y + 15, class: "label", text: short(r.name, 20) } : { x: L - 8, y: y + 18, "text-anchor": "end", class: "label", text: short(r.name) }),
          svg("rect", { x: L, y: by, width: Math.max(r.count ? 2 : 0, scale(r.mean_seconds)), height: 18, rx: 3, class: "bar sem-" + r.semantic },
            svg("title", { text: `${r.name}: ${t("reports.mean")} ${duration(r.mean_seconds)}, ${t("reports.median")} ${duration(r.median_seconds)}, p90 ${duration(r.p90_seconds)}` })),
          r.p90_seconds ? svg("line", { x1: L + scale(r.p90_seconds), x2: L + scale(r.p90_seconds), y1: by - 3, y2: by + 21, class: "p90" }) : null,
          svg("text", thin ? { x: W, y: y + 15, "text-anchor": "end", class: "value", text: figures(r) }
            : { x: L + scale(Math.max(r.mean_seconds || 0, r.p90_seconds || 0)) + 8, y: y + 18, class: "value", text: figures(r) }));
      }));
  }
  // A funnel: centred bars as wide as the entries, with the % of the previous.
  function funnelChart(report, thin) {
    const rows = report.stages;
    const max = Math.max(1, ...rows.map((r) => r.entered));
    const W = thin ? 340 : 760, ROW = thin ? 50 : 34, H = rows.length * ROW + 10, MID = thin ? 170 : 400, WIDTH = thin ? 300 : 380;
    return svg("svg", chartAttrs(W, H, t("reports.conversion"), thin),
      rows.map((r, i) => {
        const y = 5 + i * ROW, w = Math.max(r.entered ? 4 : 1, (WIDTH * r.entered) / max), by = thin ? y + 19 : y + 3;
        return svg("g", { class: "step", "data-stage": r.stage_id },
          svg("text", { x: thin ? 0 : 8, y: thin ? y + 14 : y + 20, class: "label", text: short(r.name, thin ? 30 : 26) }),
          svg("rect", { x: MID - w / 2, y: by, width: w, height: 24, rx: 3, class: "bar sem-" + r.semantic }),
          svg("text", { x: MID, y: by + 17, "text-anchor": "middle", class: "inbar", text: String(r.entered) }),
          svg("text", { x: thin ? W : W - 8, y: thin ? y + 14 : y + 20, "text-anchor": "end", class: "value",
            text: r.conversion_percent === null ? "" : r.conversion_percent + " %" }));
      }));
  }
  // Stacked bars of runs by status, one per robot; the legend wraps.
  function robotBars(robots, thin) {
    const max = Math.max(1, ...robots.map((r) => r.total));
    const W = thin ? 340 : 760, L = thin ? 0 : 200, ROW = thin ? 42 : 26, PER = thin ? 3 : 5, STEP = thin ? 112 : 92;
    const legendY = robots.length * ROW + 14;
    const H = legendY + Math.ceil(STATUSES.length / PER) * 20 + 4;
    const legend = STATUSES.map((s, i) => {
      const x = L + (i % PER) * STEP, y = legendY + Math.floor(i / PER) * 20;
      return svg("g", {}, svg("rect", { x, y, width: 12, height: 12, class: "st-" + s }),
        svg("text", { x: x + 16, y: y + 11, class: "legend", text: t("status." + s) }));
    });
    return svg("svg", chartAttrs(W, H, t("reports.robots"), thin),
      robots.map((r, i) => {
        const y = 5 + i * ROW, by = thin ? y + 18 : y + 3;
        let x = L;
        const parts = STATUSES.filter((s) => r.runs[s] > 0).map((s) => {
          const w = ((W - L - (thin ? 0 : 20)) * r.runs[s]) / max;
          const rect = svg("rect", { x, y: by, width: w, height: 18, class: "st-" + s },
            svg("title", { text: `${t("status." + s)}: ${r.runs[s]}` }));
          x += w;
          return rect;
        });
        return svg("g", { class: "robot", "data-robot": r.robot_id },
          svg("text", thin ? { x: 0, y: y + 13, class: "label", text: short(r.name || r.type, 40) }
            : { x: L - 8, y: y + 17, "text-anchor": "end", class: "label", text: short(r.name || r.type) },
          svg("title", { text: r.name || r.type })), parts);
      }), legend);
  }
  // The figures per robot: a table, one card per robot on phones.
  function robotTable(robots) {
    return el("div", { class: "scroll" }, el("table", { class: "runs reports-table stack" },
      el("thead", {}, el("tr", {}, el("th", { text: t("reports.robot") }),
        STATUSES.map((s) => el("th", { text: t("status." + s) })),
        el("th", { text: t("reports.late_p50") }), el("th", { text: t("reports.late_p99") }))),
      el("tbody", {}, robots.map((r) => el("tr", { "data-robot": r.robot_id },
        el("td", {}, el("strong", { text: r.name || r.type }), " ", el("span", { class: "type", text: r.type })),
        STATUSES.map((s) => el("td", { class: "num", "data-label": t("status." + s), text: String(r.runs[s]) })),
        el("td", { class: "num", "data-label": t("reports.late_p50"), text: r.lateness.count ? duration(r.lateness.p50_seconds) : "–" }),
        el("td", { class: "num", "data-label": t("reports.late_p99"), text: r.lateness.count ? duration(r.lateness.p99_seconds) : "–" }))))));
  }

  // ------------------------------------------------------------ page
  function csvButton(pid, report, extra) {
    return el("button", { type: "button", class: "csv", "data-report": report, text: t("reports.csv"), onclick: async () => {
      let r;
      try { r = await fetch(`/v1/reports/${report}?` + query(pid, extra), { headers: { Authorization: "Bearer " + B.key(), Accept: "text/csv" } }); }
      catch (_) { B.flash(t("error.network"), "error"); return; }
      if (!r.ok) { B.flash(t("error.generic") + " (" + r.status + ")", "error"); return; }
      const a = el("a", { href: URL.createObjectURL(new Blob([await r.text()], { type: "text/csv" })), download: `${report}_${state.from}_${state.to}.csv` });
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
      B.route();
    } });
    return el("form", { class: "panel picker", onsubmit: (e) => {
      e.preventDefault();
      state.from = from.value; state.to = to.value; state.responsible = who.value.trim();
      B.route();
    } },
      el("label", { for: "rep-from", text: t("reports.from") }), from,
      el("label", { for: "rep-to", text: t("reports.to") }), to,
      el("label", { for: "rep-responsible", text: t("reports.responsible") }), who,
      el("button", { type: "submit", class: "primary", text: t("reports.show") }),
      el("span", { class: "presets" }, preset(7), preset(30), preset(90)),
      el("span", { class: "hint", text: t("reports.utc") }));
  }
  function problem(res) {
    return el("p", { class: "field-error panel", role: "alert", text: B.errorText(res) });
  }

  B.reportsPage = async function (arg) {
    const pid = arg || B.pipelineId();
    const thin = narrow();
    const [st, conv, rob] = await Promise.all([
      B.api("GET", "/v1/reports/stage-time?" + query(pid, { responsible_id: state.responsible })),
      B.api("GET", "/v1/reports/conversion?" + query(pid)),
      B.api("GET", "/v1/reports/robots?" + query(pid)),
    ]);
    if (st.ok && !state.to) { state.from = st.data.from; state.to = st.data.to; state.today = st.data.to; }
    const sections = [];
    if (!st.ok) sections.push(problem(st));
    else sections.push(el("section", { class: "panel", id: "rep-stage-time" },
      el("h2", {}, t("reports.stage_time"), " ", csvButton(pid, "stage-time", { responsible_id: state.responsible })),
      el("p", { class: "hint", text: t("reports.stage_time_hint", { from: st.data.from, to: st.data.to }) }),
      stageChart(st.data, thin)));
    if (conv.ok) {
      const p = conv.data.processing_time;
      sections.push(el("section", { class: "panel", id: "rep-conversion" },
        el("h2", {}, t("reports.conversion"), " ", csvButton(pid, "conversion")),
        el("p", { class: "summary", text: t("reports.outcome", { won: conv.data.success, lost: conv.data.failure,
          mean: duration(p.mean_seconds), median: duration(p.median_seconds), n: p.count }) }),
        funnelChart(conv.data, thin)));
    } else if (st.ok) sections.push(problem(conv));
    if (rob.ok) {
      sections.push(el("section", { class: "panel", id: "rep-robots" },
        el("h2", {}, t("reports.robots"), " ", csvButton(pid, "robots")),
        rob.data.robots.length ? [robotBars(rob.data.robots, thin), robotTable(rob.data.robots)] : el("p", { text: t("reports.no_robots") })));
    } else if (st.ok) sections.push(problem(rob));
    await B.show(el("div", { id: "reports", class: "reports" },
      el("h1", { class: "page-title", text: t("reports.title") + " · " + pid }), picker(pid), ...sections));
  };

  // Crossing the phone width redraws the charts in the other layout.
  let wasNarrow = narrow();
  window.addEventListener("resize", () => {
    if (narrow() === wasNarrow) return;
    wasNarrow = narrow();
    if ((location.hash || "").startsWith("#/reports")) B.route();
  });
})(window.Board = window.Board || {});
