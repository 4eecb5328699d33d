"""Injected faults on the local stack, each through the real path (S3 notification -> SQS -> the function under
the Lambda runtime), each judged by what the output bucket holds for each document at the end: exactly one
terminal record (``.txt`` + a ``.json`` that says so, or one ``.error.json``).

The scenarios are written once here; ``tests/integration/test_faults.py`` runs each and asserts its outcome, and
``python -m s3ocr.reliability.faults`` runs them all on one stack and prints
``faults: F kinds → 0 lost, 0 duplicate outputs`` (non-zero exit on any loss or duplicate).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any

from s3ocr.devstack.event_source import BatchReport, queue_depth
from s3ocr.devstack.faults import (
    ACCESS_DENIED,
    INTERNAL_ERROR,
    RESET,
    RESET_BODY,
    SERVICE_UNAVAILABLE,
    SLOW_DOWN,
    Fault,
    FaultStack,
    cpu_ticks,
    fault_stack,
    pending_input,
)
from s3ocr.devstack.servers import REPO_ROOT

PAGE_TIMEOUT_S = 8  # the function's page budget: what a hung worker or a silent cloud service costs a delivery
MAX_RECEIVE_COUNT = 2
SECRET_NAME = "s3ocr/faults"
SECRET_MAX_AGE_S = 1  # how long the function keeps the secret it read (Powertools' cache; 300 s by default)


@dataclass(frozen=True)
class Document:
    """What the output bucket holds for one source key at the end."""

    key: str
    text: bool  # <key>.txt is there
    status: str  # <key>.json's status ("ok", "partial"); "" without one
    engine: str  # <key>.json's engine
    reason: str  # <key>.error.json's reason; "" without one
    message: str  # <key>.error.json's message

    @property
    def lost(self) -> bool:
        """No terminal record: neither a whole success (its ``.json`` *and* its ``.txt``) nor an error record."""
        return not ((self.status and self.text) or self.reason)

    @property
    def duplicate(self) -> bool:
        """Two answers: an error record beside a success record or its text."""
        return bool(self.reason) and bool(self.status or self.text)

    def describe(self) -> str:
        if self.lost:
            return "LOST" + (" (a .json without its .txt)" if self.status else "")
        if self.duplicate:
            return f"DUPLICATE ({self.status or '.txt'} and .error.json {self.reason})"
        return self.status or f".error.json {self.reason}"


@dataclass
class KindOutcome:
    """One fault kind: what was injected and what became of its documents."""

    kind: str
    fault: str
    documents: list[Document] = field(default_factory=list)
    deliveries: int = 0  # times the function got the (first) document
    dead_lettered: int = 0
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # what a scenario measured beyond the records
    failed: bool = False  # the scenario itself could not finish

    @property
    def lost(self) -> int:
        return sum(d.lost for d in self.documents)

    @property
    def duplicates(self) -> int:
        return sum(d.duplicate for d in self.documents)

    def line(self) -> str:
        if self.failed:
            return f"  {self.kind}: {self.note}"
        outcomes = ", ".join(d.describe() for d in self.documents)
        extra = f"; {self.note}" if self.note else ""
        return (f"  {self.kind}: {self.fault} → {outcomes} after {self.deliveries} deliver"
                f"{'y' if self.deliveries == 1 else 'ies'}, {self.dead_lettered} dead-lettered{extra}")


@dataclass
class FaultSummary:
    kinds: list[KindOutcome] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(k.lost for k in self.kinds)

    @property
    def duplicates(self) -> int:
        return sum(k.duplicates for k in self.kinds)

    @property
    def failed(self) -> int:
        return sum(k.failed for k in self.kinds)

    def line(self) -> str:
        unfinished = f", {self.failed} scenario(s) did not finish" if self.failed else ""
        return f"faults: {len(self.kinds)} kinds → {self.lost} lost, {self.duplicates} duplicate outputs{unfinished}"


def page_image() -> bytes:
    """The top quarter of ``linn.png`` (a real scan): a page Tesseract reads in well under a second."""
    from PIL import Image

    with Image.open(REPO_ROOT / "tests" / "resources" / "linn.png") as image:
        crop = image.crop((0, 0, image.width, image.height // 4))
        out = io.BytesIO()
        crop.save(out, "PNG")
    return out.getvalue()


@dataclass
class FaultRig:
    """A fault stack with a Baidu fake for the cloud engine and its credentials in Secrets Manager."""

    faults: FaultStack
    cloud: Any  # tests.fakes_services.baidu.BaiduFake
    page: bytes

    def put(self, key: str, metadata: dict[str, str] | None = None) -> None:
        stack = self.faults.stack
        stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=self.page, Metadata=metadata or {})

    def poll(self) -> BatchReport:
        return self.faults.stack.events.poll_once()

    def settle(self, timeout: float = 120) -> None:
        """Hand the queue's messages to the function until none is left (retries and dead-lettering included)."""
        stack = self.faults.stack
        deadline = time.monotonic() + timeout
        while queue_depth(stack.sqs, stack.queue_url) and time.monotonic() < deadline:
            stack.events.poll_once()
        if queue_depth(stack.sqs, stack.queue_url):
            raise TimeoutError(f"the queue still holds messages after {timeout:g} s")

    def dead_letters(self) -> int:
        return queue_depth(self.faults.stack.sqs, self.faults.stack.dead_letter_url)

    def document(self, key: str) -> Document:
        outputs = self.faults.stack.outputs(key)
        success, failure = outputs.result or {}, outputs.failure or {}
        return Document(key=key, text=outputs.text, status=str(success.get("status", "")),
                        engine=str(success.get("engine", {}).get("name", "")),
                        reason=str(failure.get("reason", "")), message=str(failure.get("message", "")))

    @contextlib.contextmanager
    def case(self, kind: str, fault: str, keys: list[str]) -> Iterator[KindOutcome]:
        """Run a scenario's body, then clear the proxy's rules and record what became of ``keys``."""
        outcome = KindOutcome(kind, fault)
        dead_before = self.dead_letters()
        try:
            yield outcome
        finally:
            self.faults.proxy.clear()
        outcome.documents = [self.document(key) for key in keys]
        outcome.deliveries = self.faults.proxy.count("HeadObject", keys[0])
        outcome.dead_lettered = self.dead_letters() - dead_before


