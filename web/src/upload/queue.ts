// The upload queue: framework-free so it can be tested without a browser.
// Each file: register the document (or a new version) declaring its size
// -> either one PUT to the presigned URL or, above the server's multipart
// threshold, parts PUT straight to presigned part URLs (several at once,
// each retried) -> complete, declaring the SHA-256 computed meanwhile (in a
// worker, constant memory, alongside the upload rather than before it: the
// server checks it as if declared at create). A retry of a file whose hash
// is known declares it at create. Progress, cancel and retry per file.

export interface PartTargetLike {
  part_number?: number;
  size?: number;
  url?: string;
  headers?: Record<string, string>;
}

export interface Plan {
  documentId: string;
  version?: number;
  method: "presigned_url" | "multipart";
  uploadUrl?: string;
  uploadHeaders?: Record<string, string>;
  partSize?: number;
  partCount?: number;
  parts?: PartTargetLike[];
}

export type Target = { kind: "new" } | { kind: "version"; documentId: string };

export interface UploadTransport {
  hash(file: Blob, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<string>;
  create(file: File, sha256: string | undefined, target: Target, idempotencyKey: string, signal: AbortSignal): Promise<Plan>;
  presignParts(documentId: string, version: number | undefined, partNumbers: number[], signal: AbortSignal): Promise<PartTargetLike[]>;
  put(url: string, headers: Record<string, string>, body: Blob, onProgress: (loaded: number) => void, signal: AbortSignal): Promise<{ etag: string | null }>;
  complete(documentId: string, version: number | undefined, parts: { part_number: number; etag: string }[] | undefined, sha256: string, signal: AbortSignal): Promise<void>;
  discard?(documentId: string): Promise<void>;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

export type ItemState = "queued" | "hashing" | "uploading" | "completing" | "done" | "error" | "canceled";

export interface UploadItem {
  id: string;
  file: File;
  target: Target;
  state: ItemState;
  hashed: number;
  uploaded: number;
  partsDone: number;
  partsTotal: number;
  error?: string;
  documentId?: string;
  sha256?: string;
}

export interface QueueOptions {
  fileConcurrency?: number;
  partConcurrency?: number;
  partAttempts?: number;
  retryDelayMs?: number;
  onDone?: (item: UploadItem) => void;
}

export class AbortedError extends Error {
  constructor() {
    super("canceled");
  }
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new AbortedError());
    }, { once: true });
  });

let seq = 0;

export class UploadQueue {
  private items: UploadItem[] = [];
  private controllers = new Map<string, AbortController>();
  private listeners = new Set<() => void>();
  private running = 0;
  private snapshot: readonly UploadItem[] = [];
  private readonly o: Required<Omit<QueueOptions, "onDone">> & Pick<QueueOptions, "onDone">;

  constructor(private readonly t: UploadTransport, opts: QueueOptions = {}) {
    this.o = {
      fileConcurrency: opts.fileConcurrency ?? 2,
      partConcurrency: opts.partConcurrency ?? 4,
      partAttempts: opts.partAttempts ?? 4,
      retryDelayMs: opts.retryDelayMs ?? 500,
      onDone: opts.onDone,
    };
  }

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getSnapshot = (): readonly UploadItem[] => this.snapshot;

  private emit() {
    this.snapshot = this.items.map((i) => ({ ...i }));
    for (const l of this.listeners) l();
  }

  private patch(id: string, p: Partial<UploadItem>) {
    const it = this.items.find((i) => i.id === id);
    if (it) Object.assign(it, p);
    this.emit();
  }

  add(files: Iterable<File>, target: Target = { kind: "new" }): string[] {
    const ids: string[] = [];
    for (const file of files) {
      const id = `u${Date.now().toString(36)}${(seq++).toString(36)}`;
      this.items.push({ id, file, target, state: "queued", hashed: 0, uploaded: 0, partsDone: 0, partsTotal: 0 });
      ids.push(id);
    }
    this.emit();
    this.pump();
    return ids;
  }

  cancel(id: string) {
    const it = this.items.find((i) => i.id === id);
    if (!it || it.state === "done" || it.state === "canceled") return;
    this.controllers.get(id)?.abort();
    const docId = it.documentId;
    const wasQueued = it.state === "queued";
    this.patch(id, { state: "canceled" });
    // A document registered for new content that will never come: drop it.
    if (docId && it.target.kind === "new" && this.t.discard) void this.t.discard(docId).catch(() => undefined);
    if (wasQueued) this.pump();
  }

  retry(id: string) {
    const it = this.items.find((i) => i.id === id);
    if (!it || (it.state !== "error" && it.state !== "canceled")) return;
    this.patch(id, { state: "queued", error: undefined, uploaded: 0, hashed: 0, partsDone: 0 });
    this.pump();
  }

  clearFinished() {
    this.items = this.items.filter((i) => i.state !== "done" && i.state !== "canceled");
    this.emit();
  }

  /** Overall progress, 0..1, by bytes (hashing counts for a fifth). */
  static progress(items: readonly UploadItem[]): number {
    let total = 0;
    let done = 0;
    for (const i of items) {
      if (i.state === "canceled") continue;
      const size = Math.max(i.file.size, 1);
      total += size;
      done += i.state === "done" ? size : 0.2 * i.hashed + 0.8 * Math.min(i.uploaded, size);
    }
    return total ? done / total : 0;
  }

