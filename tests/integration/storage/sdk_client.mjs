// Drives the data port with the AWS SDK for JavaScript v3 (@aws-sdk/client-s3)
// at its DEFAULT settings (no requestChecksumCalculation override: CRC32
// checksums on every upload, aws-chunked bodies with trailing checksums for
// streams, checksum validation of downloads), for storage_test.py. Usage:
//   node sdk_client.mjs '{"endpoint":..,"region":..,"accessKeyId":..,
//     "secretAccessKey":..,"bucket":..,"prefix":"t/<tenant>/sdk/"}'
// Prints one JSON object with what each step saw; throws on any SDK error.
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";

const args = JSON.parse(process.argv[2]);
const client = new S3Client({
  endpoint: args.endpoint,
  region: args.region,
  forcePathStyle: true,
  credentials: { accessKeyId: args.accessKeyId, secretAccessKey: args.secretAccessKey },
});
const B = args.bucket;
const P = args.prefix;
const out = {};

const crc32b64 = (buf) => {
  const v = zlib.crc32(buf) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b.toString("base64");
};

// 1. PutObject, a Buffer body: CRC32 in a header.
const small = Buffer.from("hello from the JS SDK with its default checksums\n");
const put = await client.send(new PutObjectCommand({ Bucket: B, Key: P + "small.txt", Body: small,
  ContentType: "text/plain" }));
out.put = { etag: put.ETag, crc32: put.ChecksumCRC32, want: crc32b64(small) };

// 2. PutObject, a stream of known length: aws-chunked with a trailing CRC32.
const streamed = Buffer.alloc(300 * 1024, 7);
for (let i = 0; i < streamed.length; i += 97) streamed[i] = i & 0xff;
const put2 = await client.send(new PutObjectCommand({ Bucket: B, Key: P + "streamed.bin",
  Body: Readable.from([streamed.subarray(0, 100000), streamed.subarray(100000)]),
  ContentLength: streamed.length }));
out.streamed = { etag: put2.ETag, crc32: put2.ChecksumCRC32, want: crc32b64(streamed),
  md5: createHash("md5").update(streamed).digest("hex") };

// 3. Every algorithm the SDK offers, on a Buffer and on a stream.
out.algs = {};
for (const alg of ["CRC32C", "SHA1", "SHA256", "CRC64NVME"]) {
  try {
    const r = await client.send(new PutObjectCommand({ Bucket: B, Key: P + "alg-" + alg,
      Body: Readable.from([small]), ContentLength: small.length, ChecksumAlgorithm: alg }));
    const h = await client.send(new HeadObjectCommand({ Bucket: B, Key: P + "alg-" + alg,
      ChecksumMode: "ENABLED" }));
    out.algs[alg] = { put: r["Checksum" + alg], head: h["Checksum" + alg] };
  } catch (e) {
    out.algs[alg] = { error: String(e) };
  }
}

// 4. Multipart with CRC32 part checksums and the composite checksum.
const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from("the last part")];
const mpu = await client.send(new CreateMultipartUploadCommand({ Bucket: B, Key: P + "mpu.bin",
  ChecksumAlgorithm: "CRC32" }));
const done = [];
for (let i = 0; i < parts.length; i++) {
  const r = await client.send(new UploadPartCommand({ Bucket: B, Key: P + "mpu.bin",
    UploadId: mpu.UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: "CRC32" }));
  done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
}
const comp = await client.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: P + "mpu.bin",
  UploadId: mpu.UploadId, MultipartUpload: { Parts: done } }));
const composite = crc32b64(Buffer.concat(done.map((p) => Buffer.from(p.ChecksumCRC32, "base64"))))
  + "-" + parts.length;
out.mpu = { parts: done.map((p) => [p.ChecksumCRC32, crc32b64(parts[p.PartNumber - 1])]),
  complete: comp.ChecksumCRC32, type: comp.ChecksumType, want: composite };

// 5. GetObject with checksum mode: the SDK validates full-object checksums.
const g = await client.send(new GetObjectCommand({ Bucket: B, Key: P + "streamed.bin",
  ChecksumMode: "ENABLED" }));
const gbody = Buffer.from(await g.Body.transformToByteArray());
out.get = { same: gbody.equals(streamed), crc32: g.ChecksumCRC32, type: g.ChecksumType };
const gm = await client.send(new GetObjectCommand({ Bucket: B, Key: P + "mpu.bin",
  ChecksumMode: "ENABLED" }));
const gmbody = Buffer.from(await gm.Body.transformToByteArray());
out.getMpu = { same: gmbody.equals(Buffer.concat(parts)), crc32: gm.ChecksumCRC32,
  type: gm.ChecksumType };

// 6. ListObjectsV2: prefix, delimiter, pages of max-keys, start-after.
const list = await client.send(new ListObjectsV2Command({ Bucket: B, Prefix: P, Delimiter: "/" }));
out.list = { keys: (list.Contents || []).map((c) => c.Key),
  prefixes: (list.CommonPrefixes || []).map((c) => c.Prefix), count: list.KeyCount };
const paged = [];
let token;
let pages = 0;
do {
  const r = await client.send(new ListObjectsV2Command({ Bucket: B, Prefix: P, MaxKeys: 2,
    ContinuationToken: token }));
  paged.push(...(r.Contents || []).map((c) => c.Key));
  token = r.IsTruncated ? r.NextContinuationToken : undefined;
  pages++;
} while (token && pages < 50);
out.paged = { keys: paged, pages };
const after = await client.send(new ListObjectsV2Command({ Bucket: B, Prefix: P,
  StartAfter: P + "mpu.bin" }));
out.after = (after.Contents || []).map((c) => c.Key);

process.stdout.write(JSON.stringify(out) + "\n");
