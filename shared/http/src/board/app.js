// The board: a hash-routed page over the JSON API (#/board/<pipeline>,
// #/kanban/<pipeline>, #/item/<id>). The API key is asked once and kept in
// sessionStorage; every call sends it as a Bearer token.
"use strict";
(function () {
  const $main = document.getElementById("main");
  const $flash = document.getElementById("flash");
  const $clock = document.getElementById("clock");
  const $lang = document.getElementById("lang");
  let lang = localStorage.getItem("crm.lang") || "en";
  let catalogue = null;

  // ------------------------------------------------------------ strings
  function t(key, vars) {
    const table = window.STRINGS[lang] || window.STRINGS.en;
    let s = table[key] !== undefined ? table[key] : window.STRINGS.en[key];
    if (s === undefined) return key;
    if (vars) for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(vars[k]);
    return s;
  }
  function unitWord(unit, n) {
    const forms = t("unit." + unit);
    return Array.isArray(forms) ? (n === 1 ? forms[0] : forms[1]) : unit;
  }

  // ------------------------------------------------------------ DOM
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
  function flash(msg, kind) {
    $flash.textContent = msg || "";
    $flash.className = "flash" + (kind ? " " + kind : "");
  }

  // ------------------------------------------------------------ API
  function key() { return sessionStorage.getItem("crm.key"); }
  async function api(method, path, body, headers, useKey) {
    const h = Object.assign({ Authorization: "Bearer " + (useKey || key()) }, headers || {});
    if (body !== undefined) h["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (r.status === 401 && !useKey) { sessionStorage.removeItem("crm.key"); route(); }
    return { status: r.status, ok: r.ok, data, etag: r.headers.get("ETag") };
  }
  function errorText(res) {
    return (res.data && res.data.error && res.data.error.message) || t("error.generic") + " (" + res.status + ")";
  }

  // ------------------------------------------------------------ words
  function delayWords(robot) {
    const d = robot.delay || { mode: "immediately" };
    let s;
    if (d.mode === "immediately") s = t("delay.immediately");
    else if (d.mode === "at_field") s = t("delay.at_field", { field: d.field });
    else s = t("delay." + d.mode, { n: d.amount, unit: unitWord(d.unit, d.amount), field: d.field || "" });
    if (robot.respect_working_hours) s += ", " + t("board.working_hours");
    return s;
  }
  function conditionWords(c) {
    if (!c) return "";
    if (c.all) return c.all.map(conditionWords).join(t("cond.and"));
    if (c.any) return "(" + c.any.map(conditionWords).join(t("cond.or")) + ")";
    const v = c.value === undefined || c.value === null ? "" : " " + (Array.isArray(c.value) ? c.value.join(", ") : c.value);
    return c.field + " " + t("op." + c.op) + v;
  }
  // ------------------------------------------------------------ key prompt
  function keyPrompt() {
    $clock.hidden = true;
    const input = el("input", { id: "key", type: "password", autocomplete: "off", required: true });
    const err = el("p", { class: "field-error", role: "alert" });
    const form = el("form", { class: "panel narrow", onsubmit: async (e) => {
      e.preventDefault();
      const res = await api("GET", "/v1/pipelines/" + encodeURIComponent(pipelineId()), undefined, undefined, input.value);
      if (res.status === 401) { err.textContent = t("key.bad"); return; }
      sessionStorage.setItem("crm.key", input.value);
      route();
    } },
      el("h1", { text: t("key.title") }),
      el("label", { for: "key", text: t("key.label") }), input, err,
      el("button", { type: "submit", class: "primary", text: t("key.submit") }));
    $main.replaceChildren(form);
    input.focus();
  }

  // ------------------------------------------------------------ navigation
  function pipelineId() { return localStorage.getItem("crm.pipeline") || "deals"; }
  function nav(active) {
    const pid = pipelineId();
    const pipe = el("input", { id: "pipeline", value: pid, size: 10, "aria-label": t("nav.pipeline"), onchange: (e) => {
      localStorage.setItem("crm.pipeline", e.target.value.trim() || "deals");
      location.hash = "#/" + (active === "kanban" ? "kanban" : "board") + "/" + pipelineId();
    } });
    // replaceChildren would print a null as the text "null": leave it out.
    document.getElementById("nav").replaceChildren(...[
      el("a", { href: "#/board/" + pid, class: active === "board" ? "active" : null, text: t("nav.board") }),
      el("a", { href: "#/kanban/" + pid, class: active === "kanban" ? "active" : null, text: t("nav.kanban") }),
      el("label", { class: "pipe" }, el("span", { text: t("nav.pipeline") }), pipe),
      key() ? el("button", { type: "button", class: "link", text: t("key.forget"), onclick: () => {
        sessionStorage.removeItem("crm.key"); sessionStorage.removeItem("crm.admin"); route();
      } }) : null].filter(Boolean));
  }

  // ------------------------------------------------------------ clock bar
  async function clockBar() {
    const res = await api("GET", "/v1/clock");
    if (!res.ok) { $clock.hidden = true; return; }
    const now = new Date(res.data.now);
    const bar = [el("span", { text: t("clock.now") }), el("time", { id: "clock-now", datetime: res.data.now, text: now.toLocaleString(lang) })];
    const admin = sessionStorage.getItem("crm.admin");
    if (admin) {
      for (const [label, seconds] of [["clock.hour", 3600], ["clock.day", 86400]]) {
        bar.push(el("button", { type: "button", "data-seconds": seconds, text: t(label), onclick: async () => {
          const r = await api("POST", "/v1/clock/advance", { seconds }, undefined, admin);
          if (!r.ok) { flash(errorText(r), "error"); if (r.status === 401 || r.status === 403) sessionStorage.removeItem("crm.admin"); clockBar(); return; }
          flash(t("clock.advanced"), "ok");
          route();
        } }));
      }
    } else {
      const input = el("input", { id: "admin-key", type: "password", autocomplete: "off", "aria-label": t("clock.admin"), placeholder: t("clock.admin") });
      bar.push(el("form", { class: "inline", onsubmit: (e) => {
        e.preventDefault();
        if (input.value) { sessionStorage.setItem("crm.admin", input.value); clockBar(); }
      } }, input, el("button", { type: "submit", text: t("clock.set_admin") })));
    }
    $clock.replaceChildren(...bar);
    $clock.hidden = false;
  }

  // ------------------------------------------------------------ automation board
  async function boardPage(pid) {
    nav("board");
    const [p, robots, triggers, cat] = await Promise.all([
      api("GET", "/v1/pipelines/" + encodeURIComponent(pid)),
      api("GET", "/v1/pipelines/" + encodeURIComponent(pid) + "/robots"),
      api("GET", "/v1/pipelines/" + encodeURIComponent(pid) + "/triggers"),
      catalogue ? Promise.resolve({ ok: true, data: catalogue }) : api("GET", "/v1/catalogue"),
    ]);
    if (!p.ok) { $main.replaceChildren(el("p", { class: "panel", text: errorText(p) })); return; }
    catalogue = cat.data;
    const cols = p.data.stages.map((stage) => {
      const trig = triggers.data.triggers.filter((x) => x.stage_id === stage.id);
      const robs = robots.data.robots.filter((x) => x.stage_id === stage.id).sort((a, b) => a.order - b.order);
      return el("section", { class: "column stage-" + stage.semantic, "data-stage": stage.id, "aria-label": stage.name },
        el("h2", { text: stage.name }),
        trig.length ? el("h3", { text: t("board.triggers") }) : null,
        trig.map((x) => el("article", { class: "card trigger", "data-id": x.id },
          el("div", { class: "type", text: x.type }), el("div", { class: "name", text: x.name }),
          x.condition ? el("div", { class: "cond", text: t("board.if") + " " + conditionWords(x.condition) }) : null)),
        el("h3", { text: t("board.robots") }),
        robs.map((r) => el("article", { class: "card robot", "data-id": r.id, "data-name": r.name },
          el("div", { class: "type", text: r.type }),
          el("div", { class: "name", text: r.name }),
          el("div", { class: "delay", text: delayWords(r) }),
          r.condition ? el("div", { class: "cond", text: t("board.if") + " " + conditionWords(r.condition) }) : null,
          r.after_previous ? el("div", { class: "chain", text: "↳ " + t("board.after_previous") }) : null,
          el("div", { class: "actions" },
            el("button", { type: "button", class: "edit", text: t("board.edit"), onclick: () => robotForm(pid, stage.id, r.type, r) }),
            el("button", { type: "button", class: "delete", text: t("board.delete"), onclick: async () => {
              if (!confirm(t("board.confirm_delete"))) return;
              const res = await api("DELETE", "/v1/pipelines/" + encodeURIComponent(pid) + "/robots/" + encodeURIComponent(r.id));
              if (!res.ok) flash(errorText(res), "error"); else boardPage(pid);
            } })))),
        el("button", { type: "button", class: "add", "data-stage": stage.id, text: "+ " + t("board.add"), onclick: () => typePicker(pid, stage.id) }));
    });
    $main.replaceChildren(el("div", { class: "columns" }, cols));
  }

  function typePicker(pid, stageId) {
    const select = el("select", { id: "robot-type", "aria-label": t("board.choose_type") });
    const groups = {};
    for (const r of catalogue.robots) (groups[r.group] = groups[r.group] || []).push(r);
    // Groups in the catalogue's order of first appearance (GET /v1/catalogue).
    for (const g of Object.keys(groups)) {
      if (!groups[g]) continue;
      select.append(el("optgroup", { label: t("group." + g) }, groups[g].map((r) => el("option", { value: r.name, text: r.name + " — " + r.description }))));
    }
    const dlg = dialog(t("board.choose_type"),
      el("form", { onsubmit: (e) => { e.preventDefault(); dlg.close(); robotForm(pid, stageId, select.value, null); } },
        select, el("div", { class: "buttons" },
          el("button", { type: "submit", class: "primary", text: t("form.settings") + " →" }),
          el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() }))));
    select.focus();
  }

  function dialog(title, body) {
    const d = el("dialog", { class: "dialog", "aria-label": title }, el("h2", { text: title }), body);
    d.addEventListener("close", () => d.remove());
    document.body.append(d);
    d.showModal();
    return d;
  }

  // One input per setting of the type's JSON Schema, with `data-field`
  // naming the API field so that a 422's details land next to it.
  function settingInput(name, schema, value, entry) {
    const field = "settings." + name;
    const id = "f-" + name;
    const types = [].concat(schema.type || (schema.anyOf || schema.oneOf || []).map((s) => s.type)).filter((x) => x && x !== "null");
    const type = types[0] || "object";
    const desc = schema.description || "";
    let input;
    let kind = type;
    if (schema.enum || (schema.oneOf && schema.oneOf.every((s) => s.const !== undefined))) {
      const opts = schema.enum || schema.oneOf.map((s) => s.const);
      input = el("select", { id }, (types.length < [].concat(schema.type || []).length || !schema.type) ? el("option", { value: "", text: "—" }) : null,
        opts.filter((o) => o !== null).map((o) => el("option", { value: o, text: o, selected: value === o })));
      kind = "enum";
    } else if (type === "boolean") {
      input = el("input", { id, type: "checkbox", checked: !!value });
    } else if (type === "integer" || type === "number") {
      input = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", value: value === undefined || value === null ? "" : value });
    } else if (type === "array" && schema.items && schema.items.type === "string") {
      input = el("input", { id, type: "text", value: (value || []).join(", "), placeholder: t("form.list_hint") });
      kind = "list";
    } else if (type === "string") {
      const tmpl = entry.templates.includes(name) || schema.format === "template";
      input = tmpl ? el("textarea", { id, rows: 2 }) : el("input", { id, type: "text" });
      input.value = value === undefined || value === null ? "" : value;
      if (tmpl) kind = "template";
    } else {
      input = el("textarea", { id, rows: 3, class: "json", placeholder: t("form.json_hint") });
      input.value = value === undefined || value === null ? "" : JSON.stringify(value);
      kind = "json";
    }
    input.dataset.kind = kind;
    input.dataset.name = name;
    input.dataset.nullable = String([].concat(schema.type || []).includes("null") || !!schema.anyOf);
    const required = (entry.settings_schema.required || []).includes(name);
    const placeholders = kind === "template" ? (desc.match(/\{\{[^}]+\}\}/g) || []).filter((p) => p !== "{{placeholders}}") : [];
    return el("div", { class: "field", "data-field": field },
      el("label", { for: id }, name + (required ? " *" : ""), el("span", { class: "ftype", text: " (" + (kind === "template" ? "template" : type) + ")" })),
      input,
      desc ? el("small", { class: "hint", text: desc }) : null,
      placeholders.length ? el("small", { class: "placeholders" }, t("form.placeholders") + " ", placeholders.map((p) => el("code", { text: p }))) : null,
      el("p", { class: "field-error", role: "alert" }));
  }

  function readSetting(input) {
    const k = input.dataset.kind;
    if (k === "boolean" || input.type === "checkbox") return input.checked;
    if (input.value === "") return input.dataset.nullable === "true" ? null : undefined;
    if (k === "integer" || k === "number") return Number(input.value);
    if (k === "list") return input.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (k === "json") return JSON.parse(input.value);
    return input.value;
  }

  function robotForm(pid, stageId, type, robot) {
    const entry = catalogue.robots.find((r) => r.name === type);
    const props = entry.settings_schema.properties || {};
    const settings = Object.assign({}, entry.defaults, robot ? robot.settings : {});
    const d = robot ? robot.delay : { mode: "immediately" };
    const mode = el("select", { id: "f-delay-mode" },
      ["immediately", "after"].concat(d.mode !== "immediately" && d.mode !== "after" ? [d.mode] : []).map((m) => el("option", { value: m, selected: d.mode === m, text: m === "immediately" ? t("delay.immediately") : m === "after" ? t("delay.after_choice") : m })));
    const amount = el("input", { id: "f-delay-amount", type: "number", min: "0", value: d.amount || 1 });
    const unit = el("select", { id: "f-delay-unit" }, ["minutes", "hours", "days"].map((u) => el("option", { value: u, selected: (d.unit || "days") === u, text: unitWord(u, 2) })));
    const name = el("input", { id: "f-name", type: "text", value: robot ? robot.name : "" });
    const afterPrev = el("input", { id: "f-after-previous", type: "checkbox", checked: robot ? robot.after_previous : false });
    const workHours = el("input", { id: "f-working-hours", type: "checkbox", checked: robot ? robot.respect_working_hours : false });
    const cond = el("textarea", { id: "f-condition", rows: 2, class: "json" });
    cond.value = robot && robot.condition ? JSON.stringify(robot.condition) : "";
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const wrap = (field, label, input) => el("div", { class: "field", "data-field": field }, el("label", { for: input.id, text: label }), input, el("p", { class: "field-error", role: "alert" }));
    const check = (field, label, input) => el("div", { class: "field check", "data-field": field }, input, el("label", { for: input.id, text: label }), el("p", { class: "field-error", role: "alert" }));
    const settingFields = Object.entries(props).map(([n, s]) => settingInput(n, s, settings[n], entry));
    const form = el("form", { class: "robot-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
      form.querySelectorAll(".invalid").forEach((f) => f.classList.remove("invalid"));
      const body = { stage_id: robot ? robot.stage_id : stageId, type, name: name.value || null,
        after_previous: afterPrev.checked, respect_working_hours: workHours.checked, settings: {} };
      body.delay = mode.value === "immediately" ? { mode: "immediately" }
        : mode.value === "after" ? { mode: "after", amount: Number(amount.value), unit: unit.value } : d;
      const bad = [];
      try { body.condition = cond.value.trim() ? JSON.parse(cond.value) : null; } catch (_) { bad.push({ field: "condition", message: t("form.bad_json") }); }
      for (const input of form.querySelectorAll("[data-name]")) {
        try {
          const v = readSetting(input);
          if (v !== undefined) body.settings[input.dataset.name] = v;
        } catch (_) { bad.push({ field: "settings." + input.dataset.name, message: t("form.bad_json") }); }
      }
      if (bad.length) { showErrors(form, top, bad); return; }
      const path = "/v1/pipelines/" + encodeURIComponent(pid) + "/robots" + (robot ? "/" + encodeURIComponent(robot.id) : "");
      const res = await api(robot ? "PUT" : "POST", path, body);
      if (res.ok) { dlg.close(); flash(t("form.saved"), "ok"); boardPage(pid); return; }
      const details = (res.data && res.data.error && res.data.error.details) || [];
      showErrors(form, top, details.length ? details : [{ field: "", message: errorText(res) }]);
    } },
      top,
      wrap("name", t("form.name"), name),
      el("fieldset", { class: "delay" }, el("legend", { text: t("form.delay") }),
        wrap("delay", t("form.delay"), mode), wrap("delay.amount", t("form.amount"), amount), wrap("delay.unit", t("form.unit"), unit)),
      check("after_previous", t("form.after_previous"), afterPrev),
      check("respect_working_hours", t("form.working_hours"), workHours),
      wrap("condition", t("form.condition"), cond),
      el("fieldset", {}, el("legend", { text: t("form.settings") }), settingFields),
      el("div", { class: "buttons" },
        el("button", { type: "submit", class: "primary", text: t("form.save") }),
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    const dlg = dialog(type + " — " + entry.description, form);
    name.focus();
  }

  // Each error goes next to the field it names (the longest matching
  // `data-field` prefix: `settings.deadline.amount` → `settings.deadline`).
  function showErrors(form, top, details) {
    const fields = [...form.querySelectorAll("[data-field]")];
    let first = null;
    for (const d of details) {
      let target = null;
      for (let f = d.field; f && !target; f = f.includes(".") ? f.slice(0, f.lastIndexOf(".")) : "") {
        target = fields.find((x) => x.dataset.field === f);
      }
      if (target) {
        target.classList.add("invalid");
        const p = target.querySelector(".field-error");
        p.textContent = (p.textContent ? p.textContent + "; " : "") + d.message;
        first = first || target;
      } else {
        top.textContent = (top.textContent ? top.textContent + "; " : "") + (d.field ? d.field + ": " : "") + d.message;
      }
    }
    if (!top.textContent) top.textContent = t("form.fix");
    const focusable = first && first.querySelector("input, select, textarea");
    if (focusable) focusable.focus();
  }

  // ------------------------------------------------------------ kanban
  async function kanbanPage(pid) {
    nav("kanban");
    const p = await api("GET", "/v1/pipelines/" + encodeURIComponent(pid));
    if (!p.ok) { $main.replaceChildren(el("p", { class: "panel", text: errorText(p) })); return; }
    const stages = p.data.stages;
    const title = el("input", { id: "new-title", type: "text", required: true });
    const amount = el("input", { id: "new-amount", type: "number", step: "any", min: "0", value: "" });
    const resp = el("input", { id: "new-responsible", type: "text", value: localStorage.getItem("crm.responsible") || "u-anna" });
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const wrap = (field, label, input) => el("div", { class: "field", "data-field": field }, el("label", { for: input.id, text: label }), input, el("p", { class: "field-error", role: "alert" }));
    const create = el("form", { class: "create", "aria-label": t("kanban.new"), onsubmit: async (e) => {
      e.preventDefault();
      create.querySelectorAll(".field-error").forEach((x) => { x.textContent = ""; });
      const body = { pipeline_id: pid, title: title.value, responsible_id: resp.value };
      if (amount.value !== "") body.amount = Number(amount.value);
      const res = await api("POST", "/v1/items", body);
      if (!res.ok) { showErrors(create, top, (res.data && res.data.error && res.data.error.details && res.data.error.details.length) ? res.data.error.details : [{ field: "", message: errorText(res) }]); return; }
      localStorage.setItem("crm.responsible", resp.value);
      title.value = ""; amount.value = "";
      flash(t("form.saved"), "ok");
      const col = $main.querySelector('.column[data-stage="' + CSS.escape(res.data.stage_id) + '"] .cards');
      col.prepend(itemCard(res.data, stages));
      col.querySelector(".empty")?.remove();
    } }, el("h2", { text: t("kanban.new") }), top, wrap("title", t("kanban.title"), title), wrap("amount", t("kanban.amount"), amount), wrap("responsible_id", t("kanban.responsible"), resp),
      el("button", { type: "submit", class: "primary", text: t("kanban.create") }));
    const columns = stages.map((s) => {
      const cards = el("div", { class: "cards" });
      const col = el("section", { class: "column stage-" + s.semantic, "data-stage": s.id, "aria-label": s.name },
        el("h2", { text: s.name }), cards);
      col.addEventListener("dragover", (e) => { e.preventDefault(); col.classList.add("over"); });
      col.addEventListener("dragleave", () => col.classList.remove("over"));
      col.addEventListener("drop", (e) => {
        e.preventDefault(); col.classList.remove("over");
        const card = $main.querySelector('.item-card[data-id="' + CSS.escape(e.dataTransfer.getData("text/plain")) + '"]');
        if (card) moveCard(card, s.id, stages);
      });
      loadColumn(pid, s.id, cards, null, stages);
      return col;
    });
    $main.replaceChildren(el("div", { class: "kanban" }, create, el("div", { class: "columns" }, columns)));
  }

  async function loadColumn(pid, stageId, cards, cursor, stages) {
    const q = "/v1/items?pipeline_id=" + encodeURIComponent(pid) + "&stage_id=" + encodeURIComponent(stageId) + "&limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const res = await api("GET", q);
    if (!res.ok) { cards.append(el("p", { class: "field-error", text: errorText(res) })); return; }
    cards.querySelector(".more")?.remove();
    cards.querySelector(".empty")?.remove();
    for (const item of res.data.items) cards.append(itemCard(item, stages));
    if (!cards.children.length) cards.append(el("p", { class: "empty", text: t("kanban.empty") }));
    if (res.data.next_cursor) {
      cards.append(el("button", { type: "button", class: "more", text: t("kanban.more"), onclick: () => loadColumn(pid, stageId, cards, res.data.next_cursor, stages) }));
    }
  }

  function money(item) {
    if (!item.amount) return "";
    try { return new Intl.NumberFormat(lang, { style: "currency", currency: item.currency || "RUB", maximumFractionDigits: 0 }).format(item.amount); }
    catch (_) { return item.amount + " " + (item.currency || ""); }
  }

  function itemCard(item, stages) {
    const move = el("select", { class: "move", "aria-label": t("kanban.move_to") + " — " + item.title, onchange: (e) => { if (e.target.value) moveCard(card, e.target.value, stages); } },
      el("option", { value: "", text: t("kanban.move_to") + "…" }),
      stages.filter((s) => s.id !== item.stage_id).map((s) => el("option", { value: s.id, text: s.name })));
    const card = el("article", { class: "card item-card", draggable: "true", "data-id": item.id, "data-version": item.version, "data-title": item.title },
      el("a", { class: "name", href: "#/item/" + encodeURIComponent(item.id), text: item.title }),
      el("div", { class: "amount", text: money(item) }),
      el("div", { class: "resp", text: item.responsible_id }),
      move);
    card.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", item.id); e.dataTransfer.effectAllowed = "move"; card.classList.add("dragging"); });
    card.addEventListener("dragend", () => card.classList.remove("dragging"));
    return card;
  }

  // PATCH with the version the card shows; a 409 reloads the card.
  async function moveCard(card, stageId, stages) {
    const id = card.dataset.id;
    const res = await api("PATCH", "/v1/items/" + encodeURIComponent(id), { stage_id: stageId }, { "If-Match": '"' + card.dataset.version + '"' });
    let item = res.ok ? res.data : null;
    if (res.status === 409) {
      const fresh = await api("GET", "/v1/items/" + encodeURIComponent(id));
      item = fresh.ok ? fresh.data : null;
      flash(t("kanban.conflict"), "error");
    } else if (!res.ok) {
      flash(errorText(res), "error");
      return;
    } else {
      flash(t("kanban.moved"), "ok");
    }
    if (!item) { card.remove(); return; }
    const replacement = itemCard(item, stages);
    if (res.status === 409) replacement.classList.add("conflict");
    const col = $main.querySelector('.column[data-stage="' + CSS.escape(item.stage_id) + '"] .cards');
    const from = card.parentElement;
    card.remove();
    if (from && !from.querySelector(".item-card")) from.prepend(el("p", { class: "empty", text: t("kanban.empty") }));
    if (col) { col.querySelector(".empty")?.remove(); col.prepend(replacement); }
  }

  // ------------------------------------------------------------ item page
  async function itemPage(id) {
    nav("item");
    const enc = encodeURIComponent(id);
    const [it, tl, runs] = await Promise.all([api("GET", "/v1/items/" + enc), api("GET", "/v1/items/" + enc + "/timeline"), api("GET", "/v1/items/" + enc + "/runs")]);
    if (!it.ok) { $main.replaceChildren(el("p", { class: "panel", text: errorText(it) })); return; }
    const item = it.data;
    const [p, robots] = await Promise.all([api("GET", "/v1/pipelines/" + encodeURIComponent(item.pipeline_id)), api("GET", "/v1/pipelines/" + encodeURIComponent(item.pipeline_id) + "/robots")]);
    const stages = p.ok ? p.data.stages : [];
    const robotName = {};
    if (robots.ok) for (const r of robots.data.robots) robotName[r.id] = r.name + " (" + r.type + ")";
    const fmt = (s) => s ? new Date(s).toLocaleString(lang) : "";
    const fields = [[t("item.id"), item.id], [t("kanban.title"), item.title], [t("kanban.amount"), money(item)], [t("kanban.responsible"), item.responsible_id],
      [t("item.client"), [item.client.name, item.client.phone, item.client.email].filter(Boolean).join(", ")]]
      .concat(Object.entries(item.fields || {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    $main.replaceChildren(el("div", { class: "item-page" },
      el("p", {}, el("a", { href: "#/kanban/" + encodeURIComponent(item.pipeline_id), text: "← " + t("item.back") })),
      el("h1", { text: item.title }),
      el("ol", { class: "stagebar", "aria-label": t("item.stage") }, stages.map((s) => el("li", { class: s.id === item.stage_id ? "current" : null, "aria-current": s.id === item.stage_id ? "step" : null, text: s.name }))),
      el("section", { class: "panel" }, el("h2", { text: t("item.fields") }), el("dl", { class: "fields" }, fields.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v || "—" })]))),
      el("section", { class: "panel runs" }, el("h2", { text: t("item.runs") }),
        runs.ok && runs.data.runs.length ? el("div", { class: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {}, [t("run.what"), t("item.stage"), t("run.status"), t("run.reason"), t("run.due"), t("run.finished")].map((h) => el("th", { text: h })))),
          el("tbody", {}, runs.data.runs.map((r) => el("tr", { class: "run status-" + r.status, "data-robot": r.robot_id || r.trigger_id || "" },
            el("td", { text: robotName[r.robot_id] || r.robot_id || r.trigger_id || r.kind }),
            el("td", { text: (stages.find((s) => s.id === r.stage_id) || { name: r.stage_id }).name + " #" + r.visit }),
            el("td", {}, el("span", { class: "badge " + r.status, text: t("status." + r.status) })),
            el("td", { text: r.reason || "" }),
            el("td", { text: fmt(r.due_at) }),
            el("td", { text: fmt(r.finished_at) })))))) : el("p", { text: t("run.none") })),
      el("section", { class: "panel" }, el("h2", { text: t("item.timeline") }),
        el("ol", { class: "timeline" }, (tl.ok ? tl.data.entries : []).map((e) => el("li", { "data-kind": e.kind },
          el("time", { datetime: e.at, text: fmt(e.at) }), " ", el("span", { class: "kind", text: e.kind }), " ", e.text || ""))))));
  }

  // ------------------------------------------------------------ router
  async function route() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
    document.title = t("app.title");
    if (!key()) { nav(null); keyPrompt(); return; }
    const [, page, arg] = (location.hash || "").split("/");
    const a = arg ? decodeURIComponent(arg) : pipelineId();
    clockBar();
    if (page === "kanban") await kanbanPage(a);
    else if (page === "item") await itemPage(a);
    else await boardPage(a);
  }

  $lang.value = lang;
  $lang.addEventListener("change", () => { lang = $lang.value; localStorage.setItem("crm.lang", lang); route(); });
  window.addEventListener("hashchange", () => { flash(""); route(); });
  route();
})();
