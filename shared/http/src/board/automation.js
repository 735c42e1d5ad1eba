// The automation board of a pipeline (#/board/<pipeline>): stages as
// columns in pipeline order, each with its triggers, then its robots in
// order, as cards (type, name, delay and condition in words, "after
// previous" chains). Admins add, edit, copy, delete and reorder (up/down
// buttons, or drag a robot onto another robot of its stage); members only
// see the cards.
"use strict";
(function (B) {
  const { el, t } = B;

  B.boardPage = async function (pid) {
    const base = "/v1/pipelines/" + B.enc(pid);
    const [p, robots, triggers, cat, dir] = await Promise.all([
      B.api("GET", base),
      B.loadAll(base + "/robots", "robots"),
      B.loadAll(base + "/triggers", "triggers"),
      B.state.catalogue ? Promise.resolve({ ok: true, data: B.state.catalogue }) : B.api("GET", "/v1/catalogue"),
      B.directory(),
    ]);
    if (!p.ok) { await B.show(B.panelError(B.errorText(p))); return; }
    if (!cat.ok) { await B.show(B.panelError(B.errorText(cat))); return; }
    B.state.catalogue = cat.data;
    const ctx = {
      pid, pipeline: p.data, robots: robots || [], triggers: triggers || [], dir,
      stagesFor: () => p.data.stages,
      reload: () => B.boardPage(pid),
    };
    const edit = B.canEdit();
    const reorder = edit && B.has("put", "/v1/pipelines/{}/stages/{}/robot-order");
    const scroller = B.main.querySelector(".columns");
    const left = scroller ? scroller.scrollLeft : 0;
    const cols = p.data.stages.map((stage) => column(ctx, stage, edit, reorder));
    const grid = el("div", { class: "columns" }, cols);
    await B.show(el("h1", { class: "page-title", text: t("board.title", { name: p.data.name || pid }) }),
      edit ? null : el("p", { class: "hint role-note", text: t("role.member_board") }),
      grid);
    grid.scrollLeft = left;
  };

  function column(ctx, stage, edit, reorder) {
    const trig = ctx.triggers.filter((x) => x.stage_id === stage.id).sort((a, b) => a.order - b.order);
    const robs = ctx.robots.filter((x) => x.stage_id === stage.id).sort((a, b) => a.order - b.order);
    const list = el("div", { class: "robot-list" }, robs.map((r, i) => robotCard(ctx, r, i, robs, edit, reorder)));
    return el("section", { class: "column stage-" + stage.semantic, "data-stage": stage.id, "aria-label": stage.name },
      el("h2", { text: stage.name }),
      el("h3", { text: t("board.triggers") }),
      trig.length ? trig.map((x) => triggerCard(ctx, x, edit)) : el("p", { class: "empty", text: t("board.no_triggers") }),
      edit ? el("button", { type: "button", class: "add-trigger", "data-stage": stage.id, text: "+ " + t("board.add_trigger"), onclick: () => B.typePicker(ctx, "trigger", stage.id) }) : null,
      el("h3", { text: t("board.robots") }),
      robs.length ? list : el("p", { class: "empty", text: t("board.no_robots") }),
      edit ? el("button", { type: "button", class: "add", "data-stage": stage.id, text: "+ " + t("board.add"), onclick: () => B.typePicker(ctx, "robot", stage.id) }) : null);
  }

  function actions(ctx, kind, rec, extra) {
    return el("div", { class: "actions" },
      el("button", { type: "button", class: "edit", text: t("board.edit"), "aria-label": t("board.edit") + ": " + rec.name, onclick: () => B.automationForm(ctx, kind, rec.stage_id, rec.type, rec) }),
      el("button", { type: "button", class: "copy", text: t("board.copy"), "aria-label": t("board.copy") + ": " + rec.name, onclick: () => B.copyDialog(ctx, kind, rec) }),
      el("button", { type: "button", class: "delete", text: t("board.delete"), "aria-label": t("board.delete") + ": " + rec.name, onclick: () => remove(ctx, kind, rec) }),
      extra);
  }

  function triggerCard(ctx, x, edit) {
    return el("article", { class: "card trigger", "data-id": x.id, "data-name": x.name },
      el("div", { class: "type", text: x.type }), el("div", { class: "name", text: x.name }),
      x.condition ? el("div", { class: "cond", text: t("board.if") + " " + B.conditionWords(x.condition) }) : null,
      x.execute_as ? el("div", { class: "chain", text: t("board.execute_as", { user: B.userName(x.execute_as) }) }) : null,
      edit ? actions(ctx, "trigger", x) : null);
  }

  function robotCard(ctx, r, i, robs, edit, reorder) {
    const move = (delta) => {
      const ids = robs.map((x) => x.id);
      ids.splice(i, 1);
      ids.splice(i + delta, 0, r.id);
      saveOrder(ctx, r.stage_id, ids, r.id);
    };
    const updown = reorder ? [
      el("button", { type: "button", class: "up", disabled: i === 0, "aria-label": t("board.up") + ": " + r.name, title: t("board.up"), text: "↑", onclick: () => move(-1) }),
      el("button", { type: "button", class: "down", disabled: i === robs.length - 1, "aria-label": t("board.down") + ": " + r.name, title: t("board.down"), text: "↓", onclick: () => move(1) }),
    ] : null;
    const card = el("article", { class: "card robot", "data-id": r.id, "data-name": r.name, draggable: reorder ? "true" : null },
      el("div", { class: "type", text: r.type }),
      el("div", { class: "name", text: r.name }),
      el("div", { class: "delay", text: B.delayWords(r) }),
      r.condition ? el("div", { class: "cond", text: t("board.if") + " " + B.conditionWords(r.condition) }) : null,
      r.after_previous ? el("div", { class: "chain", text: "↳ " + t(r.wait_for === "task_completed" ? "board.after_previous_task" : "board.after_previous") }) : null,
      edit ? actions(ctx, "robot", r, updown) : null);
    if (reorder) {
      // Native drag and drop within the stage: drop a robot on another to
      // put it in that one's place.
      card.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/x-robot", r.id); e.dataTransfer.effectAllowed = "move"; card.classList.add("dragging"); });
      card.addEventListener("dragend", () => card.classList.remove("dragging"));
      card.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("text/x-robot")) { e.preventDefault(); card.classList.add("over"); } });
      card.addEventListener("dragleave", () => card.classList.remove("over"));
      card.addEventListener("drop", (e) => {
        e.preventDefault(); card.classList.remove("over");
        const moved = e.dataTransfer.getData("text/x-robot");
        if (!moved || moved === r.id || !robs.some((x) => x.id === moved)) return;
        const ids = robs.map((x) => x.id).filter((id) => id !== moved);
        ids.splice(ids.indexOf(r.id), 0, moved);
        saveOrder(ctx, r.stage_id, ids, moved);
      });
    }
    return card;
  }

  async function saveOrder(ctx, stageId, ids, focusId) {
    const res = await B.api("PUT", "/v1/pipelines/" + B.enc(ctx.pid) + "/stages/" + B.enc(stageId) + "/robot-order", { robot_ids: ids });
    if (!res.ok) { B.flash(B.errorText(res), "error"); return; }
    await ctx.reload();
    B.flash(t("board.reordered"), "ok");
    // Keep the keyboard where it was: on the moved robot's card.
    const card = B.main.querySelector('.card.robot[data-id="' + CSS.escape(focusId) + '"]');
    const btn = card && (card.querySelector("button.up:not([disabled])") || card.querySelector("button.down:not([disabled])"));
    if (btn) btn.focus();
  }

  async function remove(ctx, kind, rec) {
    const ok = await B.confirmDialog(t("board.confirm_delete_" + kind, { name: rec.name }), { ok: t("board.delete") });
    if (!ok) return;
    const res = await B.api("DELETE", "/v1/pipelines/" + B.enc(ctx.pid) + "/" + kind + "s/" + B.enc(rec.id));
    if (!res.ok) { B.flash(B.errorText(res), "error"); return; }
    await ctx.reload();
    B.flash(t("board.deleted"), "ok");
  }
})(window.Board = window.Board || {});