SCENARIOS: dict[str, Callable[[FaultRig], KindOutcome]] = {}


def scenario(kind: str) -> Callable[[Callable[[FaultRig], KindOutcome]], Callable[[FaultRig], KindOutcome]]:
    def register(function: Callable[[FaultRig], KindOutcome]) -> Callable[[FaultRig], KindOutcome]:
        SCENARIOS[kind] = function
        return function

    return register


def _s3_fault(kind: str, operation: str, fault: Fault, times: int | None, outputs: str = "") -> None:
    """Register a scenario: ``operation`` on the document (or on its outputs ``<key><outputs>``) gets ``fault``,
    the first ``times`` times or always."""
    what = f"{fault.status} {fault.code}" if fault.kind == "error" else fault.kind.replace("_", " ")
    label = f"{operation}{' of ' + outputs if outputs else ''} {what} {f'×{times}' if times else 'always'}"

    def play(rig: FaultRig) -> KindOutcome:
        key = f"faults/{kind}/page.png"
        with rig.case(kind, label, [key]) as outcome:
            rig.faults.proxy.add(operation, fault, key=key + outputs, times=times)
            rig.put(key)
            rig.settle()
        return outcome

    SCENARIOS[kind] = play


_s3_fault("s3-read-throttled", "GetObject", SLOW_DOWN, times=2)
_s3_fault("s3-read-reset", "GetObject", RESET, times=2)
_s3_fault("s3-read-reset-mid-body", "GetObject", RESET_BODY, times=1)
_s3_fault("s3-read-down", "GetObject", SERVICE_UNAVAILABLE, times=None)
_s3_fault("s3-write-throttled", "PutObject", SLOW_DOWN, times=2, outputs=".json")
_s3_fault("s3-write-txt-down", "PutObject", INTERNAL_ERROR, times=None, outputs=".txt")
_s3_fault("s3-write-json-down", "PutObject", RESET, times=None, outputs=".json")
_s3_fault("s3-write-txt-denied", "PutObject", ACCESS_DENIED, times=None, outputs=".txt")
_s3_fault("s3-delete-down", "DeleteObject", SERVICE_UNAVAILABLE, times=None, outputs=".*")


