"""The ``CpuSeconds`` metric: the CPU-seconds the function counts are those its processes used, init and Tesseract's
workers included, as seen from outside them (the Lambda runtime under the Runtime Interface Emulator)."""

from __future__ import annotations

import json
from pathlib import Path

from s3ocr.proctree import descendants_cpu_seconds
from tests.integration.conftest import output_json

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def _counted(log: str) -> list[float]:
    """Every invocation's ``CpuSeconds`` in the function's EMF lines."""
    values: list[float] = []
    for line in log.splitlines():
        if line.startswith("{") and '"CpuSeconds"' in line:
            value = json.loads(line)["CpuSeconds"]
            values += value if isinstance(value, list) else [value]
    return values


def test_the_function_counts_the_cpu_seconds_its_processes_use(stack):
    # GIVEN a new instance of the function, which reads a page through its queue with Tesseract (its workers are
    # processes of their own)
    key = "cpu/linn.png"
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=(RESOURCES / "linn.png").read_bytes(),
                        Metadata={"ocr-engine": "tesseract"})
    assert stack.events.drain().failed == 0
    assert output_json(stack, f"{key}.json")["engine"]["name"] == "tesseract"
    # WHEN the CpuSeconds of its invocations are added up
    counted = _counted(stack.log_path.read_text(errors="replace"))
    # THEN there is one for each invocation, and together they are the CPU-seconds that the runtime and its
    # workers used, measured from outside them. The first counts the instance's init (some 0.3-0.5 CPU-s); the
    # workers' start and reading count too (more again). Within 0.1 s: only each invocation's last step, sending
    # its metrics and answer, falls outside the count, and /proc gives each process's time in whole ticks.
    used = descendants_cpu_seconds(stack.function.process.pid)
    assert counted and all(value > 0 for value in counted)
    assert abs(sum(counted) - used) <= 0.1, (counted, used)
