"""Shared fixtures: repository paths, the evaluation corpus, and the jobs table in moto's in-process DynamoDB."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "tests" / "resources"
EVENTS = ROOT / "events"
CORPUS = ROOT.parent / "shared" / "corpus"


def sigint_as_default() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child takes Ctrl-C as a terminal user presses it. A shell
    starts a background job with SIGINT ignored and children inherit that (Python then installs no
    KeyboardInterrupt handler), so a test that presses Ctrl-C failed when the suite itself ran in the background."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def resources() -> Path:
    return RESOURCES


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A DynamoDB client of moto's in-process mock, with the template's jobs table as the local stack makes it."""
    import boto3
    from moto import mock_aws

    from s3ocr.devstack.stack import create_jobs_table

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        create_jobs_table(client)
        yield client


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))
