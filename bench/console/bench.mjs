// Browser side of the console bench (bench/console/bench.py drives it):
// Debian chromium + playwright-core against a stack seeded with documents.
// Prints one JSON line of figures.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(cfg.web, "package.json"));
const { chromium } = require("playwright-core");
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
await page.goto(cfg.base + "/signin");
await page.fill("input[name=tenant]", cfg.tenant);
await page.fill("input[name=email]", cfg.email);
await page.fill("input[name=password]", cfg.password);
await page.click("button[type=submit]");
await page.waitForURL("**/documents");
await page.locator("[data-testid=doc-row]").first().waitFor();
const out = {};

// 1. Navigation to the first 50 rows (a full load: the session comes back
// through the refresh cookie, then /me, then the first page).
const firstRows = [];
for (let i = 0; i < 7; i++) {
  await page.goto(cfg.base + "/documents");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=doc-row]").length >= 50, null, { timeout: 30000 });
  firstRows.push(await page.evaluate(() => performance.now()));
}
out.firstRowsMs = { median: median(firstRows), all: firstRows.map((x) => Math.round(x)) };

// 2. Scrolling to 500 rows (infinite scroll): long tasks.
await page.evaluate(() => {
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: "longtask", buffered: false });
});
const t0 = Date.now();
while ((await page.locator("[data-testid=doc-row]").count()) < 500) {
  await page.mouse.wheel(0, 4000);
  await page.waitForTimeout(60);
  if (Date.now() - t0 > 60000) break;
}
out.scroll = {
  rows: await page.locator("[data-testid=doc-row]").count(),
  seconds: (Date.now() - t0) / 1000,
  longTasks: await page.evaluate(() => window.__long.length),
  longestTaskMs: await page.evaluate(() => Math.max(0, ...window.__long)),
};

// 3. The 1 GiB upload through the console, with the tab's JS heap sampled.
const cdp = await ctx.newCDPSession(page);
await cdp.send("HeapProfiler.collectGarbage");
const base = (await cdp.send("Runtime.getHeapUsage")).usedSize;
let peak = base;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      peak = Math.max(peak, (await cdp.send("Runtime.getHeapUsage")).usedSize);
    } catch {
      /* page busy */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
await page.goto(cfg.base + "/documents");
await page.locator("[data-testid=upload-button]").waitFor();
const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("[data-testid=upload-button]")]);
// CONSOLE_BENCH_CPUPROFILE=FILE: the tab's main-thread JavaScript profile
// during the upload (a .cpuprofile for DevTools), to see where it goes.
const profileTo = process.env.CONSOLE_BENCH_CPUPROFILE;
if (profileTo) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 1000 });
  await cdp.send("Profiler.start");
}
// The upload item's states, timed in the page as they appear (a
// MutationObserver): the bench does not poll the tab's main thread, which
// the upload needs.
await page.evaluate(() => {
  const marks = {};
  window.__uploadMarks = marks;
  const seen = () => {
    const st = document.querySelector("[data-testid=upload-item]")?.getAttribute("data-state");
    if (st && !marks[st]) marks[st] = Date.now();
  };
  new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
});
const u0 = Date.now();
await chooser.setFiles(cfg.bigFile);
const ended = await page
  .waitForFunction(() => {
    const m = window.__uploadMarks;
    return m.done || m.error || m.canceled ? m : null;
  }, null, { polling: 250, timeout: 600000 })
  .then((h) => h.jsonValue())
  .catch(() => null);
out.upload = { state: ended ? ["done", "error", "canceled"].find((k) => ended[k]) : "timeout" };
const uploadStart = ended?.uploading ?? 0;
const completeStart = ended?.completing ?? 0;
const u1 = ended ? ended[out.upload.state] : Date.now();
if (profileTo) writeFileSync(profileTo, JSON.stringify((await cdp.send("Profiler.stop")).profile));
sampling = false;
await sampler;
out.upload.totalSeconds = (u1 - u0) / 1000;
out.upload.transferSeconds = uploadStart ? (u1 - uploadStart) / 1000 : null;
// From the last part sent to the answer of /complete: the multipart upload
// assembled by kumo-storage, checked, and the version made current.
out.upload.completeSeconds = completeStart ? (u1 - completeStart) / 1000 : null;
// Wall-clock marks (epoch ms) to line up with a CPU profile of the run.
out.upload.marks = { chosen: u0, uploading: uploadStart || null, completing: completeStart || null, done: u1 };
out.upload.heapBaseMiB = base / 1048576;
out.upload.heapPeakMiB = peak / 1048576;

// 4. The browser's own rate in the same run (cfg.rawUrls: presigned
// single-PUT URLs): the same file PUT in parts of cfg.rawPartBytes, 6 XHRs
// in flight, nothing hashed, no UI, from a blank page of the same origin.
if (cfg.rawUrls?.length) {
  await page.goto(cfg.base + "/signin");
  await page.evaluate(() => {
    const i = document.createElement("input");
    i.type = "file";
    i.id = "raw-file";
    document.body.appendChild(i);
  });
  await page.setInputFiles("#raw-file", cfg.bigFile);
  out.raw = await page.evaluate(async ({ urls, partBytes }) => {
    const file = document.getElementById("raw-file").files[0];
    const n = Math.ceil(file.size / partBytes);
    let next = 0;
    const put = (url, blob) =>
      new Promise((resolve, reject) => {
        const x = new XMLHttpRequest();
        x.open("PUT", url);
        x.onload = () => (x.status < 300 ? resolve() : reject(new Error("PUT answered " + x.status)));
        x.onerror = () => reject(new Error("network error"));
        x.send(blob);
      });
    const t0 = performance.now();
    const sender = async () => {
      for (let i = next++; i < n; i = next++) await put(urls[i], file.slice(i * partBytes, Math.min((i + 1) * partBytes, file.size)));
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    return { seconds: (performance.now() - t0) / 1000, parts: n };
  }, { urls: cfg.rawUrls, partBytes: cfg.rawPartBytes });
}
await browser.close();
console.log(JSON.stringify(out));
