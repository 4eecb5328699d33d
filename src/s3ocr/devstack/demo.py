"""``make demo``: the main job on the embedded defaults, end to end on this machine.

Starts a local S3/SQS server, creates the buckets and the queue, uploads sample documents (the input
bucket notifies the queue), hands each batch to the function through the real Lambda runtime, prints
the text found in the output bucket and stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from s3ocr.devstack.servers import REPO_ROOT
from s3ocr.devstack.stack import local_stack

SAMPLES = {
    "samples/linn.pdf": REPO_ROOT / "tests/resources/linn.pdf",
    "samples/中文 扫描.png": REPO_ROOT / "tests/resources/zh-clean.png",
    "samples/broken.pdf": REPO_ROOT / "tests/resources/invalid.pdf",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="documents to upload instead of the samples")
    args = parser.parse_args(argv)
    samples = {f"uploads/{p.name}": p for p in args.files} or SAMPLES
    with tempfile.NamedTemporaryFile(prefix="s3ocr-demo-", suffix=".log", delete=False) as log:
        print(f"function log: {log.name}")
        started = time.monotonic()
        with local_stack(log=log) as stack:
            print(f"local S3/SQS server: {stack.server.endpoint}; function under the Lambda RIE: {stack.function.url}")
            for key, path in samples.items():
                stack.upload(path, key)
                print(f"uploaded s3://{stack.input_bucket}/{key}")
            report = stack.events.drain()
            print(f"queue: {report.received} message(s), {report.succeeded} done, {report.failed} failed "
                  f"({time.monotonic() - started:.1f} s)")
            failures = 0
            for key in samples:
                keys = stack.output_keys()
                if f"{key}.txt" in keys:
                    document = json.loads(stack.read_output(f"{key}.json"))
                    text = stack.read_output(f"{key}.txt").decode("utf-8")
                    print(f"\n===== s3://{stack.output_bucket}/{key}.txt  "
                          f"({document['status']}, {document['pages_processed']} page(s), "
                          f"engine {document['engine']['name']} {document['engine']['version']}) =====")
                    print(text.strip())
                elif f"{key}.error.json" in keys:
                    error = json.loads(stack.read_output(f"{key}.error.json"))
                    print(f"\n===== s3://{stack.output_bucket}/{key}.error.json =====")
                    print(f"reason: {error['reason']} ({error['error_type']}): {error['message']}")
                else:
                    print(f"\n===== {key}: NO OUTPUT =====")
                    failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
