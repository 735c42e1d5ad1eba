// Custom robot types of applications on the board (started by run.sh
// against `serve --demo --clock manual`): a type registered through the API
// shows in the robot picker under "Applications"; its settings form is
// generated from the type's schema (a template textarea with placeholders,
// a number, a checkbox); a missing required setting answers 422 at its
// field; the saved robot shows on the stage as `app.<code>`. Screenshots of
// the picker and the form.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const { BASE, KEY, SHOTS, CHROMIUM } = process.env;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const consoleErrors = [];
function step(s) { console.log(`[browser] ${s}`); }
async function api(method, path, body) {
  const r = await fetch(BASE + path, { method, headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
  return { status: r.status, data: await r.json().catch(() => null) };
}

try {
  step("register an application's robot type");
  const made = await api("POST", "/v1/robot-types", {
    code: "erp_order", name: "Create the ERP order", description: "Creates the order in the ERP",
    handler_url: "https://erp.example.com/crm-robot",
    settings_schema: { type: "object", properties: {
      note: { type: "string", title: "Note", description: "Sent to the ERP" },
      copies: { type: "integer", default: 1 },
      urgent: { type: "boolean" } }, required: ["note"] },
    return_schema: { type: "object", properties: { order_id: { type: "string" } } },
  });
  assert.equal(made.status, 201, JSON.stringify(made.data));

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error" && !/status of 422/.test(m.text())) consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(BASE + "/");
  await page.locator("#key").waitFor();
  await page.fill("#key", KEY);
  await page.click("form button[type=submit]");
  const column = page.locator('.column[data-stage="new"]');
  await column.waitFor();

  step("the picker lists it under Applications");
  await column.locator("button.add").click();
  const group = page.locator('#robot-type optgroup[label="Applications"]');
  await group.waitFor({ state: "attached" });
  assert.deepEqual(await group.locator("option").evaluateAll((os) => os.map((o) => o.value)), ["app.erp_order"]);
  await page.screenshot({ path: `${SHOTS}/apps-01-picker.png` });
  await page.selectOption("#robot-type", "app.erp_order");
  await page.locator("dialog button[type=submit]").click();

  step("the form is built from the schema");
  await page.locator("#f-note").waitFor();
  assert.equal(await page.locator("#f-note").evaluate((e) => e.tagName), "TEXTAREA");
  assert.match(await page.locator('[data-field="settings.note"] label').first().textContent(), /^Note \*/, "the schema's title is the label");
  assert.match(await page.locator('[data-field="settings.note"] .placeholders').textContent(), /\{\{title\}\}/);
  assert.equal(await page.locator("#f-copies").getAttribute("type"), "number");
  assert.equal(await page.locator("#f-urgent").getAttribute("type"), "checkbox");
  await page.fill("#f-name", "ERP order");
  await page.locator("dialog button.primary").click();
  const noteError = page.locator('[data-field="settings.note"] .field-error');
  await noteError.filter({ hasText: /required/ }).waitFor();
  await page.screenshot({ path: `${SHOTS}/apps-02-form-422.png`, fullPage: true });
  await page.fill("#f-note", "Order for {{title}}");
  await page.fill("#f-copies", "2");
  await page.locator("dialog button.primary").click();
  const card = column.locator('.card.robot[data-name="ERP order"]');
  await card.waitFor();
  await page.screenshot({ path: `${SHOTS}/apps-03-board.png`, fullPage: true });

  step("stored as type app.erp_order with the settings");
  const robots = (await api("GET", "/v1/pipelines/deals/robots")).data.robots;
  const r = robots.find((x) => x.name === "ERP order");
  assert.equal(r.type, "app.erp_order");
  assert.equal(r.settings.note, "Order for {{title}}");
  assert.equal(r.settings.copies, 2);
  assert.deepEqual(consoleErrors, []);
  step("ok");
} finally {
  await browser.close();
}
