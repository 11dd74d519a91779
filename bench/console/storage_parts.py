#!/usr/bin/python3
"""kumo-storage's share of the console's 1 GiB upload, without the browser:
the same multipart upload the console makes (STORAGE_PARTS_MIB (1024) MiB in
64 MiB parts, each PUT with its x-amz-checksum-sha256 and no Content-MD5, an
upload created with x-amz-checksum-algorithm SHA256, completed listing every
part's checksum), sent by botocore to the data port one part at a time.
Measures the daemon's CPU time (utime + stime from /proc) for the parts and
for CompleteMultipartUpload, and the completion's wall time. For each build
directory given, in the order given, STORAGE_PARTS_ROUNDS (3) uploads on
one stack; one line per upload.

Usage: bench/console/storage_parts.py BUILD_DIR [BUILD_DIR...]
"""
import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time

import botocore.config
import botocore.session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

SIZE = int(os.environ.get("STORAGE_PARTS_MIB", "1024")) << 20
PART = 64 << 20
ROUNDS = int(os.environ.get("STORAGE_PARTS_ROUNDS", "3"))


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rfind(")") + 2:].split()
        out[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def run(build):
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="kumo-storage-parts.", dir=base)
    st = kumo_stack.Stack(ROOT, os.path.abspath(build), os.path.join(tmp, "work"))
    try:
        st.start_mariadb()
        st.secrets()
        st.migrate("users")
        st.bootstrap()
        st.start("users")
        st.start("storage", env={"KUMO_STORAGE_FSYNC": "false"})
        pid = st.daemons["storage"].proc.pid
        s3 = botocore.session.get_session().create_client(
            "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % st.daemons["storage"].data_port,
            aws_access_key_id=st.storage_access_key_id, aws_secret_access_key=st.storage_secret,
            config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          read_timeout=300))
        rnd = os.urandom(1 << 20)
        body = rnd * (PART >> 20)  # one 64 MiB body for every part
        ck = base64.b64encode(hashlib.sha256(body).digest()).decode()
        n = -(-SIZE // PART)
        for r in range(ROUNDS):
            key = "t/bench/parts-%d.bin" % r
            up = s3.create_multipart_upload(Bucket="kumo", Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
            c0 = cpu_s(pid)
            t0 = time.time()
            done = []
            for i in range(1, n + 1):
                got = s3.upload_part(Bucket="kumo", Key=key, UploadId=up, PartNumber=i, Body=body,
                                     ChecksumSHA256=ck)
                done.append({"PartNumber": i, "ETag": got["ETag"], "ChecksumSHA256": ck})
            t1 = time.time()
            c1 = cpu_s(pid)
            th1 = thread_cpu(pid)
            s3.complete_multipart_upload(Bucket="kumo", Key=key, UploadId=up, MultipartUpload={"Parts": done})
            t2 = time.time()
            c2 = cpu_s(pid)
            th2 = thread_cpu(pid)
            # The busiest thread that lived through the completion: the one
            # answering it (the rest: threads it started and ended).
            busiest = max([th2[t] - th1.get(t, 0) for t in th2] or [0])
            print("%-8s parts: %5.2f s wall, %5.2f CPU-s   complete: %5.2f s wall, %5.2f CPU-s "
                  "(%.2f on its thread)   load %s" % (
                os.path.basename(os.path.abspath(build)), t1 - t0, c1 - c0, t2 - t1, c2 - c1, busiest,
                open("/proc/loadavg").read().split()[0]), flush=True)
            s3.delete_object(Bucket="kumo", Key=key)
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for b in sys.argv[1:]:
        run(b)
