"""Hostile input on the local stack, each case through the path it would take in AWS: an upload (or a message) to
the queue, the function under the Lambda runtime, its record in the output bucket; the CLI against the same
server.

A case is *handled* when the promised outcome happened (a typed reason, a flag, a refusal); a document is *lost*
when it was due a terminal record (the ``.txt`` and ``.json`` of a reading, or one ``.error.json``) and has none
or both. ``python -m s3ocr.reliability.inputs`` prints one line per case and the summary
``inputs: N cases → 0 unhandled, 0 lost``; ``--markdown`` prints the README's table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3ocr.devstack.event_source import queue_depth, s3_notification
from s3ocr.devstack.servers import LambdaFunction
from s3ocr.devstack.stack import INPUT_BUCKET, OUTPUT_BUCKET, LocalStack, local_stack
from s3ocr.keys import printable
from s3ocr.reliability import hostile
from s3ocr.reliability.mutations import seed_documents


@dataclass(frozen=True)
class Verdict:
    outcome: str  # what happened, in a few words
    handled: bool  # the promised outcome
    lost: bool = False  # a document due a terminal record has none (or both kinds)


@dataclass
class Trial:
    """One local deployment the cases share, and the function's log."""

    stack: LocalStack
    log_path: Path

    def log(self) -> bytes:
        return self.log_path.read_bytes()


@dataclass(frozen=True)
class Case:
    name: str
    hostile: str  # the README's first column
    promise: str  # what must happen
    run: Callable[[Trial], Verdict]


@dataclass(frozen=True)
class Record:
    kind: str  # "result", "error", "none" or "both"
    document: dict[str, Any] | None = None


def record_of(stack: LocalStack, key: str) -> Record:
    """The terminal record for ``key`` in the output bucket, named as the function names it."""
    outputs = stack.outputs(key)
    result = outputs.text and outputs.result is not None
    if result and outputs.failure is not None:
        return Record("both")
    if result:
        return Record("result", outputs.result)
    if outputs.failure is not None:
        return Record("error", outputs.failure)
    return Record("none")


def _upload(trial: Trial, key: str, body: bytes) -> tuple[Record, int]:
    """Upload, let the queue hand the notification to the function; the record and the deliveries that failed."""
    trial.stack.s3.put_object(Bucket=trial.stack.input_bucket, Key=key, Body=body)
    report = trial.stack.events.drain()
    return record_of(trial.stack, key), report.failed


def _read_with_flag(key: str, body: Callable[[], bytes], flag: str) -> Callable[[Trial], Verdict]:
    def run(trial: Trial) -> Verdict:
        record, failed = _upload(trial, key, body())
        if record.kind != "result" or record.document is None:
            return Verdict(f"{record.kind} record", handled=False, lost=record.kind in ("none", "both"))
        flags = record.document["flags"]
        text = "".join(page["text"] for page in record.document["pages"])
        handled = flag in flags and hostile.TEXT in text and failed == 0
        return Verdict(f"read ({record.document['status']}), flags {flags}", handled)
    return run


def _refused(key: str, body: bytes, reason: str) -> Callable[[Trial], Verdict]:
    def run(trial: Trial) -> Verdict:
        record, failed = _upload(trial, key, body)
        if record.kind != "error" or record.document is None:
            return Verdict(f"{record.kind} record", handled=False, lost=record.kind in ("none", "both"))
        return Verdict(f"error record: {record.document['reason']}", record.document["reason"] == reason
                       and failed == 0)
    return run


def _giant_page(trial: Trial) -> Verdict:
    record, failed = _upload(trial, "hostile/giant-page.pdf", hostile.giant_page_pdf())
    if record.kind != "result" or record.document is None:
        return Verdict(f"{record.kind} record", handled=False, lost=record.kind in ("none", "both"))
    pages = [(page["status"], (page["error"] or {}).get("reason")) for page in record.document["pages"]]
    handled = (record.document["status"] == "partial" and failed == 0
               and pages == [("ok", None), ("failed", "decompression_bomb")])
    return Verdict(f"{record.document['status']}: page 2 {pages[-1][0]} ({pages[-1][1]}), page 1 read", handled)