def _idle_workers(rig: FaultRig) -> set[int]:
    """The function's Tesseract workers once none of them uses CPU (all loaded and waiting for a page), after a
    warm-up page if it has none yet: a worker stopped while it loads its models would turn a crash into a wait."""
    if not rig.faults.workers():
        rig.put("faults/warm-up/page.png")
        rig.settle()
    deadline = time.monotonic() + 30
    before = {pid: cpu_ticks(pid) for pid in rig.faults.workers()}
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = {pid: cpu_ticks(pid) for pid in rig.faults.workers()}
        if now == before:
            break
        before = now
    return set(before)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _deliver_once(rig: FaultRig, timeout: float = 60) -> None:
    """Poll until one invocation got a message."""
    deadline = time.monotonic() + timeout
    while not rig.poll().received and time.monotonic() < deadline:
        pass


def _worker_fault(rig: FaultRig, kind: str, crash: bool) -> KindOutcome:
    """Stop every idle worker and, once a page request waits in one's pipe, kill that one (``crash``: the pool
    asks a fresh worker and the page is read) or leave it stopped (a hang: the pool must give up at the page
    budget) while the others go on; then a second page, which the pool must read with a worker that works."""
    key, after = f"faults/{kind}/page.png", f"faults/{kind}/next-page.png"
    label = "kill -9 of the worker reading the page" if crash else "SIGSTOP of the worker reading the page"
    with rig.case(kind, label, [key, after]) as outcome:
        stopped = _idle_workers(rig)
        for pid in stopped:
            _signal(pid, signal.SIGSTOP)
        rig.put(key)
        delivery = threading.Thread(target=_deliver_once, args=(rig,), name="fault-delivery")
        delivery.start()
        struck: set[int] = set()
        while delivery.is_alive():
            for pid in stopped - struck:
                if pending_input(pid):
                    struck.add(pid)
                    if crash:
                        _signal(pid, signal.SIGKILL)
            if struck:  # one worker struck: the others work again
                for pid in stopped - struck:
                    _signal(pid, signal.SIGCONT)
            delivery.join(0.05)
        for pid in stopped:
            _signal(pid, signal.SIGCONT)
        rig.settle()
        rig.put(after)
        rig.settle()
        outcome.details["struck"] = len(struck)
        outcome.note = f"{len(struck)} worker(s) {'killed' if crash else 'hung'} mid-page"
    return outcome


scenario("tesseract-worker-crash")(lambda rig: _worker_fault(rig, "tesseract-worker-crash", crash=True))
scenario("tesseract-worker-hang")(lambda rig: _worker_fault(rig, "tesseract-worker-hang", crash=False))


@scenario("cloud-engine-timeout")
def cloud_engine_timeout(rig: FaultRig) -> KindOutcome:
    """The Baidu fake answers nothing within the page budget on the first delivery, then answers again."""
    kind = "cloud-engine-timeout"
    key = f"faults/{kind}/page.png"
    with rig.case(kind, f"Baidu OCR silent for {PAGE_TIMEOUT_S * 3} s on the first delivery", [key]) as outcome:
        rig.cloud.delay = PAGE_TIMEOUT_S * 3
        try:
            rig.put(key, {"ocr-engine": "baidu"})
            started = time.monotonic()
            _deliver_once(rig)
            outcome.details["first_delivery_s"] = round(time.monotonic() - started, 1)
        finally:
            rig.cloud.delay = 0.0
        rig.settle()
    return outcome


@scenario("secrets-manager-down")
def secrets_manager_down(rig: FaultRig) -> KindOutcome:
    """Every GetSecretValue (the Baidu engine's credentials) is answered by a connection reset, once the secret
    the function holds (Powertools' cache) is older than its max age."""
    kind = "secrets-manager-down"
    key = f"faults/{kind}/page.png"
    with rig.case(kind, "GetSecretValue reset always", [key]) as outcome:
        rig.faults.proxy.add("GetSecretValue", RESET)
        time.sleep(SECRET_MAX_AGE_S + 0.5)
        rig.put(key, {"ocr-engine": "baidu"})
        rig.settle()
    return outcome


