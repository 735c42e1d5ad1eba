// Documents (#/documents): the document templates (upload a .docx, list with
// the placeholders each holds, replace, delete, download) and the numbering
// rules (list, add, edit, delete, with a preview of the next number as the
// rule is typed). Also the item page's list of the item's documents, and the
// `template` / `numerator` pickers of the create_document robot's form.
// Admins edit; member keys read.
"use strict";
(function (B) {
  const { el, t } = B;
  const TEMPLATES = "/v1/document-templates";
  const NUMERATORS = "/v1/numerators";

  // The robot form's pickers, by setting name (see pickers.js).
  B.PICKER_OF.template_id = "template";
  B.PICKER_OF.numerator_id = "numerator";

  // Download `path` with the key and hand it to the browser as a file.
  B.download = async function (path, fallbackName) {
    let r;
    try { r = await fetch(path, { headers: { Authorization: "Bearer " + B.key() } }); }
    catch (_) { B.flash(t("error.network"), "error"); return; }
    if (!r.ok) { B.flash(t("error.generic") + " (" + r.status + ")", "error"); return; }
    const blob = await r.blob();
    const cd = r.headers.get("Content-Disposition") || "";
    const m = /filename\*=UTF-8''([^;]+)/i.exec(cd) || /filename="([^"]+)"/i.exec(cd);
    const a = el("a", { href: URL.createObjectURL(blob), download: m ? decodeURIComponent(m[1]) : fallbackName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  };

  function sizeText(n) {
    return n >= 1024 * 1024 ? (n / 1024 / 1024).toFixed(1) + " MB" : n >= 1024 ? Math.round(n / 1024) + " KB" : n + " B";
  }

  // A file input's file as standard base64.
  function base64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).split(",", 2)[1] || "");
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }

  // ---------------------------------------------------------------- page
  B.documentsPage = async function () {
    const edit = B.canEdit();
    const title = el("h1", { class: "page-title", text: t("docs.title") });
    if (!B.has("get", TEMPLATES)) { await B.show(title, el("p", { class: "panel hint", text: t("docs.unavailable") })); return; }
    await B.show(title,
      edit ? null : el("p", { class: "hint role-note", text: t("docs.member") }),
      el("div", { class: "documents" }, templatesPanel(edit), numeratorsPanel(edit)));
  };

  // ---------------------------------------------------------------- templates
  function templatesPanel(edit) {
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "templates stack" },
      el("thead", {}, el("tr", {}, [t("docs.name"), t("docs.file"), t("docs.placeholders"), ""].map((h) => el("th", { text: h })))),
      tbody));
    const list = B.pager({ path: TEMPLATES, key: "templates", list: tbody, outer: table, empty: t("docs.no_templates"), limit: 20,
      render: (tp) => el("tr", { class: "template", "data-id": tp.id },
        el("td", {}, el("strong", { text: tp.name }), el("div", { class: "sub", text: tp.id })),
        el("td", { "data-label": t("docs.file"), text: tp.file_name + " · " + sizeText(tp.size) }),
        el("td", { class: "placeholders-cell", "data-label": t("docs.placeholders") },
          tp.placeholders.length ? tp.placeholders.map((p) => [el("code", { text: "{" + p + "}" }), " "]) : "—"),
        el("td", { class: "act" },
          el("button", { type: "button", class: "download", text: t("docs.download"), "aria-label": t("docs.download") + ": " + tp.name,
            onclick: () => B.download(TEMPLATES + "/" + B.enc(tp.id) + "/file", tp.file_name) }),
          edit ? el("button", { type: "button", class: "replace", text: t("docs.replace"), "aria-label": t("docs.replace") + ": " + tp.name, onclick: () => templateForm(tp) }) : null,
          edit ? el("button", { type: "button", class: "delete danger", text: t("board.delete"), "aria-label": t("board.delete") + ": " + tp.name,
            onclick: () => remove(TEMPLATES + "/" + B.enc(tp.id), t("docs.delete_template", { name: tp.name })) }) : null)) });
    return el("section", { class: "panel" },
      el("div", { class: "panel-head" }, el("h2", { text: t("docs.templates") }),
        edit ? el("button", { type: "button", class: "add-template", text: "+ " + t("docs.upload"), onclick: () => templateForm(null) }) : null),
      el("p", { class: "hint", text: t("docs.templates_hint") }),
      list);
  }

  // Upload (tp = null) or replace a template: name + .docx file, sent as
  // base64 JSON. A 422 (unknown placeholders, not a .docx) lands at the file.
  function templateForm(tp) {
    const name = el("input", { id: "tp-name", type: "text", maxlength: "200", value: tp ? tp.name : "" });
    const file = el("input", { id: "tp-file", type: "file", accept: ".docx,application/vnd.openxmlformats-officedocument.wordprocessingml.document" });
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "template-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      const f = file.files[0];
      const missing = [];
      if (!name.value.trim()) missing.push({ field: "name", message: t("form.required") });
      if (!f) missing.push({ field: "content", message: t("docs.choose_file") });
      if (missing.length) { B.showErrors(form, top, missing); return; }
      if (f.size > 2 * 1024 * 1024) { B.showErrors(form, top, [{ field: "content", message: t("docs.too_big") }]); return; }
      const body = { name: name.value.trim(), file_name: f.name, content: await base64(f) };
      const res = await B.api(tp ? "PUT" : "POST", tp ? TEMPLATES + "/" + B.enc(tp.id) : TEMPLATES, body);
      if (!res.ok) { B.showErrors(form, top, B.errorDetails(res)); return; }
      dlg.close();
      await B.route();
      B.flash(t("form.saved"), "ok");
    } }, top,
      B.field("name", t("docs.name"), name),
      B.field("content", t("docs.file"), file, t("docs.file_hint")),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("form.save") }),
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    const dlg = B.dialog(tp ? t("docs.replace_title", { name: tp.name }) : t("docs.upload"), form);
    name.focus();
  }

  async function remove(path, question) {
    if (!(await B.confirmDialog(question, { ok: t("board.delete") }))) return;
    const res = await B.api("DELETE", path);
    if (!res.ok) { B.flash(B.errorText(res), "error"); return; }
    await B.route();
    B.flash(t("docs.deleted"), "ok");
  }

  // ---------------------------------------------------------------- numbering
  // The number a rule gives first, today (the server fills the date in the
  // responsible's zone; the preview uses the viewer's).
  B.numberPreview = function (rule, n, when) {
    const d = when || new Date();
    const p2 = (x) => String(x).padStart(2, "0");
    const num = String(n === undefined ? rule.start ?? 1 : n).padStart(Number(rule.padding) || 0, "0");
    return String(rule.template || "")
      .split("{NUMBER}").join(num)
      .split("{YYYY}").join(String(d.getFullYear()))
      .split("{YY}").join(p2(d.getFullYear() % 100))
      .split("{MM}").join(p2(d.getMonth() + 1))
      .split("{DD}").join(p2(d.getDate()));
  };

  function numeratorsPanel(edit) {
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "numerators stack" },
      el("thead", {}, el("tr", {}, [t("docs.name"), t("num.template"), t("num.sequence"), t("num.reset"), t("num.first"), ""].map((h) => el("th", { text: h })))),
      tbody));
    const list = B.pager({ path: NUMERATORS, key: "numerators", list: tbody, outer: table, empty: t("num.none"), limit: 20,
      render: (n) => el("tr", { class: "numerator", "data-id": n.id },
        el("td", {}, el("strong", { text: n.name }), el("div", { class: "sub", text: n.id })),
        el("td", { "data-label": t("num.template") }, el("code", { text: n.template })),
        el("td", { "data-label": t("num.sequence"), text: t("num.sequence_words", { start: n.start, step: n.step, padding: n.padding }) }),
        el("td", { "data-label": t("num.reset"), text: t("num.reset_" + n.reset) }),
        el("td", { "data-label": t("num.first") }, el("code", { text: B.numberPreview(n) })),
        el("td", { class: "act" },
          edit ? el("button", { type: "button", class: "edit", text: t("board.edit"), "aria-label": t("board.edit") + ": " + n.name, onclick: () => numeratorForm(n) }) : null,
          edit ? el("button", { type: "button", class: "delete danger", text: t("board.delete"), "aria-label": t("board.delete") + ": " + n.name,
            onclick: () => remove(NUMERATORS + "/" + B.enc(n.id), t("num.delete", { name: n.name })) }) : null)) });
    return el("section", { class: "panel" },
      el("div", { class: "panel-head" }, el("h2", { text: t("num.title") }),
        edit ? el("button", { type: "button", class: "add-numerator", text: "+ " + t("num.add"), onclick: () => numeratorForm(null) }) : null),
      el("p", { class: "hint", text: t("num.hint") }),
      list);
  }

  function numeratorForm(n) {
    const name = el("input", { id: "num-name", type: "text", maxlength: "200", value: n ? n.name : "" });
    const template = el("input", { id: "num-template", type: "text", maxlength: "100", value: n ? n.template : "INV-{YYYY}-{NUMBER}" });
    const int = (id, v, min) => el("input", { id, type: "number", min: String(min), step: "1", value: String(v) });
    const start = int("num-start", n ? n.start : 1, 0);
    const step = int("num-step", n ? n.step : 1, 1);
    const padding = int("num-padding", n ? n.padding : 4, 0);
    const reset = el("select", { id: "num-reset" }, ["never", "year", "month", "day"].map((r) =>
      el("option", { value: r, selected: (n ? n.reset : "year") === r, text: t("num.reset_" + r) })));
    const preview = el("output", { id: "num-preview", class: "preview", for: "num-template" });
    const body = () => ({ name: name.value.trim(), template: template.value.trim(), start: Number(start.value), step: Number(step.value), padding: Number(padding.value), reset: reset.value });
    // What the browser can tell before the server: at the field.
    const check = () => {
      const b = body();
      const errs = [];
      if (!b.name) errs.push({ field: "name", message: t("form.required") });
      if ((b.template.split("{NUMBER}").length - 1) !== 1) errs.push({ field: "template", message: t("num.needs_number") });
      for (const [k, min] of [["start", 0], ["step", 1], ["padding", 0]]) {
        if (!Number.isInteger(b[k]) || b[k] < min) errs.push({ field: k, message: t("num.whole", { min }) });
      }
      return errs;
    };
    const update = () => {
      const b = body();
      preview.textContent = (b.template.includes("{NUMBER}") ? [B.numberPreview(b), B.numberPreview(b, b.start + b.step)].join(", ") + " …" : "—");
    };
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const form = el("form", { class: "numerator-form", novalidate: true, oninput: update, onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(form); top.textContent = "";
      const errs = check();
      if (errs.length) { B.showErrors(form, top, errs); return; }
      const res = await B.api(n ? "PUT" : "POST", n ? NUMERATORS + "/" + B.enc(n.id) : NUMERATORS, body());
      if (!res.ok) { B.showErrors(form, top, B.errorDetails(res)); return; }
      dlg.close();
      await B.route();
      B.flash(t("form.saved"), "ok");
    } }, top,
      B.field("name", t("docs.name"), name),
      B.field("template", t("num.template"), template, t("num.template_hint")),
      el("div", { class: "inline" }, B.field("start", t("num.start"), start), B.field("step", t("num.step"), step), B.field("padding", t("num.padding"), padding)),
      B.field("reset", t("num.reset"), reset),
      el("p", { class: "preview-line" }, el("span", { text: t("num.preview") + " " }), preview),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary", text: t("form.save") }),
        el("button", { type: "button", text: t("form.cancel"), onclick: () => dlg.close() })));
    update();
    const dlg = B.dialog(n ? t("num.edit") : t("num.add"), form);
    name.focus();
  }

  // ---------------------------------------------------------------- item page
  // The item's documents: number, title, created, PDF / DOCX downloads.
  B.itemDocumentsPanel = function (item) {
    if (!B.has("get", "/v1/documents")) return null;
    const tbody = el("tbody");
    const table = el("div", { class: "scroll" }, el("table", { class: "item-documents stack" },
      el("thead", {}, el("tr", {}, [t("docs.number"), t("docs.doc_title"), t("docs.created"), t("docs.files")].map((h) => el("th", { text: h })))),
      tbody));
    const list = B.pager({ path: "/v1/documents?item_id=" + B.enc(item.id), key: "documents", list: tbody, outer: table, empty: t("docs.none"), limit: 10,
      render: (d) => el("tr", { class: "document", "data-id": d.id },
        el("td", { "data-label": t("docs.number"), text: d.number || "—" }),
        el("td", { "data-label": t("docs.doc_title"), text: d.title }),
        el("td", { "data-label": t("docs.created"), text: B.fmt(d.created_at) }),
        el("td", { class: "act", "data-label": t("docs.files") }, d.files.map((f) =>
          el("button", { type: "button", class: "file " + f.format, text: f.format.toUpperCase() + " · " + sizeText(f.size),
            "aria-label": t("docs.download") + ": " + d.title + " (" + f.format.toUpperCase() + ")",
            onclick: () => B.download(f.url, d.file_name + "." + f.format) })))) });
    return el("section", { class: "panel item-docs" }, el("h2", { text: t("docs.item_title") }), list);
  };

  // ---------------------------------------------------------------- pickers
  // A select of the tenant's templates or numbering rules, filled once the
  // list has loaded (a value the list does not know is kept).
  const cache = {};
  function loadList(kind) {
    const [path, key] = kind === "template" ? [TEMPLATES, "templates"] : [NUMERATORS, "numerators"];
    cache[kind] = cache[kind] || B.loadAll(path, key, 1000).then((rows) => rows || []);
    return cache[kind];
  }
  B.documentPickerReset = function () { delete cache.template; delete cache.numerator; };
  B.documentPicker = function (kind, id, value, optional) {
    const select = el("select", { id, class: "doc-picker", "data-kind": kind },
      el("option", { value: "", text: optional ? "—" : t("pick.choose") }),
      value ? el("option", { value, selected: true, text: value }) : null);
    B.documentPickerReset();
    select.ready = loadList(kind).then((rows) => {
      const keep = select.value;
      // replaceChildren takes nodes only (no arrays, a null would print).
      select.replaceChildren(...[el("option", { value: "", text: optional ? "—" : t("pick.choose") }),
        ...rows.map((r) => el("option", { value: r.id, selected: r.id === keep, text: kind === "template" ? r.name : r.name + " (" + B.numberPreview(r) + ")" })),
        keep && !rows.some((r) => r.id === keep) ? el("option", { value: keep, selected: true, text: keep }) : null].filter(Boolean));
    });
    return { node: select, read: () => select.value === "" ? (optional ? null : undefined) : select.value };
  };
})(window.Board = window.Board || {});