def _long_key(trial: Trial) -> Verdict:
    key = "hostile/long/" + "长" * 300 + "k" * (1024 - 13 - 900 - 4) + ".png"  # 1,024 bytes: S3's limit
    assert len(key.encode()) == 1024
    record, failed = _upload(trial, key, hostile_png())
    if record.kind != "result" or record.document is None:
        return Verdict(f"{record.kind} record", handled=False, lost=record.kind in ("none", "both"))
    named = record.document["source"]["key"] == key
    return Verdict("outputs written under a cut name + digest; the JSON names the full key", named and failed == 0)


def _control_characters(trial: Trial) -> Verdict:
    # A newline the moto server cannot take in a key (S3 can): a carriage return forges a terminal line as well.
    key = "hostile/\x1b[2J\x1b[31mred\rforged: line\u202e.png"
    before = len(trial.log())
    record, failed = _upload(trial, key, hostile_png())
    log = trial.log()[before:]
    raw = [repr(c) for c in ("\x1b", "\r", "\u202e") if c.encode() in log]
    if record.kind != "result":
        return Verdict(f"{record.kind} record", handled=False, lost=record.kind in ("none", "both"))
    escaped = b"\\\\x1b[2J" in log  # keys.printable's \x1b, JSON-encoded
    return Verdict("read; logged escaped" if not raw and escaped else f"raw in the log: {raw}",
                   handled=not raw and escaped and failed == 0)


def _folder_marker(trial: Trial) -> Verdict:
    _, failed = _upload(trial, "hostile/folder/", b"")
    keys = [key for key in trial.stack.output_keys() if key.startswith("hostile/folder")]
    return Verdict("ignored, no record" if not keys and failed == 0 else f"records {keys}",
                   handled=not keys and failed == 0)


def _unsafe_key_in_s3(trial: Trial) -> Verdict:
    key = "hostile/../../etc/passwd.png"  # in S3 a key is a name: there is no folder for it to leave
    record, failed = _upload(trial, key, hostile_png())
    return Verdict(f"{record.kind} record under the same key", handled=record.kind == "result" and failed == 0,
                   lost=record.kind in ("none", "both"))


