"""Shared fixtures: repository paths and the evaluation corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "tests" / "resources"
EVENTS = ROOT / "events"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def resources() -> Path:
    return RESOURCES


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))
