"""The Lambda handler's contract with SQS: permanent errors consumed, transient ones retried, and the
last delivery of a transient failure still leaves an error record. In-process S3 (moto's mock_aws)
and a fake engine; the real runtime and server are exercised in tests/integration."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from dataclasses import dataclass, replace
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from s3ocr.devstack.event_source import s3_notification
from s3ocr.errors import ConfigurationError, EngineUnavailableError, MalformedMessageError
from s3ocr.sinks.s3 import S3Sink
from tests.conftest import RESOURCES, ROOT
from tests.fakes import FakeEngine


@dataclass
class FakeContext:
    function_name: str = "OcrFunction"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:OcrFunction"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def app(monkeypatch) -> ModuleType:
    environment = {"OUTPUT_BUCKET": "out-bucket", "POWERTOOLS_TRACE_DISABLED": "true", "MAX_RECEIVE_COUNT": "3",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_METRICS_NAMESPACE": "S3Ocr",
                   "POWERTOOLS_SERVICE_NAME": "s3ocr"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "handlers" / "ocr"))
    with mock_aws():
        module = importlib.reload(sys.modules["app"]) if "app" in sys.modules else importlib.import_module("app")
        s3 = boto3.client("s3")
        for bucket in ("in-bucket", "out-bucket"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="in-bucket", Key="docs/a b.png", Body=(RESOURCES / "linn.png").read_bytes())
        monkeypatch.setattr(module, "S3", s3)
        monkeypatch.setattr(module, "SINK", S3Sink(s3, "out-bucket"))
        monkeypatch.setattr(module, "OUTPUTS", module.SINK)
        yield module


def _sqs_event(receive_count: int, body: dict) -> dict:
    return {"Records": [{
        "messageId": "m1", "receiptHandle": "r1", "body": json.dumps(body), "md5OfBody": "",
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1", "SenderId": "s",
                       "ApproximateFirstReceiveTimestamp": "1"},
        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1"}]}


def _notification(key: str) -> dict:
    return s3_notification("in-bucket", key, size=1)


def _keys(app: ModuleType) -> list[str]:
    return sorted(o["Key"] for o in app.S3.list_objects_v2(Bucket="out-bucket").get("Contents", []))


def test_success_consumes_the_message(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    response = app.handler(_sqs_event(1, _notification("docs/a+b.png")), FakeContext())
    assert response == {"batchItemFailures": []}
    assert _keys(app) == ["docs/a b.png.json", "docs/a b.png.txt"]


def test_transient_failure_is_retried_without_an_error_record(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine(failures={1: EngineUnavailableError("throttled")}))
    response = app.handler(_sqs_event(1, _notification("docs/a+b.png")), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert _keys(app) == []


def test_last_delivery_of_a_transient_failure_leaves_an_error_record_and_still_fails(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine(failures={1: EngineUnavailableError("throttled")}))
    response = app.handler(_sqs_event(3, _notification("docs/a+b.png")), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # still dead-lettered for a redrive
    error = json.loads(app.S3.get_object(Bucket="out-bucket", Key="docs/a b.png.error.json")["Body"].read())
    assert error["reason"] == "engine_unavailable" and "retries exhausted" in error["message"]


def test_object_deleted_before_processing_is_a_not_found_record(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    response = app.handler(_sqs_event(1, _notification("docs/gone.png")), FakeContext())
    assert response == {"batchItemFailures": []}
    error = json.loads(app.S3.get_object(Bucket="out-bucket", Key="docs/gone.png.error.json")["Body"].read())
    assert error["reason"] == "not_found"


def test_direct_test_event_is_acknowledged(app):
    assert app.handler({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "in-bucket"}, FakeContext()) == {
        "documents": []}


def test_a_page_with_ink_and_no_text_is_counted_and_the_document_is_partial(app, monkeypatch, capsys):
    # GIVEN an engine that finds no text on a page that has ink (linn.png)
    monkeypatch.setattr(app, "ENGINE", FakeEngine(text=""))
    # WHEN the object is processed
    app.handler(_sqs_event(1, _notification("docs/a+b.png")), FakeContext())
    # THEN the document is partial, its page says no text was found, and the metric counts the page
    result = json.loads(app.S3.get_object(Bucket="out-bucket", Key="docs/a b.png.json")["Body"].read())
    assert result["status"] == "partial" and result["pages"][0]["status"] == "no_text_found"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(entry.get("PagesNoTextFound") == [1.0] or entry.get("PagesNoTextFound") == 1.0 for entry in emitted)
    # AND the document counts as a poor one for the quality alarm, under the service dimension alone
    poor = [entry for entry in emitted if "PoorDocuments" in entry]
    assert [entry["PoorDocuments"] for entry in poor] in ([1.0], [[1.0]])
    assert poor[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]] and poor[0]["service"] == "s3ocr"


def _raw_sqs_event(body: str) -> dict:
    event = _sqs_event(1, {})
    event["Records"][0]["body"] = body
    return event


def _metrics(capsys) -> list[dict]:
    """The metrics the invocation flushed (EMF lines on stdout)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _logged(caplog, message: str) -> list[logging.LogRecord]:
    """The log records with ``message``; their extra fields are attributes."""
    return [record for record in caplog.records if record.getMessage() == message]


