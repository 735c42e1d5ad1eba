// The manual clock bar (a server started with `--clock manual`): the time,
// and with the operator's admin key "advance 1 hour / 1 day", which runs
// everything that became due. Hidden on the system clock.
"use strict";
(function (B) {
  const { el, t } = B;
  const $clock = document.getElementById("clock");

  B.hideClock = function () { $clock.hidden = true; };

  B.clockBar = async function () {
    // The page says whether the server runs on a manual clock (board/mod.rs).
    if (document.body.dataset.clock !== "manual") { $clock.hidden = true; return; }
    const res = await B.api("GET", "/v1/clock");
    if (!res.ok) { $clock.hidden = true; return; }
    const bar = [el("span", { text: t("clock.now") }), el("time", { id: "clock-now", datetime: res.data.now, text: B.fmt(res.data.now) })];
    const admin = sessionStorage.getItem("crm.admin");
    if (admin) {
      for (const [label, seconds] of [["clock.hour", 3600], ["clock.day", 86400]]) {
        bar.push(el("button", { type: "button", "data-seconds": seconds, text: t(label), onclick: async (e) => {
          e.target.disabled = true;
          const r = await B.api("POST", "/v1/clock/advance", { seconds }, undefined, admin);
          if (!r.ok) {
            B.flash(B.errorText(r), "error");
            if (r.status === 401 || r.status === 403) sessionStorage.removeItem("crm.admin");
            B.clockBar();
            return;
          }
          await B.route();
          B.flash(t("clock.advanced"), "ok");
        } }));
      }
    } else {
      const input = el("input", { id: "admin-key", type: "password", autocomplete: "off", "aria-label": t("clock.admin"), placeholder: t("clock.admin") });
      bar.push(el("form", { class: "inline", onsubmit: (e) => {
        e.preventDefault();
        if (input.value) { sessionStorage.setItem("crm.admin", input.value); B.clockBar(); }
      } }, input, el("button", { type: "submit", text: t("clock.set_admin") })));
    }
    $clock.replaceChildren(...bar);
    $clock.hidden = false;
  };
})(window.Board = window.Board || {});
