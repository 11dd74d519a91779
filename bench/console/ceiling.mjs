// Browser side of bench/console/ceiling.py: chromium PUTs one file in parts
// to presigned URLs, N in flight, for each case; one line per case.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(cfg.web, "package.json"));
const { chromium } = require("playwright-core");
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const page = await (await browser.newContext()).newPage();
await page.goto(cfg.bff + "/signin");
await page.evaluate(() => {
  const i = document.createElement("input");
  i.type = "file";
  i.id = "ceiling-file";
  document.body.appendChild(i);
});
await page.setInputFiles("#ceiling-file", cfg.big);
let used = 0;
for (const c of cfg.cases.split(",")) {
  const [mode, partMiB, inFlight, flags = ""] = c.split(":");
  const r = await page.evaluate(
    async ({ urls, urls2, partMiB, inFlight, mode, hash, twoHosts }) => {
      const file = document.getElementById("ceiling-file").files[0];
      const ps = partMiB * 1048576;
      const n = Math.ceil(file.size / ps);
      const part = (i) => file.slice(i * ps, Math.min((i + 1) * ps, file.size));
      let next = 0;
      const t0 = performance.now();
      const hashing = hash
        ? (async () => {
            for (let i = 0; i < n; i++) await crypto.subtle.digest("SHA-256", await part(i).arrayBuffer());
          })()
        : Promise.resolve();
      const put = (url, blob) =>
        mode === "fetch"
          ? fetch(url, { method: "PUT", body: blob }).then((res) => {
              if (!res.ok) throw new Error("PUT answered " + res.status);
            })
          : new Promise((resolve, reject) => {
              const x = new XMLHttpRequest();
              x.open("PUT", url);
              x.upload.onprogress = () => {};
              x.onload = () => (x.status < 300 ? resolve() : reject(new Error("PUT answered " + x.status)));
              x.onerror = () => reject(new Error("network error"));
              x.send(blob);
            });
      const worker = async () => {
        for (let i = next++; i < n; i = next++) await put(twoHosts && i % 2 ? urls2[i] : urls[i], part(i));
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      await hashing;
      return { seconds: (performance.now() - t0) / 1000, parts: n };
    },
    {
      urls: cfg.urls.slice(used),
      urls2: cfg.urls2.slice(used),
      partMiB: +partMiB,
      inFlight: +inFlight,
      mode,
      hash: flags.includes("h"),
      twoHosts: flags.includes("2"),
    },
  );
  used += r.parts;
  console.log(`${c}: ${r.seconds.toFixed(2)} s, ${(cfg.size / 1048576 / r.seconds).toFixed(0)} MiB/s`);
}
await browser.close();