@pytest.mark.parametrize("body", ["not json at all", "[1, 2]", '{"Records": [{"eventSource": "aws:sns"}]}'])
def test_a_malformed_message_goes_to_the_dead_letter_queue_at_once_with_its_reason(app, monkeypatch, capsys, caplog,
                                                                                  body):
    # GIVEN a dead-letter queue the function is told of
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    monkeypatch.setattr(app, "SETTINGS", replace(app.SETTINGS, dead_letter_queue_url=url))
    # WHEN a message that is no S3 notification arrives
    response = app.handler(_raw_sqs_event(body), FakeContext())
    # THEN it is acknowledged (no retry), sent to the dead-letter queue with the reason, logged and counted
    assert response == {"batchItemFailures": []}
    moved = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in moved] == [body]
    assert moved[0]["MessageAttributes"]["s3ocr-reason"]["StringValue"] == "malformed_message"
    assert [record.reason for record in _logged(caplog, "malformed message")] == ["malformed_message"]
    assert any(e.get("MalformedMessages") in ([1.0], 1.0) for e in _metrics(capsys))
    assert _keys(app) == []


def test_without_a_dead_letter_queue_url_a_malformed_message_is_left_to_the_redrive(app, capsys, caplog):
    response = app.handler(_raw_sqs_event("{truncated"), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [record.reason for record in _logged(caplog, "malformed message")] == ["malformed_message"]
    assert any(e.get("MalformedMessages") in ([1.0], 1.0) for e in _metrics(capsys))


def test_a_poison_message_does_not_fail_the_rest_of_its_batch(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    event = _sqs_event(1, _notification("docs/a+b.png"))
    poison = _raw_sqs_event("\x00garbage")["Records"][0] | {"messageId": "m2"}
    event["Records"].append(poison)
    response = app.handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}  # no DLQ URL: the redrive keeps it
    assert _keys(app) == ["docs/a b.png.json", "docs/a b.png.txt"]


def test_a_folder_marker_is_acknowledged_and_leaves_no_record(app, monkeypatch):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    assert app.handler(_sqs_event(1, _notification("docs/")), FakeContext()) == {"batchItemFailures": []}
    assert _keys(app) == []


def test_an_event_for_one_of_the_functions_own_outputs_is_ignored(app, monkeypatch, capsys):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    event = _notification("docs/a b.png.txt")
    event["Records"][0]["s3"]["bucket"]["name"] = "out-bucket"
    assert app.handler(_sqs_event(1, event), FakeContext()) == {"batchItemFailures": []}
    assert _keys(app) == []  # no x.txt.error.json, which would trigger it again
    assert any(e.get("RecursionPrevented") in ([1.0], 1.0) for e in _metrics(capsys))


def test_a_key_with_control_characters_is_logged_escaped(app, monkeypatch, caplog):
    monkeypatch.setattr(app, "ENGINE", FakeEngine())
    key = "docs/\x1b[2Jforged\nline.png"
    app.S3.put_object(Bucket="in-bucket", Key=key, Body=(RESOURCES / "linn.png").read_bytes())
    assert app.handler(_sqs_event(1, _notification(key)), FakeContext()) == {"batchItemFailures": []}
    [received] = _logged(caplog, "document received")
    assert received.key == "docs/\\x1b[2Jforged\\nline.png"  # as keys.printable shows it
    assert f"{key}.txt" in _keys(app)  # the outputs keep the key as it is


def test_the_function_refuses_to_start_when_its_outputs_would_trigger_it(monkeypatch):
    monkeypatch.setenv("OUTPUT_BUCKET", "docs")
    monkeypatch.setenv("INPUT_BUCKET", "docs")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(ROOT / "handlers" / "ocr"))
    with pytest.raises(ConfigurationError, match="trigger it again"):
        importlib.reload(sys.modules["app"]) if "app" in sys.modules else importlib.import_module("app")
    sys.modules.pop("app", None)  # a half-initialised module must not be reused


