"""Lambda entry point: S3 notifications (through SQS, direct, or EventBridge) -> s3ocr pipeline.

Thin by design: everything that is not about Lambda lives in the ``s3ocr`` package. Module-level
singletons are built once per cold start.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3ocr.engines import Engine
from s3ocr.errors import (
    ConfigurationError,
    MalformedMessageError,
    PermanentError,
    S3OcrError,
    TimeBudgetExceededError,
    TransientError,
)
from s3ocr.events import AnnouncingSink, EventPublisher
from s3ocr.fanout import PageStore, Planner, RangeTask, describe, run_task
from s3ocr.jobs import JobLedger, LatestOnlySink, Start, SupersededError, job_for
from s3ocr.keys import printable
from s3ocr.models import DocumentFailure, DocumentHandedOn, DocumentRef, PageResult, Quality, quality_of
from s3ocr.notifications import dead_letter, refs_from_payload
from s3ocr.pipeline import process_s3_object
from s3ocr.proctree import tree_cpu_seconds
from s3ocr.routing import EngineChooser, engine_name_for
from s3ocr.settings import Settings, check_no_recursion
from s3ocr.sinks import LastWordsSink, Sink
from s3ocr.sinks.formats import suffixes_of
from s3ocr.sinks.s3 import S3Sink
from s3ocr.sources import s3_client

logger = Logger()
metrics = Metrics()
tracer = Tracer()

SETTINGS = Settings.from_env()


def _refuse_a_loop(settings: Settings) -> None:
    """Refuse to start when the outputs could trigger the function again (``settings.recursion_risk``)."""
    try:
        check_no_recursion(settings, suffixes_of(settings.output_formats))
    except ConfigurationError as e:
        logger.error("refusing to start: the outputs could trigger the function",
                     extra={"reason": e.reason, "error": str(e)})
        raise


_refuse_a_loop(SETTINGS)
CHOOSER = EngineChooser(SETTINGS)
ENGINE = CHOOSER.default  # with the configured fallbacks, e.g. "baidu>tesseract"
S3 = s3_client()
SINK = S3Sink(S3, SETTINGS.output_bucket, SETTINGS.output_prefix, SETTINGS.output_formats)
# Every outcome is written through OUTPUTS: with a bus configured, each one is announced on it (``s3ocr.events``).
OUTPUTS: AnnouncingSink | S3Sink = (
    AnnouncingSink(SINK, EventPublisher(boto3.client("events"), SETTINGS.event_bus), SETTINGS.output_bucket)
    if SETTINGS.event_bus else SINK)
LEDGER = JobLedger(boto3.client("dynamodb"), SETTINGS.jobs_table) if SETTINGS.jobs_table else None
STORE = PageStore(S3, SETTINGS.output_bucket, SETTINGS.work_prefix)
DEADLINE = time.monotonic() + 900.0  # when this invocation ends: set from the context by each invocation
LAST_WORDS_SECONDS = 20.0  # on a last delivery, the error record is written this long before the time runs out
# A batch whose every record failed still answers with batchItemFailures instead of a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
metrics.set_default_dimensions(engine=ENGINE.name)
CPU_COUNTED = 0.0  # the CPU-seconds of the function's processes that the invocations before counted (_cpu_counted)


class PowertoolsObserver:
    """Pipeline hooks: one X-Ray subsegment per stage, a latency metric per page."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        with tracer.provider.in_subsegment(f"## {name}"):
            yield

    def document_opened(self, ref: DocumentRef, pages: int) -> None:
        return None

    def page_done(self, page: PageResult) -> None:
        metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=1)
        if page.status == "ok" and "total" in page.timings:
            metrics.add_metric(name="SecondsPerPage", unit=MetricUnit.Seconds, value=page.timings["total"])
        if page.status == "no_text_found":
            # Ink on the page and no text in any reading: never passed off as an ok page (the document is
            # "partial"), and counted, so that a rising share of silent pages shows.
            metrics.add_metric(name="PagesNoTextFound", unit=MetricUnit.Count, value=1)
        if page.status not in ("ok", "empty"):
            logger.warning("page not read", extra={"page": page.number, "status": page.status, "error": page.error})


