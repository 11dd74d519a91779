// SHA-256 of a File in a Web Worker, read in 4 MiB slices and hashed
// incrementally (hash-wasm): memory stays constant whatever the file size.
// The next slice is read while the current one is hashed.
import { createSHA256 } from "hash-wasm";

const CHUNK = 4 * 1024 * 1024;

self.onmessage = async (e: MessageEvent<{ file: Blob }>) => {
  const { file } = e.data;
  try {
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
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
