// What every browser test of the board shares: the headless Chromium,
// the console watch, numbered screenshots, the API client and the step log.
// The environment comes from run.sh (BASE, KEY, ADMIN, MEMBER, SHOTS, CHROMIUM).
import { chromium } from "playwright-core";

const { BASE, KEY, SHOTS, CHROMIUM } = process.env;

// Debian's Chromium, headless, with nothing that talks to the network.
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Console errors and uncaught page errors of the watched pages. Chromium
// logs every 4xx answer as a console error: the statuses a test provokes on
// purpose are `expected` (regular expressions), nothing else is.
export function consoleWatch(expected) {
  const errors = [];
  return {
    errors,
    watch(page) {
      page.on("console", (m) => {
        if (m.type() === "error" && !expected.some((re) => re.test(m.text()))) errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
    },
  };
}

// Screenshots (full page unless `fullPage: false`: what the screen shows)
// numbered from `first` + 1, so the tests' pictures sort in the order they
// were taken.
export function screenshots(first) {
  let n = first;
  return async (page, name, { fullPage = true } = {}) => {
    await page.screenshot({ path: `${SHOTS}/${String(++n).padStart(2, "0")}-${name}.png`, fullPage });
  };
}

// A JSON request to the API with `key` (the test's key by default) and any
// extra `headers`: `{status, data}`.
export async function api(method, path, body, { key = KEY, headers = {} } = {}) {
  const r = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
    body: body && JSON.stringify(body),
  });
  return { status: r.status, data: await r.json().catch(() => null) };
}

export function step(s) { console.log(`[browser] ${s}`); }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
