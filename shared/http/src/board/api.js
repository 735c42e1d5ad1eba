// The JSON API: every call sends the session's key as a Bearer token. What
// this server can do is read once from its OpenAPI document, so a page hides
// a control whose endpoint this server does not have (instead of calling it
// and showing a 404). Also the signed-in key's role (GET /v1/me) and the
// directory (users, departments) the pickers and names need.
"use strict";
(function (B) {
  B.key = function () { return sessionStorage.getItem("crm.key"); };

  B.api = async function (method, path, body, headers, useKey) {
    const h = Object.assign({ Authorization: "Bearer " + (useKey || B.key()) }, headers || {});
    if (body !== undefined) h["Content-Type"] = "application/json";
    let r;
    try {
      r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (_) {
      return { status: 0, ok: false, data: null, etag: null };
    }
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (r.status === 401 && !useKey) { B.signOut(); }
    return { status: r.status, ok: r.ok, data, etag: r.headers.get("ETag") };
  };
  B.enc = encodeURIComponent;

  // The error's message, or "Request failed (status)".
  B.errorText = function (res) {
    if (res.status === 0) return B.t("error.network");
    if (res.status === 403) return B.t("error.forbidden");
    return (res.data && res.data.error && res.data.error.message) || B.t("error.generic") + " (" + res.status + ")";
  };
  // The error's field details, or one detail without a field.
  B.errorDetails = function (res) {
    const d = res.data && res.data.error && res.data.error.details;
    return d && d.length ? d : [{ field: "", message: B.errorText(res) }];
  };

  // ---------------------------------------------------------------- features
  // "get /v1/users" → true when the server documents it. Path parameters are
  // compared without their names ("/v1/items/{}/stop-automation").
  let features = null;
  const norm = (p) => p.replace(/\{[^}]*\}/g, "{}");
  B.loadFeatures = async function () {
    if (features) return;
    const res = await B.api("GET", "/v1/openapi.json");
    features = { ops: new Set(), params: {} };
    if (!res.ok || !res.data || !res.data.paths) return;
    for (const [path, item] of Object.entries(res.data.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const k = method.toLowerCase() + " " + norm(path);
        features.ops.add(k);
        features.params[k] = (op.parameters || []).map((p) => p.name);
      }
    }
  };
  B.has = function (method, path) { return !!features && features.ops.has(method + " " + norm(path)); };
  B.hasParam = function (method, path, param) {
    return !!features && (features.params[method + " " + norm(path)] || []).includes(param);
  };
  // The same for a concrete path ("/v1/items/it-1/timeline?kind=info"):
  // does its endpoint document `param`?
  B.takes = function (method, concrete, param) {
    if (!features) return false;
    const bare = concrete.split("?")[0];
    for (const k of features.ops) {
      const [m, tmpl] = k.split(" ");
      if (m !== method) continue;
      const re = new RegExp("^" + tmpl.replace(/[.*+?^$()|[\]\\]/g, "\\$&").split("{}").join("[^/]+") + "$");
      if (re.test(bare)) return (features.params[k] || []).includes(param);
    }
    return false;
  };

  // ---------------------------------------------------------------- role
  // GET /v1/me; a server without it knows no roles: every key edits.
  let me = null;
  B.loadMe = async function () {
    if (me) return me;
    if (B.has("get", "/v1/me")) {
      const res = await B.api("GET", "/v1/me");
      if (res.ok && res.data) me = res.data;
    }
    me = me || { role: "admin", tenant: null, label: null, assumed: true };
    return me;
  };
  B.canEdit = function () { return !me || me.role === "admin"; };
  B.me = function () { return me; };

  B.signOut = function () {
    sessionStorage.removeItem("crm.key");
    sessionStorage.removeItem("crm.admin");
    me = null;
    B.directoryReset();
    B.route();
  };

  // ---------------------------------------------------------------- lists
  // Every page of a paged list (for pickers and the department tree), at
  // most `max` rows. A server that answers the whole list at once is fine too.
  B.loadAll = async function (path, key, max) {
    const rows = [];
    let cursor = null;
    const sep = path.includes("?") ? "&" : "?";
    do {
      const paging = B.takes("get", path, "limit") ? sep + "limit=200" + (cursor ? "&cursor=" + B.enc(cursor) : "") : "";
      const res = await B.api("GET", path + paging);
      if (!res.ok) return null;
      rows.push(...(res.data[key] || []));
      cursor = res.data.next_cursor || null;
    } while (cursor && rows.length < (max || 5000));
    return rows;
  };

  // ---------------------------------------------------------------- directory
  // Users and departments, loaded once per sign-in (after an edit: again).
  let directory = null;
  B.directoryReset = function () { directory = null; };
  B.directory = async function () {
    if (directory) return directory;
    const available = B.has("get", "/v1/users") && B.has("get", "/v1/departments");
    const [users, departments] = available
      ? await Promise.all([B.loadAll("/v1/users", "users"), B.loadAll("/v1/departments", "departments")])
      : [null, null];
    directory = {
      available: !!(users && departments),
      users: users || [],
      departments: departments || [],
      user: {}, department: {},
    };
    for (const u of directory.users) directory.user[u.id] = u;
    for (const d of directory.departments) directory.department[d.id] = d;
    return directory;
  };
  // A user's name when the directory is loaded, else the id.
  B.userName = function (id) {
    if (!id) return "";
    if (id === "responsible") return B.t("pick.responsible");
    if (id === "supervisor") return B.t("pick.supervisor");
    const u = directory && directory.user[id];
    return u ? u.name : id;
  };
  B.departmentName = function (id) {
    const d = directory && directory.department[id];
    return d ? d.name : id || "";
  };
})(window.Board = window.Board || {});
