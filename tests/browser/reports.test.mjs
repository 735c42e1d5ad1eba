// The Reports page end to end in headless Chromium (started by run.sh
// against `serve --demo --clock manual`): a known history made through the
// API (two deals, the manual clock moved between their moves), then the
// page: the period picker, the time-in-stage bars, the funnel, the robots'
// bars and table, a bad period's 422 shown, Russian texts, a phone width
// (charts redrawn full width, the robot table as cards).
// No console errors.
import assert from "node:assert/strict";
import { api, consoleWatch, launch, screenshots, sleep, step } from "./lib.mjs";

const { BASE, KEY, ADMIN, SHOTS } = process.env;

const browser = await launch();
const { errors: consoleErrors, watch } = consoleWatch([/status of 422/]);
const shot = screenshots(50);
async function advance(seconds) {
  const r = await api("POST", "/v1/clock/advance", { seconds }, { key: ADMIN });
  assert.equal(r.status, 200, JSON.stringify(r.data));
}

try {
  step("a known history through the API: A and B created, A to prep after 1 h, B after 2 h, A won after 3 h");
  const made = [];
  for (const title of ["Report deal A", "Report deal B"]) {
    const r = await api("POST", "/v1/items", { pipeline_id: "deals", stage_id: "new", title, responsible_id: "u-anna" });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    made.push(r.data.id);
  }
  const [a, b] = made;
  for (const [id, stage] of [[a, "prep"], [b, "prep"], [a, "won"]]) {
    await advance(3600);
    const r = await api("PATCH", `/v1/items/${id}`, { stage_id: stage });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
  // The local worker counts them as it processes the stage changes.
  let report;
  for (let i = 0; i < 100; i++) {
    report = (await api("GET", "/v1/reports/stage-time?pipeline_id=deals")).data;
    if (report.stages[0].count >= 2) break;
    await sleep(100);
  }
  const newRow = report.stages[0];
  assert.ok(newRow.count >= 2, JSON.stringify(report));

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page);
  await page.goto(BASE + "/");
  await page.locator("#key").waitFor();
  await page.fill("#key", KEY);
  await page.click("form button[type=submit]");
  await page.locator(".column").first().waitFor();

  step("the Reports link in the header opens the page with the last 30 days");
  await page.click("#nav-reports");
  const stageChart = page.locator("#rep-stage-time svg.chart");
  await stageChart.waitFor();
  assert.equal(await page.locator("#main #reports").count(), 1, "a page of the router, in #main");
  assert.equal(await page.locator("#nav-reports").getAttribute("class"), "active");
  assert.equal(await page.locator("#nav a.active").count(), 1);
  const to = await page.inputValue("#rep-to");
  const from = await page.inputValue("#rep-from");
  assert.equal((Date.parse(to) - Date.parse(from)) / 86400000, 29);

  step("time in stage: one bar per stage, New orders' bar drawn with its figures");
  assert.equal(await stageChart.locator("g.row").count(), 5);
  const bar = stageChart.locator('g.row[data-stage="new"] rect.bar');
  assert.ok(Number(await bar.getAttribute("width")) > 10);
  assert.match(await stageChart.locator('g.row[data-stage="new"] text.value').textContent(), /n=\d+/);
  assert.match(await stageChart.locator('g.row[data-stage="presentation"] text.value').textContent(), /no items/);

  step("conversion: a funnel step per stage with the entries, the percentage after the first");
  const funnel = page.locator("#rep-conversion svg.chart");
  assert.equal(await funnel.locator("g.step").count(), 5);
  const entered = Number(await funnel.locator('g.step[data-stage="new"] text.inbar').textContent());
  assert.ok(entered >= 2);
  assert.match(await funnel.locator('g.step[data-stage="prep"] text.value').textContent(), /%$/);
  assert.match(await page.locator("#rep-conversion .summary").textContent(), /Won \d+, lost \d+/);

  step("robots: stacked bars and a table with one row per robot of the demo pipeline");
  const robots = (await api("GET", "/v1/pipelines/deals/robots")).data.robots;
  assert.equal(await page.locator("#rep-robots svg g.robot").count(), robots.length);
  assert.equal(await page.locator("#rep-robots table tbody tr").count(), robots.length);
  await shot(page, "reports");

  step("the CSV button downloads the report as CSV");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('#rep-stage-time button.csv')]);
  assert.match(download.suggestedFilename(), /^stage-time_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv$/);

  step("a period that ends before it starts: the 422 is shown");
  await page.fill("#rep-from", "2026-12-31");
  await page.fill("#rep-to", "2026-01-01");
  await page.click(".picker button[type=submit]");
  await page.getByText("must not be after 'to'").first().waitFor();
  await shot(page, "reports-422");

  step("presets, Russian texts, phone width");
  await page.click('.picker button[data-days="7"]');
  await stageChart.waitFor();
  const to7 = await page.inputValue("#rep-to");
  assert.equal(to7, to, "a preset ends on the server's day");
  assert.equal((Date.parse(to7) - Date.parse(await page.inputValue("#rep-from"))) / 86400000, 6);
  await page.selectOption("#lang", "ru");
  await page.getByRole("heading", { name: /Отчёты/ }).waitFor();
  await page.locator("#rep-conversion").getByText("Конверсия").waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  step("on a phone the charts are redrawn full width with readable text, the robot table becomes cards");
  await page.locator("#rep-stage-time svg.chart.narrow").waitFor();
  await page.locator("#rep-robots svg.chart.narrow").waitFor();
  await shot(page, "reports-ru-phone");
  // The first screen as a phone shows it (the full-page shot is long).
  await shot(page, "reports-ru-phone-screen", { fullPage: false });
  await page.locator("#rep-robots").scrollIntoViewIfNeeded();
  await shot(page, "reports-ru-phone-robots", { fullPage: false });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  const phone = await page.evaluate(() => ({
    charts: [...document.querySelectorAll("svg.chart")].map((c) => c.getBoundingClientRect().width),
    labels: [...document.querySelectorAll("svg.chart text.label")].map((t) => t.getBoundingClientRect().height),
    thead: getComputedStyle(document.querySelector("#rep-robots table thead")).display,
    rowWidth: document.querySelector("#rep-robots table tbody tr").getBoundingClientRect().width,
    scroll: [...document.querySelectorAll("#reports .scroll")].map((s) => s.scrollWidth - s.clientWidth),
  }));
  assert.ok(phone.charts.length === 3 && phone.charts.every((w) => w >= 300), `charts full width: ${phone.charts}`);
  assert.ok(Math.min(...phone.labels) >= 11, `chart labels readable: ${Math.min(...phone.labels)}px`);
  assert.equal(phone.thead, "none", "the robot table shows as cards");
  assert.ok(phone.rowWidth <= 390, `a card fits the phone (${phone.rowWidth})`);
  assert.ok(phone.scroll.every((d) => d <= 1), `nothing scrolls sideways: ${phone.scroll}`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator("#rep-stage-time svg.chart:not(.narrow)").waitFor();

  step("back to the board: the reports page hides again");
  await page.click('nav a[href^="#/board/"]');
  await page.locator(".column").first().waitFor();
  assert.equal(await page.locator("#reports").count(), 0);

  assert.deepEqual(consoleErrors, [], "console errors");
  step(`passed; screenshots in ${SHOTS}`);
} catch (e) {
  console.log("[browser] console errors:", consoleErrors);
  for (const c of browser.contexts()) for (const p of c.pages()) await p.screenshot({ path: `${SHOTS}/reports-failure.png`, fullPage: true });
  throw e;
} finally {
  await browser.close();
}