OBSERVER = PowertoolsObserver()


def _count_failure(reason: str) -> None:
    # A reason code is a small fixed set, so it may be a dimension; object keys never are.
    with single_metric(name="DocumentFailures", unit=MetricUnit.Count, value=1,
                       default_dimensions=metrics.default_dimensions) as metric:
        metric.add_dimension(name="reason", value=reason)


def _record_exhausted(ref: DocumentRef, error: TransientError) -> None:
    """On the last delivery, leave an error record so the output bucket never lacks an answer."""
    failure = DocumentFailure(source=ref, reason=error.reason, error_type=type(error).__name__,
                              message=f"{error} (retries exhausted; the message goes to the dead-letter queue)")
    try:
        OUTPUTS.write_failure(failure)
    except S3OcrError:
        logger.exception("could not write the error record either")


def _count_quality(quality: Quality) -> None:
    """How a document read, for the dashboard and the quality alarm: its mean word confidence and share of unsure
    words, and whether it reads poorly as a whole (``Quality.poor``), so that a rising share of silent or unsure
    documents shows before anyone opens one. The alarm's two counts carry the service alone (not the engine, whose
    name the template cannot know with its fallbacks)."""
    if quality.mean_confidence is not None:
        metrics.add_metric(name="MeanConfidence", unit=MetricUnit.Percent,
                           value=round(100 * quality.mean_confidence, 1))
        metrics.add_metric(name="LowConfidenceWords", unit=MetricUnit.Percent,
                           value=round(100 * (quality.low_confidence_words or 0.0), 1))
    for name, value in (("DocumentsRead", 1), ("PoorDocuments", int(quality.poor))):
        with single_metric(name=name, unit=MetricUnit.Count, value=value):
            pass


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _not_own_outputs(refs: list[DocumentRef]) -> list[DocumentRef]:
    """The refs to read: an object the function wrote itself is never read (a loop the cold-start check could not
    see, when the function is wired to a trigger it was not told of)."""
    documents = []
    for ref in refs:
        if SINK.is_output(ref.bucket, ref.key):
            _count("RecursionPrevented")
            logger.warning("event for one of the function's own outputs ignored",
                           extra={"bucket": ref.bucket, "key": printable(ref.key)})
        else:
            documents.append(ref)
    return documents


def _payload_of(body: str) -> Any:
    """A queue message's JSON; ``MalformedMessageError`` when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError as e:
        raise MalformedMessageError(f"the message body is not JSON ({e})") from e


def _set_aside(record: SQSRecord, error: MalformedMessageError) -> dict[str, Any]:
    """A malformed message, retried, stays malformed: counted, logged with its reason, and sent to the dead-letter
    queue at once with the reason in its attributes. Without a dead-letter queue URL (or when the send fails) the
    record is failed, and the queue's redrive takes it there after ``maxReceiveCount`` deliveries."""
    _count("MalformedMessages")
    logger.error("malformed message", extra={"reason": error.reason, "error": str(error),
                                             "message_id": record.message_id,
                                             "body": printable(record.body[:300])})
    if not SETTINGS.dead_letter_queue_url:
        raise error
    try:
        dead_letter(_sqs(), SETTINGS.dead_letter_queue_url, record.body, error, record.message_id)
    except Exception as e:  # the redrive keeps it instead
        logger.warning("could not send the malformed message to the dead-letter queue",
                       extra={"error": f"{type(e).__name__}: {e}"})
        raise error from e
    return {"message_id": record.message_id, "status": "dead_lettered", "reason": error.reason}


@functools.cache
def _sqs() -> Any:
    return boto3.client("sqs")


def choose_engine(ref: DocumentRef, metadata: Mapping[str, str]) -> Engine:
    """The configured engine, unless the object's metadata or key prefix names another."""
    name = engine_name_for(ref, metadata, SETTINGS)
    return ENGINE if name == SETTINGS.engine else CHOOSER.engine(name)