def _malformed(body: str) -> Callable[[Trial], Verdict]:
    def run(trial: Trial) -> Verdict:
        stack = trial.stack
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
        report = stack.events.drain()
        moved = stack.sqs.receive_message(QueueUrl=stack.dead_letter_url, MessageAttributeNames=["All"],
                                          MaxNumberOfMessages=10).get("Messages", [])
        mine = [m for m in moved if m["Body"] == body]
        for message in moved:
            stack.sqs.delete_message(QueueUrl=stack.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
        reason = mine[0]["MessageAttributes"]["s3ocr-reason"]["StringValue"] if mine else None
        counted = b'"MalformedMessages"' in trial.log()
        handled = reason == "malformed_message" and report.failed == 0 and report.received == 1 and counted
        return Verdict(f"dead-lettered at the first delivery ({reason}), counted" if handled else
                       f"failed {report.failed} of {report.received}, dead-letter reason {reason}", handled,
                       lost=not mine)
    return run


def _poison_in_a_batch(trial: Trial) -> Verdict:
    stack = trial.stack
    key = "hostile/batch/fine.png"
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="poison")
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=hostile_png())  # its notification joins it
    report = stack.events.drain()
    record = record_of(stack, key)
    moved = stack.sqs.receive_message(QueueUrl=stack.dead_letter_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in moved:
        stack.sqs.delete_message(QueueUrl=stack.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
    poisoned = [m for m in moved if m["Body"] == "poison"]
    handled = record.kind == "result" and report.failed == 0 and len(poisoned) == 1
    return Verdict(f"document {record.kind}, poison dead-lettered ({len(poisoned)}), {report.failed} failed",
                   handled, lost=record.kind in ("none", "both") or not poisoned)


def _own_output_event(trial: Trial) -> Verdict:
    stack = trial.stack
    notification = s3_notification(OUTPUT_BUCKET, "hostile/own.png.txt", size=4)
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(notification))
    report = stack.events.drain()
    written = [key for key in stack.output_keys() if key.startswith("hostile/own.png.txt")]
    counted = b'"RecursionPrevented"' in trial.log()
    handled = not written and report.failed == 0 and counted
    return Verdict("ignored, counted (RecursionPrevented)" if handled else f"wrote {written}", handled)


def _recursive_configuration(trial: Trial) -> Verdict:
    environment = {"AWS_ENDPOINT_URL": trial.stack.server.endpoint, "OUTPUT_BUCKET": INPUT_BUCKET,
                   "INPUT_BUCKET": INPUT_BUCKET, "POWERTOOLS_TRACE_DISABLED": "true"}
    with LambdaFunction(environment, log=subprocess.DEVNULL) as function:
        try:
            response = function.invoke({"Service": "Amazon S3", "Event": "s3:TestEvent"}, timeout=60)
        except urllib.error.HTTPError as e:  # the emulator answers a failed init with 502 and the error as JSON
            response = json.loads(e.read() or b"{}")
    message = str(response.get("errorMessage", ""))
    handled = response.get("errorType") == "ConfigurationError" and "trigger it again" in message
    return Verdict(f"refused at cold start: {response.get('errorType')}" if handled else f"started: {response}",
                   handled)


def _cli_traversal(trial: Trial) -> Verdict:
    stack = trial.stack
    bucket = "s3ocr-cli-hostile"
    stack.s3.create_bucket(Bucket=bucket)
    for key in ("../../escape.txt", "/absolute.txt", "inside/./dot.txt", "inside/fine.txt"):
        stack.s3.put_object(Bucket=bucket, Key=key, Body=b"not a document")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        out = root / "a" / "b" / "out"
        env = {**os.environ, "AWS_ENDPOINT_URL": stack.server.endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        proc = subprocess.run([sys.executable, "-m", "s3ocr.cli", "extract", "-q", "-o", str(out), f"s3://{bucket}/"],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    outside = [name for name in files if not name.startswith("a/b/out/")]
    refused = proc.stderr.count("refused (unsafe_key)")
    handled = not outside and refused == 3 and proc.returncode == 1 and files == ["a/b/out/inside/fine.txt.error.json"]
    return Verdict(f"{refused} refused with unsafe_key, exit {proc.returncode}, nothing outside the folder" if handled
                   else f"files {files}, stderr {printable(proc.stderr[-300:])}", handled)


def hostile_png() -> bytes:
    """A small page of text (the fuzzer's seed ``text.png``): documents whose keys are hostile are read like any
    other."""
    return seed_documents()["text.png"]


CASES: tuple[Case, ...] = (
    Case("owner-password", "PDF with an owner password (no user password), printing and copying withheld",
         "read; `flags: [\"owner_password\"]`",
         _read_with_flag("hostile/owner-password.pdf", hostile.owner_password_pdf, "owner_password")),
    Case("javascript", "PDF that runs JavaScript when opened (`/OpenAction`)", "read; `flags: [\"javascript\"]`",
         _read_with_flag("hostile/javascript.pdf", lambda: hostile.javascript_pdf("open_action"), "javascript")),
    Case("xfa", "PDF with an XFA form", "read; `flags: [\"xfa_form\"]`",
         _read_with_flag("hostile/xfa.pdf", hostile.xfa_pdf, "xfa_form")),
    Case("giant-page", "PDF page of 200,000 pt a side (Poppler renders it 1 × 1 and exits 0)",
         "that page `failed` (`decompression_bomb`), the others read, document `partial`", _giant_page),
    Case("heic", "HEIC photo", "`.error.json`: `unsupported_type`", _refused("hostile/photo.heic", hostile.HEIC,
                                                                            "unsupported_type")),
    Case("svg", "SVG drawing", "`.error.json`: `unsupported_type`", _refused("hostile/drawing.svg", hostile.SVG,
                                                                            "unsupported_type")),
    Case("eps", "EPS (PostScript; Pillow would run Ghostscript)", "`.error.json`: `unsupported_type`",
         _refused("hostile/figure.eps", hostile.EPS, "unsupported_type")),
    Case("long-key", "key of 1,024 bytes (S3's limit), so `<key>.error.json` would pass it",
         "outputs written under the key cut + a digest; the JSON names the full key", _long_key),
    Case("control-characters", "key with ESC sequences, a carriage return and U+202E",
         "read; logged escaped (`\\x1b`, `\\r`, `\\u202e`)",
         _control_characters),
    Case("folder-marker", "folder marker (`a/b/`, 0 bytes)", "ignored: no record, no retry", _folder_marker),
    Case("dotdot-in-s3", "key `../../etc/passwd.png` uploaded to S3", "read; outputs under the same key "
         "(S3 has no folder to leave)", _unsafe_key_in_s3),
    Case("not-json", "SQS body that is not JSON", "dead-lettered at once with `s3ocr-reason: malformed_message`; "
         "`MalformedMessages` metric", _malformed("this is not JSON {")),
    Case("foreign-event", "SQS body from another service (SNS record)", "dead-lettered at once, "
         "`malformed_message`", _malformed(json.dumps({"Records": [{"eventSource": "aws:sns"}]}))),
    Case("broken-s3-record", "S3 record without `s3.object.key`", "dead-lettered at once, `malformed_message`",
         _malformed(json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                             "s3": {"bucket": {"name": INPUT_BUCKET}}}]}))),
    Case("poison-in-batch", "one malformed message in a batch with a document", "the document read once, the "
         "rest of the batch acknowledged, the poison dead-lettered", _poison_in_a_batch),
    Case("own-output", "event for one of the function's own outputs", "ignored (`RecursionPrevented` metric), "
         "no `.error.json` to trigger it again", _own_output_event),
    Case("recursive-configuration", "function whose output bucket is its input bucket, no prefixes",
         "refuses to start: `ConfigurationError` at cold start", _recursive_configuration),
    Case("cli-traversal", "`s3ocr extract s3://bucket/ -o out/` over keys `../../x`, `/x`, `a/./x`",
         "each refused (`unsafe_key`), exit 1, nothing written outside `out/`", _cli_traversal),
)


