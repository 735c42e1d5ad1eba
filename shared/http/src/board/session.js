// Signing in (the API key is asked once and kept in sessionStorage) and the
// header's navigation: the pages, the pipeline, the key's role, sign out.
"use strict";
(function (B) {
  const { el, t } = B;

  B.pipelineId = function () { return localStorage.getItem("crm.pipeline") || "deals"; };

  B.keyPrompt = async function () {
    B.hideClock();
    const input = el("input", { id: "key", type: "password", autocomplete: "off", required: true });
    const err = el("p", { class: "field-error", role: "alert" });
    const form = el("form", { class: "panel narrow", onsubmit: async (e) => {
      e.preventDefault();
      // Any authenticated read tells a good key from a refused one.
      const res = await B.api("GET", "/v1/catalogue", undefined, undefined, input.value);
      if (res.status === 401) { err.textContent = t("key.bad"); return; }
      if (!res.ok) { err.textContent = B.errorText(res); return; }
      sessionStorage.setItem("crm.key", input.value);
      B.route();
    } },
      el("h1", { text: t("key.title") }),
      el("label", { for: "key", text: t("key.label") }), input, err,
      el("button", { type: "submit", class: "primary", text: t("key.submit") }));
    await B.show(form);
    input.focus();
  };

  // active: "board" | "kanban" | "item" | "directory" | "activity" | null.
  B.nav = function (active) {
    const pid = B.pipelineId();
    const link = (page, href, label) => el("a", { href, class: active === page ? "active" : null, "aria-current": active === page ? "page" : null, text: t(label) });
    const signedIn = !!B.key();
    const me = B.me();
    const pipe = el("input", { id: "pipeline", value: pid, size: 8, "aria-label": t("nav.pipeline"), onchange: (e) => {
      localStorage.setItem("crm.pipeline", e.target.value.trim() || "deals");
      location.hash = "#/" + (active === "kanban" ? "kanban" : "board") + "/" + B.enc(B.pipelineId());
    } });
    // replaceChildren would print a null as the text "null": leave it out.
    document.getElementById("nav").replaceChildren(...(signedIn ? [
      link("board", "#/board/" + B.enc(pid), "nav.board"),
      link("kanban", "#/kanban/" + B.enc(pid), "nav.kanban"),
      link("directory", "#/directory", "nav.directory"),
      link("activity", "#/activity", "nav.activity"),
      B.has("get", "/v1/reports/stage-time") ? Object.assign(link("reports", "#/reports/" + B.enc(pid), "nav.reports"), { id: "nav-reports" }) : null,
      B.documentsPage && B.has("get", "/v1/document-templates") ? link("documents", "#/documents", "nav.documents") : null,
      B.channelsPage && B.canEdit() && B.channelsAvailable() ? Object.assign(link("channels", "#/channels", "nav.channels"), { id: "nav-channels" }) : null,
      el("label", { class: "pipe" }, el("span", { text: t("nav.pipeline") }), pipe),
      me && me.role && !me.assumed ? el("span", { class: "role", title: me.label || "", text: t("role." + me.role) }) : null,
      el("button", { type: "button", class: "link", text: t("key.forget"), onclick: () => B.signOut() }),
    ] : []).filter(Boolean));
  };
})(window.Board = window.Board || {});
