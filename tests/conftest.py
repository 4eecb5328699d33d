"""Shared fixtures: repository paths and the evaluation corpus."""

from __future__ import annotations

import json
import signal
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


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))
