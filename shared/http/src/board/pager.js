// A list that pages with a "more" button: `GET path?limit=&cursor=` answers
// `{"<key>": [...], "next_cursor"}`. Where a server answers the whole list
// at once (no `next_cursor` in the answer), the pages are cut here, so a long
// list never lands on the page at once either way.
"use strict";
(function (B) {
  const { el, t } = B;

  // opts: path, key (the answer's list), render(row) → element, list (the
  // element rows go into; default <ul>), outer (what holds `list`, e.g. a
  // table), empty (text when there are no rows), limit, filter(row) → bool.
  B.pager = function (opts) {
    const limit = opts.limit || 20;
    const list = opts.list || el("ul", { class: "rows" });
    const outer = opts.outer || list;
    const status = el("p", { class: "empty", hidden: true, text: opts.empty || t("list.empty") });
    const error = el("p", { class: "field-error", role: "alert" });
    const more = el("button", { type: "button", class: "more", hidden: true, text: t("list.more"), onclick: () => next() });
    const box = el("div", { class: "paged" }, outer, status, error, more);
    let cursor = null;
    let rest = null; // the rows not shown yet of a whole-list answer
    let shown = 0;

    function add(rows) {
      for (const row of rows) {
        if (opts.filter && !opts.filter(row)) continue;
        list.append(opts.render(row));
        shown++;
      }
    }
    async function next() {
      more.disabled = true;
      if (rest) {
        add(rest.splice(0, limit));
      } else {
        // Paging parameters only where the endpoint takes them (some
        // refuse unknown query parameters).
        const sep = opts.path.includes("?") ? "&" : "?";
        const paging = B.takes("get", opts.path, "limit") ? sep + "limit=" + limit + (cursor ? "&cursor=" + B.enc(cursor) : "") : "";
        const res = await B.api("GET", opts.path + paging);
        if (!res.ok) { error.textContent = B.errorText(res); more.disabled = false; return; }
        const rows = (res.data && res.data[opts.key]) || [];
        if (res.data && "next_cursor" in res.data) {
          cursor = res.data.next_cursor || null;
          add(rows);
        } else {
          rest = rows.slice();
          add(rest.splice(0, limit));
        }
      }
      more.disabled = false;
      more.hidden = rest ? rest.length === 0 : !cursor;
      status.hidden = shown > 0;
      outer.hidden = shown === 0;
      if (opts.loaded) opts.loaded(shown);
    }
    box.ready = next();
    return box;
  };
})(window.Board = window.Board || {});
