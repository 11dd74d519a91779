// Runs s3rver (npm, an S3 implementation kumo did not write) for
// storage_test.py: 127.0.0.1, an ephemeral port, bucket "kumo", data in the
// directory given as argv[2]. Prints {"port": N} once listening; stops on
// SIGTERM. Its credentials are S3RVER / S3RVER; it does not verify SigV4.
import S3rver from "s3rver";

const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory: process.argv[2],
  configureBuckets: [{ name: "kumo" }],
});
const addr = await server.run();
process.stdout.write(JSON.stringify({ port: addr.port }) + "\n");
process.on("SIGTERM", async () => {
  await server.close();
  process.exit(0);
});