  private pump() {
    while (this.running < this.o.fileConcurrency) {
      const next = this.items.find((i) => i.state === "queued");
      if (!next) return;
      this.running++;
      void this.run(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(item: UploadItem) {
    const ac = new AbortController();
    this.controllers.set(item.id, ac);
    const signal = ac.signal;
    try {
      this.patch(item.id, { state: "uploading" }); // taken: no longer "queued" for pump()
      const known = item.sha256;
      // The hash runs beside the upload; it is needed only at completion.
      const hashing = known ? Promise.resolve(known) : this.t.hash(item.file, (b) => this.patch(item.id, { hashed: b }), signal);
      hashing.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
      const plan = await this.t.create(item.file, known, item.target, `console-${item.id}`, signal);
      this.check(signal);
      this.patch(item.id, { documentId: plan.documentId, state: "uploading" });
      let parts: { part_number: number; etag: string }[] | undefined;
      if (plan.method === "multipart") {
        parts = await this.uploadParts(item, plan, signal);
      } else {
        if (!plan.uploadUrl) throw new Error("no upload URL");
        const url = plan.uploadUrl;
        await this.withRetry(signal, () =>
          this.t.put(url, plan.uploadHeaders ?? {}, item.file, (n) => this.patch(item.id, { uploaded: n }), signal),
        );
      }
      this.check(signal);
      this.patch(item.id, { state: "completing", uploaded: item.file.size });
      const sha256 = await hashing;
      this.check(signal);
      this.patch(item.id, { sha256, hashed: item.file.size });
      await this.withRetry(signal, () => this.t.complete(plan.documentId, plan.version, parts, sha256, signal));
      this.patch(item.id, { state: "done" });
      this.o.onDone?.({ ...item });
    } catch (e) {
      if (signal.aborted || e instanceof AbortedError) {
        if (item.state !== "canceled") this.patch(item.id, { state: "canceled" });
      } else {
        this.patch(item.id, { state: "error", error: e instanceof Error ? e.message : String(e) });
      }
    } finally {
      this.controllers.delete(item.id);
    }
  }

  private check(signal: AbortSignal) {
    if (signal.aborted) throw new AbortedError();
  }

  private async withRetry<T>(signal: AbortSignal, fn: () => Promise<T>, attempts = this.o.partAttempts): Promise<T> {
    let last: unknown;
    for (let a = 0; a < attempts; a++) {
      this.check(signal);
      try {
        return await fn();
      } catch (e) {
        if (signal.aborted || e instanceof AbortedError) throw new AbortedError();
        if (e instanceof Error && "permanent" in e) throw e;
        last = e;
        if (a + 1 < attempts) await (this.t.sleep ?? defaultSleep)(this.o.retryDelayMs * 2 ** a, signal);
      }
    }
    throw last instanceof Error ? last : new Error(String(last));
  }

  private async uploadParts(item: UploadItem, plan: Plan, signal: AbortSignal) {
    const size = item.file.size;
    const partSize = plan.partSize ?? 16 * 1024 * 1024;
    const count = plan.partCount ?? Math.max(1, Math.ceil(size / partSize));
    const urls = new Map<number, PartTargetLike>();
    for (const p of plan.parts ?? []) if (p.part_number && p.url) urls.set(p.part_number, p);
    const loaded = new Array<number>(count + 1).fill(0);
    const etags: { part_number: number; etag: string }[] = [];
    let done = 0;
    this.patch(item.id, { partsTotal: count, partsDone: 0 });
    const report = () => this.patch(item.id, { uploaded: loaded.reduce((a, b) => a + b, 0) });

    const targetOf = async (n: number, fresh: boolean): Promise<PartTargetLike> => {
      const have = urls.get(n);
      if (have && !fresh) return have;
      // Ask for this part and the next few missing ones in one call.
      const want = [n];
      for (let k = n + 1; k <= count && want.length < 8; k++) if (!urls.has(k)) want.push(k);
      const got = await this.t.presignParts(plan.documentId, plan.version, fresh ? [n] : want, signal);
      for (const p of got) if (p.part_number && p.url) urls.set(p.part_number, p);
      const t = urls.get(n);
      if (!t) throw new Error(`no URL for part ${n}`);
      return t;
    };

    let nextPart = 1;
    const worker = async () => {
      while (nextPart <= count) {
        const n = nextPart++;
        const start = (n - 1) * partSize;
        const blob = item.file.slice(start, Math.min(start + partSize, size));
        let attempt = 0;
        const r = await this.withRetry(signal, async () => {
          const target = await targetOf(n, attempt++ > 0);
          loaded[n] = 0;
          return this.t.put(target.url ?? "", target.headers ?? {}, blob, (b) => {
            loaded[n] = b;
            report();
          }, signal);
        });
        if (!r.etag) throw Object.assign(new Error(`part ${n}: no ETag (CORS must expose it)`), { permanent: true });
        loaded[n] = blob.size;
        etags.push({ part_number: n, etag: r.etag });
        done++;
        this.patch(item.id, { partsDone: done });
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.partConcurrency, count) }, worker));
    return etags.sort((a, b) => a.part_number - b.part_number);
  }
}
