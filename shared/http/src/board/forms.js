// Form pieces every page uses: a modal dialog, a confirm dialog (with an
// optional reason), labelled fields that carry the API field they stand for
// (`data-field`), and putting a 422's details next to the fields they name.
"use strict";
(function (B) {
  const { el, t } = B;

  B.dialog = function (title, body) {
    const d = el("dialog", { class: "dialog", "aria-label": title }, el("h2", { text: title }), body);
    d.addEventListener("close", () => d.remove());
    document.body.append(d);
    d.showModal();
    return d;
  };

  // Resolves to false (cancelled), or true / the typed reason (confirmed).
  B.confirmDialog = function (text, opts) {
    opts = opts || {};
    return new Promise((resolve) => {
      let answer = false;
      const reason = opts.reason ? el("input", { id: "confirm-reason", type: "text", maxlength: "500" }) : null;
      const ok = el("button", { type: "submit", class: "primary confirm-ok", text: opts.ok || t("confirm.ok") });
      const form = el("form", { class: "confirm", onsubmit: (e) => {
        e.preventDefault();
        answer = reason ? reason.value.trim() || true : true;
        d.close();
      } },
        el("p", { text }),
        reason ? B.field("reason", t("confirm.reason"), reason) : null,
        el("div", { class: "buttons" }, ok,
          el("button", { type: "button", text: t("form.cancel"), onclick: () => d.close() })));
      const d = B.dialog(opts.title || t("confirm.title"), form);
      d.addEventListener("close", () => resolve(answer));
      (reason || ok).focus();
    });
  };

  // The label of a control: a <label for> where the control is labelable,
  // else a text the control (a group of checkboxes, …) is labelled by.
  B.labelFor = function (input, ...content) {
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(input.tagName)) return el("label", { for: input.id }, ...content);
    input.setAttribute("aria-labelledby", input.id + "-label");
    return el("span", { class: "label", id: input.id + "-label" }, ...content);
  };

  // A labelled input whose errors land in its `.field-error`.
  B.field = function (field, label, input, hint) {
    return el("div", { class: "field", "data-field": field },
      B.labelFor(input, label), input,
      hint ? el("small", { class: "hint", text: hint }) : null,
      el("p", { class: "field-error", role: "alert" }));
  };
  B.checkField = function (field, label, input) {
    return el("div", { class: "field check", "data-field": field }, input,
      el("label", { for: input.id, text: label }), el("p", { class: "field-error", role: "alert" }));
  };
  B.clearErrors = function (form) {
    form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((f) => f.classList.remove("invalid"));
  };

  // Each error goes next to the field it names (the longest matching
  // `data-field` prefix: `settings.deadline.amount` → `settings.deadline`,
  // `settings.user_ids[1]` → `settings.user_ids`); the rest goes on top.
  B.showErrors = function (form, top, details) {
    const fields = [...form.querySelectorAll("[data-field]")];
    let first = null;
    for (const d of details) {
      let target = null;
      let f = d.field || "";
      while (f && !target) {
        target = fields.find((x) => x.dataset.field === f);
        if (target) break;
        const cut = Math.max(f.lastIndexOf("."), f.lastIndexOf("["));
        f = cut > 0 ? f.slice(0, cut) : "";
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
  };
})(window.Board = window.Board || {});
