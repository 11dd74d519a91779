// The browser side of the upload queue: the BFF calls through the typed
// client, bytes with XMLHttpRequest (upload progress) straight to the
// presigned URLs, the hash in a worker.
import { api, toError, type UploadAnswer } from "../api/client";
import { AbortedError, type Plan, type UploadTransport } from "./queue";

function planOf(d: {
  document_id?: string;
  method?: "presigned_url" | "multipart";
  upload_url?: string;
  upload_headers?: Record<string, string>;
  part_size?: number;
  part_count?: number;
  parts?: { part_number?: number; size?: number; url?: string; headers?: Record<string, string> }[];
  version?: { version?: number };
}): Plan {
  return {
    documentId: d.document_id ?? "",
    method: d.method ?? "presigned_url",
    ...(d.version?.version !== undefined ? { version: d.version.version } : {}),
    ...(d.upload_url ? { uploadUrl: d.upload_url } : {}),
    ...(d.upload_headers ? { uploadHeaders: d.upload_headers } : {}),
    ...(d.part_size ? { partSize: d.part_size } : {}),
    ...(d.part_count ? { partCount: d.part_count } : {}),
    ...(d.parts ? { parts: d.parts } : {}),
  };
}

// One worker, kept for the page's life, hashes the parts of every upload
// (one part at a time: see hash.worker.ts); answers matched by id.
let hasher: { hash(part: Blob, signal: AbortSignal): Promise<string> } | null = null;

function partHasher() {
  if (hasher) return hasher;
  const w = new Worker(new URL("./hash.worker.ts", import.meta.url), { type: "module" });
  const waiting = new Map<number, { resolve: (b64: string) => void; reject: (e: Error) => void }>();
  let next = 1;
  w.onmessage = (e: MessageEvent<{ id: number; b64?: string; error?: string }>) => {
    const p = waiting.get(e.data.id);
    waiting.delete(e.data.id);
    if (!p) return; // canceled meanwhile
    if (e.data.b64) p.resolve(e.data.b64);
    else p.reject(new Error(e.data.error ?? "hash failed"));
  };
  w.onerror = (e) => {
    for (const p of waiting.values()) p.reject(new Error(e.message || "hash worker failed"));
    waiting.clear();
    w.terminate();
    hasher = null;
  };
  hasher = {
    hash(part, signal) {
      return new Promise((resolve, reject) => {
        const id = next++;
        const stop = () => {
          waiting.delete(id);
          w.postMessage({ id, cancel: true });
          reject(new AbortedError());
        };
        const done = () => signal.removeEventListener("abort", stop);
        waiting.set(id, {
          resolve: (b64) => {
            done();
            resolve(b64);
          },
          reject: (e) => {
            done();
            reject(e);
          },
        });
        signal.addEventListener("abort", stop, { once: true });
        w.postMessage({ id, part });
      });
    },
  };
  return hasher;
}

function permanent(e: Error, status: number): Error {
  // 4xx answers (but 408/429) will not change on a retry.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) Object.assign(e, { permanent: true });
  return e;
}

export const browserTransport: UploadTransport = {
  hash(file, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const w = new Worker(new URL("./hash.worker.ts", import.meta.url), { type: "module" });
      const stop = () => {
        w.terminate();
        reject(new AbortedError());
      };
      signal.addEventListener("abort", stop, { once: true });
      w.onmessage = (e: MessageEvent<{ progress?: number; hex?: string; error?: string }>) => {
        if (e.data.progress !== undefined) return onProgress(e.data.progress);
        signal.removeEventListener("abort", stop);
        w.terminate();
        if (e.data.hex) resolve(e.data.hex);
        else reject(new Error(e.data.error ?? "hash failed"));
      };
      w.onerror = (e) => {
        w.terminate();
        reject(new Error(e.message || "hash worker failed"));
      };
      w.postMessage({ file });
    });
  },

  async create(file, sha256, target, idempotencyKey, signal) {
    const body = {
      file_name: file.name,
      file_size: file.size,
      ...(sha256 ? { sha256 } : {}),
      // No part URLs at create: each part's URL is presigned with its
      // checksum once it is hashed (queue.ts).
      presign_parts: false,
      // Every multipart upload's parts are hashed and declared (queue.ts),
      // so storage may ask for them; sent always, as the server ignores it
      // for a single PUT (whose method only the server decides).
      part_sha256: true,
      ...(file.type ? { content_type: file.type } : {}),
    };
    if (target.kind === "version") {
      const res = await api.PUT("/api/v1/documents/{id}", {
        params: { path: { id: target.documentId } },
        body,
        signal,
      });
      // Without file_content the answer is the upload plan (201); the 200
      // "direct" answer is for KumoCMS's inline uploads, never sent here.
      if (!res.data || res.response.status !== 201) throw permanent(toError(res), res.response.status);
      return planOf(res.data as UploadAnswer);
    }
    const res = await api.POST("/api/v1/documents", {
      params: { header: { "Idempotency-Key": idempotencyKey } },
      body: { ...body, title: file.name.replace(/\.[^.]+$/, "") || file.name },
      signal,
    });
    if (!res.data) throw permanent(toError(res), res.response.status);
    return planOf(res.data);
  },

  hashPart(part, signal) {
    return partHasher().hash(part, signal);
  },

  async presignParts(id, version, partNumbers, signal, sha256s) {
    const res = await api.POST("/api/v1/documents/{id}/upload-parts", {
      params: { path: { id } },
      body: { part_numbers: partNumbers, ...(version !== undefined ? { version } : {}), ...(sha256s ? { sha256s } : {}) },
      signal,
    });
    if (!res.data) throw permanent(toError(res), res.response.status);
    return res.data.parts ?? [];
  },

  put(url, headers, body, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("PUT", url);
      for (const [k, v] of Object.entries(headers)) {
        // The browser sets these itself.
        if (!/^(host|content-length)$/i.test(k)) x.setRequestHeader(k, v);
      }
      x.upload.onprogress = (e) => onProgress(e.loaded);
      x.onload = () => {
        if (x.status >= 200 && x.status < 300) resolve({ etag: x.getResponseHeader("ETag") });
        else reject(permanent(new Error(`upload answered ${x.status}`), x.status === 403 ? 500 : x.status));
      };
      x.onerror = () => reject(new Error("network error during upload"));
      x.onabort = () => reject(new AbortedError());
      signal.addEventListener("abort", () => x.abort(), { once: true });
      x.send(body);
    });
  },

  async complete(id, version, parts, sha256, signal) {
    const res = await api.POST("/api/v1/documents/{id}/complete", {
      params: { path: { id } },
      body: { ...(version !== undefined ? { version } : {}), ...(parts ? { parts } : {}), ...(sha256 ? { sha256 } : {}) },
      signal,
    });
    if (!res.response.ok) throw permanent(toError(res), res.response.status);
  },

  async discard(id) {
    await api.DELETE("/api/v1/documents/{id}", { params: { path: { id }, query: { purge: true } } });
  },
};