def ocr_object(ref: DocumentRef, final_attempt: bool = False) -> dict[str, Any]:
    """OCR one object and write its outcome; transient errors propagate so the event is retried.

    With a jobs table, a duplicate of a job done or running, or an event older than one already seen for its key,
    does nothing (``s3ocr.jobs``)."""
    logger.set_correlation_id(printable(f"{ref.bucket}/{ref.key}"))
    logger.info("document received", extra={"bucket": ref.bucket, "key": printable(ref.key),
                                            "version_id": ref.version_id, "sequencer": ref.sequencer})
    if LEDGER is None:
        return _read_document(ref, OUTPUTS, final_attempt)
    job, owner = job_for(ref, SETTINGS), uuid.uuid4().hex
    start = LEDGER.begin(job, owner, _lease_seconds())
    if start is not Start.RUN:
        _count("StaleEvents" if start is Start.STALE else "DuplicateEvents")
        logger.info("document skipped", extra={"why": start.value, "job": job.id})
        return {"key": printable(ref.key), "status": start.value}
    planner = Planner(SETTINGS, LEDGER, _sqs(), job, owner) if SETTINGS.tasks_queue_url else None
    try:
        answer = _read_document(ref, LatestOnlySink(OUTPUTS, LEDGER, job), final_attempt, planner)
    except SupersededError as e:
        LEDGER.finish(job, owner, "superseded")
        _count("StaleEvents")
        logger.info("document superseded: its outputs are left to the newer event", extra={"error": str(e)})
        return {"key": printable(ref.key), "status": "superseded"}
    except TransientError as e:
        LEDGER.release(job, owner, e.reason)
        raise
    if answer["status"] != "fanned_out":  # a fanned-out job is finished by the task that assembles it
        LEDGER.finish(job, owner, answer["status"], answer.get("reason", ""))
    return answer


def range_task(task: RangeTask, final_attempt: bool) -> dict[str, Any]:
    """One page-range task of a fanned-out document (``s3ocr.fanout``)."""
    logger.set_correlation_id(printable(f"{task.source.bucket}/{task.source.key}"))
    if LEDGER is None:
        raise ConfigurationError("a page-range task arrived, and JOBS_TABLE is not set")
    try:
        answer = run_task(task, SETTINGS, S3, _sqs(), STORE, LEDGER, OUTPUTS, choose_engine, _time_left,
                          uuid.uuid4().hex)
    except PermanentError as e:  # the document cannot be read further: its record says why
        _end_job(task, e)
        return {"task": describe(task), "status": "failed", "reason": e.reason}
    except TransientError as e:
        logger.warning("page-range task failed, will be retried", extra={"reason": e.reason, "error": str(e),
                                                                         "final_attempt": final_attempt})
        if final_attempt:
            _end_job(task, e)
        raise
    _count({"handed_on": "PageRangesHandedOn", "assembled": "DocumentsAssembled"}.get(answer["status"],
                                                                                     "PageRangesDone"))
    metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=answer["read"])
    if answer["status"] == "assembled":
        metrics.add_metric(name="Documents", unit=MetricUnit.Count, value=1)
        _count_quality(Quality(**{**answer["quality"], "engines": tuple(answer["quality"]["engines"])}))
    logger.info("page-range task done", extra=answer)
    return answer


def _end_job(task: RangeTask, error: S3OcrError) -> None:
    """A fanned-out document that cannot be finished: one error record, the job done, its pages removed."""
    assert LEDGER is not None
    _count_failure(error.reason)
    logger.warning("document failed in a page-range task", extra={"reason": error.reason, "error": str(error)})
    OUTPUTS.write_failure(DocumentFailure(source=task.source, reason=error.reason, error_type=type(error).__name__,
                                       message=f"{error} (page-range task: {describe(task)})"))
    LEDGER.abandon(task.job_id, error.reason)
    STORE.remove(task.job_id)


def _time_left() -> float:
    return DEADLINE - time.monotonic()


def _lease_seconds() -> float:
    """How long a claimed job is this run's: what is left of the invocation, and a minute."""
    return max(0.0, _time_left()) + 60


