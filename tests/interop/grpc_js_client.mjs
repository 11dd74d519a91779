// Interop client on @grpc/grpc-js + @grpc/proto-loader, run against kumo-echo.
//
// Usage: node grpc_js_client.mjs HOST:PORT [--tls CA_PEM]
//
// proto-loader reads tests/proto directly (no generated code). Prints one TAP
// line per case ("ok - CASE"); exits 0 when every case passed, 1 otherwise.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { BinaryReader } from "@bufbuild/protobuf/wire";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MIB = 1024 * 1024;
const LIMIT = 4 * MIB;
const UNICODE_MSG = "h\u00e9llo \u4e16\u754c %";
const CALL_TIMEOUT_MS = 10000;
const S = grpc.status;
const codeName = (c) => Object.keys(S).find((k) => S[k] === c) ?? String(c);

let failures = 0;
function report(ok, name, diag) {
  if (ok) {
    console.log(`ok - ${name}`);
    return;
  }
  failures++;
  console.log(`not ok - ${name}`);
  if (diag !== undefined) for (const l of String(diag).split("\n")) console.log(`#   ${l}`);
}

const def = protoLoader.loadSync(["kumo/test/v1/echo.proto", "grpc/health/v1/health.proto"], {
  includeDirs: [join(ROOT, "tests", "proto"), "/usr/share/grpc-proto", "/usr/include"],
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
});
const pkg = grpc.loadPackageDefinition(def);
const EchoClient = pkg.kumo.test.v1.EchoService;
const HealthClient = pkg.grpc.health.v1.Health;

// Minimal protobuf reading for google.rpc.Status and its Any details; the
// googleapis protos are not a dependency here.
function readFields(buf) {
  const r = new BinaryReader(buf);
  const out = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (wt === 0) out.push([no, r.int32()]);
    else if (wt === 2) out.push([no, r.bytes()]);
    else r.skip(wt);
  }
  return out;
}
function decodeStatus(buf) {
  const st = { code: 0, message: "", details: [] };
  for (const [no, v] of readFields(buf)) {
    if (no === 1) st.code = v;
    else if (no === 2) st.message = new TextDecoder().decode(v);
    else if (no === 3) {
      const any = { typeUrl: "", value: new Uint8Array() };
      for (const [n2, v2] of readFields(v)) {
        if (n2 === 1) any.typeUrl = new TextDecoder().decode(v2);
        else if (n2 === 2) any.value = v2;
      }
      st.details.push(any);
    }
  }
  return st;
}

// Runs one unary call; resolves with the response or error plus both metadata sets.
function unary(client, method, req, { md = new grpc.Metadata(), timeoutMs = CALL_TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    const out = { res: null, err: null, initial: null, status: null };
    let pending = 2;
    const done = () => { if (--pending === 0) resolve(out); };
    const options = timeoutMs === null ? {} : { deadline: Date.now() + timeoutMs };
    const call = client[method](req, md, options, (err, res) => {
      out.err = err;
      out.res = err ? null : res;
      done();
    });
    call.on("metadata", (m) => { out.initial = m; });
    call.on("status", (s) => { out.status = s; done(); });
  });
}
function expectError(name, r, code, message) {
  if (r.err === null) {
    report(false, name, `expected ${codeName(code)}, got a response`);
    return false;
  }
  if (r.err.code !== code) {
    report(false, name, `expected ${codeName(code)}, got ${codeName(r.err.code)}: ${JSON.stringify(r.err.details)}`);
    return false;
  }
  if (message !== undefined && r.err.details !== message) {
    report(false, name, `message: expected ${JSON.stringify(message)}, got ${JSON.stringify(r.err.details)}`);
    return false;
  }
  report(true, name);
  return true;
}
function expectOk(name, r) {
  if (r.err !== null) {
    report(false, name, `expected a response, got ${codeName(r.err.code)}: ${JSON.stringify(r.err.details)}`);
    return false;
  }
  return true;
}

