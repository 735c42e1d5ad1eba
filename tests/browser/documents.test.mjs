// Documents end to end in headless Chromium (started by run.sh against
// `serve --demo --clock manual`): upload a .docx template through the page's
// file input (and see a template with an unknown placeholder refused at the
// file, naming it), add a numbering rule (its fields checked at the field, a
// live preview), add a create_document robot with the template and rule
// picked from lists, move a deal into the stage, see the document on the
// item page and download both formats. A member key reads without edit
// controls. Desktop and 390 px screenshots; no console errors.
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { api, consoleWatch, launch, screenshots, sleep, step } from "./lib.mjs";

const { BASE, KEY, MEMBER, SHOTS } = process.env;

// ---------------------------------------------------------------- a .docx
// A minimal Word package (zip, deflated) whose body holds `paragraphs`.
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function zip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, "utf8");
    const packed = deflateRawSync(data);
    const nameBuf = Buffer.from(name, "utf8");
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0); head.writeUInt16LE(20, 4); head.writeUInt16LE(0, 6); head.writeUInt16LE(8, 8);
    head.writeUInt32LE(0, 10); head.writeUInt32LE(crc32(data), 14); head.writeUInt32LE(packed.length, 18);
    head.writeUInt32LE(data.length, 22); head.writeUInt16LE(nameBuf.length, 26); head.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10); central.writeUInt32LE(0, 12); central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(packed.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(head, nameBuf, packed);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(Object.keys(files).length, 8); end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(dir.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}
function docx(paragraphs) {
  const W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
  const body = paragraphs.map((p) => `<w:p><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">${p}</w:t></w:r></w:p>`).join("");
  return zip({
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    "word/document.xml": `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="${W}"><w:body>${body}</w:body></w:document>`,
  });
}
const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

// ---------------------------------------------------------------- harness
const browser = await launch();
const { errors: consoleErrors, watch } = consoleWatch([/status of 422/]);
const shot = screenshots(70);
async function signIn(page, key) {
  await page.goto(BASE + "/");
  await page.locator("#key").waitFor();
  await page.fill("#key", key);
  await page.click("form button[type=submit]");
  await page.locator(".column").first().waitFor();
}

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  watch(page);
  await signIn(page, KEY);

  step("the Documents link opens the templates and numbering rules");
  await page.click('nav a[href="#/documents"]');
  await page.locator("button.add-template").waitFor();

  step("a template with an unknown placeholder is refused at the file, naming it");
  await page.click("button.add-template");
  await page.fill("#tp-name", "Broken");
  await page.setInputFiles("#tp-file", { name: "broken.docx", mimeType: DOCX, buffer: docx(["Dear {Nope}"]) });
  await page.click("dialog button.primary");
  const fileError = page.locator('dialog [data-field="content"] .field-error');
  await fileError.waitFor();
  await page.waitForFunction(() => document.querySelector('dialog [data-field="content"] .field-error').textContent.length > 0);
  assert.match(await fileError.textContent(), /Nope/);
  await shot(page, "template-422");

  step("the real template: uploaded, listed with its placeholders");
  await page.setInputFiles("#tp-file", { name: "invoice.docx", mimeType: DOCX,
    buffer: docx(["Invoice {DocumentNumber} of {Date}", "Client: {Client}", "Amount: {Amount} {Currency}", "{AmountInWords}"]) });
  await page.fill("#tp-name", "Browser invoice");
  await page.click("dialog button.primary");
  const row = page.locator("tr.template", { hasText: "Browser invoice" });
  await row.waitFor();
  const cells = await row.locator(".placeholders-cell").textContent();
  for (const p of ["{DocumentNumber}", "{Date}", "{Client}", "{Amount}"]) assert.ok(cells.includes(p), cells);
  const templateId = await row.getAttribute("data-id");

  step("the template downloads as a .docx");
  const [tplDownload] = await Promise.all([page.waitForEvent("download"), row.locator("button.download").click()]);
  assert.equal(tplDownload.suggestedFilename(), "invoice.docx");

  step("a numbering rule: fields checked at the field, a live preview, saved");
  await page.click("button.add-numerator");
  await page.fill("#num-name", "Browser invoices");
  await page.fill("#num-template", "BR-{YYYY}-");
  await page.click("dialog button.primary");
  await page.locator('dialog [data-field="template"].invalid').waitFor();
  assert.match(await page.locator('dialog [data-field="template"] .field-error').textContent(), /\{NUMBER\}/);
  await page.fill("#num-template", "BR-{YYYY}-{NUMBER}");
  await page.fill("#num-padding", "3");
  await page.fill("#num-start", "5");
  const year = new Date().getFullYear();
  assert.match(await page.locator("#num-preview").textContent(), new RegExp(`^BR-${year}-005, BR-${year}-006`));
  await shot(page, "numerator-form");
  await page.click("dialog button.primary");
  const numRow = page.locator("tr.numerator", { hasText: "Browser invoices" });
  await numRow.waitFor();
  const numeratorId = await numRow.getAttribute("data-id");
  await shot(page, "documents");

  step("a create_document robot on 'prep', template and rule picked from lists");
  await page.click('nav a[href^="#/board/"]');
  const column = page.locator('.column[data-stage="prep"]');
  await column.waitFor();
  await column.locator("button.add").click();
  await page.selectOption("#robot-type", "create_document");
  await page.locator("dialog button[type=submit]").click();
  await page.fill("#f-name", "Browser invoice robot");
  await page.locator(`#f-template_id option[value="${templateId}"]`).waitFor({ state: "attached" });
  assert.equal(await page.locator("#f-template_id").evaluate((e) => e.tagName), "SELECT");
  await page.selectOption("#f-template_id", templateId);
  await page.locator(`#f-numerator_id option[value="${numeratorId}"]`).waitFor({ state: "attached" });
  assert.match(await page.locator(`#f-numerator_id option[value="${numeratorId}"]`).textContent(), /Browser invoices \(BR-\d{4}-005\)/);
  await page.selectOption("#f-numerator_id", numeratorId);
  await shot(page, "robot-pickers");
  await page.locator("dialog button.primary").click();
  await column.locator('.card.robot[data-name="Browser invoice robot"]').waitFor();
  const robots = (await api("GET", "/v1/pipelines/deals/robots")).data.robots;
  const robot = robots.find((r) => r.name === "Browser invoice robot");
  assert.equal(robot.settings.template_id, templateId);
  assert.equal(robot.settings.numerator_id, numeratorId);

  step("a deal moved into the stage gets its document");
  const made = await api("POST", "/v1/items", { pipeline_id: "deals", stage_id: "new", title: "Browser document deal",
    amount: 12500, currency: "RUB", responsible_id: "u-anna", client: { name: "Romashka LLC" } });
  assert.equal(made.status, 201, JSON.stringify(made.data));
  const itemId = made.data.id;
  const moved = await api("PATCH", `/v1/items/${itemId}`, { stage_id: "prep" });
  assert.equal(moved.status, 200, JSON.stringify(moved.data));
  let docs = [];
  for (let i = 0; i < 100 && !docs.length; i++) {
    docs = (await api("GET", `/v1/documents?item_id=${itemId}`)).data.documents;
    if (!docs.length) await sleep(100);
  }
  assert.equal(docs.length, 1, "the robot made one document");
  assert.match(docs[0].number, /^BR-\d{4}-005$/);

  step("the item page lists it with PDF and DOCX downloads");
  await page.goto(`${BASE}/#/item/${encodeURIComponent(itemId)}`);
  const docRow = page.locator(".item-docs tr.document");
  await docRow.waitFor();
  assert.equal(await docRow.locator("td").first().textContent(), docs[0].number);
  await shot(page, "item-documents");
  for (const [format, type] of [["pdf", "application/pdf"], ["docx", DOCX]]) {
    const [dl] = await Promise.all([page.waitForEvent("download"), docRow.locator(`button.file.${format}`).click()]);
    assert.ok(dl.suggestedFilename().endsWith("." + format), dl.suggestedFilename());
    const fs = await import("node:fs");
    const size = fs.statSync(await dl.path()).size;
    assert.ok(size > 0, `${format} is empty`);
    // The same file through the API: its content type.
    const r = await fetch(BASE + docs[0].files.find((f) => f.format === format).url, { headers: { Authorization: `Bearer ${KEY}` } });
    assert.equal(r.headers.get("content-type"), type);
    assert.equal((await r.arrayBuffer()).byteLength, size);
  }

  step("Russian texts and a phone width");
  await page.selectOption("#lang", "ru");
  await page.locator(".item-docs h2", { hasText: "Документы" }).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "item-documents-ru-phone");
  let overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the item page is ${overflow}px wider than the phone`);
  // On a phone the nav is folded into the menu button.
  await page.locator("#menu").click();
  await page.click('nav a[href="#/documents"]');
  await page.locator("tr.numerator").first().waitFor();
  await shot(page, "documents-ru-phone");
  overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the documents page is ${overflow}px wider than the phone`);
  await page.selectOption("#lang", "en");

  if (MEMBER) {
    step("a member key sees templates and rules without edit controls");
    const mctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const mpage = await mctx.newPage();
    watch(mpage);
    await signIn(mpage, MEMBER);
    await mpage.click('nav a[href="#/documents"]');
    await mpage.locator("tr.template").first().waitFor();
    for (const sel of ["button.add-template", "button.add-numerator", "tr.template button.replace", "tr.template button.delete", "tr.numerator button.edit"]) {
      assert.equal(await mpage.locator(sel).count(), 0, `a member sees no ${sel}`);
    }
    assert.ok(await mpage.locator("tr.template button.download").count() > 0, "a member downloads");
    await shot(mpage, "documents-member");
  } else step("(no member key: skipped)");

  step("deleting the template (admin) asks first and removes it from the list");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator("tr.template", { hasText: "Browser invoice" }).locator("button.delete").click();
  await page.locator("dialog button.confirm-ok").click();
  await page.locator("tr.template", { hasText: "Browser invoice" }).waitFor({ state: "detached" });
  assert.equal((await api("GET", `/v1/document-templates/${templateId}`)).status, 404);

  assert.deepEqual(consoleErrors, [], "console errors");
  step(`passed; screenshots in ${SHOTS}`);
} catch (e) {
  console.log("[browser] console errors:", consoleErrors);
  for (const c of browser.contexts()) for (const p of c.pages()) await p.screenshot({ path: `${SHOTS}/documents-failure.png`, fullPage: true });
  throw e;
} finally {
  await browser.close();
}