def _read_document(ref: DocumentRef, sink: Sink, final_attempt: bool, planner: Planner | None = None
                   ) -> dict[str, Any]:
    def speak() -> None:  # on the last delivery, shortly before the invocation would be killed for its time
        _count("LastWords")
        _record_exhausted(ref, TimeBudgetExceededError(
            f"the invocation was about to run out of time reading {printable(ref.uri)}"))

    last_words = LastWordsSink(sink, _time_left() - LAST_WORDS_SECONDS, speak) if final_attempt else None
    try:
        with last_words or contextlib.nullcontext():
            outcome = process_s3_object(ref, SETTINGS, ENGINE, S3, last_words or sink, OBSERVER, choose_engine,
                                        planner)
    except TransientError as e:
        _count_failure(e.reason)
        logger.warning("document failed, will be retried", extra={"reason": e.reason, "error": str(e),
                                                                  "final_attempt": final_attempt})
        if final_attempt:
            _record_exhausted(ref, e)
        raise
    if isinstance(outcome, DocumentHandedOn):
        _count("DocumentsFannedOut")
        logger.info("document handed on to page-range tasks", extra={"pages": outcome.pages,
                                                                    "ranges": outcome.ranges})
        return {"key": printable(ref.key), "status": "fanned_out", "pages": outcome.pages, "ranges": outcome.ranges}
    metrics.add_metric(name="Documents", unit=MetricUnit.Count, value=1)
    if isinstance(outcome, DocumentFailure):
        _count_failure(outcome.reason)
        logger.warning("document failed", extra={"reason": outcome.reason, "error": outcome.message})
        return {"key": printable(ref.key), "status": "failed", "reason": outcome.reason}
    quality = quality_of(outcome)
    _count_quality(quality)
    logger.info("document done", extra={"status": outcome.status, "pages": len(outcome.pages),
                                        "seconds": outcome.timings.get("total"),
                                        "mean_confidence": quality.mean_confidence,
                                        "low_confidence_words": quality.low_confidence_words,
                                        "no_text_pages": quality.no_text_pages})
    return {"key": printable(ref.key), "status": outcome.status, "pages": len(outcome.pages)}


def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    """One SQS message: an S3 notification (or S3's test event) in the body."""
    final_attempt = int(record.attributes.approximate_receive_count or 1) >= SETTINGS.max_receive_count
    try:
        try:
            payload = _payload_of(record.body)
            task = RangeTask.from_payload(payload)
            refs = [] if task else refs_from_payload(payload)
        except MalformedMessageError as e:
            return [_set_aside(record, e)]
        if task is not None:
            return [range_task(task, final_attempt)]
        if not refs:
            logger.info("no created object in message (s3:TestEvent, a folder marker or other event)",
                        extra={"message_id": record.message_id})
        return [ocr_object(ref, final_attempt) for ref in _not_own_outputs(refs)]
    except Exception:
        # BatchProcessor records the failure without logging it; say why before the message is retried.
        logger.exception("record failed", extra={"message_id": record.message_id})
        raise


@contextlib.contextmanager
def _cpu_counted() -> Iterator[None]:
    """Count the CPU-seconds the function's processes (this one and Tesseract's workers) used since the invocation
    before counted them: the ``CpuSeconds`` metric. The first invocation of an instance counts its init too (the
    process's start and this module's import), as Lambda bills it. Divided by ``Pages`` it gives the CPU-seconds a
    page on the CPUs Lambda runs on (the dashboard), the figure ``make bench-cost`` measures on this machine."""
    global CPU_COUNTED
    try:
        yield
    finally:
        now = tree_cpu_seconds()
        metrics.add_metric(name="CpuSeconds", unit=MetricUnit.Seconds, value=round(now - CPU_COUNTED, 3))
        CPU_COUNTED = now


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and bool(records) and isinstance(records[0], dict) \
        and records[0].get("eventSource") == "aws:sqs"


@tracer.capture_lambda_handler
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global DEADLINE
    DEADLINE = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    with _cpu_counted():
        if _is_sqs_batch(event):
            return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context)
        try:
            refs = refs_from_payload(event)
        except MalformedMessageError as e:
            _count("MalformedMessages")
            logger.error("malformed event", extra={"reason": e.reason, "error": str(e)})
            raise
        if not refs:
            logger.info("no created object in event (s3:TestEvent, a folder marker or other event)")
        return {"documents": [ocr_object(ref) for ref in _not_own_outputs(refs)]}
