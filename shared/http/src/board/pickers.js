// Pickers for the ids a setting holds: users (one or several, plus "the
// responsible" and "the responsible's supervisor"), departments, stages.
// Each returns { node, read() }: `read` gives the value for the API
// (undefined = leave the setting out). A value the lists do not know is
// kept as an option, so editing never loses it. Without the directory lists
// (an older server) users and departments are typed as ids.
"use strict";
(function (B) {
  const { el, t } = B;
  const SPECIAL = ["responsible", "supervisor"];

  function userOptions(dir, special) {
    const opts = special ? SPECIAL.map((id) => ({ id, label: B.userName(id) })) : [];
    for (const u of dir.users) {
      const dept = u.department_id ? " · " + B.departmentName(u.department_id) : "";
      opts.push({ id: u.id, label: u.name + dept });
    }
    return opts;
  }
  function stageOptions(stages) { return stages.map((s) => ({ id: s.id, label: s.name })); }
  function deptOptions(dir) { return dir.departments.map((d) => ({ id: d.id, label: d.name })); }

  // One of `options` ({id, label}); "—" first when it may stay empty.
  function single(id, options, value, optional) {
    const known = options.some((o) => o.id === value);
    const select = el("select", { id },
      optional ? el("option", { value: "", text: "—" }) : null,
      !optional && !value ? el("option", { value: "", text: t("pick.choose") }) : null,
      options.map((o) => el("option", { value: o.id, selected: o.id === value, text: o.label })),
      value && !known ? el("option", { value, selected: true, text: value }) : null);
    return { node: select, read: () => select.value === "" ? (optional ? null : undefined) : select.value };
  }

  // Several of `options` as checkboxes in a scrolling box.
  function several(id, options, values, label) {
    values = values || [];
    const all = options.concat(values.filter((v) => !options.some((o) => o.id === v)).map((v) => ({ id: v, label: v })));
    const box = el("div", { id, class: "picks", role: "group" },
      all.map((o, i) => el("label", { class: "pick" },
        el("input", { type: "checkbox", id: id + "-" + i, value: o.id, checked: values.includes(o.id) }), " ", o.label)));
    if (!all.length) box.append(el("span", { class: "empty", text: t("list.empty") }));
    return { node: box, read: () => [...box.querySelectorAll("input:checked")].map((c) => c.value) };
  }

  function typedOne(id, value, optional) {
    const input = el("input", { id, type: "text", value: value || "", placeholder: t("pick.id_hint") });
    return { node: input, read: () => input.value.trim() === "" ? (optional ? null : undefined) : input.value.trim() };
  }
  function typedMany(id, values) {
    const input = el("input", { id, type: "text", value: (values || []).join(", "), placeholder: t("form.list_hint") });
    return { node: input, read: () => input.value.split(",").map((s) => s.trim()).filter(Boolean) };
  }

  B.userPicker = function (id, dir, value, optional) {
    return dir.available ? single(id, userOptions(dir, true), value, optional) : typedOne(id, value, optional);
  };
  B.usersPicker = function (id, dir, values, label) {
    return dir.available ? several(id, userOptions(dir, true), values, label) : typedMany(id, values);
  };
  // A plain user (no "responsible"): the directory's own forms.
  B.personPicker = function (id, dir, value) {
    return dir.available ? single(id, userOptions(dir, false), value, true) : typedOne(id, value, true);
  };
  B.departmentPicker = function (id, dir, value, exclude) {
    const opts = deptOptions(dir).filter((o) => o.id !== exclude);
    return dir.available ? single(id, opts, value, true) : typedOne(id, value, true);
  };
  B.departmentsPicker = function (id, dir, values, label) {
    return dir.available ? several(id, deptOptions(dir), values, label) : typedMany(id, values);
  };
  B.stagePicker = function (id, stages, value, optional) { return single(id, stageOptions(stages), value, optional); };
  B.stagesPicker = function (id, stages, values, label) { return several(id, stageOptions(stages), values, label); };

  // Which picker a setting takes, by its name (the engine checks these names
  // as users, departments and stages).
  B.PICKER_OF = {
    author_id: "user", user_id: "user", sender_id: "user", to_user_id: "user", recipient_id: "user",
    responsible_id: "user", execute_as: "user",
    user_ids: "users", recipients: "users", member_ids: "users", recipient_ids: "users",
    accomplice_ids: "users", auditor_ids: "users", invited_user_ids: "users",
    department_ids: "departments",
    stage_id: "stage", stage_ids: "stages",
  };
})(window.Board = window.Board || {});
