// grpc.health.v1.Health/Watch with @grpc/grpc-js, for tests/interop/run:
// the same expectations as health_watch.py (SERVING at once, NOT_SERVING on
// SIGTERM, then UNAVAILABLE). Usage: node health_watch.mjs HOST:PORT READY_FILE
import { writeFileSync } from "node:fs";
import grpc from "@grpc/grpc-js";

const [target, ready] = process.argv.slice(2);
const STATUS = { 0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN" };
let failed = 0;
const tap = (ok, what, detail) => {
  console.log(`${ok ? "ok" : "not ok"} - health-watch: ${what}`);
  if (!ok) {
    failed++;
    console.log(`#   ${JSON.stringify(detail)}`);
  }
};
const statusOf = (b) => STATUS[b.length >= 2 && b[0] === 0x08 ? b[1] : 0] ?? "?";

const client = new grpc.Client(target, grpc.credentials.createInsecure());
const got = [];
const deadline = new Date(Date.now() + 30000);
const call = client.makeServerStreamRequest(
  "/grpc.health.v1.Health/Watch", (x) => x, (x) => x, Buffer.alloc(0), { deadline });
const ended = new Promise((resolve) => call.on("status", resolve));
call.on("error", () => {});
call.on("data", (b) => {
  got.push(statusOf(b));
  if (got.length === 1) {
    tap(got[0] === "SERVING", 'Watch("") answers SERVING at once and stays open', got);
    writeFileSync(ready, "ready\n");
  }
});
const st = await ended;
tap(got.includes("NOT_SERVING"), "on SIGTERM the stream reports NOT_SERVING", got);
tap(st.code === grpc.status.UNAVAILABLE, "then ends with UNAVAILABLE (the drain is not held up)",
  { code: st.code, details: st.details });
client.close();
process.exit(failed ? 1 : 0);
