import { describe, expect, it, vi } from "vitest";
import { PROGRESS_EMIT_MS, UploadQueue, type Plan, type UploadItem, type UploadTransport } from "../../src/upload/queue";

const MiB = 1024 * 1024;

function file(size: number, name = "f.bin") {
  return new File([new Uint8Array(size)], name);
}

function waitFor(q: UploadQueue, pred: (items: readonly UploadItem[]) => boolean, ms = 3000) {
  return new Promise<readonly UploadItem[]>((resolve, reject) => {
    const check = () => {
      const s = q.getSnapshot();
      if (pred(s)) {
        un();
        clearTimeout(t);
        resolve(s);
      }
    };
    const un = q.subscribe(check);
    const t = setTimeout(() => {
      un();
      reject(new Error("timeout: " + JSON.stringify(q.getSnapshot().map((i) => [i.state, i.error]))));
    }, ms);
    check();
  });
}

function transport(plan: Partial<Plan>, over: Partial<UploadTransport> = {}) {
  const calls = { puts: [] as string[], complete: [] as unknown[], maxInFlight: 0, inFlight: 0, discard: [] as string[], sha: [] as (string | undefined)[], hashed: 0, partHashes: [] as number[], presignSums: [] as (string[] | undefined)[] };
  const t: UploadTransport = {
    hash: async (f, p) => {
      calls.hashed++;
      p(f.size);
      return "ab".repeat(32);
    },
    hashPart: async (part) => {
      calls.partHashes.push(part.size);
      return `sum-${part.size}`;
    },
    create: async () => ({ documentId: "doc_1", method: "presigned_url", uploadUrl: "http://data/put", ...plan }),
    presignParts: async (_id, _v, nums, _s, sums) => {
      calls.presignSums.push(sums);
      return nums.map((n) => ({ part_number: n, url: `http://data/part/${n}`, headers: (sums ? { "x-amz-checksum-sha256": sums[0]! } : {}) as Record<string, string> }));
    },
    put: async (url, _h, body, onProgress) => {
      calls.inFlight++;
      calls.maxInFlight = Math.max(calls.maxInFlight, calls.inFlight);
      await new Promise((r) => setTimeout(r, 5));
      onProgress(body.size);
      calls.inFlight--;
      calls.puts.push(url);
      return { etag: `"etag-${url.split("/").pop()}"` };
    },
    complete: async (_id, _v, parts, sha) => {
      calls.complete.push(parts);
      calls.sha.push(sha);
    },
    discard: async (id) => {
      calls.discard.push(id);
    },
    sleep: async () => undefined,
    ...over,
  };
  return { t, calls };
}

