// The board's router: #/board/<pipeline>, #/kanban/<pipeline>[/<search>],
// #/item/<id>[/<kinds>], #/directory, #/activity/<tab>[/<arg>],
// #/reports/<pipeline>, #/documents, #/channels/<tab>. Each page is a file of its own (automation.js,
// kanban.js, item.js, directory.js, activity.js, reports.js); they all read and write through the JSON API (api.js).
"use strict";
(function (B) {
  const { t } = B;
  const $lang = document.getElementById("lang");

  // Translate the static page, then draw the page the hash names. One
  // drawing at a time: a call meanwhile draws again once it is done, so a
  // slower, older page never overwrites a newer one.
  let running = null;
  let again = false;
  B.route = function () {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        document.body.classList.add("busy");
        do { again = false; await draw(); } while (again);
      } finally { running = null; document.body.classList.remove("busy"); }
    })();
    return running;
  };

  async function draw() {
    document.documentElement.lang = B.state.lang;
    document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
    document.title = t("app.title");
    if (!B.key()) { B.nav(null); B.keyPrompt(); return; }
    await B.loadFeatures();
    await B.loadMe();
    if (!B.key()) return; // the key was refused meanwhile
    const [, page, arg, arg2] = (location.hash || "").split("/").map((s) => s && decodeURIComponent(s));
    await B.clockBar(); // before the page: the bar does not push it down later
    if (page === "kanban") { B.nav("kanban"); await B.kanbanPage(arg || B.pipelineId(), arg2); }
    else if (page === "item") { B.nav("item"); await B.itemPage(arg, arg2); }
    else if (page === "directory") { B.nav("directory"); await B.directoryPage(); }
    else if (page === "reports") { B.nav("reports"); await B.reportsPage(arg); }
    else if (page === "documents") { B.nav("documents"); await B.documentsPage(); }
    else if (page === "channels") { B.nav("channels"); await B.channelsPage(arg); }
    else if (page === "activity") { B.nav("activity"); await B.activityPage(arg || "user", arg2); }
    else { B.nav("board"); await B.boardPage(arg || B.pipelineId()); }
  }

  // Phones: the nav folds into the header's menu button; a link closes it.
  const $menu = document.getElementById("menu");
  const $top = $menu.closest("header");
  const fold = (open) => { $top.classList.toggle("open", open); $menu.setAttribute("aria-expanded", String(open)); };
  $menu.addEventListener("click", () => fold(!$top.classList.contains("open")));
  document.getElementById("nav").addEventListener("click", (e) => { if (e.target.closest("a")) fold(false); });
  window.addEventListener("hashchange", () => fold(false));

  $lang.value = B.state.lang;
  $lang.addEventListener("change", () => { B.state.lang = $lang.value; localStorage.setItem("crm.lang", B.state.lang); B.route(); });
  window.addEventListener("hashchange", () => { B.flash(""); B.route(); });
  B.route();
})(window.Board = window.Board || {});