async function main() {
  const args = process.argv.slice(2);
  let creds = grpc.credentials.createInsecure();
  if (args.length === 3 && args[1] === "--tls") creds = grpc.credentials.createSsl(readFileSync(args[2]));
  else if (args.length !== 1) {
    console.error("usage: grpc_js_client.mjs HOST:PORT [--tls CA_PEM]");
    process.exit(2);
  }
  const chOpts = {
    "grpc.max_send_message_length": 16 * MIB,
    "grpc.max_receive_message_length": 16 * MIB,
    "grpc.enable_retries": 0,
  };
  const c = new EchoClient(args[0], creds, chOpts);
  // A separate channel whose default compression is gzip (grpc-js has no
  // per-call switch).
  const gz = new EchoClient(args[0], creds, { ...chOpts, "grpc.default_compression_algorithm": 2 });
  const health = new HealthClient(args[0], creds, chOpts);

  let r = await unary(c, "Echo", { message: "hello", payload: Buffer.from([...Array(256).keys()]) });
  if (expectOk("echo", r)) report(r.res.message === "hello" && Buffer.from([...Array(256).keys()]).equals(r.res.payload), "echo");
  if (r.err?.code === S.UNAVAILABLE) {
    // Nothing else can work; the other cases would only repeat this.
    console.log(`# server unreachable (${r.err.details}), remaining cases skipped`);
    process.exit(1);
  }

  for (let code = 1; code <= 16; code++) {
    r = await unary(c, "Fail", { code, message: UNICODE_MSG });
    expectError(`fail/${code} ${codeName(code)}`, r, code, UNICODE_MSG);
  }
  expectError("fail/out-of-range code -> INVALID_ARGUMENT", await unary(c, "Fail", { code: 99, message: "x" }), S.INVALID_ARGUMENT);

  r = await unary(c, "Fail", { code: 9, message: "with detail", detail: "the detail" });
  if (expectError("fail/detail code", r, S.FAILED_PRECONDITION, "with detail")) {
    const raw = r.err.metadata.get("grpc-status-details-bin");
    if (raw.length !== 1) report(false, "fail/detail", `expected one grpc-status-details-bin, got ${raw.length}`);
    else {
      const st = decodeStatus(raw[0]);
      const d = st.details[0];
      let inner = "";
      if (d) for (const [no, v] of readFields(d.value)) if (no === 1) inner = new TextDecoder().decode(v);
      report(st.code === 9 && st.details.length === 1 && d.typeUrl === "type.googleapis.com/kumo.test.v1.EchoResponse" && inner === "the detail",
        "fail/detail", `status code ${st.code} message ${JSON.stringify(st.message)} details ${st.details.map((x) => x.typeUrl)} inner ${JSON.stringify(inner)}`);
    }
  }

  {
    const name = "deadline (Sleep 2000 ms, deadline 200 ms)";
    const t0 = Date.now();
    r = await unary(c, "Sleep", { durationMs: "2000" }, { timeoutMs: 200 });
    const el = Date.now() - t0;
    expectError(name, r, S.DEADLINE_EXCEEDED);
    report(el <= 1500, `${name} returned within 1.5 s`, `took ${el} ms`);
    r = await unary(c, "Echo", { message: "after" });
    if (expectOk("deadline/server still answers", r)) report(r.res.message === "after", "deadline/server still answers");
    r = await unary(c, "Echo", { message: "d" }, { timeoutMs: 5000 });
    const n1 = "deadline/propagated (5 s deadline -> 0 < deadline_ms <= 5100)";
    if (expectOk(n1, r)) report(Number(r.res.deadlineMs) > 0 && Number(r.res.deadlineMs) <= 5100, n1, `deadline_ms=${r.res.deadlineMs}`);
    r = await unary(c, "Echo", { message: "d" }, { timeoutMs: null });
    const n2 = "deadline/none -> deadline_ms 0";
    if (expectOk(n2, r)) report(r.res.deadlineMs === "0", n2, `deadline_ms=${r.res.deadlineMs}`);
  }

  {
    const payload = Buffer.alloc(LIMIT - 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    r = await unary(c, "Echo", { payload }, { timeoutMs: 30000 });
    if (expectOk("large/4MiB-1KiB ok", r)) report(payload.equals(r.res.payload), "large/4MiB-1KiB ok");
    r = await unary(c, "Echo", { payload: Buffer.alloc(LIMIT + 1024, 120) }, { timeoutMs: 30000 });
    expectError("large/4MiB+1KiB -> RESOURCE_EXHAUSTED", r, S.RESOURCE_EXHAUSTED);
    r = await unary(c, "Echo", { message: "after" });
    if (expectOk("large/server still answers", r)) report(r.res.message === "after", "large/server still answers");
  }

  {
    r = await unary(c, "Bytes", { size: "1000" });
    const want = Buffer.alloc(1000);
    for (let i = 0; i < 1000; i++) want[i] = 97 + (i % 26);
    if (expectOk("bytes/1000", r)) report(want.equals(r.res.data), "bytes/1000");
    expectError("bytes/-1 -> INVALID_ARGUMENT", await unary(c, "Bytes", { size: "-1" }), S.INVALID_ARGUMENT);
    expectError("bytes/response over limit -> RESOURCE_EXHAUSTED", await unary(c, "Bytes", { size: String(LIMIT + 1024) }, { timeoutMs: 30000 }), S.RESOURCE_EXHAUSTED);
  }

  {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = 97 + (i % 8);
    r = await unary(gz, "Echo", { message: "gz", payload });
    if (expectOk("gzip/request compressed", r)) report(r.res.message === "gz" && payload.equals(r.res.payload), "gzip/request compressed");
  }

  {
    const md = new grpc.Metadata();
    md.add("x-custom", "hello");
    md.add("x-request-id", "interop-rid-1");
    const rawBin = Buffer.from([0, 1, 0xfe, 0xff]);
    md.add("x-bin-bin", rawBin);
    r = await unary(c, "Echo", { message: "m", echoHeaders: ["x-custom", "x-bin-bin"] }, { md });
    if (expectOk("metadata", r)) {
      report(r.res.headers["x-custom"] === "hello", "metadata/echo_headers x-custom", JSON.stringify(r.res.headers));
      const b64 = r.res.headers["x-bin-bin"] ?? "";
      report(Buffer.from(b64, "base64").equals(rawBin), "metadata/echo_headers x-bin-bin (base64 as on the wire)", `got ${JSON.stringify(b64)}`);
      report(r.res.requestId === "interop-rid-1", "metadata/request_id from x-request-id", `request_id=${r.res.requestId}`);
      report(r.initial?.get("x-echo-initial")[0] === "initial", "metadata/header x-echo-initial", JSON.stringify(r.initial?.getMap()));
      report(r.status?.metadata.get("x-echo-trailer")[0] === "trailing", "metadata/trailer x-echo-trailer", JSON.stringify(r.status?.metadata.getMap()));
    }
    r = await unary(c, "Echo", { message: "m" });
    if (expectOk("metadata/generated request_id", r)) report(r.res.requestId !== "", "metadata/generated request_id");
  }

  r = await unary(c, "Lookup", { key: "k1", kind: "KIND_FANCY" });
  if (expectOk("lookup", r)) {
    const at = Number(r.res.lookedUpAt?.seconds ?? 0) * 1000;
    report(r.res.key === "k1" && r.res.value === "value-of-k1" && r.res.kind === "KIND_FANCY" && r.res.big === "9007199254740993" && Math.abs(at - Date.now()) < 60000,
      "lookup", JSON.stringify(r.res));
  }

  r = await unary(health, "Check", { service: "" });
  if (expectOk("health/Check", r)) report(r.res.status === "SERVING", "health/Check", `status ${r.res.status}`);

  c.close();
  gz.close();
  health.close();
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  report(false, "cases ran", `exception: ${e?.stack ?? e}`);
  process.exit(1);
});
