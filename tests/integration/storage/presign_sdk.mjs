// Presigns data-plane URLs with the AWS SDK for JavaScript v3
// (@aws-sdk/s3-request-presigner), an implementation kumo did not write, for
// storage_test.py. Usage:
//   node presign_sdk.mjs '{"endpoint":..,"region":..,"accessKeyId":..,
//     "secretAccessKey":..,"bucket":..,"requests":[{"op":"put","key":..,
//     "contentType":..,"expiresIn":..}, {"op":"get","key":..}, ...]}'
// Prints a JSON array of URLs in the order of the requests.
import { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
         UploadPartCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const args = JSON.parse(process.argv[2]);
const client = new S3Client({
  endpoint: args.endpoint,
  region: args.region,
  forcePathStyle: true,
  credentials: { accessKeyId: args.accessKeyId, secretAccessKey: args.secretAccessKey },
  // Without this, presigned PUTs carry a CRC32 checksum of an empty body.
  requestChecksumCalculation: "WHEN_REQUIRED",
});

const urls = [];
for (const r of args.requests) {
  const common = { Bucket: args.bucket, Key: r.key };
  let cmd;
  if (r.op === "put") {
    cmd = new PutObjectCommand({ ...common, ContentType: r.contentType });
  } else if (r.op === "get") {
    cmd = new GetObjectCommand({ ...common,
      ResponseContentDisposition: r.responseContentDisposition });
  } else if (r.op === "head") {
    cmd = new HeadObjectCommand(common);
  } else if (r.op === "part") {
    cmd = new UploadPartCommand({ ...common, PartNumber: r.partNumber, UploadId: r.uploadId });
  } else {
    throw new Error("unknown op " + r.op);
  }
  urls.push(await getSignedUrl(client, cmd, { expiresIn: r.expiresIn || 900 }));
}
process.stdout.write(JSON.stringify(urls) + "\n");
