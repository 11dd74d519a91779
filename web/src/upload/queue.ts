// The upload queue: framework-free so it can be tested without a browser.
// Each file: register the document (or a new version) declaring its size
// -> either one PUT to the presigned URL, then complete declaring the
// whole file's SHA-256 computed meanwhile (in a worker, constant memory,
// alongside the upload: the server checks it as if declared at create; a
// retry of a file whose hash is known declares it at create); or, above
// the server's multipart threshold, parts PUT straight to presigned part
// URLs (several at once, each retried): each part is hashed first (SHA-256
// in a worker, WebCrypto, one part's bytes at a time), its URL presigned
// with that checksum and the PUT sends it as x-amz-checksum-sha256 (the
// data port checks the bytes); complete declares every part's checksum
// (checked again against the stored parts, as S3's SHA256 COMPOSITE), so
// nothing waits for a whole-file hash. Hashing runs ahead of the sending, a
// few parts in front (only their checksums are kept, never their bytes), so
// a sender finding its next part hashed starts it at once. Progress, cancel
// and retry per file; byte progress is published at most every
// PROGRESS_EMIT_MS (state changes at once): a re-render per progress event
// of each part in flight costs the tab more CPU than it is worth.

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

/** A part as declared at completion; sha256 is base64. */
export interface DonePart {
  part_number: number;
  etag: string;
  sha256?: string;
}

export type Target = { kind: "new" } | { kind: "version"; documentId: string };