@pytest.fixture
def jobs(app, monkeypatch):
    """The function with a jobs table (``s3ocr.jobs``)."""
    from s3ocr.devstack.stack import JOBS_TABLE, create_jobs_table
    from s3ocr.jobs import JobLedger

    client = boto3.client("dynamodb")
    create_jobs_table(client)  # the template's table, as the local stack makes it
    monkeypatch.setattr(app, "LEDGER", JobLedger(client, JOBS_TABLE))
    return app


def _sequenced(key: str, sequencer: str, etag: str = "e") -> dict:
    event = _notification(key)
    event["Records"][0]["s3"]["object"] |= {"eTag": etag, "sequencer": sequencer}
    return event


def test_a_duplicate_event_does_no_ocr(jobs, monkeypatch, capsys):
    engine = FakeEngine()
    monkeypatch.setattr(jobs, "ENGINE", engine)
    event = _sqs_event(1, _sequenced("docs/a+b.png", "0055AED6DCD90281E5"))
    assert jobs.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert len(engine.seen) == 1
    capsys.readouterr()
    assert jobs.handler(event, FakeContext()) == {"batchItemFailures": []}  # S3 delivered it twice
    assert len(engine.seen) == 1
    assert any(e.get("DuplicateEvents") in ([1.0], 1.0) for e in _metrics(capsys))


def test_a_stale_event_changes_nothing(jobs, monkeypatch, capsys):
    engine = FakeEngine()
    monkeypatch.setattr(jobs, "ENGINE", engine)
    newer = _sqs_event(1, _sequenced("docs/a+b.png", "0055AED6DCD90281F0"))
    older = _sqs_event(1, _sequenced("docs/a+b.png", "0055AED6DCD90281E5", etag="older-etag"))
    jobs.handler(newer, FakeContext())
    written = jobs.S3.get_object(Bucket="out-bucket", Key="docs/a b.png.json")["LastModified"]
    capsys.readouterr()
    assert jobs.handler(older, FakeContext()) == {"batchItemFailures": []}
    assert len(engine.seen) == 1  # the late event read nothing
    assert jobs.S3.get_object(Bucket="out-bucket", Key="docs/a b.png.json")["LastModified"] == written
    assert any(e.get("StaleEvents") in ([1.0], 1.0) for e in _metrics(capsys))


def test_a_transient_failure_leaves_the_job_to_the_next_delivery(jobs, monkeypatch):
    monkeypatch.setattr(jobs, "ENGINE", FakeEngine(failures={1: EngineUnavailableError("throttled")}))
    event = _sqs_event(1, _sequenced("docs/a+b.png", "0055AED6DCD90281E5"))
    assert jobs.handler(event, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    engine = FakeEngine()
    monkeypatch.setattr(jobs, "ENGINE", engine)
    assert jobs.handler(_sqs_event(2, _sequenced("docs/a+b.png", "0055AED6DCD90281E5")),
                        FakeContext()) == {"batchItemFailures": []}
    assert len(engine.seen) == 1 and "docs/a b.png.txt" in _keys(jobs)


def _without_timings(document: dict) -> dict:
    return {**{k: v for k, v in document.items() if k not in ("timings", "source")},
            "pages": [{k: v for k, v in page.items() if k != "timings"} for page in document["pages"]]}


def test_a_long_document_is_read_in_ranges_and_assembled_as_one_invocation_writes_it(jobs, monkeypatch, tmp_path):
    from s3ocr.bench.samples import text_pdf

    # GIVEN a 5-page PDF, read once by one invocation
    body = text_pdf(tmp_path / "long.pdf", [[f"Page {n} of the long document"] for n in range(1, 6)]).read_bytes()
    for key in ("docs/one.pdf", "docs/long.pdf"):
        jobs.S3.put_object(Bucket="in-bucket", Key=key, Body=body)
    jobs.handler(_sqs_event(1, _notification("docs/one.pdf")), FakeContext())
    # WHEN the function may hand documents of more than 2 pages on to page-range tasks
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="tasks")["QueueUrl"]
    monkeypatch.setattr(jobs, "SETTINGS", replace(jobs.SETTINGS, tasks_queue_url=url, range_pages=2))
    first = jobs.handler(_sqs_event(1, _notification("docs/long.pdf")), FakeContext())
    delivered = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []):
        assert jobs.handler(_raw_sqs_event(messages[0]["Body"]), FakeContext()) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        delivered += 1
    # THEN three tasks read it, and the outputs are those of the single invocation; the work prefix is gone
    assert first == {"batchItemFailures": []} and delivered == 3
    read = {key: jobs.S3.get_object(Bucket="out-bucket", Key=key)["Body"].read() for key in _keys(jobs)}
    assert read["docs/long.pdf.txt"] == read["docs/one.pdf.txt"]
    assert _without_timings(json.loads(read["docs/long.pdf.json"])) == _without_timings(
        json.loads(read["docs/one.pdf.json"]))
    assert not [key for key in _keys(jobs) if key.startswith("work/")]


