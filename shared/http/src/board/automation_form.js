// The robot and trigger forms, generated from GET /v1/catalogue: one input
// per setting of the type's JSON Schema, with user/department/stage pickers,
// durations as amount + unit, and for template settings the placeholders
// allowed there (item paths, the pipeline's fields, outputs of the earlier
// robots of the stage). A 422's details land next to the fields they name.
// Also the type picker (grouped as in the reference product) and "copy to
// another stage".
"use strict";
(function (B) {
  const { el, t } = B;

  // The item paths of API.md "Templates" (also usable in conditions).
  const ITEM_PATHS = ["id", "title", "amount", "currency", "entity_type", "is_repeat", "created_at", "updated_at", "now",
    "stage.id", "stage.name", "stage.semantic", "pipeline.id", "pipeline.name",
    "responsible.id", "responsible.name", "responsible.email", "responsible.phone",
    "client.name", "client.phone", "client.email"];
  const UNITS = ["minutes", "hours", "days"];
  const DELAY_MODES = ["immediately", "after", "before_field", "after_field", "at_field"];

  const path = (pid, kind) => "/v1/pipelines/" + B.enc(pid) + "/" + (kind === "trigger" ? "triggers" : "robots");
  const entries = (kind) => kind === "trigger" ? B.state.catalogue.triggers : B.state.catalogue.robots;

  // ---------------------------------------------------------------- schema
  function resolve(schema, root) {
    let s = schema || {};
    for (let i = 0; i < 5 && s.$ref; i++) {
      const name = s.$ref.split("/").pop();
      s = Object.assign({}, (root.$defs || root.definitions || {})[name] || {}, s, { $ref: undefined });
    }
    return s;
  }
  // The schema's non-null variant and whether null is allowed.
  function shape(schema, root) {
    const s = resolve(schema, root);
    const variants = s.anyOf || (s.oneOf && !s.oneOf.every((v) => v.const !== undefined) ? s.oneOf : null);
    if (variants) {
      const real = variants.map((v) => resolve(v, root)).filter((v) => v.type !== "null");
      const nullable = real.length < variants.length;
      if (real.length === 1) return { schema: Object.assign({ description: s.description }, real[0]), nullable };
      return { schema: s, nullable };
    }
    const types = [].concat(s.type || []);
    return { schema: s, nullable: types.includes("null") };
  }
  function mainType(s) { return [].concat(s.type || []).filter((x) => x !== "null")[0] || (s.properties ? "object" : "string"); }
  function enumValues(s) {
    if (s.enum) return s.enum.filter((v) => v !== null);
    if (s.oneOf && s.oneOf.every((v) => v.const !== undefined)) return s.oneOf.map((v) => v.const).filter((v) => v !== null);
    return null;
  }

  // ---------------------------------------------------------------- placeholders
  function placeholderPaths(ctx, stageId, record) {
    const paths = ITEM_PATHS.slice();
    for (const f of ctx.pipeline.fields || []) paths.push("fields." + f.key);
    const myOrder = record && record.order !== undefined ? record.order : Infinity;
    const earlier = ctx.robots.filter((r) => r.stage_id === stageId && (!record || r.id !== record.id) && r.order < myOrder)
      .sort((a, b) => a.order - b.order);
    const robotPaths = [];
    for (const r of earlier) {
      const entry = B.state.catalogue.robots.find((e) => e.name === r.type);
      for (const o of (entry && entry.outputs) || []) robotPaths.push({ path: "robot." + r.id + "." + o, title: r.name + " → " + o });
    }
    return { paths, robotPaths };
  }
  // Buttons that put a placeholder at the cursor of `input`.
  function placeholderChips(input, ph) {
    const chip = (p, title) => el("button", { type: "button", class: "chip", title: title || null, onclick: () => {
      const s = input.selectionStart ?? input.value.length, e = input.selectionEnd ?? input.value.length;
      const text = "{{" + p + "}}";
      input.value = input.value.slice(0, s) + text + input.value.slice(e);
      input.focus();
      input.setSelectionRange(s + text.length, s + text.length);
    } }, el("code", { text: "{{" + p + "}}" }), title ? el("span", { class: "chip-note", text: " " + title }) : null);
    return el("div", { class: "placeholders" }, el("span", { text: t("form.placeholders") + " " }),
      ph.paths.map((p) => chip(p)), ph.robotPaths.map((r) => chip(r.path, r.title)));
  }

  // ---------------------------------------------------------------- one setting
  // → { node (the .field), read() }: read throws on malformed JSON.
  function settingField(name, rawSchema, value, entry, ctx, stageId, record) {
    const root = entry.settings_schema;
    const { schema, nullable } = shape(rawSchema, root);
    const type = mainType(schema);
    const id = "f-" + name;
    const required = (root.required || []).includes(name);
    const optional = nullable || !required;
    const desc = schema.description || rawSchema.description || "";
    // An application's type names its settings in its schema (`title`).
    const appTitle = entry.group === "apps" ? schema.title || rawSchema.title : null;
    const label = appTitle || (t("setting." + name) !== "setting." + name ? t("setting." + name) : name);
    let w; // { node, read, kind }
    const picker = B.PICKER_OF[name];
    const values = enumValues(schema);
    const stages = ctx.stagesFor(name);
    if (picker === "user" && type === "string") w = B.userPicker(id, ctx.dir, value, optional);
    else if (picker === "users" && type === "array") w = B.usersPicker(id, ctx.dir, value, label);
    else if (picker === "departments" && type === "array") w = B.departmentsPicker(id, ctx.dir, value, label);
    else if (picker === "stage" && type === "string") w = B.stagePicker(id, stages, value, optional);
    else if (picker === "stages" && type === "array") w = B.stagesPicker(id, stages, value, label);
    else if ((picker === "template" || picker === "numerator") && type === "string" && B.documentPicker) w = B.documentPicker(picker, id, value, optional);
    else if (values) {
      const s = el("select", { id }, optional ? el("option", { value: "", text: "—" }) : null,
        values.map((o) => el("option", { value: o, text: t("enum." + o) !== "enum." + o ? t("enum." + o) : o, selected: value === o })));
      w = { node: s, read: () => s.value === "" ? (nullable ? null : undefined) : s.value };
    } else if (type === "boolean") {
      const c = el("input", { id, type: "checkbox", checked: !!value });
      w = { node: c, read: () => c.checked, check: true };
    } else if (type === "integer" || type === "number") {
      const n = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", value: value ?? "" });
      w = { node: n, read: () => n.value === "" ? (nullable ? null : undefined) : Number(n.value) };
    } else if (type === "object" && schema.properties && schema.properties.amount && schema.properties.unit) {
      w = durationInput(id, value, nullable || !required);
      w.kind = "duration";
    } else if (type === "array" && schema.items && resolve(schema.items, root).type === "string") {
      const i = el("input", { id, type: "text", value: (value || []).join(", "), placeholder: t("form.list_hint") });
      w = { node: i, read: () => i.value.split(",").map((s) => s.trim()).filter(Boolean) };
    } else if (type === "string") {
      const tmpl = entry.templates.includes(name) || schema.format === "template";
      const i = tmpl ? el("textarea", { id, rows: 2 }) : el("input", { id, type: "text" });
      i.value = value ?? "";
      w = { node: i, read: () => i.value === "" ? (nullable ? null : undefined) : i.value, template: tmpl };
    } else {
      const i = el("textarea", { id, rows: 3, class: "json", placeholder: t("form.json_hint") });
      i.value = value === undefined || value === null ? "" : JSON.stringify(value);
      w = { node: i, read: () => i.value.trim() === "" ? (nullable ? null : undefined) : JSON.parse(i.value) };
    }
    const kindWord = w.template ? t("type.template") : w.kind ? t("type." + w.kind) : picker ? t("type." + picker) : t("type." + type);
    const labelNode = B.labelFor(w.node, label + (required ? " *" : ""), el("span", { class: "ftype", text: " (" + kindWord + ")" }));
    const node = el("div", { class: "field" + (w.check ? " check" : ""), "data-field": "settings." + name },
      w.check ? [w.node, labelNode] : [labelNode, w.node],
      w.template ? placeholderChips(w.node, placeholderPaths(ctx, stageId, record)) : null,
      desc && !w.check ? el("small", { class: "hint", text: desc }) : null,
      el("p", { class: "field-error", role: "alert" }));
    return { name, node, read: w.read };
  }

  function durationInput(id, value, optional) {
    const amount = el("input", { id, type: "number", min: "1", step: "1", value: value ? value.amount : "", "aria-label": t("form.amount") });
    const unit = el("select", { id: id + "-unit", "aria-label": t("form.unit") },
      UNITS.map((u) => el("option", { value: u, selected: (value ? value.unit : "days") === u, text: t("enum." + u) })));
    return { node: el("span", { class: "duration" }, amount, unit),
      read: () => amount.value === "" ? (optional ? null : undefined) : { amount: Number(amount.value), unit: unit.value } };
  }

  // ---------------------------------------------------------------- the form
  // kind: "robot" | "trigger"; record: the robot/trigger to edit, or null.
  B.automationForm = async function (ctx, kind, stageId, type, record) {
    const entry = entries(kind).find((r) => r.name === type);
    if (!entry) { B.flash(t("error.unknown_type", { type }), "error"); return; }
    const props = (entry.settings_schema && entry.settings_schema.properties) || {};
    const settings = Object.assign({}, entry.defaults, record ? record.settings : {});
    const name = el("input", { id: "f-name", type: "text", maxlength: "200", value: record ? record.name : "" });
    // Conditions may name earlier robots' outputs (robots only).
    const extra = kind === "robot" ? placeholderPaths(ctx, stageId, record).robotPaths : [];
    const cond = B.conditionBuilder({ pipeline: ctx.pipeline, dir: ctx.dir, extra }, record && record.condition ? record.condition : null);
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const sf = Object.entries(props).map(([n, s]) => settingField(n, s, settings[n], entry, ctx, stageId, record));
    // complete_task: the stages listed are those of the pipeline it names.
    const pipeInput = sf.find((f) => f.name === "pipeline_id");
    const stagesField = sf.find((f) => f.name === "stage_ids");
    if (pipeInput && stagesField) {
      pipeInput.node.querySelector("input")?.addEventListener("change", async (e) => {
        const other = e.target.value.trim();
        if (!other) return;
        const res = await B.api("GET", "/v1/pipelines/" + B.enc(other));
        const stages = res.ok ? res.data.stages : [];
        const fresh = settingField("stage_ids", props.stage_ids, [], entry, Object.assign({}, ctx, { stagesFor: () => stages }), stageId, record);
        stagesField.node.replaceWith(fresh.node);
        stagesField.node = fresh.node; stagesField.read = fresh.read;
      });
    }

    const parts = kind === "robot" ? robotParts(record) : triggerParts(ctx, record);
    const form = el("form", { class: "robot-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      const body = Object.assign({ stage_id: record ? record.stage_id : stageId, type, name: name.value.trim() || null, settings: {} }, parts.read());
      const bad = [];
      try { body.condition = cond.read(); } catch (_) { bad.push({ field: "condition", message: t("form.bad_json") }); }
      for (const f of sf) {
        try {
          const v = f.read();
          if (v !== undefined) body.settings[f.name] = v;
        } catch (_) { bad.push({ field: "settings." + f.name, message: t("form.bad_json") }); }
      }
      if (bad.length) { B.showErrors(form, top, bad); return; }
      submit.disabled = true;
      const res = await B.api(record ? "PUT" : "POST", path(ctx.pid, kind) + (record ? "/" + B.enc(record.id) : ""), body);
      submit.disabled = false;
      if (res.ok) { dlg.close(); await ctx.reload(); B.flash(t("form.saved"), "ok"); return; }
      const details = B.errorDetails(res);
      B.showErrors(form, top, details);
      cond.markErrors(details);
    } });
    const submit = el("button", { type: "submit", class: "primary", text: t("form.save") });
    form.append(top,
      B.field("name", t("form.name"), name),
      ...parts.nodes,
      B.field("condition", t("form.condition"), cond.node, t("form.condition_hint")),
      sf.length ? el("fieldset", {}, el("legend", { text: t("form.settings") }), sf.map((f) => f.node)) : el("p", { class: "hint", text: t("form.no_settings") }),
      el("div", { class: "buttons" }, submit,
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    const dlg = B.dialog((record ? t("form.edit_" + kind) : t("form.new_" + kind)) + ": " + type + " — " + entry.description, form);
    name.focus();
  };

  // Delay (all five modes), "after previous", working hours.
  function robotParts(record) {
    const d = record ? record.delay || { mode: "immediately" } : { mode: "immediately" };
    const mode = el("select", { id: "f-delay-mode" },
      DELAY_MODES.map((m) => el("option", { value: m, selected: d.mode === m, text: t("mode." + m) })));
    const amount = el("input", { id: "f-delay-amount", type: "number", min: "1", step: "1", value: d.amount || 1 });
    const unit = el("select", { id: "f-delay-unit" }, UNITS.map((u) => el("option", { value: u, selected: (d.unit || "days") === u, text: t("enum." + u) })));
    const field = el("input", { id: "f-delay-field", type: "text", value: d.field || "", placeholder: "fields.meeting_at" });
    const afterPrev = el("input", { id: "f-after-previous", type: "checkbox", checked: record ? record.after_previous : false });
    const workHours = el("input", { id: "f-working-hours", type: "checkbox", checked: record ? record.respect_working_hours : false });
    // Task chains: wait for the previous robot's task to be completed.
    const waitFor = el("select", { id: "f-wait-for" }, ["finish", "task_completed"].map((w) =>
      el("option", { value: w, selected: ((record && record.wait_for) || "finish") === w, text: t("wait_for." + w) })));
    const wt = record && record.wait_timeout;
    const waitAmount = el("input", { id: "f-wait-timeout-amount", type: "number", min: "0", step: "1", value: wt ? wt.amount : "" });
    const waitUnit = el("select", { id: "f-wait-timeout-unit" }, UNITS.map((u) => el("option", { value: u, selected: ((wt && wt.unit) || "days") === u, text: t("enum." + u) })));
    const onTimeout = el("select", { id: "f-on-timeout" }, ["run", "skip"].map((o) =>
      el("option", { value: o, selected: ((record && record.on_timeout) || "run") === o, text: t("on_timeout." + o) })));
    const waitFor2 = [B.field("wait_timeout", t("form.wait_timeout"), el("span", { id: "f-wait-timeout" }, waitAmount, waitUnit)),
      B.field("on_timeout", t("form.on_timeout"), onTimeout)];
    const waitSync = () => { waitFor2.forEach((n) => { n.hidden = waitFor.value !== "task_completed"; }); };
    waitFor.addEventListener("change", waitSync);
    waitSync();
    const amountF = B.field("delay.amount", t("form.amount"), amount);
    const unitF = B.field("delay.unit", t("form.unit"), unit);
    const fieldF = B.field("delay.field", t("form.date_field"), field);
    const sync = () => {
      const m = mode.value;
      amountF.hidden = unitF.hidden = m === "immediately" || m === "at_field";
      fieldF.hidden = !m.endsWith("_field");
    };
    mode.addEventListener("change", sync);
    sync();
    return {
      nodes: [el("fieldset", { class: "delay" }, el("legend", { text: t("form.delay") }),
        B.field("delay", t("form.delay_mode"), mode), amountF, unitF, fieldF),
      B.checkField("after_previous", t("form.after_previous"), afterPrev),
      B.field("wait_for", t("form.wait_for"), waitFor), ...waitFor2,
      B.checkField("respect_working_hours", t("form.working_hours"), workHours)],
      read: () => {
        const m = mode.value;
        const delay = m === "immediately" ? { mode: m }
          : m === "at_field" ? { mode: m, field: field.value.trim() }
          : m === "after" ? { mode: m, amount: Number(amount.value), unit: unit.value }
          : { mode: m, amount: Number(amount.value), unit: unit.value, field: field.value.trim() };
        const chain = waitFor.value === "task_completed"
          ? { wait_for: "task_completed", on_timeout: onTimeout.value,
              wait_timeout: Number(waitAmount.value) > 0 ? { amount: Number(waitAmount.value), unit: waitUnit.value } : null }
          : {};
        return { delay, after_previous: afterPrev.checked, respect_working_hours: workHours.checked, ...chain };
      },
    };
  }

  // "Execute as" (a user) and "allow moving backwards".
  function triggerParts(ctx, record) {
    const as = B.userPicker("f-execute-as", ctx.dir, record ? record.execute_as : null, true);
    const back = el("input", { id: "f-allow-backwards", type: "checkbox", checked: record ? record.allow_backwards : false });
    return {
      nodes: [B.field("execute_as", t("form.execute_as"), as.node), B.checkField("allow_backwards", t("form.allow_backwards"), back)],
      read: () => ({ execute_as: as.read() ?? null, allow_backwards: back.checked }),
    };
  }

  // ---------------------------------------------------------------- pickers
  // The catalogue's types of `kind`, grouped (groups in catalogue order).
  B.typePicker = function (ctx, kind, stageId) {
    const id = kind === "trigger" ? "trigger-type" : "robot-type";
    const select = el("select", { id, class: "type-select", size: 12, "aria-label": t("board.choose_" + kind) });
    const groups = {};
    for (const r of entries(kind)) (groups[r.group] = groups[r.group] || []).push(r);
    for (const g of Object.keys(groups)) {
      const label = t("group." + g) !== "group." + g ? t("group." + g) : g;
      select.append(el("optgroup", { label }, groups[g].map((r) => el("option", { value: r.name, text: r.name + " — " + r.description }))));
    }
    select.selectedIndex = 0;
    const dlg = B.dialog(t("board.choose_" + kind),
      el("form", { onsubmit: (e) => { e.preventDefault(); dlg.close(); B.automationForm(ctx, kind, stageId, select.value, null); } },
        select, el("div", { class: "buttons" },
          el("button", { type: "submit", class: "primary", text: t("form.settings") + " →" }),
          el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() }))));
    select.addEventListener("dblclick", () => select.form.requestSubmit());
    select.focus();
  };

  // Copy a robot or trigger to a stage of the pipeline.
  B.copyDialog = function (ctx, kind, record) {
    const stages = ctx.pipeline.stages;
    const at = stages.findIndex((s) => s.id === record.stage_id);
    const next = stages[(at + 1) % stages.length] || stages[0];
    const picker = B.stagePicker("copy-stage", stages, next.id, false);
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "copy-form", onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      const res = await B.api("POST", path(ctx.pid, kind) + "/" + B.enc(record.id) + "/copy", { stage_id: picker.read() });
      if (res.ok) { dlg.close(); await ctx.reload(); B.flash(t("board.copied"), "ok"); return; }
      B.showErrors(form, top, B.errorDetails(res));
    } }, top, B.field("stage_id", t("board.copy_to"), picker.node),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("board.copy") }),
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    const dlg = B.dialog(t("board.copy_title", { name: record.name }), form);
    picker.node.focus();
  };
})(window.Board = window.Board || {});
