// The kanban of a pipeline's items (#/kanban/<pipeline>): a column per
// stage, each paged (`GET /v1/items?pipeline_id=&stage_id=&q=&cursor=`);
// cards with title, amount, responsible and a badge for pending/failed
// robots; drag a card (or pick a stage) to move it (PATCH with If-Match: a
// 409 reloads the card and says so); create an item; search.
"use strict";
(function (B) {
  const { el, t } = B;

  B.kanbanPage = async function (pid, q) {
    const [p, dir] = await Promise.all([B.api("GET", "/v1/pipelines/" + B.enc(pid)), B.directory()]);
    if (!p.ok) { await B.show(B.panelError(B.errorText(p))); return; }
    const stages = p.data.stages;
    const root = el("div", { class: "kanban" });
    const ctx = { pid, stages, root, q: q || "", badges: B.has("get", "/v1/items/run-summary") };
    const title = el("input", { id: "new-title", type: "text", required: true, maxlength: "500" });
    const amount = el("input", { id: "new-amount", type: "number", step: "any", min: "0", value: "" });
    const remembered = localStorage.getItem("crm.responsible") || (dir.users[0] && dir.users[0].id) || "u-anna";
    const resp = dir.available ? B.personPicker("new-responsible", dir, remembered) : { node: el("input", { id: "new-responsible", type: "text", value: remembered }) };
    const respValue = () => resp.node.value;
    const top = el("p", { class: "field-error form-error", role: "alert" });
    const create = el("form", { class: "create", "aria-label": t("kanban.new"), onsubmit: async (e) => {
      e.preventDefault();
      B.clearErrors(create); top.textContent = "";
      const body = { pipeline_id: pid, title: title.value, responsible_id: respValue() };
      if (amount.value !== "") body.amount = Number(amount.value);
      const res = await B.api("POST", "/v1/items", body);
      if (!res.ok) { B.showErrors(create, top, B.errorDetails(res)); return; }
      localStorage.setItem("crm.responsible", respValue());
      title.value = ""; amount.value = "";
      B.flash(t("kanban.created"), "ok");
      const cards = root.querySelector('.column[data-stage="' + CSS.escape(res.data.stage_id) + '"] .cards');
      if (cards) { cards.querySelector(".empty")?.remove(); cards.prepend(itemCard(ctx, res.data)); refreshBadges(ctx, [res.data.id]); }
    } }, el("h2", { text: t("kanban.new") }), top,
      B.field("title", t("kanban.title"), title), B.field("amount", t("kanban.amount"), amount),
      B.field("responsible_id", t("kanban.responsible"), resp.node),
      el("button", { type: "submit", class: "primary", text: t("kanban.create") }));
    const search = el("input", { id: "kanban-q", type: "search", value: ctx.q, maxlength: "200", "aria-label": t("kanban.search"), placeholder: t("kanban.search") + "…" });
    const searchForm = el("form", { class: "search", role: "search", onsubmit: (e) => {
      e.preventDefault();
      location.hash = "#/kanban/" + B.enc(pid) + (search.value.trim() ? "/" + B.enc(search.value.trim()) : "");
    } }, search, el("button", { type: "submit", text: t("kanban.search") }));
    const loading = [];
    const columns = stages.map((s) => {
      const cards = el("div", { class: "cards" }, el("p", { class: "empty loading", text: t("loading") }));
      const col = el("section", { class: "column stage-" + s.semantic, "data-stage": s.id, "aria-label": s.name },
        el("h2", { text: s.name }), cards);
      col.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("text/x-item")) { e.preventDefault(); col.classList.add("over"); } });
      col.addEventListener("dragleave", () => col.classList.remove("over"));
      col.addEventListener("drop", (e) => {
        e.preventDefault(); col.classList.remove("over");
        const card = root.querySelector('.item-card[data-id="' + CSS.escape(e.dataTransfer.getData("text/x-item")) + '"]');
        if (card) moveCard(ctx, card, s.id);
      });
      loading.push(loadColumn(ctx, s.id, cards, null));
      return col;
    });
    root.append(el("div", { class: "kanban-head" }, el("h1", { class: "page-title", text: t("kanban.heading", { name: p.data.name || pid }) }), searchForm),
      create, el("div", { class: "columns" }, columns));
    // Shown with every column's first page: nothing jumps while loading.
    await Promise.all(loading);
    await B.show(root);
  };

  async function loadColumn(ctx, stageId, cards, cursor) {
    const q = "/v1/items?pipeline_id=" + B.enc(ctx.pid) + "&stage_id=" + B.enc(stageId) + "&limit=20"
      + (ctx.q ? "&q=" + B.enc(ctx.q) : "") + (cursor ? "&cursor=" + B.enc(cursor) : "");
    const res = await B.api("GET", q);
    cards.querySelector(".loading")?.remove();
    if (!res.ok) { cards.append(el("p", { class: "field-error", text: B.errorText(res) })); return; }
    cards.querySelector(".more")?.remove();
    cards.querySelector(".empty")?.remove();
    for (const item of res.data.items) cards.append(itemCard(ctx, item));
    if (!cards.querySelector(".item-card")) cards.append(el("p", { class: "empty", text: t("kanban.empty") }));
    if (res.data.next_cursor) {
      cards.append(el("button", { type: "button", class: "more", text: t("list.more"), onclick: () => loadColumn(ctx, stageId, cards, res.data.next_cursor) }));
    }
    await refreshBadges(ctx, res.data.items.map((i) => i.id));
  }

  // Pending/failed robot runs of the items' current visits.
  async function refreshBadges(ctx, ids) {
    if (!ctx.badges || !ids.length) return;
    const res = await B.api("GET", "/v1/items/run-summary?ids=" + ids.map(B.enc).join(","));
    if (!res.ok || !res.data || !res.data.items) return;
    for (const id of ids) {
      const card = ctx.root.querySelector('.item-card[data-id="' + CSS.escape(id) + '"]');
      if (!card) continue;
      const s = res.data.items[id] || { pending: 0, failed: 0 };
      const box = card.querySelector(".badges");
      // (replaceChildren would print a null as "null": leave it out)
      box.replaceChildren(...[
        s.pending ? el("span", { class: "badge pending", "data-pending": s.pending, text: t("kanban.pending", { n: s.pending }) }) : null,
        s.failed ? el("span", { class: "badge failed", "data-failed": s.failed, text: t("kanban.failed", { n: s.failed }) }) : null,
      ].filter(Boolean));
    }
  }

  function itemCard(ctx, item) {
    const move = el("select", { class: "move", "aria-label": t("kanban.move_to") + " — " + item.title, onchange: (e) => { if (e.target.value) moveCard(ctx, card, e.target.value); } },
      el("option", { value: "", text: t("kanban.move_to") + "…" }),
      ctx.stages.filter((s) => s.id !== item.stage_id).map((s) => el("option", { value: s.id, text: s.name })));
    const card = el("article", { class: "card item-card", draggable: "true", "data-id": item.id, "data-version": item.version, "data-title": item.title },
      el("a", { class: "name", href: "#/item/" + B.enc(item.id), text: item.title }),
      el("div", { class: "amount", text: B.money(item) }),
      el("div", { class: "resp", text: B.userName(item.responsible_id) }),
      el("div", { class: "badges" }),
      move);
    card.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/x-item", item.id); e.dataTransfer.effectAllowed = "move"; card.classList.add("dragging"); });
    card.addEventListener("dragend", () => card.classList.remove("dragging"));
    return card;
  }

  // PATCH with the version the card shows; a 409 reloads the card.
  async function moveCard(ctx, card, stageId) {
    const id = card.dataset.id;
    const res = await B.api("PATCH", "/v1/items/" + B.enc(id), { stage_id: stageId }, { "If-Match": '"' + card.dataset.version + '"' });
    let item = res.ok ? res.data : null;
    if (res.status === 409) {
      const fresh = await B.api("GET", "/v1/items/" + B.enc(id));
      item = fresh.ok ? fresh.data : null;
      B.flash(t("kanban.conflict"), "error");
    } else if (!res.ok) {
      B.flash(B.errorText(res), "error");
      return;
    } else {
      B.flash(t("kanban.moved"), "ok");
    }
    if (!item) { card.remove(); return; }
    const replacement = itemCard(ctx, item);
    if (res.status === 409) replacement.classList.add("conflict");
    const col = ctx.root.querySelector('.column[data-stage="' + CSS.escape(item.stage_id) + '"] .cards');
    const from = card.parentElement;
    card.remove();
    if (from && !from.querySelector(".item-card")) from.prepend(el("p", { class: "empty", text: t("kanban.empty") }));
    if (col) { col.querySelector(".empty")?.remove(); col.prepend(replacement); }
    // The stage change plans the new stage's robots as queued work: count
    // again once that has had a moment.
    refreshBadges(ctx, [item.id]);
    setTimeout(() => refreshBadges(ctx, [item.id]), 1500);
    replacement.querySelector("a.name").focus();
  }
})(window.Board = window.Board || {});
