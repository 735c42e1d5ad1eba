// The item page (#/item/<id>): fields, the stage bar, the run log that
// answers "why did or didn't my robot run" (status, reason — and a message
// of the run that failed, bounced or was marked as spam —, due time in the
// viewer's time zone, outputs; "run now" for a pending robot, "stop
// automation" for the visit), the item's tasks and activities, and the
// timeline filtered by kind. Every list pages.
"use strict";
(function (B) {
  const { el, t } = B;
  // The timeline kinds (crm-core's TIMELINE_KINDS).
  const KINDS = ["created", "stage_changed", "fields_changed", "responsible_changed", "info", "comment",
    "task_created", "task_status", "task_completed", "activity_planned", "activity_completed", "email_sent", "sms_sent", "call_sent", "messenger_sent"];

  B.itemPage = async function (id, kindArg) {
    const enc = B.enc(id);
    const [it, dir] = await Promise.all([B.api("GET", "/v1/items/" + enc), B.directory()]);
    if (!it.ok) { await B.show(B.panelError(B.errorText(it))); return; }
    const item = it.data;
    const pbase = "/v1/pipelines/" + B.enc(item.pipeline_id);
    const [p, robots, triggers] = await Promise.all([B.api("GET", pbase), B.loadAll(pbase + "/robots", "robots"), B.loadAll(pbase + "/triggers", "triggers")]);
    const stages = p.ok ? p.data.stages : [];
    const names = {};
    for (const r of robots || []) names[r.id] = r.name + " (" + r.type + ")";
    for (const x of triggers || []) names[x.id] = t("item.trigger") + ": " + x.name + " (" + x.type + ")";
    const stageName = (sid) => (stages.find((s) => s.id === sid) || { name: sid }).name;
    const ctx = { item, stages, names, stageName, dir };
    const kinds = (kindArg || "").split(",").filter((k) => KINDS.includes(k));
    const fields = [[t("item.id"), item.id], [t("kanban.title"), item.title], [t("kanban.amount"), B.money(item)],
      [t("kanban.responsible"), B.userName(item.responsible_id)],
      [t("item.client"), [item.client.name, item.client.phone, item.client.email].filter(Boolean).join(", ")],
      [t("item.created"), B.fmt(item.created_at)], [t("item.visit"), t("item.visit_since", { n: item.visit, at: B.fmt(item.visit_started_at) })]]
      .concat(Object.entries(item.fields || {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    await B.show(el("div", { class: "item-page" },
      el("p", {}, el("a", { href: "#/kanban/" + B.enc(item.pipeline_id), text: "← " + t("item.back") })),
      el("h1", { text: item.title }),
      el("ol", { class: "stagebar", "aria-label": t("item.stage") }, stages.map((s) => el("li", { class: s.id === item.stage_id ? "current" : null, "aria-current": s.id === item.stage_id ? "step" : null, text: s.name }))),
      el("div", { class: "item-grid" },
        el("section", { class: "panel" }, el("h2", { text: t("item.fields") }), el("dl", { class: "fields" }, fields.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v || "—" })]))),
        workPanel(ctx)),
      runsPanel(ctx),
      B.itemDocumentsPanel ? B.itemDocumentsPanel(item) : null,
      timelinePanel(ctx, kinds)));
  };

  // ---------------------------------------------------------------- run log
  function runsPanel(ctx) {
    const { item } = ctx;
    const runNow = B.has("post", "/v1/items/{}/runs/{}/run-now");
    const stop = B.has("post", "/v1/items/{}/stop-automation");
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "runs-table stack" },
      el("thead", {}, el("tr", {}, [t("run.what"), t("item.stage"), t("run.status"), t("run.reason"), t("run.due"), t("run.finished"), t("run.outputs"), ""].map((h) => el("th", { text: h })))),
      tbody));
    const list = B.pager({ path: "/v1/items/" + B.enc(item.id) + "/runs", key: "runs", list: tbody, outer: table, empty: t("run.none"),
      render: (r) => runRow(ctx, r, runNow) });
    const stopBtn = stop ? el("button", { type: "button", class: "stop danger", text: t("item.stop"), onclick: () => stopAutomation(ctx) }) : null;
    return el("section", { class: "panel runs" },
      el("div", { class: "panel-head" }, el("h2", { text: t("item.runs") }), stopBtn),
      el("p", { class: "hint", text: t("item.runs_hint") }),
      list);
  }

  function runRow(ctx, r, runNow) {
    const current = r.visit === ctx.item.visit && r.stage_id === ctx.item.stage_id;
    const canRun = runNow && r.kind === "robot" && r.status === "pending" && current;
    const outputs = Object.entries(r.outputs || {});
    const L = (k) => t(k);
    return el("tr", { class: "run status-" + r.status, "data-robot": r.robot_id || r.trigger_id || "", "data-run": r.id },
      el("td", { class: "what", text: ctx.names[r.robot_id || r.trigger_id] || r.robot_id || r.trigger_id || r.kind }),
      el("td", { "data-label": L("item.stage"), text: ctx.stageName(r.stage_id) + " #" + r.visit }),
      el("td", { "data-label": L("run.status") }, el("span", { class: "badge " + r.status, text: t("status." + r.status) })),
      el("td", { class: "reason", "data-label": L("run.reason") }, r.reason || "", delivery(r.delivery)),
      el("td", { "data-label": L("run.due"), text: r.due_at ? B.fmt(r.due_at) : r.status === "pending" ? t("run.waits_previous") : "" }),
      el("td", { "data-label": L("run.finished"), text: B.fmt(r.finished_at) }),
      el("td", { class: "outputs", "data-label": L("run.outputs") }, outputs.map(([k, v]) => el("div", {}, el("code", { text: k }), " ", outputValue(k, v)))),
      el("td", { class: "act" }, canRun ? el("button", { type: "button", class: "run-now", text: t("run.now"), "aria-label": t("run.now") + ": " + (ctx.names[r.robot_id] || r.robot_id), onclick: (e) => runNowClick(ctx, r, e.target) }) : null));
  }

  // The run's message that did not arrive (failed, bounced, marked as spam).
  function delivery(d) {
    if (!d) return null;
    return el("div", { class: "delivery " + d.status, title: B.fmt(d.at),
      text: t("run.delivery." + d.status, { to: d.to, reason: d.reason }) });
  }

  // A chat or an item an output names links to its page.
  function outputValue(k, v) {
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (k === "chat_id" && typeof v === "string") return el("a", { href: "#/activity/chat/" + B.enc(v), text });
    if (k === "item_id" && typeof v === "string") return el("a", { href: "#/item/" + B.enc(v), text });
    return text;
  }

  async function runNowClick(ctx, r, btn) {
    btn.disabled = true;
    const res = await B.api("POST", "/v1/items/" + B.enc(ctx.item.id) + "/runs/" + B.enc(r.id) + "/run-now", {});
    if (!res.ok) { btn.disabled = false; B.flash(B.errorText(res), "error"); return; }
    await B.route();
    B.flash(t("run.now_done"), "ok");
  }

  async function stopAutomation(ctx) {
    const reason = await B.confirmDialog(t("item.stop_confirm"), { reason: true, ok: t("item.stop"), title: t("item.stop") });
    if (!reason) return;
    const body = typeof reason === "string" ? { reason } : {};
    const res = await B.api("POST", "/v1/items/" + B.enc(ctx.item.id) + "/stop-automation", body);
    if (!res.ok) { B.flash(B.errorText(res), "error"); return; }
    await B.route();
    B.flash(t("item.stopped", { n: res.data.cancelled }), "ok");
  }

  // ---------------------------------------------------------------- tasks, activities
  function workPanel(ctx) {
    const { item } = ctx;
    const tasks = B.pager({ path: "/v1/tasks?item_id=" + B.enc(item.id), key: "tasks", empty: t("work.no_tasks"), limit: 10,
      render: (task) => B.taskRow(task) });
    const acts = B.pager({ path: "/v1/activities?item_id=" + B.enc(item.id), key: "activities", empty: t("work.no_activities"), limit: 10,
      render: (a) => B.activityRow(a) });
    return el("section", { class: "panel work" },
      el("h2", { text: t("work.tasks") }), tasks,
      el("h2", { text: t("work.activities") }), acts);
  }

  // ---------------------------------------------------------------- timeline
  function timelinePanel(ctx, kinds) {
    const { item } = ctx;
    const serverFilter = B.hasParam("get", "/v1/items/{}/timeline", "kind");
    const chosen = new Set(kinds);
    const apply = () => {
      const k = [...chosen].join(",");
      history.replaceState(null, "", "#/item/" + B.enc(item.id) + (k ? "/" + k : ""));
      holder.replaceChildren(list(k));
    };
    const list = (k) => B.pager({
      path: "/v1/items/" + B.enc(item.id) + "/timeline" + (k && serverFilter ? "?kind=" + B.enc(k) : ""),
      key: "entries", list: el("ol", { class: "timeline" }), empty: t("timeline.none"),
      // Filtered here as well: the same answer with or without the server's filter.
      filter: (e) => !chosen.size || chosen.has(e.kind),
      render: (e) => el("li", { "data-kind": e.kind },
        el("time", { datetime: e.at, text: B.fmt(e.at) }), " ", el("span", { class: "kind", text: t("kind." + e.kind) }), " ",
        e.author_id ? el("span", { class: "author", text: B.userName(e.author_id) + ": " }) : null, e.text || ""),
    });
    const holder = el("div", {}, list(kinds.join(",")));
    const chips = el("div", { class: "filters", role: "group", "aria-label": t("timeline.filter") },
      KINDS.map((k) => el("label", { class: "filter" },
        el("input", { type: "checkbox", value: k, checked: chosen.has(k), onchange: (e) => { e.target.checked ? chosen.add(k) : chosen.delete(k); apply(); } }),
        " ", t("kind." + k))));
    return el("section", { class: "panel" }, el("h2", { text: t("item.timeline") }),
      el("details", { class: "filter-box", open: kinds.length ? true : null }, el("summary", { text: t("timeline.filter") }), chips),
      holder);
  }
})(window.Board = window.Board || {});
