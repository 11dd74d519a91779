#!/usr/bin/python3
"""Presigns data-plane URLs with Debian's botocore at a frozen clock, the
authority kumo's PresignUpload / PresignDownload / PresignUploadPart URLs
are compared with (storage_test.py). Run once with BOTO_DISABLE_CRT=true
(botocore's Python signer, which kumo must match byte for byte) and once
without (the CRT signer of python3-awscrt, which orders the query
differently: compared by parameter set and signature).

Usage: botocore_presign.py JSON
  {"endpoint":..,"region":..,"accessKeyId":..,"secretAccessKey":..,
   "time":"YYYYMMDDTHHMMSSZ","requests":[{"method":"put_object",
   "params":{...botocore params...},"expires":900}, ...]}
Prints a JSON array of URLs."""
import datetime
import importlib
import json
import sys
from unittest import mock

import botocore.config
import botocore.session


def main():
    args = json.loads(sys.argv[1])
    frozen = datetime.datetime.strptime(args["time"], "%Y%m%dT%H%M%SZ")

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return frozen

        @classmethod
        def now(cls, tz=None):
            return frozen if tz is None else frozen.replace(tzinfo=tz)

    patches = [mock.patch("botocore.auth.datetime.datetime", Frozen)]
    importlib.import_module("botocore.auth")
    try:
        importlib.import_module("botocore.crt.auth")
        patches.append(mock.patch("botocore.crt.auth.datetime.datetime", Frozen))
    except ImportError:
        pass
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name=args["region"], endpoint_url=args["endpoint"],
        aws_access_key_id=args["accessKeyId"], aws_secret_access_key=args["secretAccessKey"],
        config=botocore.config.Config(signature_version="s3v4",
                                      s3={"addressing_style": "path"}))
    urls = []
    for p in patches:
        p.start()
    try:
        for r in args["requests"]:
            urls.append(client.generate_presigned_url(r["method"], Params=r["params"],
                                                      ExpiresIn=r["expires"]))
    finally:
        for p in patches:
            p.stop()
    print(json.dumps(urls))


if __name__ == "__main__":
    main()
