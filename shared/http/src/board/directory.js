// The directory (#/directory): departments as a tree (head, sub-departments)
// and the users, paged, with department, time zone, working hours and days
// off. Admins add and edit both (PUT /v1/departments/{id}, PUT
// /v1/users/{id}); members only read.
"use strict";
(function (B) {
  const { el, t } = B;
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

  B.directoryPage = async function () {
    B.directoryReset();
    const dir = await B.directory();
    if (!dir.available) { await B.show(el("h1", { class: "page-title", text: t("dir.title") }), el("p", { class: "panel hint", text: t("dir.unavailable") })); return; }
    const edit = B.canEdit();
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "users stack" },
      el("thead", {}, el("tr", {}, [t("dir.name"), t("dir.department"), t("dir.contacts"), t("dir.time_zone"), t("dir.working_hours"), t("dir.days_off"), ""].map((h) => el("th", { text: h })))),
      tbody));
    const users = B.pager({ path: "/v1/users", key: "users", list: tbody, outer: table, empty: t("list.empty"), limit: 25,
      render: (u) => el("tr", { class: "user", "data-id": u.id },
        el("td", {}, el("strong", { text: u.name }), el("div", { class: "sub", text: u.id })),
        el("td", { "data-label": t("dir.department"), text: B.departmentName(u.department_id) || "—" }),
        el("td", { "data-label": t("dir.contacts") }, el("div", {}, [u.email, u.phone].filter(Boolean).map((c) => el("div", { text: c })))),
        el("td", { "data-label": t("dir.time_zone"), text: u.time_zone }),
        el("td", { "data-label": t("dir.working_hours"), text: B.workingHoursWords(u.working_hours) }),
        el("td", { "data-label": t("dir.days_off") }, el("div", {}, (u.days_off || []).length ? u.days_off.map((d) => el("div", { text: d })) : "—")),
        el("td", {}, edit ? el("button", { type: "button", class: "edit", text: t("board.edit"), "aria-label": t("board.edit") + ": " + u.name, onclick: () => userForm(dir, u) }) : null)) });
    await B.show(el("h1", { class: "page-title", text: t("dir.title") }),
      edit ? null : el("p", { class: "hint role-note", text: t("role.member_directory") }),
      el("div", { class: "directory" },
        el("section", { class: "panel departments" },
          el("div", { class: "panel-head" }, el("h2", { text: t("dir.departments") }),
            edit ? el("button", { type: "button", class: "add-department", text: "+ " + t("dir.add_department"), onclick: () => departmentForm(dir, null) }) : null),
          tree(dir, edit)),
        el("section", { class: "panel" },
          el("div", { class: "panel-head" }, el("h2", { text: t("dir.users") }),
            edit ? el("button", { type: "button", class: "add-user", text: "+ " + t("dir.add_user"), onclick: () => userForm(dir, null) }) : null),
          users)));
  };

  // Departments nested under their parents; a parent that is not in the
  // list (or a cycle) puts a department at the top.
  function tree(dir, edit) {
    const known = new Set(dir.departments.map((d) => d.id));
    const children = {};
    for (const d of dir.departments) {
      const parent = d.parent_id && known.has(d.parent_id) && d.parent_id !== d.id ? d.parent_id : "";
      (children[parent] = children[parent] || []).push(d);
    }
    const seen = new Set();
    const branch = (parent) => {
      const list = (children[parent] || []).filter((d) => !seen.has(d.id));
      if (!list.length) return null;
      return el("ul", { class: parent ? "tree" : "tree root" }, list.map((d) => {
        seen.add(d.id);
        const members = dir.users.filter((u) => u.department_id === d.id).length;
        return el("li", { "data-id": d.id },
          el("div", { class: "node" }, el("strong", { text: d.name }),
            el("span", { class: "sub", text: " · " + (d.head_id ? t("dir.head", { name: B.userName(d.head_id) }) : t("dir.no_head")) + " · " + t("dir.members", { n: members }) }),
            edit ? el("button", { type: "button", class: "edit", text: t("board.edit"), "aria-label": t("board.edit") + ": " + d.name, onclick: () => departmentForm(dir, d) }) : null),
          branch(d.id));
      }));
    };
    return branch("") || el("p", { class: "empty", text: t("list.empty") });
  }

  function idInput(record) {
    return el("input", { id: "d-id", type: "text", required: true, maxlength: "64", value: record ? record.id : "", readonly: record ? true : null, pattern: "[A-Za-z0-9_.\\-]+" });
  }

  async function save(form, top, path, body, dlg) {
    B.clearErrors(form); top.textContent = "";
    const res = await B.api("PUT", path, body);
    if (!res.ok) { B.showErrors(form, top, B.errorDetails(res)); return; }
    dlg.close();
    await B.directoryPage();
    B.flash(t("form.saved"), "ok");
  }

  function departmentForm(dir, d) {
    const id = idInput(d);
    const name = el("input", { id: "d-name", type: "text", maxlength: "200", value: d ? d.name : "" });
    const head = B.personPicker("d-head", dir, d ? d.head_id : null);
    const parent = B.departmentPicker("d-parent", dir, d ? d.parent_id : null, d ? d.id : null);
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "department-form", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!id.value.trim()) { B.showErrors(form, top, [{ field: "id", message: t("form.required") }]); return; }
      save(form, top, "/v1/departments/" + B.enc(id.value.trim()), { name: name.value, head_id: head.read() ?? null, parent_id: parent.read() ?? null }, dlg);
    } }, top,
      B.field("id", t("dir.id"), id), B.field("name", t("dir.name"), name),
      B.field("head_id", t("dir.head_label"), head.node), B.field("parent_id", t("dir.parent"), parent.node),
      buttons(() => dlg.close()));
    const dlg = B.dialog(d ? t("dir.edit_department") : t("dir.add_department"), form);
    (d ? name : id).focus();
  }

  function userForm(dir, u) {
    const wh = (u && u.working_hours) || { days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "18:00" };
    const id = idInput(u);
    const name = el("input", { id: "u-name", type: "text", maxlength: "200", value: u ? u.name : "" });
    const email = el("input", { id: "u-email", type: "email", maxlength: "200", value: u && u.email ? u.email : "" });
    const phone = el("input", { id: "u-phone", type: "tel", maxlength: "50", value: u && u.phone ? u.phone : "" });
    const dept = B.departmentPicker("u-department", dir, u ? u.department_id : null);
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const tz = el("input", { id: "u-tz", type: "text", list: "time-zones", value: u ? u.time_zone : Intl.DateTimeFormat().resolvedOptions().timeZone });
    const days = el("div", { class: "picks days", role: "group", "aria-label": t("dir.working_days") },
      DAYS.map((d) => el("label", { class: "pick" }, el("input", { type: "checkbox", value: d, checked: wh.days.includes(d) }), " ", t("day." + d))));
    const start = el("input", { id: "u-start", type: "time", value: (wh.start || "09:00").slice(0, 5) });
    const end = el("input", { id: "u-end", type: "time", value: (wh.end || "18:00").slice(0, 5) });
    const off = el("input", { id: "u-off", type: "text", value: ((u && u.days_off) || []).join(", "), placeholder: "2026-12-31, 2027-01-01" });
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "user-form", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!id.value.trim()) { B.showErrors(form, top, [{ field: "id", message: t("form.required") }]); return; }
      const body = {
        name: name.value, email: email.value.trim() || null, phone: phone.value.trim() || null,
        department_id: dept.read() ?? null, time_zone: tz.value.trim(),
        working_hours: { days: [...days.querySelectorAll("input:checked")].map((c) => c.value), start: start.value, end: end.value },
        days_off: off.value.split(",").map((s) => s.trim()).filter(Boolean),
      };
      save(form, top, "/v1/users/" + B.enc(id.value.trim()), body, dlg);
    } }, top,
      B.field("id", t("dir.id"), id), B.field("name", t("dir.name"), name),
      B.field("email", t("dir.email"), email), B.field("phone", t("dir.phone"), phone),
      B.field("department_id", t("dir.department"), dept.node),
      B.field("time_zone", t("dir.time_zone"), tz), el("datalist", { id: "time-zones" }, zones.map((z) => el("option", { value: z }))),
      el("fieldset", { class: "hours", "data-field": "working_hours" }, el("legend", { text: t("dir.working_hours") }),
        days, el("div", { class: "inline" }, B.field("working_hours.start", t("dir.start"), start), B.field("working_hours.end", t("dir.end"), end)),
        el("p", { class: "field-error", role: "alert" })),
      B.field("days_off", t("dir.days_off"), off, t("dir.days_off_hint")),
      buttons(() => dlg.close()));
    const dlg = B.dialog(u ? t("dir.edit_user") : t("dir.add_user"), form);
    (u ? name : id).focus();
  }

  function buttons(cancel) {
    return el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("form.save") }),
      el("button", { type: "button", text: t("form.cancel"), onclick: cancel }));
  }
})(window.Board = window.Board || {});
