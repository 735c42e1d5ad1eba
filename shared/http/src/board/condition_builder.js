// The condition builder of the robot and trigger forms: rows of field /
// operator (in words) / value (an input of the field's type), in AND/OR
// groups that nest as the engine's conditions do (condition.rs), with the
// JSON editor kept as an "advanced" toggle. It reads and writes the API's
// condition JSON — a leaf {"field", "op", "value"} or {"all": [...]} /
// {"any": [...]} — so an existing condition round-trips; one the rows cannot
// show (an object as a value, say) opens in the JSON editor.
"use strict";
(function (B) {
  const { el, t } = B;
  const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "contains", "not_contains", "empty", "not_empty"];
  // The operators offered for a field of each type (an existing condition's
  // operator is offered too, whatever the type).
  const OPS_OF = {
    number: ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "empty", "not_empty"],
    date: ["eq", "ne", "gt", "gte", "lt", "lte", "between", "empty", "not_empty"],
    bool: ["eq", "ne", "empty", "not_empty"],
    choice: ["eq", "ne", "in", "not_in", "empty", "not_empty"],
    string: ["eq", "ne", "contains", "not_contains", "in", "not_in", "empty", "not_empty"],
    any: OPS,
  };
  // The standard fields (the template paths of API.md) and their types.
  const STANDARD = [["title", "string"], ["amount", "number"], ["currency", "string"], ["entity_type", "string"],
    ["is_repeat", "bool"], ["created_at", "date"], ["updated_at", "date"], ["now", "date"],
    ["stage.id", "stage"], ["stage.name", "string"], ["stage.semantic", "semantic"], ["pipeline.id", "string"], ["pipeline.name", "string"],
    ["responsible.id", "user"], ["responsible.name", "string"], ["responsible.email", "string"], ["responsible.phone", "string"],
    ["client.name", "string"], ["client.phone", "string"], ["client.email", "string"], ["id", "string"]];
  const FIELD_TYPE = { string: "string", number: "number", date: "date", datetime: "date", bool: "bool", user: "user", list: "list", file: "string" };
  const SEMANTICS = ["process", "success", "failure"];
  const MAX_DEPTH = 3;

  const scalar = (v) => ["string", "number", "boolean"].includes(typeof v);
  const family = (f) => ["stage", "semantic", "user", "list"].includes(f.type) ? "choice" : f.type;

  // The fields a condition may name: standard ones, the pipeline's own, and
  // (robots) the outputs of earlier robots of the stage.
  function fieldList(opts) {
    const out = STANDARD.map(([path, type]) => ({ path, type, label: t("cfield." + path) !== "cfield." + path ? t("cfield." + path) : path }));
    for (const f of (opts.pipeline && opts.pipeline.fields) || []) {
      out.push({ path: "fields." + f.key, type: FIELD_TYPE[f.type] || "string", options: f.options || [], label: (f.name || f.key) + " (fields." + f.key + ")" });
    }
    for (const r of opts.extra || []) out.push({ path: r.path, type: "any", label: r.title });
    return out;
  }

  // Can the rows show this condition?
  function representable(c, depth) {
    if (!c || typeof c !== "object" || Array.isArray(c)) return false;
    if (c.all || c.any) {
      const kids = c.all || c.any;
      return Array.isArray(kids) && kids.length > 0 && depth < MAX_DEPTH && kids.every((k) => representable(k, depth + 1));
    }
    if (typeof c.field !== "string" || !OPS.includes(c.op)) return false;
    const v = c.value === undefined ? null : c.value;
    if (c.op === "empty" || c.op === "not_empty") return v === null;
    if (c.op === "in" || c.op === "not_in") return Array.isArray(v) && v.every(scalar);
    if (c.op === "between") return Array.isArray(v) && v.length === 2 && v.every(scalar);
    return v === null || scalar(v);
  }

  // ---------------------------------------------------------------- values
  // One value input of the field's type → { node, read }.
  function scalarInput(f, value, opts, label) {
    const attrs = { class: "cb-value", "aria-label": label };
    const choose = (choices) => {
      const s = el("select", attrs, el("option", { value: "", text: "—" }),
        choices.map(([v, text]) => el("option", { value: v, text, selected: value === v })));
      if (value !== null && value !== undefined && value !== "" && !choices.some(([v]) => v === value)) s.append(el("option", { value, text: String(value), selected: true }));
      return { node: s, read: () => s.value === "" ? null : s.value };
    };
    if (f.type === "stage") return choose(((opts.pipeline && opts.pipeline.stages) || []).map((s) => [s.id, s.name]));
    if (f.type === "semantic") return choose(SEMANTICS.map((s) => [s, t("semantic." + s) !== "semantic." + s ? t("semantic." + s) : s]));
    if (f.type === "user" && opts.dir && opts.dir.available) return choose(opts.dir.users.map((u) => [u.id, u.name + " (" + u.id + ")"]));
    if (f.type === "list" && f.options && f.options.length) return choose(f.options.map((o) => [o, o]));
    const kind = f.type === "any" ? (typeof value === "number" ? "number" : typeof value === "boolean" ? "bool" : "string") : f.type;
    if (kind === "bool") {
      const s = el("select", attrs, ["true", "false"].map((v) => el("option", { value: v, text: t("cb." + v), selected: String(value) === v })));
      return { node: s, read: () => s.value === "true" };
    }
    if (kind === "number") {
      const i = el("input", Object.assign({ type: "number", step: "any", value: value ?? "" }, attrs));
      return { node: i, read: () => i.value === "" ? null : Number(i.value) };
    }
    // A date field: a date picker (compared by calendar date), or the
    // RFC 3339 text of an existing condition that names a time.
    if (kind === "date" && !(typeof value === "string" && value.includes("T"))) {
      const i = el("input", Object.assign({ type: "date", value: value ?? "" }, attrs));
      return { node: i, read: () => i.value === "" ? null : i.value };
    }
    const i = el("input", Object.assign({ type: "text", value: value ?? "", placeholder: kind === "date" ? "2026-05-01T10:00:00+03:00" : null }, attrs));
    return { node: i, read: () => i.value === "" && kind !== "string" ? null : i.value };
  }

  function listInput(f, values, opts, label) {
    const numeric = f.type === "number" || (f.type === "any" && (values || []).every((v) => typeof v === "number") && (values || []).length);
    const choices = f.type === "stage" ? ((opts.pipeline && opts.pipeline.stages) || []).map((s) => [s.id, s.name])
      : f.type === "semantic" ? SEMANTICS.map((s) => [s, s])
      : f.type === "user" && opts.dir && opts.dir.available ? opts.dir.users.map((u) => [u.id, u.name])
      : f.type === "list" && f.options && f.options.length ? f.options.map((o) => [o, o]) : null;
    if (choices) {
      const extra = (values || []).filter((v) => !choices.some(([c]) => c === v)).map((v) => [v, String(v)]);
      const boxes = choices.concat(extra).map(([v, text]) => el("label", { class: "pick" },
        el("input", { type: "checkbox", value: v, checked: (values || []).includes(v) }), text));
      const node = el("span", { class: "cb-value cb-picks", role: "group", "aria-label": label }, boxes);
      return { node, read: () => [...node.querySelectorAll("input:checked")].map((i) => i.value) };
    }
    const i = el("input", { type: "text", class: "cb-value", "aria-label": label, value: (values || []).join(", "), placeholder: t("form.list_hint") });
    return { node: i, read: () => i.value.split(",").map((s) => s.trim()).filter(Boolean).map((s) => numeric && !isNaN(Number(s)) ? Number(s) : s) };
  }

  function valueInput(f, op, value, opts) {
    if (op === "empty" || op === "not_empty") return { node: el("span", { class: "cb-value cb-none" }), read: () => undefined };
    if (op === "in" || op === "not_in") return listInput(f, Array.isArray(value) ? value : [], opts, t("cb.value"));
    if (op === "between") {
      const [a, b] = Array.isArray(value) ? value : [null, null];
      const lo = scalarInput(f, a, opts, t("cb.from")), hi = scalarInput(f, b, opts, t("cb.to"));
      return { node: el("span", { class: "cb-value cb-between" }, lo.node, el("span", { text: t("cb.and") }), hi.node), read: () => [lo.read(), hi.read()] };
    }
    return scalarInput(f, Array.isArray(value) ? null : value, opts, t("cb.value"));
  }

  // ---------------------------------------------------------------- rows
  function leafRow(opts, fields, leaf, onRemove) {
    let f = fields.find((x) => x.path === leaf.field);
    const known = fields.slice();
    if (!f) { f = { path: leaf.field, type: "any", label: leaf.field }; known.push(f); }
    const field = el("select", { class: "cb-field", "aria-label": t("cb.field") },
      known.map((x) => el("option", { value: x.path, text: x.label, selected: x === f })));
    const op = el("select", { class: "cb-op", "aria-label": t("cb.op") });
    const row = el("li", { class: "cb-row", "data-path": f.path });
    let value = null;
    const fillOps = (current) => {
      const offered = OPS_OF[family(f)] || OPS;
      const list = offered.includes(current) ? offered : offered.concat(current ? [current] : []);
      op.replaceChildren(...list.map((o) => el("option", { value: o, text: t("op." + o), selected: o === current })));
    };
    const fillValue = (v) => {
      const w = valueInput(f, op.value, v, opts);
      if (value) value.node.replaceWith(w.node); else row.append(w.node);
      value = w;
    };
    fillOps(leaf.op || "eq");
    row.append(field, op);
    fillValue(leaf.value === undefined ? null : leaf.value);
    row.append(el("button", { type: "button", class: "cb-remove", "aria-label": t("cb.remove"), title: t("cb.remove"), text: "✕", onclick: onRemove }));
    field.addEventListener("change", () => {
      f = known.find((x) => x.path === field.value);
      row.dataset.path = f.path;
      const keep = (OPS_OF[family(f)] || OPS).includes(op.value) ? op.value : "eq";
      fillOps(keep);
      fillValue(null);
    });
    op.addEventListener("change", () => fillValue(null));
    return { node: row, read: () => {
      const v = value.read();
      return v === undefined ? { field: f.path, op: op.value } : { field: f.path, op: op.value, value: v };
    } };
  }

  // A group: AND/OR, its rows and sub-groups. `c` is a group or undefined.
  function groupNode(opts, fields, c, depth, onRemove) {
    const mode = el("select", { class: "cb-mode", "aria-label": t("cb.mode") },
      ["all", "any"].map((m) => el("option", { value: m, text: t("cb." + m), selected: (c && c.any ? "any" : "all") === m })));
    const list = el("ul", { class: "cb-rows" });
    const kids = [];
    const add = (child) => {
      let k;
      const remove = () => { k.node.remove(); kids.splice(kids.indexOf(k), 1); empty.hidden = kids.length > 0; };
      k = child.all || child.any ? groupNode(opts, fields, child, depth + 1, remove) : leafRow(opts, fields, child, remove);
      kids.push(k);
      list.append(k.node);
      empty.hidden = true;
      return k;
    };
    const empty = el("p", { class: "hint cb-empty", text: depth === 0 ? t("cb.always") : t("cb.empty_group") });
    const addRow = el("button", { type: "button", class: "cb-add", text: "+ " + t("cb.add"), onclick: () => {
      const k = add({ field: fields[0].path, op: "eq" });
      k.node.querySelector("select").focus();
    } });
    const addGroup = depth + 1 < MAX_DEPTH ? el("button", { type: "button", class: "cb-add-group", text: "+ " + t("cb.add_group"), onclick: () => {
      const k = add({ any: [{ field: fields[0].path, op: "eq" }] });
      k.node.querySelector("select").focus();
    } }) : null;
    const node = el("div", { class: "cb-group" + (depth ? " nested" : "") },
      el("div", { class: "cb-head" }, mode, onRemove ? el("button", { type: "button", class: "cb-remove", "aria-label": t("cb.remove_group"), title: t("cb.remove_group"), text: "✕", onclick: onRemove }) : null),
      empty, list, el("div", { class: "cb-buttons" }, addRow, addGroup));
    for (const child of (c && (c.all || c.any)) || []) add(child);
    empty.hidden = kids.length > 0;
    return { node, read: () => {
      const parts = kids.map((k) => k.read()).filter(Boolean);
      if (!parts.length) return null;
      if (depth === 0 && parts.length === 1 && mode.value === "all") return parts[0];
      return { [mode.value]: parts };
    } };
  }

  // ---------------------------------------------------------------- builder
  // opts: { pipeline, dir, extra: [{path, title}] }; condition: the current
  // one or null. → { node, read() (throws on bad JSON), markErrors(details) }.
  B.conditionBuilder = function (opts, condition) {
    const fields = fieldList(opts);
    const json = el("textarea", { id: "f-condition", rows: 3, class: "json", "aria-label": t("cb.json"), placeholder: '{"field": "amount", "op": "gt", "value": 10000}' });
    json.value = condition ? JSON.stringify(condition, null, 1) : "";
    let group = null;
    const holder = el("div", { class: "cb-holder" });
    const build = (c) => { group = groupNode(opts, fields, c && (c.all || c.any) ? c : c ? { all: [c] } : null, 0, null); holder.replaceChildren(group.node); };
    let advanced = !!condition && !representable(condition, 0);
    const note = el("p", { class: "hint cb-note", text: advanced ? t("cb.json_only") : "" });
    const toggle = el("button", { type: "button", class: "link cb-toggle" });
    const sync = () => {
      holder.hidden = advanced; json.hidden = !advanced;
      toggle.textContent = advanced ? t("cb.use_builder") : t("cb.edit_json");
      toggle.setAttribute("aria-pressed", String(advanced));
    };
    toggle.addEventListener("click", () => {
      if (!advanced) {
        const c = group.read();
        json.value = c ? JSON.stringify(c, null, 1) : "";
        advanced = true; note.textContent = "";
      } else {
        let c = null;
        try { c = json.value.trim() ? JSON.parse(json.value) : null; } catch (_) { note.textContent = t("form.bad_json"); return; }
        if (c && !representable(c, 0)) { note.textContent = t("cb.json_only"); return; }
        build(c);
        advanced = false; note.textContent = "";
      }
      sync();
    });
    if (!advanced) build(condition);
    sync();
    const node = el("div", { id: "f-condition-builder", class: "cb" }, holder, json, el("div", { class: "cb-foot" }, toggle, note));
    return {
      node,
      read: () => advanced ? (json.value.trim() ? JSON.parse(json.value) : null) : group.read(),
      // A 422 on `condition.<field>` marks that field's rows too.
      markErrors: (details) => {
        for (const d of details || []) {
          const rest = (d.field || "").startsWith("condition.") ? d.field.slice("condition.".length) : null;
          if (!rest) continue;
          node.querySelectorAll(".cb-row").forEach((r) => { if (r.dataset.path === rest) r.classList.add("invalid"); });
        }
        const first = node.querySelector(".cb-row.invalid input") || node.querySelector(".cb-row.invalid select");
        if (first) first.focus();
      },
    };
  };
})(window.Board = window.Board || {});
