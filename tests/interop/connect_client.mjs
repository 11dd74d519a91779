// Interop client on @connectrpc/connect-node 2.x, run against kumo-echo.
//
// Usage: node connect_client.mjs HOST:PORT [--tls CA_PEM]
//
// Runs the same cases over the Connect, gRPC and gRPC-Web transports, each
// with the binary and the JSON codec. The schema comes from a descriptor set
// that protoc builds at start-up (no code generation), so nothing here depends
// on code kumo wrote. Prints one TAP line per case ("ok - TRANSPORT/CASE");
// exits 0 when every case passed, 1 otherwise.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, encodeBinaryHeader } from "@connectrpc/connect";
import {
  Http2SessionManager,
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MIB = 1024 * 1024;
const LIMIT = 4 * MIB;
const UNICODE_MSG = "h\u00e9llo \u4e16\u754c %";
const CALL_TIMEOUT_MS = 10000;

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

function loadRegistry() {
  const dir = mkdtempSync(join(tmpdir(), "kumo-interop-"));
  try {
    const out = join(dir, "set.binpb");
    execFileSync("protoc", [
      "-I/usr/include", "-I/usr/share/grpc-proto", `-I${join(ROOT, "tests", "proto")}`,
      "--include_imports", `--descriptor_set_out=${out}`,
      "kumo/test/v1/echo.proto", "grpc/health/v1/health.proto",
    ]);
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const reg = loadRegistry();
const EchoService = reg.getService("kumo.test.v1.EchoService");
const Health = reg.getService("grpc.health.v1.Health");
const EchoResponse = reg.getMessage("kumo.test.v1.EchoResponse");
const KindFancy = reg.getEnum("kumo.test.v1.Kind").values.find((v) => v.name === "KIND_FANCY").number;

// A session manager that records what went over the wire, so cases can check
// the HTTP method (GET for Lookup) and the compression headers, which the
// client API otherwise hides.
class RecordingSessionManager extends Http2SessionManager {
  constructor(url, nodeOptions) {
    super(url, {}, nodeOptions);
    this.log = [];
  }
  async request(method, path, headers, options) {
    const entry = { method, path, headers, response: null };
    this.log.push(entry);
    const stream = await super.request(method, path, headers, options);
    stream.on("response", (h) => { entry.response = h; });
    return stream;
  }
  last() {
    return this.log[this.log.length - 1];
  }
}

function makeTransport(kind, binary, baseUrl, tlsOpts, extra = {}) {
  const sessionManager = new RecordingSessionManager(baseUrl, tlsOpts);
  const opts = {
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: binary,
    sessionManager,
    readMaxBytes: 16 * MIB,
    writeMaxBytes: 16 * MIB,
    ...extra,
  };
  const make = { connect: createConnectTransport, grpc: createGrpcTransport, grpcweb: createGrpcWebTransport }[kind];
  return { transport: make(opts), sessionManager };
}

function errOf(e) {
  return e instanceof ConnectError ? e : ConnectError.from(e);
}
async function call(fn, ...args) {
  try {
    return { res: await fn(...args), err: null };
  } catch (e) {
    return { res: null, err: errOf(e) };
  }
}
function codeName(c) {
  return Code[c] ?? String(c);
}
function expectError(name, r, code, message) {
  if (r.err === null) {
    report(false, name, `expected ${codeName(code)}, got a response`);
    return false;
  }
  if (r.err.code !== code) {
    report(false, name, `expected ${codeName(code)}, got ${codeName(r.err.code)}: ${JSON.stringify(r.err.rawMessage)}`);
    return false;
  }
  if (message !== undefined && r.err.rawMessage !== message) {
    report(false, name, `message: expected ${JSON.stringify(message)}, got ${JSON.stringify(r.err.rawMessage)}`);
    return false;
  }
  report(true, name);
  return true;
}
function expectOk(name, r) {
  if (r.err !== null) {
    report(false, name, `expected a response, got ${codeName(r.err.code)}: ${JSON.stringify(r.err.rawMessage)}`);
    return false;
  }
  return true;
}
function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const opt = (o = {}) => ({ timeoutMs: CALL_TIMEOUT_MS, ...o });

async function runCases(p, kind, binary, baseUrl, tlsOpts) {
  const { transport, sessionManager } = makeTransport(kind, binary, baseUrl, tlsOpts);
  const echo = createClient(EchoService, transport);
  const health = createClient(Health, transport);

  // echo
  {
    const payload = new Uint8Array(256).map((_, i) => i);
    const r = await call(echo.echo, { message: "hello", payload }, opt());
    if (expectOk(`${p}/echo`, r))
      report(r.res.message === "hello" && bytesEqual(r.res.payload, payload), `${p}/echo`, `got ${r.res.message}`);
    // When the first call cannot work at all (e.g. the server does not speak
    // this protocol/codec), the remaining cases would only repeat that failure.
    if (r.err !== null && (r.err.code === Code.Unimplemented || r.err.code === Code.Internal || r.err.code === Code.Unknown || r.err.code === Code.Unavailable)) {
      console.log(`# ${p}: first call failed (${codeName(r.err.code)}), remaining cases skipped`);
      return;
    }
  }
  // codec: the response content type matches the codec asked for
  {
    const r = await call(echo.echo, { message: "ct" }, opt());
    const ct = sessionManager.last().response?.["content-type"] ?? "";
    const want = {
      connect: binary ? "application/proto" : "application/json",
      grpc: binary ? /^application\/grpc(\+proto)?$/ : /^application\/grpc\+json$/,
      grpcweb: binary ? /^application\/grpc-web(\+proto)?$/ : /^application\/grpc-web\+json$/,
    }[kind];
    const ok = typeof want === "string" ? ct.split(";")[0] === want : want.test(ct.split(";")[0]);
    if (expectOk(`${p}/codec content-type`, r)) report(ok, `${p}/codec content-type`, `content-type ${ct}`);
  }
  // every code 1..16 with a non-ASCII message
  for (let code = 1; code <= 16; code++) {
    const r = await call(echo.fail, { code, message: UNICODE_MSG }, opt());
    expectError(`${p}/fail/${code} ${codeName(code)}`, r, code, UNICODE_MSG);
  }
  expectError(`${p}/fail/out-of-range code -> InvalidArgument`, await call(echo.fail, { code: 99, message: "x" }, opt()), Code.InvalidArgument);
  // error detail
  {
    const name = `${p}/fail/detail`;
    const r = await call(echo.fail, { code: 9, message: "with detail", detail: "the detail" }, opt());
    if (expectError(name + " code", r, Code.FailedPrecondition, "with detail")) {
      const d = r.err.findDetails(EchoResponse);
      report(d.length === 1 && d[0].message === "the detail", name, `details: ${JSON.stringify(r.err.details.map((x) => x.desc?.typeName ?? x.type))}`);
    }
  }
  // deadline
  {
    const name = `${p}/deadline (Sleep 2000 ms, deadline 200 ms)`;
    const t0 = Date.now();
    const r = await call(echo.sleep, { durationMs: 2000n }, { timeoutMs: 200 });
    const el = Date.now() - t0;
    expectError(name, r, Code.DeadlineExceeded);
    report(el <= 1500, `${name} returned within 1.5 s`, `took ${el} ms`);
    const r2 = await call(echo.echo, { message: "after" }, opt());
    if (expectOk(`${p}/deadline/server still answers`, r2)) report(r2.res.message === "after", `${p}/deadline/server still answers`);
  }
  {
    const name = `${p}/deadline/propagated (5 s deadline -> 0 < deadline_ms <= 5100)`;
    const r = await call(echo.echo, { message: "d" }, { timeoutMs: 5000 });
    if (expectOk(name, r)) report(r.res.deadlineMs > 0n && r.res.deadlineMs <= 5100n, name, `deadline_ms=${r.res.deadlineMs}`);
    const n2 = `${p}/deadline/none -> deadline_ms 0`;
    const r2 = await call(echo.echo, { message: "d" });
    if (expectOk(n2, r2)) report(r2.res.deadlineMs === 0n, n2, `deadline_ms=${r2.res.deadlineMs}`);
  }
  // large payloads around the 4 MiB limit
  {
    // The limit applies to the encoded message: with JSON the payload is
    // base64, so pick the raw size that makes the JSON text 4 MiB - 1 KiB.
    const size = binary ? LIMIT - 1024 : Math.floor(((LIMIT - 1024 - 64) * 3) / 4);
    const label = binary ? "4MiB-1KiB" : "4MiB-1KiB encoded";
    const payload = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const r = await call(echo.echo, { payload }, { timeoutMs: 30000 });
    if (expectOk(`${p}/large/${label} ok`, r)) report(bytesEqual(r.res.payload, payload), `${p}/large/${label} ok`, `len ${r.res.payload.length}`);
    const r2 = await call(echo.echo, { payload: new Uint8Array(LIMIT + 1024).fill(120) }, { timeoutMs: 30000 });
    expectError(`${p}/large/4MiB+1KiB -> ResourceExhausted`, r2, Code.ResourceExhausted);
    const r3 = await call(echo.echo, { message: "after" }, opt());
    if (expectOk(`${p}/large/server still answers`, r3)) report(r3.res.message === "after", `${p}/large/server still answers`);
  }
  // Bytes
  {
    const r = await call(echo.bytes, { size: 1000n }, opt());
    const want = new Uint8Array(1000).map((_, i) => 97 + (i % 26));
    if (expectOk(`${p}/bytes/1000`, r)) report(bytesEqual(r.res.data, want), `${p}/bytes/1000`);
    expectError(`${p}/bytes/-1 -> InvalidArgument`, await call(echo.bytes, { size: -1n }, opt()), Code.InvalidArgument);
    expectError(`${p}/bytes/response over limit -> ResourceExhausted`, await call(echo.bytes, { size: BigInt(LIMIT + 1024) }, { timeoutMs: 30000 }), Code.ResourceExhausted);
  }
  // gzip, both directions
  {
    const encHeader = kind === "connect" ? "content-encoding" : "grpc-encoding";
    const payload = new Uint8Array(65536).map((_, i) => 97 + (i % 8));
    const gz = makeTransport(kind, binary, baseUrl, tlsOpts, { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 1 });
    const gzEcho = createClient(EchoService, gz.transport);
    const name = `${p}/gzip/request compressed`;
    const r = await call(gzEcho.echo, { message: "gz", payload }, opt());
    const sent = gz.sessionManager.last();
    if (expectOk(name, r)) {
      report(sent.headers[encHeader] === "gzip" && r.res.message === "gz" && bytesEqual(r.res.payload, payload), name,
        `sent ${encHeader}=${sent.headers[encHeader]}`);
    }
    const n2 = `${p}/gzip/response compressed (64 KiB, accept gzip)`;
    const r2 = await call(echo.echo, { message: "gz", payload }, opt());
    const resp = sessionManager.last().response ?? {};
    if (expectOk(n2, r2)) report(resp[encHeader] === "gzip" && bytesEqual(r2.res.payload, payload), n2, `response ${encHeader}=${resp[encHeader]}`);
    gz.sessionManager.abort();
  }
  // metadata
  {
    const name = `${p}/metadata`;
    const rawBin = new Uint8Array([0, 1, 0xfe, 0xff]);
    let hdr = null;
    let trl = null;
    const r = await call(echo.echo, { message: "m", echoHeaders: ["x-custom", "x-bin-bin"] }, opt({
      headers: { "x-custom": "hello", "x-request-id": "interop-rid-1", "x-bin-bin": encodeBinaryHeader(rawBin) },
      onHeader: (h) => { hdr = h; },
      onTrailer: (t) => { trl = t; },
    }));
    if (expectOk(name, r)) {
      report(r.res.headers["x-custom"] === "hello", `${name}/echo_headers x-custom`, JSON.stringify(r.res.headers));
      const b64 = r.res.headers["x-bin-bin"] ?? "";
      const dec = new Uint8Array(Buffer.from(b64, "base64"));
      report(bytesEqual(dec, rawBin), `${name}/echo_headers x-bin-bin (base64 as on the wire)`, `got ${JSON.stringify(b64)}`);
      report(r.res.requestId === "interop-rid-1", `${name}/request_id from x-request-id`, `request_id=${r.res.requestId}`);
      report(hdr?.get("x-echo-initial") === "initial", `${name}/header x-echo-initial`, hdr ? [...hdr.entries()].join(" ") : "no header");
      report(trl?.get("x-echo-trailer") === "trailing", `${name}/trailer x-echo-trailer`, trl ? [...trl.entries()].join(" ") : "no trailer");
    }
  }
  // Lookup over POST: enum, Timestamp and int64 (a JSON string) survive.
  {
    const name = `${p}/lookup`;
    const r = await call(echo.lookup, { key: "k1", kind: KindFancy }, opt());
    if (expectOk(name, r)) {
      const at = Number(r.res.lookedUpAt?.seconds ?? 0n) * 1000;
      const ok = r.res.key === "k1" && r.res.value === "value-of-k1" && r.res.kind === KindFancy &&
        r.res.big === 9007199254740993n && Math.abs(at - Date.now()) < 60000;
      report(ok, name, `value=${r.res.value} kind=${r.res.kind} big=${r.res.big} at=${at}`);
    }
  }
  // Lookup via HTTP GET (Connect only)
  if (kind === "connect") {
    const g = makeTransport(kind, binary, baseUrl, tlsOpts, { useHttpGet: true });
    const gEcho = createClient(EchoService, g.transport);
    const name = `${p}/lookup via GET`;
    const r = await call(gEcho.lookup, { key: "k2", kind: KindFancy }, opt());
    const sent = g.sessionManager.last();
    if (expectOk(name, r)) {
      report(sent.method === "GET" && r.res.value === "value-of-k2" && r.res.big === 9007199254740993n && r.res.kind === KindFancy, name,
        `method ${sent.method} ${sent.path} value=${r.res.value}`);
    }
    // A GET client still POSTs Echo (not side-effect free).
    const r2 = await call(gEcho.echo, { message: "post" }, opt());
    const sent2 = g.sessionManager.last();
    if (expectOk(`${p}/echo on a GET transport uses POST`, r2))
      report(sent2.method === "POST" && r2.res.message === "post", `${p}/echo on a GET transport uses POST`, `method ${sent2.method}`);
    g.sessionManager.abort();
  }
  // 20 calls in flight at once on one HTTP/2 connection
  {
    const name = `${p}/20 concurrent calls`;
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => call(echo.echo, { message: `c${i}` }, opt())));
    const bad = rs.map((r, i) => (r.err === null && r.res.message === `c${i}` ? null : i)).filter((i) => i !== null);
    report(bad.length === 0, name, `wrong answers for calls ${bad.join(",")}: ${rs.find((r) => r.err)?.err?.message ?? ""}`);
  }
  // health
  {
    const r = await call(health.check, { service: "" }, opt());
    if (expectOk(`${p}/health/Check`, r)) report(r.res.status === 1, `${p}/health/Check`, `status ${r.res.status}`);
  }
  sessionManager.abort();
}

async function main() {
  const args = process.argv.slice(2);
  let tlsOpts;
  let scheme = "http";
  if (args.length === 3 && args[1] === "--tls") {
    tlsOpts = { ca: readFileSync(args[2]) };
    scheme = "https";
  } else if (args.length !== 1) {
    console.error("usage: connect_client.mjs HOST:PORT [--tls CA_PEM]");
    process.exit(2);
  }
  const baseUrl = `${scheme}://${args[0]}`;
  for (const kind of ["connect", "grpc", "grpcweb"]) {
    for (const binary of [true, false]) {
      const p = `${kind}+${binary ? "proto" : "json"}`;
      try {
        await runCases(p, kind, binary, baseUrl, tlsOpts);
      } catch (e) {
        report(false, `${p}/cases ran`, `exception: ${e?.stack ?? e}`);
      }
    }
  }
  process.exit(failures ? 1 : 0);
}

main();