@scenario("poison-message")
def poison_message(rig: FaultRig) -> KindOutcome:
    """One batch: two valid notifications and a body that is not JSON."""
    kind = "poison-message"
    keys = [f"faults/{kind}/a.png", f"faults/{kind}/b.png"]
    stack = rig.faults.stack
    with rig.case(kind, "a non-JSON message in a batch of 3", keys) as outcome:
        for key in keys:
            rig.put(key)
        poison = stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="{not json")["MessageId"]
        deadline = time.monotonic() + 10
        while _visible(stack) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        report = rig.poll()
        response = report.responses[0] if report.responses else {}
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        rig.settle()
        writes = [rig.faults.proxy.count("PutObject", f"{key}.txt") for key in keys]
        outcome.details.update(batch=report.received, function_error="errorType" in response,
                               valid_failed=len(failed - {poison}), poison_failed=poison in failed,
                               text_writes=writes)
        outcome.note = (f"batch of {report.received}: {len(failed - {poison})} valid record(s) failed, poison "
                        f"{'in batchItemFailures' if poison in failed else 'acknowledged'}; texts written "
                        f"{'/'.join(map(str, writes))} time(s)")
    return outcome


def _visible(stack: Any) -> int:
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url,
                                                AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _baidu_fake() -> ModuleType:
    """The Baidu fake lives with the tests (``tests/fakes_services``); the report runs from a checkout."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    return importlib.import_module("tests.fakes_services.baidu")


@contextlib.contextmanager
def fault_rig(log: IO[bytes] | int | None = None, function_env: dict[str, str] | None = None) -> Iterator[FaultRig]:
    """A fault stack reading with Tesseract (``eng``), Baidu (the fake) for objects that ask for it, the Baidu
    keys in Secrets Manager; a short visibility timeout and ``MAX_RECEIVE_COUNT`` deliveries. ``function_env``
    adds to (or overrides) the function's environment."""
    baidu = _baidu_fake()
    cloud = baidu.BaiduFake().start()
    env = {"OCR_ENGINE": "tesseract", "OCR_LANGUAGES": "eng", "PAGE_TIMEOUT": str(PAGE_TIMEOUT_S),
           "OCR_SECRET_NAME": SECRET_NAME, "BAIDU_OCR_ENDPOINT": cloud.url,
           "BAIDU_TOKEN_URL": f"{cloud.url}/oauth/2.0/token",
           "POWERTOOLS_PARAMETERS_MAX_AGE": str(SECRET_MAX_AGE_S),  # not 300 s: Secrets Manager down shows
           **(function_env or {})}
    try:
        with fault_stack(env, log=log, visibility_timeout=2, max_receive_count=MAX_RECEIVE_COUNT) as faults:
            faults.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=json.dumps(
                {"BAIDU_API_KEY": baidu.API_KEY, "BAIDU_SECRET_KEY": baidu.SECRET_KEY}))
            rig = FaultRig(faults, cloud, page_image())
            rig.settle()  # S3's test event from the notification set-up
            yield rig
    finally:
        cloud.stop()


def run(log: IO[bytes] | int | None = None, kinds: list[str] | None = None) -> FaultSummary:
    """Every fault kind (or those named) on one local stack."""
    summary = FaultSummary()
    with fault_rig(log=log) as rig:
        for kind, play in SCENARIOS.items():
            if kinds and kind not in kinds:
                continue
            try:
                summary.kinds.append(play(rig))
            except Exception as e:  # a scenario that cannot finish is reported, and fails the run
                summary.kinds.append(KindOutcome(kind, "", note=f"DID NOT FINISH: {type(e).__name__}: {e}",
                                                 failed=True))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", action="append", choices=sorted(SCENARIOS), help="run only this kind (repeatable)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(prefix="s3ocr-faults-", suffix=".log", delete=False) as log:
        summary = run(log=log, kinds=args.kind)
    print(summary.line())
    for kind in summary.kinds:
        print(kind.line())
    print(f"  ({time.monotonic() - started:.0f} s; function log: {log.name})")
    return 1 if summary.lost or summary.duplicates or summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
