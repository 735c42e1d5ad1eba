// Channels on the board end to end in headless Chromium (started by run.sh
// against `serve --demo --clock manual`): make a web form on the Channels
// screen (a bad field mapping answered 422 at the field it names), copy its
// embed snippet, open its hosted page /f/<id>, submit it as a visitor and
// find the new lead on the kanban; make a site key and see its <script>
// snippet, delete it; save a Stripe signing secret and see it masked (never
// in the page) with the webhook URL to paste into Stripe; see the
// tenant's inbound email address on the Email tab. Desktop and
// 390 px screenshots; no console errors.
import assert from "node:assert/strict";
import { api, consoleWatch, launch, screenshots, step } from "./lib.mjs";

const { BASE, KEY } = process.env;
const SECRET = "whsec_browser_" + Math.random().toString(36).slice(2);
const EMAIL = `visitor-${Date.now()}@browser.test`;

const browser = await launch();
// 422: the refused mapping; 404: the Stripe set-up before there is one
// (`GET /v1/payment-providers/stripe`) — any other 404 is caught below.
const { errors: consoleErrors, watch: watchConsole } = consoleWatch([/status of 422/, /status of 404/]);
const notFound = [];
function watch(page) {
  watchConsole(page);
  page.on("response", (r) => {
    if (r.status() === 404 && !r.url().endsWith("/v1/payment-providers/stripe")) notFound.push(r.url());
  });
}
const shot = screenshots(90);

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page);
  await page.goto(BASE + "/");
  await page.locator("#key").waitFor();
  await page.fill("#key", KEY);
  await page.click("form button[type=submit]");
  await page.locator(".column").first().waitFor();

  step("channels: the nav leads to the web forms tab");
  await page.click("#nav-channels");
  await page.locator(".web-forms").waitFor();
  assert.equal(await page.locator(".tabs a.active").textContent(), "Web forms");

  step("a new form: a phone mapping on a text field is refused at that field");
  await page.click("button.add-form");
  await page.locator("#wf-name").waitFor();
  await page.fill("#wf-name", "Contact us (browser)");
  await page.selectOption("#wf-stage", "new");
  await page.selectOption("#wf-responsible", "u-anna");
  const rows = page.locator("tr.field-row");
  assert.equal(await rows.count(), 3, "name, email and phone to start with");
  await rows.nth(2).locator(".f-type").selectOption("text");
  await page.click("button.add-field");
  await rows.nth(3).locator(".f-name").fill("message");
  await rows.nth(3).locator(".f-label").fill("Your question");
  await rows.nth(3).locator(".f-type").selectOption("textarea");
  await page.fill("#wf-success", "Thanks, we will call you back.");
  await page.click(".web-form-editor button[type=submit]");
  const mapsError = page.locator('td[data-field="fields[2].maps_to"] .field-error');
  await mapsError.waitFor();
  await page.waitForFunction(() => document.querySelector('td[data-field="fields[2].maps_to"] .field-error').textContent.length > 0);
  assert.match(await mapsError.textContent(), /phone/i);
  await shot(page, "channels-form-422");
  await rows.nth(2).locator(".f-type").selectOption("phone");
  await page.click(".web-form-editor button[type=submit]");
  const row = page.locator(".web-form", { hasText: "Contact us (browser)" });
  await row.waitFor();
  await page.locator("#flash", { hasText: "Saved." }).waitFor();
  const formId = await row.getAttribute("data-id");
  assert.match(formId, /^wf_[0-9a-f]{32}$/);
  assert.match(await row.textContent(), /deals → new · 4 fields/);

  step("its embed snippet and its hosted page");
  await row.locator("details.embed summary").click();
  const code = await row.locator("textarea.snippet").inputValue();
  assert.equal(code, `<script src="${BASE}/f/${formId}/embed.js" async></script>`);
  const embed = await fetch(`${BASE}/f/${formId}/embed.js`);
  assert.equal(embed.status, 200);
  assert.match(await embed.text(), /Your question/);
  assert.equal(await row.locator("a.open-page").getAttribute("href"), `/f/${formId}`);
  await shot(page, "channels-forms");

  step("a visitor fills in the hosted page");
  const visitor = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const form = await visitor.newPage();
  watch(form);
  await form.goto(`${BASE}/f/${formId}`);
  await form.fill('input[name="name"]', "Browser Visitor");
  await form.fill('input[name="email"]', EMAIL);
  await form.fill('input[name="phone"]', "+7 495 000-11-22");
  await form.fill('textarea[name="message"]', "Do you ship to Kazan?");
  await form.click('button[type="submit"]');
  await form.locator(".crm-msg", { hasText: "Thanks, we will call you back." }).waitFor();
  // Sent in place by the page's script (allowed by the pages' policy by its
  // hash): the form stays, disabled, with the message under it.
  assert.equal(form.url(), `${BASE}/f/${formId}`);
  assert.equal(await form.locator("form.crm-form fieldset").evaluate((f) => f.disabled), true);
  await shot(form, "channels-hosted-form");
  await visitor.close();

  step("the lead is on the kanban, in the form's stage");
  const found = await api("GET", `/v1/items?pipeline_id=deals&q=${encodeURIComponent(EMAIL)}`);
  assert.equal(found.status, 200);
  assert.equal(found.data.items.length, 1, JSON.stringify(found.data));
  const lead = found.data.items[0];
  assert.equal(lead.stage_id, "new");
  assert.equal(lead.client.name, "Browser Visitor");
  await page.goto(`${BASE}/#/kanban/deals/${encodeURIComponent(EMAIL)}`);
  const card = page.locator(`.column[data-stage="new"] .item-card[data-id="${lead.id}"]`);
  await card.waitFor();
  await shot(page, "channels-kanban-lead", { fullPage: false });
  const timeline = await api("GET", `/v1/items/${lead.id}/timeline`);
  assert.equal(timeline.status, 200);

  step("site tracking: a key and its script");
  await page.goto(`${BASE}/#/channels/site`);
  await page.locator(".site-keys").waitFor();
  await page.fill("#site-label", "shop.browser.test");
  await page.click(".add-site-key button[type=submit]");
  const key = page.locator(".site-key", { hasText: "shop.browser.test" });
  await key.waitFor();
  const keyId = await key.getAttribute("data-id");
  assert.match(keyId, /^sk_[0-9a-f]{32}$/);
  assert.equal(await key.locator("textarea.snippet").inputValue(),
    `<script src="${BASE}/t/tracker.js" data-site-key="${keyId}" async></script>`);
  await shot(page, "channels-site");
  const beacon = await fetch(`${BASE}/t/v`, { method: "POST", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ site_key: keyId, visitor_id: "browser-visitor-1", url: "https://shop.browser.test/", referrer: "" }) });
  assert.equal(beacon.status, 204, "the key records visits");
  await key.locator("button.delete").click();
  await page.click("dialog .confirm-ok");
  await page.locator("#flash", { hasText: "Deleted." }).waitFor();
  assert.equal(await page.locator(`.site-key[data-id="${keyId}"]`).count(), 0);
  const gone = await fetch(`${BASE}/t/v`, { method: "POST", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ site_key: keyId, visitor_id: "browser-visitor-1", url: "https://shop.browser.test/", referrer: "" }) });
  assert.equal(gone.status, 403, "a deleted key records nothing");

  step("payments: the Stripe secret is saved and shown masked, with the webhook URL");
  await page.click('.tabs a[href="#/channels/payments"]');
  await page.locator(".payments").waitFor();
  await page.fill("#stripe-secret", SECRET);
  await page.click(".stripe-form button[type=submit]");
  await page.locator("#flash", { hasText: "Secret saved." }).waitFor();
  await page.locator(".stripe-state .masked").waitFor();
  assert.match(await page.locator(".stripe-state .masked").textContent(), /^•+ set/);
  assert.equal(await page.locator("#stripe-secret").inputValue(), "", "the field is emptied");
  assert.ok(!(await page.content()).includes(SECRET), "the secret is nowhere on the page");
  const config = await api("GET", "/v1/payment-providers/stripe");
  assert.equal(config.status, 200);
  assert.ok(!JSON.stringify(config.data).includes(SECRET), "nor in the API's answer");
  assert.equal(await page.locator("#stripe-url").inputValue(), BASE + config.data.webhook_path);
  assert.match(config.data.webhook_path, /^\/v1\/webhooks\/payments\/stripe\/pe_[0-9a-f]{32}$/);
  await shot(page, "channels-payments");

  step("email: the tenant's inbound address, to copy (run.sh serves --inbound-domain in.browser.test)");
  await page.click('.tabs a[href="#/channels/email"]');
  await page.locator(".inbound-email").waitFor();
  const inbound = await api("GET", "/v1/inbound-email");
  assert.equal(inbound.status, 200);
  assert.equal(inbound.data.enabled, true);
  assert.match(inbound.data.address, /^in_[0-9a-f]{32}@in\.browser\.test$/);
  assert.equal(await page.locator("#inbound-address").inputValue(), inbound.data.address);
  await shot(page, "channels-email");

  step("on a phone");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/#/channels/forms`);
  await page.locator(".web-form").first().waitFor();
  await shot(page, "channels-forms-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  step("the form is deleted from the screen: its page is gone");
  await page.locator(`.web-form[data-id="${formId}"] button.delete`).click();
  await page.click("dialog .confirm-ok");
  await page.locator("#flash", { hasText: "Deleted." }).waitFor();
  assert.equal((await fetch(`${BASE}/f/${formId}`)).status, 404);
  await api("DELETE", "/v1/payment-providers/stripe");

  assert.deepEqual(consoleErrors, [], "no console errors");
  assert.deepEqual(notFound, [], "no other 404");
  step("channels: all good");
} finally {
  await browser.close();
}
