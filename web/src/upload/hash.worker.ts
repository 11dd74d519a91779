// SHA-256 in a Web Worker, two kinds of request:
//  - { file }: the whole File (single PUTs), read in 4 MiB slices and hashed
//    incrementally (hash-wasm): memory stays constant whatever the file
//    size; the next slice is read while the current one is hashed. Answers
//    { progress } now and then, then { hex } or { error }.
//  - { id, part }: one part of a multipart upload (a Blob slice), hashed
//    with WebCrypto (native, sha_ni where the CPU has it). Parts are hashed
//    one at a time, so the worker holds at most one part's bytes whatever
//    the number of parts in flight. Answers { id, b64 } (base64, as
//    x-amz-checksum-sha256 carries it) or { id, error }; { id, cancel }
//    drops a part not yet hashed (no answer).
import { createSHA256 } from "hash-wasm";

const CHUNK = 4 * 1024 * 1024;

async function hashFile(file: Blob) {
  const h = await createSHA256();
  h.init();
  let last = 0;
  const read = (off: number) => file.slice(off, Math.min(off + CHUNK, file.size)).arrayBuffer();
  let pending: Promise<ArrayBuffer> | null = file.size > 0 ? read(0) : null;
  for (let off = 0; pending; off += CHUNK) {
    const buf = new Uint8Array(await pending);
    pending = off + CHUNK < file.size ? read(off + CHUNK) : null;
    h.update(buf);
    const now = Date.now();
    if (now - last > 100) {
      last = now;
      self.postMessage({ progress: off + buf.length });
    }
  }
  self.postMessage({ hex: h.digest("hex") });
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

let parts: Promise<void> = Promise.resolve();
// Parts asked for and not yet hashed, so that a canceled upload's parts
// (asked ahead of their sending) are dropped unread: { cancel: id }.
const pending = new Set<number>();

function hashPart(id: number, part: Blob) {
  pending.add(id);
  parts = parts.then(async () => {
    if (!pending.delete(id)) return; // canceled meanwhile
    try {
      const digest = await crypto.subtle.digest("SHA-256", await part.arrayBuffer());
      self.postMessage({ id, b64: base64(new Uint8Array(digest)) });
    } catch (err) {
      self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
    }
  });
}

self.onmessage = async (e: MessageEvent<{ file?: Blob; id?: number; part?: Blob; cancel?: boolean }>) => {
  if (e.data.cancel && e.data.id !== undefined) return void pending.delete(e.data.id);
  if (e.data.part && e.data.id !== undefined) return hashPart(e.data.id, e.data.part);
  try {
    await hashFile(e.data.file as Blob);
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
