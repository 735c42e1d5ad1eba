// "What the robots did" (#/activity/<tab>/<arg>): per user their
// notifications, direct messages, tasks and activities; the company feed;
// the chats (list, then one chat's messages); the outbox of emails and SMS.
// Every list pages. Also the task and activity rows the item page shows.
"use strict";
(function (B) {
  const { el, t } = B;
  const TABS = ["user", "feed", "chats", "outbox"];
  const TASK_STATUSES = ["pending", "in_progress", "completed", "deferred"];

  B.activityPage = async function (tab, arg) {
    if (!TABS.includes(tab) && tab !== "chat") tab = "user";
    const dir = await B.directory();
    const tabs = el("nav", { class: "tabs", "aria-label": t("nav.activity") },
      TABS.map((k) => el("a", { href: "#/activity/" + k, class: (tab === k || (tab === "chat" && k === "chats")) ? "active" : null,
        "aria-current": tab === k ? "page" : null, text: t("activity.tab." + k) })));
    let body;
    if (tab === "feed") body = feed();
    else if (tab === "chats") body = chats();
    else if (tab === "chat") body = await chat(arg);
    else if (tab === "outbox") body = outbox(arg);
    else body = perUser(dir, arg);
    await B.show(el("h1", { class: "page-title", text: t("activity.title") }), tabs, body);
  };

  const at = (s) => el("time", { datetime: s, text: B.fmt(s) });
  const who = (id) => el("span", { class: "who", text: B.userName(id) });

  // ---------------------------------------------------------------- per user
  function perUser(dir, userId) {
    userId = userId || localStorage.getItem("crm.activity.user") || (dir.users.find((u) => u.id === "u-boss") || dir.users[0] || { id: "u-boss" }).id;
    localStorage.setItem("crm.activity.user", userId);
    const picker = dir.available ? B.personPicker("activity-user", dir, userId) : { node: el("input", { id: "activity-user", type: "text", value: userId }) };
    const form = el("form", { class: "toolbar", onsubmit: (e) => {
      e.preventDefault();
      if (picker.node.value) location.hash = "#/activity/user/" + B.enc(picker.node.value);
    } }, B.field("user_id", t("activity.user"), picker.node), el("button", { type: "submit", text: t("activity.show") }));
    if (picker.node.tagName === "SELECT") picker.node.addEventListener("change", () => form.requestSubmit());
    const u = B.enc(userId);
    const byResp = (path) => B.hasParam("get", path, "responsible_id");
    const section = (cls, title, content) => el("section", { class: "panel " + cls }, el("h2", { text: title }), content);
    return el("div", { class: "per-user" }, form,
      el("div", { class: "grid2" },
        section("notifications", t("activity.notifications"), B.pager({ path: "/v1/notifications?user_id=" + u, key: "notifications", empty: t("activity.none"),
          render: (n) => el("li", { class: "row" }, at(n.at), " ", n.from_id ? [who(n.from_id), ": "] : null, el("span", { class: "text", text: n.text }), " ", B.itemLink(n.item_id)) })),
        section("messages", t("activity.messages"), B.pager({ path: "/v1/messages?user_id=" + u, key: "messages", empty: t("activity.none"),
          render: (m) => messageRow(m, false) })),
        section("tasks", t("work.tasks"), byResp("/v1/tasks")
          ? B.pager({ path: "/v1/tasks?responsible_id=" + u, key: "tasks", empty: t("work.no_tasks"), render: (x) => B.taskRow(x, true) })
          : el("p", { class: "hint", text: t("activity.per_item") })),
        section("activities", t("work.activities"), byResp("/v1/activities")
          ? B.pager({ path: "/v1/activities?responsible_id=" + u, key: "activities", empty: t("work.no_activities"), render: (a) => B.activityRow(a, true) })
          : el("p", { class: "hint", text: t("activity.per_item") }))));
  }

  // A message; in a chat's own view without the deal link (the chat has it).
  function messageRow(m, inChat) {
    return el("li", { class: "row msg type-" + m.message_type }, at(m.at), " ", who(m.sender_id),
      m.message_type !== "general" ? [" ", el("span", { class: "badge", text: t("enum." + m.message_type) })] : null,
      ": ", el("span", { class: "text", text: m.text }), " ", inChat ? null : B.itemLink(m.item_id));
  }

  // A task: title, status (changeable: anyone may complete a task),
  // responsible, deadline.
  B.taskRow = function (task, withItem) {
    const status = el("select", { class: "task-status", "aria-label": t("work.status") + ": " + task.title, onchange: async (e) => {
      const res = await B.api("PATCH", "/v1/tasks/" + B.enc(task.id), { status: e.target.value });
      if (!res.ok) { B.flash(B.errorText(res), "error"); e.target.value = task.status; return; }
      task.status = res.data.status;
      B.flash(t("work.status_saved"), "ok");
    } }, TASK_STATUSES.map((s) => el("option", { value: s, selected: task.status === s, text: t("task." + s) })));
    return el("li", { class: "row task", "data-id": task.id },
      el("strong", { text: task.title }), " ", status,
      el("div", { class: "sub" }, t("work.responsible") + ": ", who(task.responsible_id),
        task.deadline ? [" · " + t("work.deadline") + ": ", at(task.deadline)] : null,
        withItem ? [" · ", B.itemLink(task.item_id)] : null));
  };
  B.activityRow = function (a, withItem) {
    return el("li", { class: "row activity", "data-id": a.id },
      el("span", { class: "badge", text: t("enum." + a.activity_type) }), " ", el("strong", { text: a.description }),
      a.completed ? [" ", el("span", { class: "badge done", text: t("work.completed") })] : null,
      el("div", { class: "sub" }, t("work.responsible") + ": ", who(a.responsible_id), " · " + t("work.deadline") + ": ", at(a.deadline),
        withItem ? [" · ", B.itemLink(a.item_id)] : null));
  };

  // ---------------------------------------------------------------- feed
  function feed() {
    return el("section", { class: "panel" }, el("h2", { text: t("activity.tab.feed") }),
      B.pager({ path: "/v1/feed", key: "posts", empty: t("activity.none"), list: el("ul", { class: "rows feed" }),
        render: (p) => el("li", { class: "row post" },
          el("div", {}, el("strong", { text: p.subject || "—" }), p.tag ? [" ", el("span", { class: "badge", text: "#" + p.tag })] : null),
          el("div", { class: "text", text: p.text }),
          el("div", { class: "sub" }, at(p.at), " · ", who(p.sender_id), " → ",
            p.everyone ? t("activity.everyone") : [...p.recipient_ids.map(B.userName), ...p.department_ids.map(B.departmentName)].join(", "),
            " ", B.itemLink(p.item_id))) }));
  }

  // ---------------------------------------------------------------- chats
  function chats() {
    if (!B.has("get", "/v1/chats")) return el("p", { class: "panel hint", text: t("activity.no_chat_list") });
    return el("section", { class: "panel" }, el("h2", { text: t("activity.tab.chats") }),
      B.pager({ path: "/v1/chats", key: "chats", empty: t("activity.none"),
        render: (c) => el("li", { class: "row chat", "data-id": c.id },
          el("a", { href: "#/activity/chat/" + B.enc(c.id), text: c.name }),
          el("div", { class: "sub" }, t("activity.members", { n: c.member_ids.length }), ": ", c.member_ids.map(B.userName).join(", "),
            " · ", at(c.created_at), " ", B.itemLink(c.item_id))) }));
  }

  async function chat(id) {
    const res = await B.api("GET", "/v1/chats/" + B.enc(id || ""));
    if (!res.ok) return B.panelError(B.errorText(res));
    const c = res.data;
    // The chat's messages come whole with the chat: paged here.
    const list = el("ul", { class: "rows" });
    const rows = c.messages || [];
    let shown = 0;
    const more = el("button", { type: "button", class: "more", text: t("list.more"), onclick: () => page() });
    const page = () => {
      for (const m of rows.slice(shown, shown + 20)) list.append(messageRow(m, true));
      shown = Math.min(rows.length, shown + 20);
      more.hidden = shown >= rows.length;
    };
    page();
    return el("section", { class: "panel chat-view" },
      el("p", {}, el("a", { href: "#/activity/chats", text: "← " + t("activity.tab.chats") })),
      el("h2", { text: c.name }),
      el("p", { class: "sub" }, t("activity.members", { n: c.member_ids.length }), ": ", c.member_ids.map(B.userName).join(", "), " ", B.itemLink(c.item_id)),
      rows.length ? list : el("p", { class: "empty", text: t("activity.none") }), more);
  }

  // ---------------------------------------------------------------- outbox
  function outbox(channel) {
    channel = ["email", "sms", "call", "messenger"].includes(channel) ? channel : "";
    const tabs = el("div", { class: "toolbar", role: "group", "aria-label": t("activity.channel") },
      ["", "email", "sms", "call", "messenger"].map((c) => el("a", { href: "#/activity/outbox" + (c ? "/" + c : ""), class: "pill" + (c === channel ? " active" : ""), text: t("activity.channel." + (c || "all")) })));
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "stack" },
      el("thead", {}, el("tr", {}, [t("out.at"), t("out.channel"), t("out.to"), t("out.subject"), t("out.body"), t("out.status"), ""].map((h) => el("th", { text: h })))),
      tbody));
    return el("section", { class: "panel" }, el("h2", { text: t("activity.tab.outbox") }), tabs,
      B.pager({ path: "/v1/outbox" + (channel ? "?channel=" + channel : ""), key: "messages", list: tbody, outer: table, empty: t("activity.none"),
        render: (m) => el("tr", { class: "out" },
          el("td", {}, at(m.at)), el("td", { "data-label": t("out.channel"), text: m.channel }),
          el("td", { "data-label": t("out.to"), text: m.to + (m.to_client ? " (" + t("out.client") + ")" : "") }),
          el("td", { "data-label": t("out.subject"), text: m.subject || "" }), el("td", { class: "text", "data-label": t("out.body"), text: m.body }),
          el("td", { "data-label": t("out.status") }, el("span", { class: "badge " + (m.status === "sent" ? "done" : "pending"), text: t("out." + m.status) })),
          el("td", {}, B.itemLink(m.item_id))) }));
  }
})(window.Board = window.Board || {});
