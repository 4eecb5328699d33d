"""Processes the dev stack starts and stops: the S3/SQS server and the function under the RIE."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[3]
HANDLER_DIR = REPO_ROOT / "handlers" / "ocr"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MotoServer:
    """The moto server on a free loopback port: S3, SQS and DynamoDB over real HTTP, state in memory, DynamoDB's
    conditional writes atomic (``s3ocr.devstack.motoserver``)."""

    def __init__(self, log: IO[bytes] | int = subprocess.DEVNULL) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "s3ocr.devstack.motoserver", "-H", "127.0.0.1",
                                         "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 30, self.process)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_rie() -> Path:
    """The Runtime Interface Emulator binary that ships inside the aws-sam-cli wheel."""
    candidates = [os.environ.get("S3OCR_RIE", ""), str(REPO_ROOT / "build" / "bin" / "aws-lambda-rie-x86_64")]
    try:
        import samcli

        candidates.append(str(Path(samcli.__file__).parent / "local" / "rapid" / "aws-lambda-rie-x86_64"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("aws-lambda-rie not found: run `make rie` (it unpacks it from the aws-sam-cli wheel)")


class LambdaFunction:
    """The OCR function as Lambda runs it: ``python -m awslambdaric app.handler`` under the RIE.

    The RIE serves the invoke API on one port and the Runtime API (which awslambdaric polls) on
    another; both are free ports so several stacks can run side by side.
    """

    def __init__(self, environment: dict[str, str], log: IO[bytes] | int | None = None,
                 timeout_seconds: int = 900, memory_mb: int = 3008) -> None:
        self.port = free_port()
        runtime_api_port = free_port()
        env = {**os.environ, **LOCAL_CREDENTIALS, **environment,
               "AWS_LAMBDA_FUNCTION_NAME": "OcrFunction",
               "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_seconds),
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
        command = [str(find_rie()),
                   "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                   "--runtime-api-address", f"127.0.0.1:{runtime_api_port}",
                   sys.executable, "-m", "awslambdaric", "app.handler"]
        self.process = subprocess.Popen(command, cwd=HANDLER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 30, self.process)
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"

    def invoke(self, event: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
        """Invoke synchronously; returns the function's response (an error payload for a function error)."""
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> LambdaFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
