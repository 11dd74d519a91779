// The console end to end in Debian's chromium (playwright-core), against the
// stack console_test.py brought up. Prints TAP lines "ok - console: ..." /
// "not ok - console: ..." (with "#" diagnostics). Usage:
//   node e2e.mjs CONFIG_JSON   ({base, tenant, email, password, shots, web})
import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(cfg.web, "package.json"));
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const base = cfg.base;
mkdirSync(cfg.shots, { recursive: true });
const tmp = join(cfg.shots, "..", "console-e2e-files");
mkdirSync(tmp, { recursive: true });

let failed = 0;
function ok(name) {
  console.log(`ok - console: ${name}`);
}
function notOk(name, err) {
  failed++;
  console.log(`not ok - console: ${name}`);
  for (const l of String(err?.stack ?? err).split("\n").slice(0, 12)) console.log(`#   ${l}`);
}
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    ok(`${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    return true;
  } catch (e) {
    notOk(name, e);
    return false;
  }
}
function assert(c, msg) {
  if (!c) throw new Error(msg);
}
const sha = (b) => createHash("sha256").update(b).digest("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, ms = 30000, every = 500) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const cspErrors = [];
const pageErrors = [];
async function newContext(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: "en-US", colorScheme: "light", acceptDownloads: true, ...opts });
  ctx.on("page", watch);
  return ctx;
}
function watch(p) {
  p.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  p.on("pageerror", (e) => pageErrors.push(e.message));
}

async function axe(page, screen) {
  await page.waitForTimeout(500); // let dialogs finish their transitions
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    (await axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => ({
      id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
      where: v.nodes.slice(0, 3).map((n) => ({ target: n.target.join(" "), data: n.any[0]?.data, html: n.html.slice(0, 120) })),
    })),
  );
  const bad = r.filter((v) => v.impact === "serious" || v.impact === "critical");
  await step(`axe: ${screen}: no serious or critical violation`, async () => {
    assert(!bad.length, JSON.stringify(bad));
  });
}

async function signIn(page, email, password) {
  await page.goto(base + "/signin");
  await page.fill("input[name=tenant]", cfg.tenant);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL("**/documents", { timeout: 15000 });
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 20000 }), page.click(selector)]);
  const p = await dl.path();
  return readFileSync(p);
}

async function docAction(page, testid) {
  await page.click("[data-testid=doc-actions]");
  await page.click(`[data-testid=${testid}]`);
}

// ---- files -----------------------------------------------------------------
const word = "zephyrquartz" + Date.now().toString(36);
const files = {
  text: join(tmp, "handbook.txt"),
  small: join(tmp, "price-list.csv"),
  big: join(tmp, "archive-64mib.bin"),
  v2: join(tmp, "handbook-v2.txt"),
};
const textV1 = Buffer.from(`Employee handbook\n\nThe secret word of this file is ${word}.\n本規則は従業員の労働条件および服務規律を定めるものである。\n`);
const textV2 = Buffer.from("Employee handbook, second edition.\nEverything changed.\n");
writeFileSync(files.text, textV1);
writeFileSync(files.small, "item,price\npaper,3\nink,12\n");
{
  const big = Buffer.alloc(64 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(files.big, big);
}
writeFileSync(files.v2, textV2);
// A real PNG (a colour gradient) that the extract job makes a thumbnail of.
function png(w, h) {
  const crcT = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcT[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const td = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0); td.copy(out, 4); out.writeUInt32BE(crc(td), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = y * (w * 3 + 1) + 1 + x * 3;
    raw[o] = 40 + (x * 180) / w; raw[o + 1] = 90 + (y * 120) / h; raw[o + 2] = 220 - (x * 100) / w;
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
files.png = join(tmp, "office-floor-plan.png");
writeFileSync(files.png, png(320, 240));

// ---- the flow ----------------------------------------------------------------
const ctx = await newContext();
const page = await ctx.newPage();
let docUrl = "";

await step("sign-in: wrong password -> clear message", async () => {
  await page.goto(base + "/documents");
  await page.waitForURL("**/signin**");
  await page.fill("input[name=tenant]", cfg.tenant);
  await page.fill("input[name=email]", cfg.email);
  await page.fill("input[name=password]", "not-the-password");
  await page.click("button[type=submit]");
  const msg = await page.locator("[data-testid=signin-error]").textContent({ timeout: 10000 });
  assert(/wrong/i.test(msg ?? ""), `message ${msg}`);
});
await axe(page, "sign-in");

const signedIn = await step("sign-in as the demo admin -> the documents list (empty state)", async () => {
  await signIn(page, cfg.email, cfg.password);
  await page.locator("[data-testid=empty-state]").waitFor({ timeout: 10000 });
});
await axe(page, "documents (empty)");

await step("silent refresh: a reload stays signed in", async () => {
  await page.reload();
  await page.locator("[data-testid=empty-state]").waitFor({ timeout: 10000 });
  assert(page.url().endsWith("/documents"), page.url());
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + document.cookie);
  assert(!/eyJ[A-Za-z0-9_-]{10,}\./.test(stored), "a token is readable from script");
});

let uploaded = false;
if (signedIn) {
  uploaded = await step("upload three files at once (one 64 MiB, multipart): progress, then all done", async () => {
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("[data-testid=upload-button]")]);
    await chooser.setFiles([files.text, files.small, files.big]);
    await page.locator("[data-testid=upload-item]").nth(2).waitFor({ timeout: 10000 });
    await page.screenshot({ path: join(cfg.shots, "upload-progress-en-light.png") });
    await until(async () => (await page.locator("[data-testid=upload-item][data-state=done]").count()) === 3, "3 uploads done", 120000);
    const err = await page.locator("[data-testid=upload-item][data-state=error]").allTextContents();
    assert(!err.length, err.join("; "));
  });
  await step("the list shows the three documents", async () => {
    await until(async () => (await page.locator("[data-testid=doc-row]").count()) === 3, "3 rows", 15000);
    const text = await page.locator("[data-testid=doc-table]").textContent();
    for (const n of ["handbook", "price-list", "archive-64mib"]) assert(text.includes(n), `no ${n} in list`);
  });
  await axe(page, "documents (rows)");
}

if (uploaded) {
  await step("search finds a document by a word only in its content (after extraction)", async () => {
    await until(async () => {
      await page.goto(`${base}/documents?q=${word}`);
      await page.locator("[data-testid=doc-row], [data-testid=empty-state]").first().waitFor({ timeout: 10000 });
      const rows = await page.locator("[data-testid=doc-row]").count();
      return rows === 1 && (await page.locator("[data-testid=doc-row]").textContent()).includes("handbook");
    }, "the search hit", 60000, 1500);
    // The snippet shows the word marked (a <mark> element, not markup text).
    const marks = await page.locator("[data-testid=doc-row] [data-testid=snippet] mark").allTextContents();
    assert(marks.includes(word), `snippet marks ${JSON.stringify(marks)}`);
    // The box holds the query, the URL keeps it (bookmarkable).
    assert((await page.locator("[data-testid=search]").inputValue()) === word, "search box value");
    await page.fill("[data-testid=search]", "");
    await until(async () => !page.url().includes("q="), "q removed from the URL", 5000, 200);
  });

  await step("search in Japanese: 従業員 finds the handbook, the snippet marks 従業員 (code points)", async () => {
    await page.goto(`${base}/documents?q=${encodeURIComponent("従業員")}`);
    await page.locator("[data-testid=doc-row] [data-testid=snippet]").first().waitFor({ timeout: 10000 });
    const marks = await page.locator("[data-testid=doc-row] [data-testid=snippet] mark").allTextContents();
    assert(marks.includes("従業員"), `marks ${JSON.stringify(marks)}`);
    await page.screenshot({ path: join(cfg.shots, "search-snippets-ja-query-en-light.png") });
  });
  await axe(page, "search results with snippets");

  await step("open the document, edit its title (If-Match)", async () => {
    await page.goto(`${base}/documents?q=${word}`);
    await page.locator("[data-testid=doc-row] a").first().click();
    await page.locator("[data-testid=doc-title]").waitFor();
    docUrl = page.url();
    await page.click("[data-testid=edit]");
    await page.fill("[data-testid=edit-title]", "Employee handbook");
    await page.click("[data-testid=edit-save]");
    await until(async () => (await page.locator("[data-testid=doc-title]").textContent()) === "Employee handbook", "new title", 10000, 200);
    await page.locator("[data-testid=preview-text]").waitFor({ timeout: 10000 });
  });
  await axe(page, "document");

  await step("a 412 from a second tab: the conflict dialog shows both, overwrite wins", async () => {
    const page2 = await ctx.newPage();
    await page2.goto(docUrl + "/edit");
    await page2.locator("[data-testid=edit-title]").waitFor();
    await page.goto(docUrl + "/edit");
    await page.fill("[data-testid=edit-title]", "Handbook (tab one)");
    await page.click("[data-testid=edit-save]");
    await until(async () => (await page.locator("[data-testid=doc-title]").textContent()) === "Handbook (tab one)", "tab one saved", 10000, 200);
    await page2.fill("[data-testid=edit-title]", "Handbook (tab two)");
    await page2.click("[data-testid=edit-save]");
    await page2.locator("[data-testid=conflict-theirs]").waitFor({ timeout: 10000 });
    await page2.waitForTimeout(600);
    assert((await page2.locator("[data-testid=conflict-theirs]").textContent()).includes("tab one"), "theirs shown");
    assert((await page2.locator("[data-testid=conflict-mine]").textContent()).includes("tab two"), "mine shown");
    await page2.screenshot({ path: join(cfg.shots, "conflict-en-light.png") });
    await axe(page2, "conflict dialog");
    await page2.click("[data-testid=conflict-overwrite]");
    await until(async () => (await page2.locator("[data-testid=doc-title]").textContent()) === "Handbook (tab two)", "overwrite saved", 10000, 200);
    await page2.close();
  });

  await step("new version; version 1 still downloads the old bytes (SHA-256)", async () => {
    await page.goto(docUrl);
    await page.locator("[data-testid=doc-title]").waitFor();
    const before = await page.locator("[data-testid=upload-item][data-state=done]").count();
    await page.click("[data-testid=doc-actions]");
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("[data-testid=new-version]")]);
    await chooser.setFiles(files.v2);
    await until(async () => (await page.locator("[data-testid=upload-item][data-state=done]").count()) === before + 1, "version upload done", 30000);
    await until(async () => {
      await page.reload();
      await page.locator("[data-testid=versions]").waitFor();
      return (await page.locator("[data-testid=version-row][data-version='2']").count()) === 1;
    }, "version 2 listed", 20000, 1000);
    const v1 = await download(page, "[data-testid=download-v1]");
    assert(sha(v1) === sha(textV1), `v1 sha ${sha(v1)} != ${sha(textV1)}`);
    const cur = await download(page, "[data-testid=download]");
    assert(sha(cur) === sha(textV2), "current version is v2");
  });

  await step("archive -> restore (refreshing state) -> download", async () => {
    await page.goto(docUrl);
    await docAction(page, "archive");
    await page.click("[data-testid=confirm-archive]");
    await until(async () => (await page.locator("[data-testid=status-badge]").first().getAttribute("data-status")) === "archived", "archived", 10000, 300);
    assert(await page.locator("[data-testid=download]").isDisabled(), "download disabled while archived");
    await docAction(page, "restore");
    await page.click("[data-testid=confirm-restore]");
    await until(async () => (await page.locator("[data-testid=status-badge]").first().getAttribute("data-status")) === "restored", "restored (polled)", 40000, 500);
    const got = await download(page, "[data-testid=download]");
    assert(sha(got) === sha(textV2), "restored bytes");
  });

  await step("delete -> Trash -> undelete", async () => {
    await page.goto(docUrl);
    await docAction(page, "delete");
    await page.click("[data-testid=confirm-delete]");
    await page.waitForURL("**/documents");
    await page.goto(base + "/trash");
    await page.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
    assert((await page.locator("[data-testid=doc-table]").textContent()).includes("tab two"), "in trash");
    await axe(page, "trash");
    await page.screenshot({ path: join(cfg.shots, "trash-en-light.png") });
    // GET /documents/{id} of a deleted document is 404 (KumoCMS); the page
    // opens it from the Trash with include_deleted=true.
    await page.goto(docUrl);
    await until(async () => (await page.locator("[data-testid=status-badge]").first().getAttribute("data-status")) === "deleted", "deleted document opens", 10000, 300);
    await page.goto(base + "/trash");
    await page.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
    await page.click("[data-testid=trash-undelete]");
    await until(async () => (await page.locator("[data-testid=doc-row]").count()) === 0, "trash empty", 10000, 300);
    await page.goto(docUrl);
    await until(async () => (await page.locator("[data-testid=status-badge]").first().getAttribute("data-status")) !== "deleted", "not deleted", 10000, 300);
  });
}

if (uploaded) {
  await step("filters live in the URL: status=archived shows only the archived document; a bookmark reopens it", async () => {
    await page.goto(base + "/documents");
    await page.getByRole("button", { name: "Filters" }).click();
    await page.getByLabel("Status", { exact: true }).first().click();
    await page.getByRole("option", { name: "Archived" }).click();
    await until(async () => page.url().includes("status=archived"), "status in the URL", 5000, 200);
    await until(async () => (await page.locator("[data-testid=doc-row]").count()) === 1, "one archived row", 10000, 300);
    const bookmark = page.url();
    await page.goto(base + "/documents");
    // A full load renews the session (the refresh cookie rotates): let it
    // finish before the next navigation, as a person would.
    await page.locator("[data-testid=doc-row]").first().waitFor();
    await page.goto(bookmark);
    await until(async () => (await page.locator("[data-testid=doc-row]").count()) === 1, "bookmark: one row", 10000, 300);
    assert((await page.locator("[data-testid=status-badge]").getAttribute("data-status")) !== "active", "only archived");
  });

  await step("keyboard alone: the skip link comes first, a row opens with Enter", async () => {
    await page.goto(base + "/documents");
    await page.locator("[data-testid=doc-row]").first().waitFor();
    await page.keyboard.press("Tab");
    assert((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "skip link first");
    await page.locator("[data-testid=doc-row] a").first().focus();
    await page.keyboard.press("Enter");
    await page.locator("[data-testid=doc-title]").waitFor({ timeout: 10000 });
  });
}

let keySecret = "";
await step("API key: created (secret shown once), works with an HTTP client, revoked in the console -> 401", async () => {
  await page.goto(base + "/admin/api-keys");
  await page.click("[data-testid=new-key]");
  await page.fill("[data-testid=key-name]", "e2e robot");
  await page.click("[data-testid=create-key]");
  keySecret = (await page.locator("[data-testid=key-secret]").textContent({ timeout: 10000 })).trim();
  assert(/^kumo_/.test(keySecret), "secret shape");
  await page.screenshot({ path: join(cfg.shots, "api-key-secret-en-light.png") });
  const get = () => fetch(base + "/api/v1/documents", { headers: { Authorization: `Bearer ${keySecret}` } }).then((r) => r.status);
  assert((await get()) === 200, "key works");
  await page.click("[data-testid=close-secret]");
  await axe(page, "api keys");
  await page.locator("[data-testid=key-row][data-name='e2e robot'] [data-testid=revoke-key]").click();
  await page.click("[data-testid=confirm-revoke]");
  await until(async () => (await get()) === 401, "401 after revoke", 15000, 500);
});

const viewer = { email: `viewer-${Date.now().toString(36)}@demo.local`, password: "viewer-Passw0rd-long" };
await step("admin creates a viewer user", async () => {
  await page.goto(base + "/admin/users");
  await page.getByRole("button", { name: "New user" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByLabel("E-mail").fill(viewer.email);
  await dlg.getByLabel("Name").fill("Vera Viewer");
  await dlg.locator("[data-testid=user-role]").click();
  await page.getByRole("option", { name: "Viewer" }).click();
  await dlg.getByLabel("Initial password").fill(viewer.password);
  await dlg.getByRole("button", { name: "Create" }).click();
  await page.getByText(viewer.email).waitFor({ timeout: 10000 });
  await axe(page, "users");
});

await step("a viewer sees no write controls; forced write and admin URLs show 403", async () => {
  const vctx = await newContext();
  const vp = await vctx.newPage();
  await signIn(vp, viewer.email, viewer.password);
  await vp.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
  assert((await vp.locator("[data-testid=upload-button]").count()) === 0, "upload button shown to a viewer");
  if (docUrl) {
    await vp.goto(docUrl);
    await vp.locator("[data-testid=doc-title]").waitFor();
    assert((await vp.locator("[data-testid=edit]").count()) === 0, "edit shown");
    assert((await vp.locator("[data-testid=doc-actions]").count()) === 0, "actions shown");
    await vp.goto(docUrl + "/edit");
    await vp.locator("[data-testid=forbidden]").waitFor({ timeout: 10000 });
  }
  await vp.goto(base + "/admin/users");
  await vp.locator("[data-testid=forbidden]").waitFor({ timeout: 10000 });
  await vp.screenshot({ path: join(cfg.shots, "forbidden-en-light.png") });
  await axe(vp, "403 page");
  await vctx.close();
});

await step("thumbnails: an uploaded PNG gets one in the list and on its page (lazy, fixed size, alt)", async () => {
  await page.goto(base + "/documents");
  await page.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("[data-testid=upload-button]")]);
  await chooser.setFiles([files.png]);
  await until(async () => (await page.locator("[data-testid=upload-item][data-state=done]").count()) >= 1, "png uploaded", 30000);
  const row = page.locator("[data-testid=doc-row]", { hasText: "office-floor-plan" });
  await until(async () => {
    await page.reload();
    await row.first().waitFor({ timeout: 10000 });
    return (await row.locator("img[data-testid=thumb]").count()) === 1;
  }, "thumbnail_url in the list", 60000, 1500);
  const img = row.locator("img[data-testid=thumb]");
  await until(async () => img.evaluate((i) => i.complete && i.naturalWidth > 0), "thumbnail loaded from the storage origin", 10000, 300);
  const a = await img.evaluate((i) => ({ alt: i.alt, loading: i.loading, w: i.getAttribute("width"), h: i.getAttribute("height"), box: i.getBoundingClientRect().width }));
  assert(a.alt.includes("office-floor-plan") && a.loading === "lazy" && a.w === "36" && a.h === "36" && Math.round(a.box) === 36, JSON.stringify(a));
  await row.locator("a").first().click();
  await page.locator("[data-testid=doc-title]").waitFor();
  await until(async () => page.locator("img[data-testid=thumb]").evaluate((i) => i.complete && i.naturalWidth > 0), "thumbnail on the page", 10000, 300);
  await page.screenshot({ path: join(cfg.shots, "document-thumbnail-en-light.png") });
});

await step("audit log: the day range filters events (today: some; from tomorrow: none), kept in the URL", async () => {
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const today = day(new Date());
  const tomorrow = day(new Date(Date.now() + 86400000));
  await page.goto(`${base}/admin/audit?from=${today}&to=${today}`);
  await page.locator("table tbody tr").first().waitFor({ timeout: 10000 });
  assert((await page.locator("[data-testid=audit-from]").inputValue()) === today, "from not shown");
  await page.fill("[data-testid=audit-from]", tomorrow);
  await page.fill("[data-testid=audit-to]", tomorrow);
  await until(async () => page.url().includes(`from=${tomorrow}`), "from in the URL", 5000, 200);
  await page.getByText("No events match.").waitFor({ timeout: 10000 });
  await page.goto(`${base}/admin/audit?from=${today}`);
  await page.locator("table tbody tr").first().waitFor({ timeout: 10000 });
  await page.screenshot({ path: join(cfg.shots, "audit-time-filter-en-light.png") });
});

await step("profile: change password (wrong current -> message; then changed -> signed out, the new one signs in)", async () => {
  const pctx = await newContext();
  const pp = await pctx.newPage();
  await signIn(pp, viewer.email, viewer.password);
  await pp.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
  await pp.goto(base + "/profile");
  const form = pp.locator("[data-testid=password-form]");
  await form.locator("input[name=current-password]").fill("not-my-password");
  await form.locator("input[name=new-password]").fill("viewer-New-passw0rd");
  await form.locator("input[name=new-password-again]").fill("viewer-New-passw0rd");
  await pp.click("[data-testid=password-submit]");
  const err = await pp.locator("[data-testid=password-error]").textContent({ timeout: 10000 });
  assert(/not right/.test(err), err);
  await pp.screenshot({ path: join(cfg.shots, "profile-password-error-en-light.png") });
  await axe(pp, "profile (password error)");
  await form.locator("input[name=current-password]").fill(viewer.password);
  await pp.click("[data-testid=password-submit]");
  await pp.waitForURL("**/signin**", { timeout: 10000 });
  await pp.getByText("Password changed").first().waitFor({ timeout: 5000 });
  const r = await pp.evaluate(async () => (await fetch("/api/v1/auth/refresh", { method: "POST" })).status);
  assert(r !== 200, "the old session still refreshes");
  viewer.password = "viewer-New-passw0rd";
  await signIn(pp, viewer.email, viewer.password);
  await pp.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 });
  await pctx.close();
});

// ---- screenshots: every main screen, light and dark, English and Japanese ----
await step("screenshots of the main screens (light/dark, en/ja)", async () => {
  const screens = [
    ["documents", "/documents"], ["document", docUrl ? new URL(docUrl).pathname : "/documents"], ["trash", "/trash"],
    ["users", "/admin/users"], ["api-keys", "/admin/api-keys"], ["audit", "/admin/audit"], ["dead-letters", "/admin/dead-letters"],
    ["profile", "/profile"],
  ];
  for (const lang of ["en", "ja"]) {
    for (const scheme of ["light", "dark"]) {
      await page.evaluate(([l, s]) => {
        localStorage.setItem("kumo.lang", l);
        localStorage.setItem("mantine-color-scheme-value", s);
      }, [lang, scheme]);
      for (const [name, path] of screens) {
        await page.goto(base + path);
        await page.locator("h2").first().waitFor({ timeout: 10000 }).catch(() => undefined);
        await page.locator("[data-testid=user-menu]").waitFor({ timeout: 10000 }).catch(() => undefined);
        await page.waitForTimeout(500);
        await page.screenshot({ path: join(cfg.shots, `${name}-${lang}-${scheme}.png`) });
        if (!(lang === "en" && scheme === "light")) await axe(page, `${name} (${lang}, ${scheme})`);
      }
      const sctx = await newContext({ colorScheme: scheme, locale: lang === "ja" ? "ja-JP" : "en-US" });
      const sp = await sctx.newPage();
      await sp.goto(base + "/signin");
      await sp.locator("input[name=tenant]").waitFor();
      await sp.screenshot({ path: join(cfg.shots, `signin-${lang}-${scheme}.png`) });
      await sctx.close();
      const mctx = await newContext({ colorScheme: scheme, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      await mctx.addInitScript(([l, s]) => {
        try {
          localStorage.setItem("kumo.lang", l);
          localStorage.setItem("mantine-color-scheme-value", s);
        } catch {
          /* about:blank has no storage */
        }
      }, [lang, scheme]);
      const mp = await mctx.newPage();
      await signIn(mp, cfg.email, cfg.password).catch(() => undefined);
      await mp.locator("[data-testid=doc-row]").first().waitFor({ timeout: 10000 }).catch(() => undefined);
      await mp.waitForTimeout(600);
      await mp.screenshot({ path: join(cfg.shots, `documents-phone-${lang}-${scheme}.png`) });
      await mctx.close();
    }
  }
  await page.evaluate(() => {
    localStorage.setItem("kumo.lang", "en");
    localStorage.setItem("mantine-color-scheme-value", "light");
  });
});

await step("the Japanese catalogue is used when the browser's language is Japanese", async () => {
  const jctx = await newContext({ locale: "ja-JP" });
  const jp = await jctx.newPage();
  await jp.goto(base + "/signin");
  await jp.getByRole("heading", { name: "kumo にサインイン" }).waitFor({ timeout: 10000 });
  await axe(jp, "sign-in (ja)");
  await jctx.close();
});

await step("sign out: back to sign-in, and the back button shows nothing private", async () => {
  await page.goto(docUrl || base + "/documents");
  await page.locator("h2").first().waitFor({ timeout: 10000 });
  await page.click("[data-testid=user-menu]");
  await page.click("[data-testid=sign-out]");
  await page.waitForURL("**/signin**");
  await page.goBack();
  await page.waitForTimeout(800);
  assert(page.url().includes("/signin"), `back went to ${page.url()}`);
  const body = await page.locator("body").textContent();
  assert(!body.includes("tab two") && (await page.locator("[data-testid=doc-row]").count()) === 0, "private content visible");
  const r = await page.evaluate(async () => (await fetch("/api/v1/auth/refresh", { method: "POST" })).status);
  assert(r !== 200, "refresh still works after sign-out");
});

await step("too many sign-in attempts -> 429 message with the wait time", async () => {
  const rctx = await newContext();
  const rp = await rctx.newPage();
  await rp.goto(base + "/signin");
  for (let i = 0; i < 15; i++) {
    await rp.fill("input[name=tenant]", cfg.tenant);
    await rp.fill("input[name=email]", "nobody@demo.local");
    await rp.fill("input[name=password]", "wrong-" + i);
    await rp.click("button[type=submit]");
    await rp.waitForTimeout(150);
    await rp.locator("button[type=submit]:not([data-loading])").waitFor({ timeout: 10000 });
    if (await rp.locator("[data-testid=signin-wait]").count()) break;
  }
  const msg = await rp.locator("[data-testid=signin-wait]").textContent({ timeout: 5000 });
  assert(/in (about (a|an|\d+) (minutes?|hours?)|\d+ seconds?)\./.test(msg), `message ${msg}`);
  await rp.screenshot({ path: join(cfg.shots, "signin-429-en-light.png") });
  await rctx.close();
});

await step("no CSP violation and no uncaught error in any page", async () => {
  assert(!cspErrors.length, cspErrors.slice(0, 5).join("\n"));
  assert(!pageErrors.length, pageErrors.slice(0, 5).join("\n"));
});

await browser.close();
process.exit(failed ? 1 : 0);