describe("upload queue", () => {
  it("hashes beside the upload: the PUT starts before the hash ends; the hash goes with complete", async () => {
    let finish: (hex: string) => void = () => undefined;
    let hashedBeforePut: boolean | null = null;
    let hashDone = false;
    const { t, calls } = transport({}, {
      hash: () => new Promise<string>((r) => { finish = (h) => { hashDone = true; r(h); }; }),
      put: async (url, _h, body, onProgress) => {
        hashedBeforePut = hashDone;
        onProgress(body.size);
        calls.puts.push(url);
        setTimeout(() => finish("cd".repeat(32)), 5); // the hash ends after the bytes went
        return { etag: null };
      },
    });
    const create = vi.spyOn(t, "create");
    const q = new UploadQueue(t);
    q.add([file(1000)]);
    await waitFor(q, (s) => s[0]?.state === "done");
    expect(hashedBeforePut).toBe(false);
    expect(create.mock.calls[0]![1]).toBeUndefined(); // no SHA-256 at create
    expect(calls.sha).toEqual(["cd".repeat(32)]);
  });

  it("a failed hash fails the upload before completing", async () => {
    const { t, calls } = transport({}, { hash: async () => { throw new Error("unreadable file"); } });
    const q = new UploadQueue(t);
    q.add([file(1000)]);
    const items = await waitFor(q, (s) => s[0]?.state === "error");
    expect(items[0]!.error).toContain("unreadable file");
    expect(calls.complete).toEqual([]);
  });

  it("uploads a small file with one PUT, declares the hash, completes", async () => {
    const create = vi.fn(async (): Promise<Plan> => ({ documentId: "d1", method: "presigned_url", uploadUrl: "http://data/one" }));
    const { t, calls } = transport({}, { create });
    const q = new UploadQueue(t);
    q.add([file(1000)]);
    const items = await waitFor(q, (s) => s[0]?.state === "done");
    expect(create).toHaveBeenCalledWith(expect.any(File), undefined, { kind: "new" }, expect.stringMatching(/^console-/), expect.anything());
    expect(calls.puts).toEqual(["http://data/one"]);
    expect(calls.complete).toEqual([undefined]);
    expect(calls.sha).toEqual(["ab".repeat(32)]);
    expect(items[0]!.sha256).toBe("ab".repeat(32));
    expect(items[0]!.uploaded).toBe(1000);
    expect(UploadQueue.progress(items)).toBe(1);
  });

  it("uploads parts in parallel (bounded), each hashed and presigned with its checksum, completes with sorted ETags and checksums", async () => {
    const headers: Record<string, string>[] = [];
    const { t, calls } = transport({ method: "multipart", partSize: 5 * MiB, partCount: 5, parts: [{ part_number: 1, url: "http://data/part/1-unsigned" }] });
    const put = t.put;
    t.put = (url, h, body, p, s) => {
      headers.push(h);
      return put(url, h, body, p, s);
    };
    const q = new UploadQueue(t, { partConcurrency: 3 });
    q.add([file(5 * MiB * 4 + 100)]);
    const items = await waitFor(q, (s) => s[0]?.state === "done");
    // The plan's URL (signed without a checksum) is not used.
    expect(calls.puts.sort()).toEqual([1, 2, 3, 4, 5].map((n) => `http://data/part/${n}`));
    expect(calls.maxInFlight).toBeLessThanOrEqual(3);
    expect(calls.maxInFlight).toBeGreaterThan(1);
    // Every part hashed from its own slice (memory bounded by the part), once.
    expect(calls.partHashes.sort()).toEqual([100, 5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB]);
    // Each URL presigned for one part with its checksum, sent as the header.
    expect(calls.presignSums.every((s) => s !== undefined && s.length === 1)).toBe(true);
    expect(headers.every((h) => /^sum-\d+$/.test(h["x-amz-checksum-sha256"] ?? ""))).toBe(true);
    const size = (n: number) => (n === 5 ? 100 : 5 * MiB);
    expect(calls.complete[0]).toEqual([1, 2, 3, 4, 5].map((n) => ({ part_number: n, etag: `"etag-${n}"`, sha256: `sum-${size(n)}` })));
    // No whole-file hash: nothing to wait for after the last part.
    expect(calls.hashed).toBe(0);
    expect(calls.sha).toEqual([undefined]);
    expect(UploadQueue.progress(items)).toBe(1);
  });

  it("runs 6 parts at once by default", async () => {
    const { t, calls } = transport({ method: "multipart", partSize: 5 * MiB, partCount: 8 });
    const q = new UploadQueue(t);
    q.add([file(5 * MiB * 8)]);
    await waitFor(q, (s) => s[0]?.state === "done");
    expect(calls.maxInFlight).toBe(6);
  });

  it("hashes ahead: the next part is hashed and its URL presigned while the part before it is sent, each once", async () => {
    const events: string[] = [];
    const { t, calls } = transport({ method: "multipart", partSize: 5 * MiB, partCount: 3 }, {
      hashPart: async (part) => {
        events.push(`hash ${part.size}`);
        return `sum-${part.size}`;
      },
      put: async (url, _h, body, onProgress) => {
        const n = url.split("/").pop();
        events.push(`put ${n}`);
        await new Promise((r) => setTimeout(r, 20));
        onProgress(body.size);
        events.push(`sent ${n}`);
        return { etag: `"e${n}"` };
      },
    });
    const presign = t.presignParts;
    t.presignParts = (id, v, nums, s, sums) => {
      events.push(`presign ${nums.join()}`);
      return presign(id, v, nums, s, sums);
    };
    const q = new UploadQueue(t, { partConcurrency: 1 });
    q.add([file(5 * MiB * 2 + 7)]);
    await waitFor(q, (s) => s[0]?.state === "done");
    // Part 2's URL presigned (with its checksum) before part 1 is sent, once.
    expect(events.indexOf("presign 2")).toBeLessThan(events.indexOf("sent 1"));
    expect(events.filter((e) => e.startsWith("presign")).sort()).toEqual(["presign 1", "presign 2", "presign 3"]);
    // One sender: part 2 (and 3) hashed before part 1 is sent, not after.
    expect(events.indexOf(`hash ${5 * MiB}`, events.indexOf(`hash ${5 * MiB}`) + 1)).toBeLessThan(events.indexOf("sent 1"));
    expect(events.indexOf("hash 7")).toBeLessThan(events.indexOf("sent 2"));
    expect(events.filter((e) => e.startsWith("hash")).length).toBe(3);
    expect(calls.complete[0]).toEqual([1, 2, 3].map((n) => ({ part_number: n, etag: `"e${n}"`, sha256: `sum-${n === 3 ? 7 : 5 * MiB}` })));
  });

  it("publishes byte progress at most every PROGRESS_EMIT_MS, state changes at once", async () => {
    const { t } = transport({}, {
      put: async (_u, _h, body, onProgress) => {
        for (let i = 1; i <= 500; i++) onProgress(i);
        await new Promise((r) => setTimeout(r, PROGRESS_EMIT_MS * 1.5));
        onProgress(body.size);
        return { etag: '"x"' };
      },
    });
    const q = new UploadQueue(t);
    const seen: [string, number][] = [];
    q.subscribe(() => {
      const i = q.getSnapshot()[0]!;
      seen.push([i.state, i.uploaded]);
    });
    q.add([file(1000)]);
    await waitFor(q, (s) => s[0]?.state === "done");
    const uploading = seen.filter(([s]) => s === "uploading");
    // 501 progress events, a handful of snapshots: the one after the burst carries its last count.
    expect(uploading.length).toBeLessThan(6);
    expect(uploading.some(([, n]) => n === 500)).toBe(true);
    expect(seen.map(([s]) => s)).toContain("completing");
    expect(seen[seen.length - 1]).toEqual(["done", 1000]);
  });

  it("a failing part hash fails the upload before completing", async () => {
    const { t, calls } = transport({ method: "multipart", partSize: 5 * MiB, partCount: 2 }, {
      hashPart: async () => { throw Object.assign(new Error("unreadable part"), { permanent: true }); },
    });
    const q = new UploadQueue(t);
    q.add([file(6 * MiB)]);
    const items = await waitFor(q, (s) => s[0]?.state === "error");
    expect(items[0]!.error).toContain("unreadable part");
    expect(calls.puts).toEqual([]);
    expect(calls.complete).toEqual([]);
  });

  it("retries a failing part with a fresh URL, then succeeds", async () => {
    let failures = 0;
    const base = transport({ method: "multipart", partSize: 5 * MiB, partCount: 2 });
    const put = base.t.put;
    base.t.put = async (url, h, body, p, s) => {
      if (url.endsWith("/2") && failures < 2) {
        failures++;
        throw new Error("connection reset");
      }
      return put(url, h, body, p, s);
    };
    const presign = vi.spyOn(base.t, "presignParts");
    const q = new UploadQueue(base.t);
    q.add([file(6 * MiB)]);
    await waitFor(q, (s) => s[0]?.state === "done");
    expect(failures).toBe(2);
    // The first attempt asked for part 2's URL, and each retry again.
    expect(presign.mock.calls.filter((c) => c[2].length === 1 && c[2][0] === 2).length).toBe(3);
    // The part is hashed once, whatever the attempts.
    expect(base.calls.partHashes.length).toBe(2);
    expect((base.calls.complete[0] as unknown[]).length).toBe(2);
  });

  it("fails a file whose part keeps failing; retry starts it again", async () => {
    let broken = true;
    const base = transport({ method: "multipart", partSize: 5 * MiB, partCount: 2 });
    const put = base.t.put;
    base.t.put = async (url, h, body, p, s) => {
      if (broken && url.endsWith("/2")) throw new Error("boom");
      return put(url, h, body, p, s);
    };
    const q = new UploadQueue(base.t, { partAttempts: 3 });
    const [id] = q.add([file(6 * MiB)]);
    const failed = await waitFor(q, (s) => s[0]?.state === "error");
    expect(failed[0]!.error).toBe("boom");
    broken = false;
    q.retry(id!);
    await waitFor(q, (s) => s[0]?.state === "done");
  });

  it("cancels an upload in flight: the PUT is aborted and the pending document discarded", async () => {
    let aborted = false;
    const { t, calls } = transport({}, {
      put: (_u, _h, _b, _p, signal) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(new Error("aborted"));
          });
        }),
    });
    const q = new UploadQueue(t);
    const [id] = q.add([file(100)]);
    await waitFor(q, (s) => s[0]?.state === "uploading");
    q.cancel(id!);
    await waitFor(q, (s) => s[0]?.state === "canceled");
    expect(aborted).toBe(true);
    expect(calls.discard).toEqual(["doc_1"]);
    expect(calls.complete).toEqual([]);
  });

  it("runs at most fileConcurrency files at once and the rest wait", async () => {
    const gates: (() => void)[] = [];
    const { t } = transport({}, {
      put: (_u, _h, b, p) => new Promise((resolve) => gates.push(() => { p(b.size); resolve({ etag: '"x"' }); })),
    });
    const q = new UploadQueue(t, { fileConcurrency: 2 });
    q.add([file(1, "a"), file(1, "b"), file(1, "c")]);
    await waitFor(q, (s) => s.filter((i) => i.state === "uploading").length === 2);
    expect(q.getSnapshot()[2]!.state).toBe("queued");
    gates.shift()!();
    await waitFor(q, (s) => s[0]!.state === "done" && s[2]!.state === "uploading");
    while (gates.length) gates.shift()!();
    await waitFor(q, (s) => s.every((i) => i.state === "done" || i.state === "uploading"));
  });
});
