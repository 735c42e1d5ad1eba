// The board end to end in headless Chromium (started by run.sh against
// `serve --demo --clock manual`): sign in, add a delayed robot through the
// generated form (a 422 shown at its field first), create a deal on the
// kanban, drag it to the robot's stage, lose a concurrent drag (409), move
// the manual clock a day and read on the item page that the robot ran and
// that the left stage's delayed robot was cancelled. No console errors.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const { BASE, KEY, ADMIN, SHOTS, CHROMIUM } = process.env;
const STAGE = "presentation";
const ROBOT = "Follow up a day later";

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const consoleErrors = [];
// Chromium logs every 4xx answer as a console error; the ones this test
// provokes on purpose (the wrong key's 401, the 422 and the 409) are
// expected, nothing else is.
const expected = [/status of 401/, /status of 422/, /status of 409/];
function watch(page) {
  page.on("console", (m) => {
    if (m.type() === "error" && !expected.some((re) => re.test(m.text()))) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
}
let n = 0;
async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${String(++n).padStart(2, "0")}-${name}.png`, fullPage: true });
}
async function api(method, path, body, headers = {}) {
  const r = await fetch(BASE + path, { method, headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", ...headers }, body: body && JSON.stringify(body) });
  return { status: r.status, data: await r.json().catch(() => null) };
}
function step(s) { console.log(`[browser] ${s}`); }

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page);

  step("the key is asked once");
  await page.goto(BASE + "/");
  await page.locator("#key").waitFor();
  await shot(page, "key-prompt");
  await page.fill("#key", "wrong-key");
  await page.click("form button[type=submit]");
  await page.getByText("This key was refused.").waitFor();
  await page.fill("#key", KEY);
  await page.click("form button[type=submit]");

  step("automation board: stages as columns, the demo's robots as cards");
  const column = page.locator(`.column[data-stage="${STAGE}"]`);
  await column.waitFor();
  const stages = await page.locator(".column h2").allTextContents();
  assert.deepEqual(stages, ["New orders", "Project preparation", "Client presentation", "Won", "Lost"]);
  const escalate = page.locator('.card.robot[data-name="Escalate after a day"]');
  assert.match(await escalate.locator(".delay").textContent(), /^after 1 day$/);
  assert.equal(await page.locator('.column[data-stage="presentation"] .card.trigger').count(), 1);
  await shot(page, "board");

  step("add a delayed robot through the generated form; a 422 lands at its field");
  await column.locator("button.add").click();
  await page.selectOption("#robot-type", "add_timeline_comment");
  await page.locator("dialog button[type=submit]").click();
  await page.fill("#f-name", ROBOT);
  await page.selectOption("#f-delay-mode", "after");
  await page.fill("#f-delay-amount", "1");
  await page.selectOption("#f-delay-unit", "days");
  assert.match(await page.locator('[data-field="settings.text"] .placeholders').textContent(), /\{\{title\}\}/);
  await page.fill("#f-text", "Checked on {{nope}}");
  await page.locator("dialog button.primary").click();
  const textError = page.locator('[data-field="settings.text"] .field-error');
  await textError.waitFor();
  assert.match(await textError.textContent(), /unknown placeholder \{\{nope\}\}/);
  assert.equal(await page.locator('[data-field="name"] .field-error').textContent(), "");
  await shot(page, "robot-form-422");
  await page.fill("#f-text", "Followed up on {{title}}");
  await page.locator("dialog button.primary").click();
  const added = column.locator(`.card.robot[data-name="${ROBOT}"]`);
  await added.waitFor();
  assert.equal(await added.locator(".delay").textContent(), "after 1 day");
  const robotId = await added.getAttribute("data-id");

  step("phone width");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "board-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  step("kanban: create a deal, drag it to the robot's stage");
  await page.click('nav a[href^="#/kanban/"]');
  await page.fill("#new-title", "Browser deal");
  await page.fill("#new-amount", "5000");
  await page.click("form.create button[type=submit]");
  const card = page.locator('.item-card[data-title="Browser deal"]');
  await card.waitFor();
  assert.equal(await card.evaluate((c) => c.closest(".column").dataset.stage), "new");
  const itemId = await card.getAttribute("data-id");
  await card.dragTo(page.locator(`.column[data-stage="${STAGE}"]`));
  await page.locator(`.column[data-stage="${STAGE}"] .item-card[data-id="${itemId}"]`).waitFor();
  await page.getByText("Moved.").waitFor();
  await shot(page, "kanban");

  step("a concurrent change makes the next drag a 409: the card is reloaded and it says so");
  const current = await api("GET", `/v1/items/${itemId}`);
  const renamed = await api("PATCH", `/v1/items/${itemId}`, { title: "Browser deal (renamed)" }, { "If-Match": `"${current.data.version}"` });
  assert.equal(renamed.status, 200);
  await page.locator(`.item-card[data-id="${itemId}"]`).dragTo(page.locator('.column[data-stage="won"]'));
  await page.getByText("Someone changed this deal meanwhile").waitFor();
  const reloaded = page.locator(`.item-card[data-id="${itemId}"]`);
  assert.equal(await reloaded.locator(".name").textContent(), "Browser deal (renamed)");
  assert.equal(await reloaded.evaluate((c) => c.closest(".column").dataset.stage), STAGE);
  await shot(page, "kanban-409");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "kanban-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  step("the manual clock bar moves the clock a day with the admin key");
  await page.fill("#admin-key", ADMIN);
  await page.locator("#clock button[type=submit]").click();
  await page.locator('#clock button[data-seconds="86400"]').click();
  await page.getByText("Clock advanced").waitFor();

  step("item page: the robot ran; the left stage's delayed robot is cancelled");
  await page.goto(`${BASE}/#/item/${encodeURIComponent(itemId)}`);
  const ours = page.locator(`tr.run[data-robot="${robotId}"]`);
  await ours.waitFor();
  assert.equal(await ours.locator(".badge").textContent(), "done");
  const escalateId = (await api("GET", "/v1/pipelines/deals/robots")).data.robots.find((r) => r.name === "Escalate after a day").id;
  const left = page.locator(`tr.run[data-robot="${escalateId}"]`);
  assert.equal(await left.locator(".badge").textContent(), "cancelled");
  assert.notEqual((await left.locator("td").nth(3).textContent()).trim(), "");
  assert.ok((await page.locator(".timeline li").allTextContents()).some((t) => t.includes("Followed up on Browser deal (renamed)")));
  assert.equal(await page.locator(".stagebar li.current").textContent(), "Client presentation");
  await shot(page, "item");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "item-phone");

  step("Russian interface");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.selectOption("#lang", "ru");
  await page.getByText("Запуски роботов").waitFor();
  await shot(page, "item-ru");

  assert.deepEqual(consoleErrors, [], "console errors");
  step(`passed; screenshots in ${SHOTS}`);
} finally {
  await browser.close();
}
