"""Container tests: build the OCR image, run it as Lambda would, invoke it with `sam local invoke`.

Docker comes from scripts/container-env.sh (installs docker.io and debootstrap, starts a private dockerd,
bootstraps debian:bookworm-slim, installs aws-sam-cli). Where Docker cannot be set up the tests skip, saying
why, except under CI=true: there they fail, so CI never goes green by skipping them.

The S3 server is moto in server mode on the Docker bridge's gateway address: the function container sits on
that bridge (SAM publishes the emulator's port there) and reaches this host at that address.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
EVENTS = ROOT / "events"
RESOURCES = ROOT / "tests" / "resources"
TOOLS_VENV = ROOT / os.environ.get("TOOLS_VENV", "build/tools-venv")  # an absolute TOOLS_VENV wins
SAM = TOOLS_VENV / "bin" / "sam"
SAM_BUILD_DIR = ROOT / "build" / "sam"
IMAGE = os.environ.get("IMAGE", "ocrfunction:s3ocr")
INPUT_BUCKET = "s3ocr-input"
OUTPUT_BUCKET = "s3ocr-output"
REGION = "us-east-1"
NON_ROOT = "12345:12345"


def unavailable(reason: str) -> None:
    """Skip: Docker cannot run here. Under CI=true, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"container tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"container tests need Docker: {reason}")


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def parse_exports(stdout: str) -> dict[str, str]:
    exports = {}
    for line in stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = value
    return exports


@pytest.fixture(scope="session")
def container_env() -> Iterator[dict[str, str]]:
    """DOCKER_HOST and friends, set in os.environ for the session; stops an engine it had to start."""
    env_script = str(SCRIPTS / "container-env.sh")
    answered_before = subprocess.run([env_script, "env"], capture_output=True, check=False).returncode == 0
    try:
        done = subprocess.run([env_script, "up"], capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        unavailable(f"scripts/container-env.sh up did not finish: {e}")
    if done.returncode != 0:
        unavailable(f"scripts/container-env.sh up failed:\n{tail(done.stderr)}")
    exports = parse_exports(done.stdout)
    if not exports.get("S3OCR_DOCKER_GATEWAY"):
        unavailable("the Docker engine has no default bridge (S3OCR_DOCKER_GATEWAY missing)")
    saved = {name: os.environ.get(name) for name in exports}
    os.environ.update(exports)
    yield exports
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if not answered_before and os.environ.get("S3OCR_KEEP_ENGINE") != "1":
        subprocess.run([env_script, "stop"], capture_output=True, check=False)


def run(args: list[str], timeout: float = 900, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


@pytest.fixture(scope="session")
def image(container_env: dict[str, str]) -> str:
    """The function image, built from the working tree (wheels + docker build; cached layers are reused)."""
    done = run([str(SCRIPTS / "container-build.sh")], timeout=1800, env={**os.environ, "SKIP_SAM_BUILD": "1"})
    assert done.returncode == 0, f"image build failed:\n{tail(done.stdout)}\n{tail(done.stderr)}"
    return IMAGE


@pytest.fixture(scope="session")
def sam_build(image: str) -> Path:
    """`sam build` of template.yaml (every layer cached by the image fixture); returns the built template."""
    done = run([str(SAM), "build", "--template-file", "template.yaml", "--build-dir", str(SAM_BUILD_DIR)],
               cwd=ROOT, env={**os.environ, "SAM_CLI_TELEMETRY": "0"})
    assert done.returncode == 0, f"sam build failed:\n{tail(done.stdout)}\n{tail(done.stderr)}"
    return SAM_BUILD_DIR / "template.yaml"


def docker_run(image: str, *command: str, entrypoint: str = "/opt/venv/bin/python",
               env: dict[str, str] | None = None,
               mounts: dict[Path, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command in the image the way Lambda does: non-root, read-only, only /tmp writable, no network.

    ``mounts`` maps host files to paths in the container; they are mounted read-only.
    """
    env_args = [arg for name, value in (env or {}).items() for arg in ("-e", f"{name}={value}")]
    mount_args = [arg for host, inside in (mounts or {}).items() for arg in ("--volume", f"{host}:{inside}:ro")]
    return run(["docker", "run", "--rm", "--network", "none", "--user", NON_ROOT, "--read-only",
                "--tmpfs", "/tmp:exec", *mount_args, "--entrypoint", entrypoint, *env_args, image, *command],
               timeout=300)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint(container_env: dict[str, str]) -> Iterator[str]:
    """A moto S3 server that both this process and the function container reach."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:  # a dev dependency: its absence is a broken set-up, not a missing Docker
        pytest.fail(f"moto[server] is needed for the container tests: {e}", pytrace=False)
    gateway = container_env["S3OCR_DOCKER_GATEWAY"]
    port = free_port(gateway)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=gateway, port=port, verbose=False)
    server.start()
    yield f"http://{gateway}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    """boto3 S3 client on the moto server, with both buckets present and the output bucket empty."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
    for obj in client.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", []):
        client.delete_object(Bucket=OUTPUT_BUCKET, Key=obj["Key"])
    return client


@dataclass(frozen=True)
class Invocation:
    response: Any
    stdout: str
    stderr: str


@pytest.fixture
def sam_invoke(sam_build: Path, s3_endpoint: str) -> Any:
    """Invoke OcrFunction with an event from events/ through scripts/container-invoke.sh."""

    def invoke(event_name: str) -> Invocation:
        done = run([str(SCRIPTS / "container-invoke.sh"), str(EVENTS / event_name)], cwd=ROOT,
                   env={**os.environ, "S3_ENDPOINT": s3_endpoint, "OUTPUT_BUCKET": OUTPUT_BUCKET})
        assert done.returncode == 0, f"sam local invoke failed:\n{tail(done.stdout)}\n{tail(done.stderr)}"
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        assert lines, f"no response from the function:\n{tail(done.stderr)}"
        return Invocation(json.loads(lines[-1]), done.stdout, done.stderr)

    return invoke


def event_object_key(event_name: str) -> str:
    """The object key an event file names (decoded): where a test must put the object first."""
    event = json.loads((EVENTS / event_name).read_text(encoding="utf-8"))
    if "detail" in event:  # EventBridge: keys are not URL-encoded
        return str(event["detail"]["object"]["key"])
    record = event["Records"][0]
    if record.get("eventSource") == "aws:sqs":
        record = json.loads(record["body"])["Records"][0]
    return unquote_plus(record["s3"]["object"]["key"])
