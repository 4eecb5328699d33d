"""``make demo``: the main job on the embedded defaults, end to end on this machine.

Starts a local S3/SQS server, creates the buckets and the queue, uploads sample documents (the input
bucket notifies the queue), hands each batch to the function through the real Lambda runtime, prints
the text found in the output bucket and stops everything it started.

``--fanout`` (``make demo-fanout``): a 40-page scan read in ranges of 8 pages by three function instances
(``s3ocr.fanout``), the job record and the tasks queue on the same local server.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    parser.add_argument("--fanout", action="store_true", help="a 40-page scan read in page ranges by 3 instances")
    args = parser.parse_args(argv)
    if args.fanout:
        return fanout_demo()
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
            _print_events(stack.completion_events())
    return 1 if failures else 0


def _print_events(events: list[dict[str, Any]]) -> None:
    """The completion events the bus sent to the sample rule's queue, as a workflow's next step receives them."""
    print(f"\n===== {len(events)} completion event(s) on the bus, read from the sample rule's queue =====")
    for event in events:
        detail = event["detail"]
        quality = (f"{detail['pages']} page(s), mean confidence {detail['mean_confidence']}, "
                   f"{detail['no_text_pages']} with no text" if event["detail-type"] == "DocumentProcessed"
                   else f"reason {detail['reason']}")
        print(f"{event['detail-type']}: s3://{detail['bucket']}/{detail['key']} {detail['status']}: {quality}; "
              f"outputs {', '.join(place['key'] for place in detail['outputs'].values())}")


def fanout_demo(pages: int = 40, range_pages: int = 8, instances: int = 3) -> int:
    from s3ocr.bench.samples import numbered_scan
    from s3ocr.devstack.fleet import fleet

    env = {"OCR_ENGINE": "tesseract", "OCR_LANGUAGES": "eng", "OCR_WORKERS": "1", "RANGE_PAGES": str(range_pages)}
    key = "samples/long-scan.pdf"
    with tempfile.TemporaryDirectory(prefix="s3ocr-demo-") as folder, \
            tempfile.NamedTemporaryFile(prefix="s3ocr-demo-", suffix=".log", delete=False) as log:
        print(f"function log: {log.name}")
        scan = numbered_scan(Path(folder) / "long-scan.pdf", pages)
        with fleet(instances, env, log=log) as local:
            print(f"local S3/SQS/DynamoDB server: {local.server.endpoint}; {instances} function instances polling "
                  f"the event queue and the page-range tasks queue")
            started = time.monotonic()
            local.s3.upload_file(str(scan), local.input_bucket, key)
            print(f"uploaded s3://{local.input_bucket}/{key} ({pages} pages; ranges of {range_pages})")
            while f"{key}.json" not in local.output_keys("samples/"):
                if time.monotonic() - started > 600:
                    print("===== NO OUTPUT after 600 s =====")
                    return 1
                time.sleep(1)
                pages_done = len(local.output_keys("work/"))
                print(f"  {time.monotonic() - started:5.1f} s: {pages_done} page(s) under work/", end="\r")
            document = json.loads(local.read_output(f"{key}.json"))
            text = local.read_output(f"{key}.txt").decode("utf-8")
            calls = [worker.invocations for worker in local.workers]
        print(f"\n===== s3://{local.output_bucket}/{key}.txt  ({document['status']}, {document['pages_processed']} "
              f"page(s), assembled from page ranges in {time.monotonic() - started:.1f} s; invocations per instance "
              f"{calls}) =====")
        print("\n".join(text.strip().splitlines()[:12]) + "\n...")
    return 0 if document["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
