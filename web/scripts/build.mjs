#!/usr/bin/env node
// Builds the console: API types from bff/openapi.yaml (openapi-typescript),
// a strict type check (a route or field missing from the spec fails here),
// the Vite bundle, the initial-JavaScript budget, and .br/.gz siblings that
// kumo-bff serves as they are.
// Usage: node scripts/build.mjs [OUT_DIR]   (default: dist; also KUMO_WEB_OUT)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const out = resolve(process.argv[2] ?? process.env.KUMO_WEB_OUT ?? join(web, "dist"));
const BUDGET_LIST = 150 * 1024; // gzip bytes of the list page's initial JS
const bin = (n) => join(web, "node_modules", ".bin", n);

// 1. Types from the spec (written only when they change, to keep tsc's cache).
const gen = join(web, "src/api/schema.gen.ts");
const tmp = `${gen}.${process.pid}.tmp`;
execFileSync(bin("openapi-typescript"), ["../bff/openapi.yaml", "--empty-objects-unknown", "-o", tmp], { cwd: web, stdio: ["ignore", "ignore", "inherit"] });
if (existsSync(gen) && readFileSync(gen, "utf8") === readFileSync(tmp, "utf8")) rmSync(tmp);
else renameSync(tmp, gen);

// 2. Type check.
execFileSync(bin("tsc"), ["-p", "."], { cwd: web, stdio: "inherit" });

// 3. Bundle (into a fresh directory, swapped in at the end).
const stage = `${out}.tmp-${process.pid}`;
rmSync(stage, { recursive: true, force: true });
const { build } = await import("vite");
await build({ root: web, logLevel: "warn", build: { outDir: stage, emptyOutDir: true, manifest: ".vite/manifest.json" } });

// 4. Budget: the entry chunk and everything it imports statically, plus the
// list page (which is in the entry chunk itself: it must show without a
// second round trip) — gzip bytes.
const manifest = JSON.parse(readFileSync(join(stage, ".vite/manifest.json"), "utf8"));
const gz = (f) => gzipSync(readFileSync(join(stage, f)), { level: 9 }).length;
function closure(key, seen = new Set()) {
  const c = manifest[key];
  if (!c || seen.has(c.file)) return seen;
  seen.add(c.file);
  for (const i of c.imports ?? []) closure(i, seen);
  return seen;
}
const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
const initial = [...closure(entryKey)].filter((f) => f.endsWith(".js"));
const initialGzip = initial.reduce((a, f) => a + gz(f), 0);
const css = (manifest[entryKey].css ?? []).reduce((a, f) => a + gz(f), 0);
const signInKey = Object.keys(manifest).find((k) => manifest[k].src === "src/pages/SignIn.tsx");
const signIn = [...closure(signInKey, new Set(initial))].filter((f) => f.endsWith(".js"));
const signInGzip = signIn.reduce((a, f) => a + gz(f), 0);
const report = {
  signInPageInitialJsGzip: signInGzip,
  listPageInitialJsGzip: initialGzip,
  initialCssGzip: css,
  budgetListPage: BUDGET_LIST,
  initialFiles: initial,
  lazyChunks: Object.values(manifest).filter((c) => c.isDynamicEntry).map((c) => ({ src: c.src, gzip: gz(c.file) })),
};
rmSync(join(stage, ".vite"), { recursive: true, force: true });

// 5. Precompressed siblings.
function walk(d) {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(js|css|html|svg|json|txt|webmanifest)$/.test(n) && statSync(p).size >= 512) {
      const b = readFileSync(p);
      writeFileSync(`${p}.gz`, gzipSync(b, { level: 9 }));
      writeFileSync(`${p}.br`, brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }));
    }
  }
}
walk(stage);
rmSync(out, { recursive: true, force: true });
mkdirSync(dirname(out), { recursive: true });
renameSync(stage, out);
writeFileSync(`${out}.bundle.json`, JSON.stringify(report, null, 2) + "\n");
const kib = (n) => (n / 1024).toFixed(1) + " KiB";
console.log(`console: ${out} — list page initial JS ${kib(initialGzip)} gzip, sign-in page ${kib(signInGzip)} (budget ${kib(BUDGET_LIST)}), CSS ${kib(css)} gzip`);
if (initialGzip > BUDGET_LIST) {
  console.error(`console: the list page's initial JavaScript (${kib(initialGzip)} gzip) is over the ${kib(BUDGET_LIST)} budget`);
  process.exit(1);
}
