// The board's basics, shared by every page: interface strings (t), element
// building (el), the status line (flash), dates and money in the viewer's
// language and time zone. Every file adds to the one `window.Board` object.
"use strict";
(function (B) {
  B.state = {
    lang: localStorage.getItem("crm.lang") || "en",
    catalogue: null, // GET /v1/catalogue, once per page load
  };

  // An interface text in the current language (English when missing), with
  // `{name}` placeholders filled from `vars`.
  B.t = function (key, vars) {
    const table = window.STRINGS[B.state.lang] || window.STRINGS.en;
    let s = table[key] !== undefined ? table[key] : window.STRINGS.en[key];
    if (s === undefined) return key;
    if (vars) for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(vars[k]);
    return s;
  };
  // "1 day" / "2 days", "1 день" / "2 дня" / "5 дней": the strings give
  // the forms by the language's plural rule (one, few, many, other).
  B.unitWord = function (unit, n) {
    const forms = B.t("unit." + unit);
    if (typeof forms !== "object") return unit;
    const rule = new Intl.PluralRules(B.state.lang).select(Number(n) || 0);
    return forms[rule] || forms.other;
  };

  // el("a", {href, class, text, onclick}, ...children): attributes that are
  // null/undefined/false are left out, so are null children.
  B.el = function (tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  };

  const $flash = document.getElementById("flash");
  B.flash = function (msg, kind) {
    $flash.textContent = msg || "";
    $flash.className = "flash" + (kind ? " " + kind : "");
  };

  // A time in the viewer's time zone, with the zone's short name.
  B.fmt = function (s) {
    if (!s) return "";
    try {
      return new Date(s).toLocaleString(B.state.lang, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
    }
    catch (_) { return new Date(s).toLocaleString(); }
  };
  B.money = function (item) {
    if (!item.amount) return "";
    try { return new Intl.NumberFormat(B.state.lang, { style: "currency", currency: item.currency || "RUB", maximumFractionDigits: 0 }).format(item.amount); }
    catch (_) { return item.amount + " " + (item.currency || ""); }
  };
  // A link to an item page (or nothing when there is no item).
  B.itemLink = function (itemId) {
    if (!itemId) return null;
    return B.el("a", { href: "#/item/" + encodeURIComponent(itemId), text: B.t("item.open") });
  };
  B.main = document.getElementById("main");
  // The page's content, shown once the first page of each of its lists has
  // loaded: the page does not jump while parts load.
  B.show = async function (...children) {
    const nodes = children.flat().filter(Boolean);
    const lists = nodes.flatMap((n) => n.classList && n.classList.contains("paged") ? [n] : [...(n.querySelectorAll ? n.querySelectorAll(".paged") : [])]);
    await Promise.all(lists.map((l) => l.ready));
    B.main.replaceChildren(...nodes);
  };
  B.panelError = function (text) { return B.el("p", { class: "panel error-panel", role: "alert", text }); };
})(window.Board = window.Board || {});
