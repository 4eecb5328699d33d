"""Report on the built OCR image: size, cold start, first-page latency, for each local engine.

The local engines are measured one after the other, each in a fresh container: Tesseract (the default) on
linn.pdf, an English scan, and rapidocr (PP-OCRv6 small on ONNX Runtime) on zh-clean.png, a Chinese page.
Runs the image as Lambda would (non-root uid, read-only root filesystem, writable /tmp only), with the Lambda
Runtime Interface Emulator that ships inside aws-sam-cli mounted as its entry point, against a local S3
server (moto) on the Docker bridge's gateway address. Needs DOCKER_HOST and S3OCR_DOCKER_GATEWAY from
``scripts/container-env.sh env``, boto3 and moto[server] in this interpreter, and the tools venv.

    eval "$(scripts/container-env.sh env)" && python scripts/image_report.py [--image ocrfunction:s3ocr]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
RESOURCES = ROOT / "tests" / "resources"
SIZE_GOAL_MB = 400
# What tests/container/test_container_image.py holds the image to (IMAGE_SIZE_BUDGET_MB there).
SIZE_BUDGET_MB = 600
INPUT_BUCKET = "s3ocr-input"
OUTPUT_BUCKET = "s3ocr-output"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
REPORT_INIT = re.compile(r"REPORT RequestId: \S+.*?Init Duration: ([\d.]+) ms")


@dataclass(frozen=True)
class Invocation:
    seconds: float
    response: Any


@dataclass(frozen=True)
class Sample:
    """What one engine reads for the report: a file from tests/resources, stored under ``key``."""

    engine: str
    resource: str
    key: str
    event: dict[str, Any]


def s3_put_event(key: str, size: int) -> dict[str, Any]:
    """An S3 ObjectCreated event for ``key`` in the input bucket, shaped like events/s3-put-png.json."""
    event = json.loads((EVENTS / "s3-put-png.json").read_text())
    obj = event["Records"][0]["s3"]["object"]
    obj["key"], obj["size"] = key, size
    return event


def samples() -> tuple[Sample, ...]:
    zh_page = RESOURCES / "zh-clean.png"
    return (
        Sample("tesseract", "linn.pdf", "samples/linn.pdf", json.loads((EVENTS / "s3-put-pdf.json").read_text())),
        Sample("rapidocr", zh_page.name, "samples/zh-clean.png",
               s3_put_event("samples/zh-clean.png", zh_page.stat().st_size)),
    )


def find_rie(tools_venv: Path) -> Path:
    """The Runtime Interface Emulator binary that aws-sam-cli ships."""
    found = sorted(tools_venv.resolve().glob("lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64"))
    if not found:
        raise SystemExit(f"aws-lambda-rie not found under {tools_venv} (run: scripts/container-env.sh tools)")
    return found[0]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def docker(*args: str, capture: bool = True) -> str:
    done = subprocess.run(["docker", *args], check=True, text=True, capture_output=capture)
    return done.stdout if capture else ""


def invoke(port: int, event: dict[str, Any], timeout: float = 900.0) -> Invocation:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{INVOKE_PATH}", data=json.dumps(event).encode(), method="POST"
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        body = reply.read()
    return Invocation(time.perf_counter() - started, json.loads(body or b"null"))


def first_invoke(port: int, event: dict[str, Any], timeout: float = 30.0) -> Invocation:
    """Invoke once the emulator answers: Docker's port proxy accepts connections before it listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return invoke(port, event)
        except (ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def measure_engine(sample: Sample, image: str, rie: Path, endpoint: str, s3: Any) -> dict[str, Any]:
    """Start a fresh container with OCR_ENGINE=sample.engine: cold start, then the sample's first page."""
    rie_port = free_port("127.0.0.1")
    env = {**FAKE_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ENDPOINT_URL": endpoint, "OUTPUT_BUCKET": OUTPUT_BUCKET, "OCR_ENGINE": sample.engine,
           "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "S3OcrLocal",
           "AWS_LAMBDA_FUNCTION_NAME": "OcrFunction", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"}
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    container = ""
    try:
        started = time.perf_counter()
        container = docker(
            "run", "--detach", "--rm", "--user", "12345:12345", "--read-only", "--tmpfs", "/tmp:exec",
            "--memory", "3008m", "--dns", "127.0.0.1", "--publish", f"127.0.0.1:{rie_port}:8080",
            "--volume", f"{rie}:/aws-lambda-rie:ro", "--entrypoint", "/aws-lambda-rie",
            *env_args, image, "/opt/venv/bin/python", "-m", "awslambdaric", "app.handler",
        ).strip()
        test_event = json.loads((EVENTS / "s3-test-event.json").read_text())
        cold = first_invoke(rie_port, test_event)
        to_first_response = time.perf_counter() - started
        warm = invoke(rie_port, test_event)
        # The first document on a warm container: the engine loads when its first page needs OCR.
        first = invoke(rie_port, sample.event)
        document = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{sample.key}.json")["Body"].read())
        again = invoke(rie_port, sample.event)
        logs = subprocess.run(["docker", "logs", container], text=True, capture_output=True, check=False)
    finally:
        if container:
            subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)

    init_reported = REPORT_INIT.search(logs.stdout + logs.stderr)
    first_page = document["pages"][0]
    return {
        "engine": sample.engine,
        "document": sample.resource,
        # The engine that actually read each page: a failing engine would hand its pages to a fallback.
        "engine_read": sorted({str(page.get("engine")) for page in document["pages"]}),
        "cold_invoke_s": round(cold.seconds, 3),
        "warm_invoke_s": round(warm.seconds, 3),
        "to_first_response_s": round(to_first_response, 3),
        "cold_start_s": round(to_first_response - warm.seconds, 3),
        "rie_init_duration_ms": float(init_reported.group(1)) if init_reported else None,
        "pages": document.get("page_count"),
        "document_invoke_s": round(first.seconds, 3),
        "document_again_s": round(again.seconds, 3),
        "first_page_s": round(document["timings"].get("fetch", 0.0) + first_page["timings"]["total"], 3),
        "first_page_timings": first_page["timings"],
        "first_page_chars": len(first_page.get("text", "")),
        "status": document.get("status"),
    }


def run_report(image: str, tools_venv: Path, gateway: str) -> dict[str, Any]:
    # Imported here: report-only dependencies, so that --help works without them.
    import boto3
    from moto.server import ThreadedMotoServer

    size_bytes = int(docker("image", "inspect", "--format", "{{.Size}}", image).strip())
    rie = find_rie(tools_venv)
    s3_port = free_port(gateway)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the S3 server's request log
    server = ThreadedMotoServer(ip_address=gateway, port=s3_port, verbose=False)
    server.start()
    endpoint = f"http://{gateway}:{s3_port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        engines = {}
        for sample in samples():
            s3.upload_file(str(RESOURCES / sample.resource), INPUT_BUCKET, sample.key)
            engines[sample.engine] = measure_engine(sample, image, rie, endpoint, s3)
    finally:
        server.stop()
    return {
        "image": image,
        "size_mb": round(size_bytes / 1e6, 1),
        "size_goal_mb": SIZE_GOAL_MB,
        "size_budget_mb": SIZE_BUDGET_MB,
        "engines": engines,
    }


def print_engine(engine: dict[str, Any]) -> None:
    rie_init = engine["rie_init_duration_ms"]
    print(f"OCR_ENGINE={engine['engine']}  ({engine['document']}; pages read by {', '.join(engine['engine_read'])})")
    print(f"  cold start      {engine['cold_start_s']:.2f} s  (docker run -> first response "
          f"{engine['to_first_response_s']:.2f} s, less a warm invoke {engine['warm_invoke_s']:.2f} s: container "
          "start, runtime init, handler import)")
    if rie_init is not None:
        print(f"  Init Duration   {rie_init:.2f} ms (emulator REPORT line; the emulator starts the runtime "
              "lazily, so this undercounts)")
    print(f"  first page      {engine['first_page_s']:.2f} s  (page 1 of the first document, warm container, "
          "engine loading included: fetch + "
          + " + ".join(f"{k} {v:.2f}" for k, v in engine["first_page_timings"].items() if k != "total")
          + f"; {engine['first_page_chars']} characters)")
    print(f"  whole document  {engine['document_invoke_s']:.2f} s  ({engine['pages']} page(s), status "
          f"{engine['status']}); again, engine loaded: {engine['document_again_s']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("IMAGE", "ocrfunction:s3ocr"))
    default_tools = Path(os.environ.get("TOOLS_VENV", ROOT / "build" / "tools-venv"))
    parser.add_argument("--tools-venv", type=Path, default=default_tools)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    gateway = os.environ.get("S3OCR_DOCKER_GATEWAY", "")
    if not gateway:
        parser.error('S3OCR_DOCKER_GATEWAY is not set: eval "$(scripts/container-env.sh env)" first')

    report = run_report(args.image, args.tools_venv, gateway)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    goal = "within" if report["size_mb"] <= SIZE_GOAL_MB else "OVER"
    budget = "within" if report["size_mb"] <= SIZE_BUDGET_MB else "OVER"
    print(f"image             {report['image']}")
    print(f"size              {report['size_mb']:.1f} MB ({budget} the {SIZE_BUDGET_MB} MB budget, {goal} the "
          f"{SIZE_GOAL_MB} MB goal)")
    for engine in report["engines"].values():
        print_engine(engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