@dataclass(frozen=True)
class InputsSummary:
    results: tuple[tuple[Case, Verdict], ...]

    @property
    def unhandled(self) -> int:
        return sum(not verdict.handled for _, verdict in self.results)

    @property
    def lost(self) -> int:
        return sum(verdict.lost for _, verdict in self.results)

    def line(self) -> str:
        return f"inputs: {len(self.results)} cases → {self.unhandled} unhandled, {self.lost} lost"

    def markdown(self) -> str:
        rows = ["| hostile input | promised | outcome (this run) |", "|---|---|---|"]
        rows += [f"| {case.hostile} | {case.promise} | {'✓ ' if verdict.handled else '✗ '}{verdict.outcome} |"
                 for case, verdict in self.results]
        return "\n".join(rows)


@contextlib.contextmanager
def trial() -> Iterator[Trial]:
    """A local deployment for the cases: moto server, queue with its dead-letter queue, the function."""
    with tempfile.TemporaryDirectory(prefix="s3ocr-inputs-") as folder:
        log_path = Path(folder) / "function.log"
        with log_path.open("wb") as log, local_stack(log=log, visibility_timeout=2, max_receive_count=2,
                                                     function_env={"OCR_ENGINE": "tesseract",
                                                                   "OCR_LANGUAGES": "eng"}) as stack:
            yield Trial(stack, log_path)


def run_case(current: Trial, case: Case) -> Verdict:
    try:
        verdict = case.run(current)
    except Exception as e:  # a case that blows up is unhandled, never a crash of the report
        verdict = Verdict(f"raised {type(e).__name__}: {printable(str(e))[:200]}", handled=False)
    if queue_depth(current.stack.sqs, current.stack.queue_url):
        current.stack.events.drain()
    return verdict


def run(names: set[str] | None = None) -> InputsSummary:
    with trial() as current:
        results = tuple((case, run_case(current, case)) for case in CASES if not names or case.name in names)
    return InputsSummary(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the README's table")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args(argv)
    summary = run(set(args.only.split(",")) if args.only else None)
    for case, verdict in summary.results:
        print(f"  {case.name}: {'ok' if verdict.handled else 'UNHANDLED'}{' LOST' if verdict.lost else ''}"
              f" - {verdict.outcome}")
    if args.markdown:
        print(summary.markdown())
    print(summary.line())
    return 1 if summary.unhandled or summary.lost else 0


if __name__ == "__main__":
    sys.exit(main())