@dataclass
class ShortContext(FakeContext):
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class WaitsForTheErrorRecord(FakeEngine):
    """Reads its page only once the document's .error.json is in the output bucket (or after ``patience`` s)."""

    def __init__(self, s3, patience: float = 10.0) -> None:
        super().__init__()
        self.s3, self.patience, self.saw_record = s3, patience, False

    def recognize(self, page, languages, timeout):
        import time

        for _ in range(int(self.patience * 10)):
            keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="out-bucket").get("Contents", [])]
            if "docs/a b.png.error.json" in keys:
                self.saw_record = True
                break
            time.sleep(0.1)
        return super().recognize(page, languages, timeout)


def test_on_the_last_delivery_the_error_record_comes_before_the_time_runs_out_and_a_late_reading_replaces_it(
        app, monkeypatch):
    # GIVEN the last delivery, 1 s more than the last words need, and a page that takes longer than that
    engine = WaitsForTheErrorRecord(app.S3)
    monkeypatch.setattr(app, "ENGINE", engine)
    context = ShortContext(remaining_ms=int((app.LAST_WORDS_SECONDS + 1) * 1000))
    # WHEN the document is read
    assert app.handler(_sqs_event(3, _notification("docs/a+b.png")), context) == {"batchItemFailures": []}
    # THEN the error record was there while the page was still being read, and the reading replaced it
    assert engine.saw_record
    assert _keys(app) == ["docs/a b.png.json", "docs/a b.png.txt"]


def test_before_the_last_delivery_there_are_no_last_words(app, monkeypatch):
    engine = WaitsForTheErrorRecord(app.S3, patience=2.0)
    monkeypatch.setattr(app, "ENGINE", engine)
    monkeypatch.setattr(app, "LAST_WORDS_SECONDS", 899.5)
    assert app.handler(_sqs_event(1, _notification("docs/a+b.png")), FakeContext()) == {"batchItemFailures": []}
    assert not engine.saw_record


def test_every_invocation_counts_the_cpu_seconds_since_the_one_before_a_failed_one_too(app, monkeypatch, capsys):
    # GIVEN the function's processes at 12.0 CPU-seconds after its first invocation, which counted 10.0 (its init
    # and its reading), and at 12.75 after the second
    readings = iter([12.0, 12.75])
    monkeypatch.setattr(app, "tree_cpu_seconds", lambda: next(readings))
    monkeypatch.setattr(app, "CPU_COUNTED", 10.0)
    # WHEN an invocation is answered, and the next one fails
    assert app.handler({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "in-bucket"}, FakeContext())
    with pytest.raises(MalformedMessageError):
        app.handler({"Records": "not a list"}, FakeContext())
    # THEN each counts what was used since the one before: the failed one as well
    assert [e["CpuSeconds"] for e in _metrics(capsys) if "CpuSeconds" in e] in ([2.0, 0.75], [[2.0], [0.75]])
    assert app.CPU_COUNTED == 12.75


def test_a_new_instance_counts_its_init_with_its_first_invocation(app):
    # The count starts at the process's start: the first invocation's CpuSeconds hold Lambda's init, as its bill does
    assert app.CPU_COUNTED == 0.0


@pytest.mark.parametrize("event", [{"Records": "not a list"}, {"Records": ["a string"]}, [1, 2], "a string"])
def test_a_direct_event_of_any_other_shape_is_a_malformed_message(app, event, capsys):
    # A direct invocation's event is any JSON: one that is no S3 notification fails as malformed, and is counted
    with pytest.raises(MalformedMessageError):
        app.handler(event, FakeContext())
    assert any(e.get("MalformedMessages") in ([1.0], 1.0) for e in _metrics(capsys))
