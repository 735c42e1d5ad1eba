// Delays and conditions in words, as the cards of the automation board show
// them: "after 1 day, working hours of the responsible", "if amount > 10000".
"use strict";
(function (B) {
  const { t } = B;

  B.delayWords = function (robot) {
    const d = robot.delay || { mode: "immediately" };
    let s;
    if (d.mode === "immediately") s = t("delay.immediately");
    else if (d.mode === "at_field") s = t("delay.at_field", { field: d.field });
    else s = t("delay." + d.mode, { n: d.amount, unit: B.unitWord(d.unit, d.amount), field: d.field || "" });
    if (robot.respect_working_hours) s += ", " + t("board.working_hours");
    return s;
  };

  // Standard fields by their names ("Amount"), others by their path; an
  // AND group inside another group in parentheses, as every OR group.
  B.conditionWords = function (c, nested) {
    if (!c) return "";
    if (c.all) {
      const s = c.all.map((x) => B.conditionWords(x, true)).join(t("cond.and"));
      return nested && c.all.length > 1 ? "(" + s + ")" : s;
    }
    if (c.any) return "(" + c.any.map((x) => B.conditionWords(x, true)).join(t("cond.or")) + ")";
    const one = (x) => typeof x === "boolean" ? t("cb." + x) : String(x);
    const v = c.value === undefined || c.value === null ? ""
      : c.op === "between" && Array.isArray(c.value) ? " " + c.value.map(one).join(" " + t("cb.and") + " ")
      : " " + (Array.isArray(c.value) ? c.value.map(one).join(", ") : one(c.value));
    const name = t("cfield." + c.field) !== "cfield." + c.field ? t("cfield." + c.field) : c.field;
    return name + " " + t("op." + c.op) + v;
  };

  // "Mon–Fri 09:00–18:00" style working hours of a user.
  const WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  B.workingHoursWords = function (wh) {
    if (!wh) return "";
    // Runs of consecutive days in one: "Mon–Fri", "Mon–Wed, Fri".
    const on = WEEK.map((d) => (wh.days || []).includes(d));
    const runs = [];
    for (let i = 0; i < 7; i++) {
      if (!on[i] || (i > 0 && on[i - 1])) continue;
      let j = i;
      while (j + 1 < 7 && on[j + 1]) j++;
      runs.push(j - i >= 2 ? t("day." + WEEK[i]) + "–" + t("day." + WEEK[j]) : WEEK.slice(i, j + 1).map((d) => t("day." + d)).join(", "));
    }
    const days = runs.join(", ");
    return days + (wh.start && wh.end ? " " + wh.start + "–" + wh.end : "");
  };
})(window.Board = window.Board || {});