export interface UploadTransport {
  hash(file: Blob, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<string>;
  /** SHA-256 of one part (a Blob slice), base64. */
  hashPart(part: Blob, signal: AbortSignal): Promise<string>;
  create(file: File, sha256: string | undefined, target: Target, idempotencyKey: string, signal: AbortSignal): Promise<Plan>;
  /** sha256s (base64), when given, one per part number: signed into each URL. */
  presignParts(documentId: string, version: number | undefined, partNumbers: number[], signal: AbortSignal, sha256s?: string[]): Promise<PartTargetLike[]>;
  put(url: string, headers: Record<string, string>, body: Blob, onProgress: (loaded: number) => void, signal: AbortSignal): Promise<{ etag: string | null }>;
  complete(documentId: string, version: number | undefined, parts: DonePart[] | undefined, sha256: string | undefined, signal: AbortSignal): Promise<void>;
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

/** Byte progress (uploaded, hashed) reaches subscribers at most this often. */
export const PROGRESS_EMIT_MS = 200;

export class UploadQueue {
  private items: UploadItem[] = [];
  private controllers = new Map<string, AbortController>();
  private listeners = new Set<() => void>();
  private running = 0;
  private snapshot: readonly UploadItem[] = [];
  private emitTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly o: Required<Omit<QueueOptions, "onDone">> & Pick<QueueOptions, "onDone">;

  constructor(private readonly t: UploadTransport, opts: QueueOptions = {}) {
    this.o = {
      fileConcurrency: opts.fileConcurrency ?? 2,
      // 6 parts in flight (of 64 MiB by default at the server) measured best
      // in chromium: bench/results/console-upload-percpart-2026-12-07.md.
      partConcurrency: opts.partConcurrency ?? 6,
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
    if (this.emitTimer !== null) {
      clearTimeout(this.emitTimer);
      this.emitTimer = null;
    }
    this.snapshot = this.items.map((i) => ({ ...i }));
    for (const l of this.listeners) l();
  }

  private patch(id: string, p: Partial<UploadItem>) {
    const it = this.items.find((i) => i.id === id);
    if (it) Object.assign(it, p);
    this.emit();
  }

  /** Byte counts only: published with the next emit, at the latest after
   * PROGRESS_EMIT_MS. */
  private progress(id: string, p: Pick<Partial<UploadItem>, "uploaded" | "hashed">) {
    const it = this.items.find((i) => i.id === id);
    if (it) Object.assign(it, p);
    this.emitTimer ??= setTimeout(() => {
      this.emitTimer = null;
      this.emit();
    }, PROGRESS_EMIT_MS);
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
      const plan = await this.t.create(item.file, known, item.target, `console-${item.id}`, signal);
      this.check(signal);
      this.patch(item.id, { documentId: plan.documentId, state: "uploading" });
      let parts: DonePart[] | undefined;
      let sha256: string | undefined;
      if (plan.method === "multipart") {
        // Each part's checksum is declared: no whole-file hash to wait for.
        parts = await this.uploadParts(item, plan, signal);
        this.check(signal);
        this.patch(item.id, { state: "completing", uploaded: item.file.size, hashed: item.file.size });
      } else {
        if (!plan.uploadUrl) throw new Error("no upload URL");
        // The hash runs beside the PUT; it is needed only at completion.
        const hashing = known ? Promise.resolve(known) : this.t.hash(item.file, (b) => this.progress(item.id, { hashed: b }), signal);
        hashing.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
        const url = plan.uploadUrl;
        await this.withRetry(signal, () =>
          this.t.put(url, plan.uploadHeaders ?? {}, item.file, (n) => this.progress(item.id, { uploaded: n }), signal),
        );
        this.check(signal);
        this.patch(item.id, { state: "completing", uploaded: item.file.size });
        sha256 = await hashing;
        this.check(signal);
        this.patch(item.id, { sha256, hashed: item.file.size });
      }
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
    const loaded = new Array<number>(count + 1).fill(0);
    const etags: DonePart[] = [];
    let done = 0;
    let hashed = 0;
    this.patch(item.id, { partsTotal: count, partsDone: 0 });
    const report = () => this.progress(item.id, { uploaded: loaded.reduce((a, b) => a + b, 0) });
    const slice = (n: number) => item.file.slice((n - 1) * partSize, Math.min(n * partSize, size));

    // Each URL is presigned for its part's checksum (the URLs of the plan,
    // signed without one, are not used): one call per part and attempt.
    const targetOf = async (n: number, sha256: string): Promise<PartTargetLike> => {
      const got = await this.t.presignParts(plan.documentId, plan.version, [n], signal, [sha256]);
      const t = got.find((p) => p.part_number === n && p.url);
      if (!t) throw new Error(`no URL for part ${n}`);
      return t;
    };

    // Checksums, asked for in part order (the worker hashes one part at a
    // time, in the order asked) up to `ahead` parts past the last one taken
    // by a sender: part k+1.. are hashed while part k is sent, and the URL
    // of a part's first attempt is presigned as soon as its checksum is
    // known (a retry presigns again: also what happens should a URL expire,
    // 403, before a very slow link reaches its part). Each part is hashed
    // once, whatever its PUT attempts.
    const ahead = this.o.partConcurrency;
    const sums: Promise<string>[] = [];
    const firstTargets: Promise<PartTargetLike>[] = [];
    let asked = 0;
    const askUpTo = (last: number) => {
      for (; asked < Math.min(last, count); ) {
        const n = ++asked;
        const blob = slice(n);
        const p = this.withRetry(signal, () => this.t.hashPart(blob, signal)).then((sha) => {
          hashed += blob.size;
          this.progress(item.id, { hashed });
          return sha;
        });
        const t = p.then((sha) => targetOf(n, sha));
        // Awaited by the part's sender; no unhandled rejection meanwhile.
        p.catch(() => undefined);
        t.catch(() => undefined);
        sums[n] = p;
        firstTargets[n] = t;
      }
    };

    let nextPart = 1;
    const worker = async () => {
      while (nextPart <= count) {
        const n = nextPart++;
        askUpTo(n + ahead);
        const blob = slice(n);
        const sha256 = await sums[n]!;
        this.check(signal);
        let attempt = 0;
        const r = await this.withRetry(signal, async () => {
          const target = await (attempt++ === 0 ? firstTargets[n]! : targetOf(n, sha256));
          loaded[n] = 0;
          return this.t.put(target.url ?? "", target.headers ?? {}, blob, (b) => {
            loaded[n] = b;
            report();
          }, signal);
        });
        if (!r.etag) throw Object.assign(new Error(`part ${n}: no ETag (CORS must expose it)`), { permanent: true });
        loaded[n] = blob.size;
        etags.push({ part_number: n, etag: r.etag, sha256 });
        done++;
        this.patch(item.id, { partsDone: done, uploaded: loaded.reduce((a, b) => a + b, 0) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.partConcurrency, count) }, worker));
    return etags.sort((a, b) => a.part_number - b.part_number);
  }
}
