// Opens the fleet page in headless Chromium (Debian's /usr/bin/chromium) through
// playwright-core, lets it poll the workers for a few rounds, and prints as JSON what it
// shows: every row's cells by column and the totals. Saves a screenshot of the page.
//
//   node render_fleet.mjs PAGE_URL SCREENSHOT.png ROUNDS
//
// Only loopback may be reached: every request of the browser context to any other
// address is aborted before it leaves, and reported in "blocked" (the test fails on it).
// Everything the page asked for is listed in "requested" (by origin). To show that the
// guard holds, the page then asks for one URL in the reserved .invalid domain (RFC 2606:
// it never resolves), which must come back blocked ("guard_check").
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const [pageUrl, screenshotPath, roundsArg] = process.argv.slice(2);
if (!pageUrl || !screenshotPath) {
  console.error("usage: node render_fleet.mjs PAGE_URL SCREENSHOT.png [ROUNDS]");
  process.exit(2);
}
const rounds = Number(roundsArg || 4);
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const GUARD_CHECK_URL = "http://guard-check.invalid/";

// 127.0.0.0/8, ::1 and localhost: the only hosts the page may reach.
function isLoopback(url) {
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) return false;
  const host = url.hostname;
  if (host === "localhost" || host === "[::1]") return true;
  const octets = host.split(".");
  return octets.length === 4 && octets[0] === "127" && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wa-chromium-"));
const blocked = [];
const requested = new Set();
const consoleErrors = [];  // failed loads of offline workers among them: informational
const pageErrors = [];     // uncaught exceptions of the page: the test fails on them
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      // Anything the browser itself would send past loopback goes to a port where
      // nothing listens (loopback is never proxied).
      "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.0/8;localhost;[::1]",
    ],
    viewport: { width: 1800, height: 700 },
  });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (isLoopback(url)) return route.continue();
    blocked.push(url.href);
    return route.abort("blockedbyclient");
  });
  context.on("request", (request) => {
    const url = new URL(request.url());
    requested.add(url.protocol.startsWith("http") ? url.origin : url.protocol);
  });

  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  const started = Date.now();
  await page.goto(pageUrl, { waitUntil: "load", timeout: 30_000 });
  await page.waitForFunction((n) => Number(document.body.dataset.rounds || 0) >= n, rounds,
    { timeout: 60_000, polling: 100 });

  const shown = await page.evaluate(() => {
    const rows = [...document.querySelectorAll("#workers tbody tr")].map((row) => {
      const cells = {};
      for (const cell of row.querySelectorAll("td")) cells[cell.className] = cell.textContent;
      return cells;
    });
    const totals = {};
    for (const element of document.querySelectorAll("#totals [class]")) {
      totals[element.className] = element.textContent;
    }
    return { rows, totals, rounds: Number(document.body.dataset.rounds) };
  });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  shown.seconds = (Date.now() - started) / 1000;
  shown.blocked = [...blocked];
  shown.requested = [...requested].sort();
  shown.guard_check = await page.evaluate((url) => fetch(url).then(
    () => "answered", (e) => `failed: ${e.message}`), GUARD_CHECK_URL);
  shown.guard_check_blocked = blocked.slice(shown.blocked.length).includes(GUARD_CHECK_URL);
  shown.console_errors = consoleErrors;
  shown.page_errors = pageErrors;
  process.stdout.write(JSON.stringify(shown) + "\n");
} finally {
  if (context) await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
