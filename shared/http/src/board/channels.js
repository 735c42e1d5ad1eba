// Channels (#/channels/<tab>): where clients reach the CRM by themselves.
// - forms: the web forms (list; create / edit: fields mapped to item
//   fields, pipeline, stage, responsible; the embed snippet to copy and a
//   link to the hosted page /f/<id>);
// - site: site tracking keys (list, create, delete; the <script> snippet);
// - payments: the Stripe provider (set the webhook signing secret —
//   write-only, never shown back —, the webhook URL to paste into Stripe);
// - email: the tenant's inbound address (replies to robots' emails come
//   back there), or that incoming email is off on this server.
// Every list pages. Writes need an admin key (the API answers 403 to a
// member key; the page leaves their controls out).
"use strict";
(function (B) {
  const { el, t } = B;
  const TABS = ["forms", "site", "payments", "email"];
  const FORMS = "/v1/forms";
  const SITE_KEYS = "/v1/site-keys";
  const STRIPE = "/v1/payment-providers/stripe";
  const INBOUND = "/v1/inbound-email";
  const FIELD_TYPES = ["text", "email", "phone", "number", "textarea"];
  const MAX_FIELDS = 30;

  B.channelsAvailable = function () { return B.has("get", FORMS) || B.has("get", SITE_KEYS) || B.has("get", "/v1/payment-providers/{}") || B.has("get", INBOUND); };

  B.channelsPage = async function (tab) {
    if (!TABS.includes(tab)) tab = "forms";
    const tabs = el("nav", { class: "tabs", "aria-label": t("nav.channels") },
      TABS.map((k) => el("a", { href: "#/channels/" + k, class: tab === k ? "active" : null,
        "aria-current": tab === k ? "page" : null, text: t("channels.tab." + k) })));
    const edit = B.canEdit();
    let body;
    if (tab === "site") body = sitePanel(edit);
    else if (tab === "payments") body = await paymentsPanel(edit);
    else if (tab === "email") body = await emailPanel();
    else body = formsPanel(edit);
    await B.show(el("h1", { class: "page-title", text: t("channels.title") }), tabs, body);
  };

  // A read-only snippet with a Copy button.
  function snippet(id, text, label) {
    const area = el("textarea", { id, class: "snippet", readonly: true, rows: "2", spellcheck: "false" });
    area.value = text;
    const copy = el("button", { type: "button", class: "copy", text: t("channels.copy"), "aria-label": t("channels.copy") + ": " + label, onclick: async () => {
      area.select();
      try { await navigator.clipboard.writeText(text); } catch (_) { document.execCommand && document.execCommand("copy"); }
      B.flash(t("channels.copied"), "ok");
    } });
    return el("div", { class: "snippet-box" }, B.labelFor(area, label), el("div", { class: "snippet-row" }, area, copy));
  }

  async function remove(path, question, done) {
    if (!(await B.confirmDialog(question, { ok: t("board.delete") }))) return;
    const res = await B.api("DELETE", path);
    if (!res.ok) { B.flash(B.errorText(res), "error"); return; }
    await B.route();
    B.flash(done, "ok");
  }

  // ---------------------------------------------------------------- forms
  function formsPanel(edit) {
    if (!B.has("get", FORMS)) return el("p", { class: "panel hint", text: t("channels.unavailable") });
    const list = B.pager({ path: FORMS, key: "forms", empty: t("wf.none"), limit: 20, render: (f) => formRow(f, edit) });
    return el("section", { class: "panel web-forms" },
      el("div", { class: "panel-head" }, el("h2", { text: t("wf.title") }),
        edit ? el("button", { type: "button", class: "add-form", text: "+ " + t("wf.add"), onclick: () => formEditor(null) }) : null),
      el("p", { class: "hint", text: t("wf.hint") }),
      list);
  }

  function formRow(f, edit) {
    const page = location.origin + f.page_path;
    return el("li", { class: "row web-form", "data-id": f.id },
      el("div", { class: "web-form-head" },
        el("strong", { class: "name", text: f.name }),
        el("span", { class: "sub", text: " " + f.id }),
        el("div", { class: "sub", text: t("wf.lands", { pipeline: f.pipeline_id, stage: f.stage_id, n: f.fields.length }) })),
      el("div", { class: "act" },
        el("a", { class: "open-page", href: f.page_path, target: "_blank", rel: "noopener", text: t("wf.open") }),
        edit ? el("button", { type: "button", class: "edit", text: t("board.edit"), "aria-label": t("board.edit") + ": " + f.name, onclick: () => formEditor(f) }) : null,
        edit ? el("button", { type: "button", class: "delete danger", text: t("board.delete"), "aria-label": t("board.delete") + ": " + f.name,
          onclick: () => remove(FORMS + "/" + B.enc(f.id), t("wf.delete", { name: f.name }), t("board.deleted")) }) : null),
      el("details", { class: "embed" }, el("summary", { text: t("wf.embed") }),
        snippet("embed-" + f.id, '<script src="' + location.origin + f.embed_path + '" async></script>', t("wf.embed_code")),
        el("p", { class: "hint" }, t("wf.page_link") + " ", el("a", { href: f.page_path, target: "_blank", rel: "noopener", text: page }))));
  }

  // The targets a field may fill: the item's title and amount, the client's
  // name / email / phone, and the pipeline's own fields.
  function targets(pipeline) {
    const own = ((pipeline && pipeline.fields) || []).filter((d) => ["string", "number", "list"].includes(d.type))
      .map((d) => ({ id: "fields." + d.key, label: (d.name || d.key) + " (fields." + d.key + ")" }));
    return [{ id: "", label: t("wf.map_none") }, { id: "title", label: t("wf.map_title") }, { id: "amount", label: t("wf.map_amount") },
      { id: "client.name", label: t("wf.map_client_name") }, { id: "client.email", label: t("wf.map_client_email") },
      { id: "client.phone", label: t("wf.map_client_phone") }].concat(own);
  }

  async function loadPipeline(id) {
    const res = await B.api("GET", "/v1/pipelines/" + B.enc(id));
    return res.ok ? res.data : null;
  }

  // Create (f = null) or edit a form. Fields are rows (name, label, type,
  // required, maps to); a 422 lands at the field it names (`fields[1].maps_to`).
  async function formEditor(f) {
    const dir = await B.directory();
    let pipeline = await loadPipeline(f ? f.pipeline_id : B.pipelineId());
    const name = el("input", { id: "wf-name", type: "text", maxlength: "200", value: f ? f.name : "" });
    const pipelineId = el("input", { id: "wf-pipeline", type: "text", value: f ? f.pipeline_id : B.pipelineId() });
    const stageBox = el("div", { class: "stage-box" });
    let stage = null;
    const drawStage = (value) => {
      stage = B.stagePicker("wf-stage", (pipeline && pipeline.stages) || [], value, true);
      stageBox.replaceChildren(B.field("stage_id", t("wf.stage"), stage.node, t("wf.stage_hint")));
    };
    drawStage(f ? f.stage_id : null);
    const responsible = B.personPicker("wf-responsible", dir, f ? f.responsible_id : null);
    const success = el("textarea", { id: "wf-success", rows: "2", maxlength: "1000" });
    success.value = f ? f.success_message : "";
    const rows = el("tbody", { class: "field-rows" });
    const addRow = (x) => {
      const cell = (label, input) => el("td", { "data-label": label }, input, el("p", { class: "field-error", role: "alert" }));
      const fname = el("input", { type: "text", class: "f-name", maxlength: "40", value: x ? x.name : "", "aria-label": t("wf.field_name") });
      const flabel = el("input", { type: "text", class: "f-label", maxlength: "200", value: x ? x.label : "", "aria-label": t("wf.field_label") });
      const ftype = el("select", { class: "f-type", "aria-label": t("wf.field_type") },
        FIELD_TYPES.map((k) => el("option", { value: k, selected: (x ? x.type : "text") === k, text: t("wf.type_" + k) })));
      const opts = targets(pipeline);
      const fmap = el("select", { class: "f-maps", "aria-label": t("wf.field_maps") },
        opts.map((o) => el("option", { value: o.id, selected: (x && x.maps_to || "") === o.id, text: o.label })),
        x && x.maps_to && !opts.some((o) => o.id === x.maps_to) ? el("option", { value: x.maps_to, selected: true, text: x.maps_to }) : null);
      const freq = el("input", { type: "checkbox", class: "f-required", checked: !!(x && x.required), "aria-label": t("wf.field_required") });
      const tr = el("tr", { class: "field-row" },
        cell(t("wf.field_name"), fname), cell(t("wf.field_label"), flabel), cell(t("wf.field_type"), ftype),
        cell(t("wf.field_required"), freq), cell(t("wf.field_maps"), fmap),
        el("td", { class: "act" }, el("button", { type: "button", class: "remove-field danger", text: "✕", "aria-label": t("wf.remove_field"), onclick: () => tr.remove() })));
      tr.read = () => {
        const out = { name: fname.value.trim(), label: flabel.value.trim(), type: ftype.value, required: freq.checked };
        if (fmap.value) out.maps_to = fmap.value;
        return out;
      };
      rows.append(tr);
      if (!x) fname.focus();
    };
    (f ? f.fields : [{ name: "name", label: t("wf.default_name"), type: "text", required: true, maps_to: "client.name" },
      { name: "email", label: t("wf.default_email"), type: "email", required: true, maps_to: "client.email" },
      { name: "phone", label: t("wf.default_phone"), type: "phone", maps_to: "client.phone" }]).forEach(addRow);
    pipelineId.addEventListener("change", async () => {
      pipeline = await loadPipeline(pipelineId.value.trim());
      drawStage(null);
    });
    const table = el("div", { class: "scroll" }, el("table", { class: "form-fields stack" },
      el("thead", {}, el("tr", {}, [t("wf.field_name"), t("wf.field_label"), t("wf.field_type"), t("wf.field_required"), t("wf.field_maps"), ""].map((h) => el("th", { text: h })))),
      rows));
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "web-form-editor", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      // The rows' errors go by their place now (`fields[2].label`).
      [...rows.children].forEach((tr, i) => {
        const names = ["name", "label", "type", "required", "maps_to"];
        [...tr.children].slice(0, 5).forEach((td, k) => { td.dataset.field = "fields[" + i + "]." + names[k]; });
        tr.dataset.field = "fields[" + i + "]";
      });
      const body = { name: name.value.trim(), pipeline_id: pipelineId.value.trim(), responsible_id: responsible.read() || "",
        fields: [...rows.children].map((tr) => tr.read()) };
      const st = stage.read();
      if (st) body.stage_id = st;
      if (success.value.trim()) body.success_message = success.value.trim();
      const missing = [];
      if (!body.name) missing.push({ field: "name", message: t("form.required") });
      if (!body.responsible_id) missing.push({ field: "responsible_id", message: t("form.required") });
      if (!body.fields.length) missing.push({ field: "fields", message: t("wf.need_field") });
      if (missing.length) { B.showErrors(form, top, missing); return; }
      const res = await B.api(f ? "PUT" : "POST", f ? FORMS + "/" + B.enc(f.id) : FORMS, body);
      if (!res.ok) { B.showErrors(form, top, B.errorDetails(res)); return; }
      dlg.close();
      await B.route();
      B.flash(t("form.saved"), "ok");
    } }, top,
      B.field("name", t("wf.name"), name),
      el("div", { class: "inline" }, B.field("pipeline_id", t("nav.pipeline"), pipelineId), stageBox),
      B.field("responsible_id", t("wf.responsible"), responsible.node),
      el("div", { class: "field", "data-field": "fields" },
        el("span", { class: "label", text: t("wf.fields") }), table, el("p", { class: "field-error", role: "alert" }),
        el("button", { type: "button", class: "add-field", text: "+ " + t("wf.add_field"), onclick: () => {
          if (rows.children.length < MAX_FIELDS) addRow(null);
        } })),
      B.field("success_message", t("wf.success"), success, t("wf.success_hint")),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("form.save") }),
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    const dlg = B.dialog(f ? t("wf.edit", { name: f.name }) : t("wf.add"), form);
    dlg.classList.add("wide");
    name.focus();
  }

  // ---------------------------------------------------------------- site
  function sitePanel(edit) {
    if (!B.has("get", SITE_KEYS)) return el("p", { class: "panel hint", text: t("channels.unavailable") });
    if (!edit) return el("p", { class: "panel hint role-note", text: t("channels.admin_only") });
    const list = B.pager({ path: SITE_KEYS, key: "site_keys", empty: t("site.none"), limit: 20,
      render: (k) => el("li", { class: "row site-key", "data-id": k.id },
        el("div", { class: "web-form-head" },
          el("strong", { class: "name", text: k.label || t("site.unlabelled") }),
          el("span", { class: "sub", text: " " + k.id + " · " + B.fmt(k.created_at) })),
        el("div", { class: "act" },
          el("button", { type: "button", class: "delete danger", text: t("board.delete"), "aria-label": t("board.delete") + ": " + (k.label || k.id),
            onclick: () => remove(SITE_KEYS + "/" + B.enc(k.id), t("site.delete", { name: k.label || k.id }), t("board.deleted")) })),
        snippet("tag-" + k.id, k.script_tag.replace('src="/', 'src="' + location.origin + "/"), t("site.snippet"))) });
    const label = el("input", { id: "site-label", type: "text", maxlength: "200", placeholder: "shop.example.com" });
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "toolbar add-site-key", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      const res = await B.api("POST", SITE_KEYS, { label: label.value.trim() });
      if (!res.ok) { B.showErrors(form, top, B.errorDetails(res)); return; }
      await B.route();
      B.flash(t("site.created"), "ok");
    } }, B.field("label", t("site.label"), label), el("button", { type: "submit", class: "primary", text: "+ " + t("site.add") }), top);
    return el("section", { class: "panel site-keys" },
      el("h2", { text: t("site.title") }),
      el("p", { class: "hint", text: t("site.hint") }),
      form, list);
  }

  // ---------------------------------------------------------------- payments
  async function paymentsPanel(edit) {
    if (!B.has("get", "/v1/payment-providers/{}")) return el("p", { class: "panel hint", text: t("channels.unavailable") });
    if (!edit) return el("p", { class: "panel hint role-note", text: t("channels.admin_only") });
    const res = await B.api("GET", STRIPE);
    const config = res.ok ? res.data : null;
    if (!res.ok && res.status !== 404) return B.panelError(B.errorText(res));
    const secret = el("input", { id: "stripe-secret", type: "password", autocomplete: "off", maxlength: "500", placeholder: "whsec_…" });
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "stripe-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      if (!secret.value.trim()) { B.showErrors(form, top, [{ field: "webhook_secret", message: t("form.required") }]); return; }
      const put = await B.api("PUT", STRIPE, { webhook_secret: secret.value.trim() });
      secret.value = "";
      if (!put.ok) { B.showErrors(form, top, B.errorDetails(put)); return; }
      await B.route();
      B.flash(t("pay.saved"), "ok");
    } }, top,
      B.field("webhook_secret", config ? t("pay.replace_secret") : t("pay.secret"), secret, t("pay.secret_hint")),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("form.save") }),
        config ? el("button", { type: "button", class: "delete danger", text: t("pay.remove"),
          onclick: () => remove(STRIPE, t("pay.remove_question"), t("pay.removed")) }) : null));
    const state = config
      ? el("dl", { class: "stripe-state" },
        el("dt", { text: t("pay.secret") }), el("dd", { class: "masked", text: "•••••••• " + t("pay.set", { at: B.fmt(config.updated_at) }) }),
        el("dt", { text: t("pay.endpoint") }), el("dd", {}, el("code", { text: config.endpoint_id })))
      : el("p", { class: "empty", text: t("pay.not_set") });
    return el("section", { class: "panel payments" },
      el("h2", { text: t("pay.stripe") }),
      el("p", { class: "hint", text: t("pay.hint") }),
      state,
      config ? snippet("stripe-url", location.origin + config.webhook_path, t("pay.webhook_url")) : null,
      config ? el("p", { class: "hint", text: t("pay.events") }) : null,
      form);
  }

  // ---------------------------------------------------------------- email
  // Members and admins see it (nothing to change: the address is made once
  // and never rotated).
  async function emailPanel() {
    if (!B.has("get", INBOUND)) return el("p", { class: "panel hint", text: t("channels.unavailable") });
    const res = await B.api("GET", INBOUND);
    if (!res.ok) return B.panelError(B.errorText(res));
    const s = res.data;
    return el("section", { class: "panel inbound-email" },
      el("h2", { text: t("ie.title") }),
      s.enabled
        ? [el("p", { class: "hint", text: t("ie.hint") }), snippet("inbound-address", s.address, t("ie.address"))]
        : el("p", { class: "empty inbound-off", text: t("ie.off") }));
  }
})(window.Board = window.Board || {});
