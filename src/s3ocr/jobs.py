"""Document jobs in DynamoDB: a duplicate delivery does no OCR, and a late event never overwrites a newer result.

S3 and SQS deliver at least once, and not in order. A job is one object version read with the settings that shape
its output: its id is a digest of bucket, key, version (the ETag where versioning is off) and those settings
(``output_fingerprint``). Two kinds of item share one table, keyed by ``pk``:

- ``job#<id>``: ``status`` ``running`` (with the owner's ``lease_until``), ``retry`` (a transient failure: the next
  delivery may claim it) or ``done`` (with the outcome). ``begin`` claims it with a conditional put: an event for a
  job done or running under a live lease does nothing, and of concurrent duplicates exactly one runs. A run killed
  without a word leaves a lease that expires; its message, redelivered after the visibility timeout (longer than
  any lease), claims the job again.
- ``key#<bucket>/<key>``: the greatest S3 ``sequencer`` seen for that key. An event whose sequencer is smaller is
  stale and does nothing; a run whose key has seen a newer event since it began writes nothing
  (``LatestOnlySink``): the newer event's run writes instead.

Items carry ``expires_at`` for the table's TTL. Without a table (``JOBS_TABLE`` empty) nothing here runs.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3ocr.errors import S3OcrError, TransientError, aws_error_code
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult
from s3ocr.settings import Settings
from s3ocr.sinks import Sink

SEQUENCER_WIDTH = 64  # S3 sequencers are hex strings of varying length: right-padded with zeros, then compared
KEEP_SECONDS = 30 * 24 * 3600  # how long a finished job answers for its duplicates


class JobStoreUnavailableError(TransientError):
    """The jobs table could not be read or written (throttled, unreachable): the message is retried."""

    reason = "jobs_unavailable"


class SupersededError(S3OcrError):
    """A newer event for the same key arrived while this one was read: its run writes the outputs, this one none."""

    reason = "superseded"


class Start(enum.Enum):
    RUN = "run"  # claimed: read the document
    DONE = "duplicate_done"  # the job is done already
    IN_PROGRESS = "duplicate_in_progress"  # another run holds a live lease on it
    STALE = "stale"  # a newer event for the key has been seen


@dataclass(frozen=True)
class RangeTally:
    done: int
    total: int
    status: str
    facts: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total and self.status == "fanned_out"


@dataclass(frozen=True)
class Job:
    id: str
    ref: DocumentRef

    @property
    def sequencer(self) -> str:
        return normalise_sequencer(self.ref.sequencer)


def normalise_sequencer(sequencer: str | None) -> str:
    """A sequencer comparable as a string: upper-case hex, right-padded with zeros (as S3 documents the
    comparison of sequencers of different lengths); empty when the event had none."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0") if sequencer else ""


def output_fingerprint(settings: Settings) -> str:
    """The settings that change what a document's outputs say."""
    shaping = {"languages": settings.languages, "engine": settings.engine, "fallbacks": settings.fallback_engines,
               "routes": settings.engine_routes, "dpi": settings.dpi, "max_pages": settings.max_pages,
               "max_page_pixels": settings.max_page_pixels, "preprocess": settings.preprocess,
               "force_ocr": settings.force_ocr, "output_prefix": settings.output_prefix}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=list).encode()).hexdigest()[:16]


def job_for(ref: DocumentRef, settings: Settings) -> Job:
    identity = [ref.bucket, ref.key, ref.version_id or "", (ref.etag or "").strip('"'), output_fingerprint(settings)]
    return Job(hashlib.sha256("\0".join(identity).encode()).hexdigest()[:32], ref)


class JobLedger:
    """The jobs table, through a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table
        self.clock = clock

    def begin(self, job: Job, owner: str, lease_seconds: float) -> Start:
        """Claim ``job`` for ``owner`` until ``lease_seconds`` from now, unless the event is stale or a duplicate."""
        if job.sequencer and not self._note_sequencer(job):
            return Start.STALE
        now = self.clock()
        item = {"pk": _s(f"job#{job.id}"), "status": _s("running"), "owner": _s(owner),
                "lease_until": _n(now + lease_seconds), "bucket": _s(job.ref.bucket), "key": _s(job.ref.key),
                "version": _s(job.ref.version_id or ""), "etag": _s(job.ref.etag or ""),
                "sequencer": _s(job.sequencer), "updated": _n(now), "expires_at": _n(now + KEEP_SECONDS)}
        try:
            self._call("put_item", TableName=self.table, Item=item,
                       ConditionExpression="attribute_not_exists(pk) OR #s = :retry OR (#s = :running AND "
                                           "lease_until < :now)",
                       ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":retry": _s("retry"), ":running": _s("running"), ":now": _n(now)})
        except _ConditionFailed:
            held = self._get(f"job#{job.id}")
            return Start.DONE if held.get("status", {}).get("S") == "done" else Start.IN_PROGRESS
        return Start.RUN

    def superseded(self, job: Job) -> bool:
        """Whether an event newer than ``job``'s has been seen for its key since it began."""
        if not job.sequencer:
            return False
        latest = self._get(_key_pk(job.ref)).get("sequencer", {}).get("S", "")
        return latest > job.sequencer

    def finish(self, job: Job, owner: str, status: str, reason: str = "") -> None:
        """The job is done (``status`` ok / partial / failed / superseded): its duplicates do nothing."""
        self._settle(job, owner, "done", {"outcome": _s(status), "reason": _s(reason)})

    def abandon(self, job_id: str, reason: str) -> None:
        """The job failed for good wherever it was (a range task's last delivery): done, whoever holds it."""
        self._call("update_item", TableName=self.table, Key={"pk": _s(f"job#{job_id}")},
                   UpdateExpression="SET #s = :done, outcome = :failed, reason = :reason, updated = :now",
                   ExpressionAttributeNames={"#s": "status"},
                   ExpressionAttributeValues={":done": _s("done"), ":failed": _s("failed"), ":reason": _s(reason),
                                              ":now": _n(self.clock())})

    def release(self, job: Job, owner: str, reason: str) -> None:
        """A transient failure: the next delivery may claim the job at once."""
        self._settle(job, owner, "retry", {"reason": _s(reason)})

    def fan_out(self, job: Job, owner: str, ranges: int, facts: dict[str, Any]) -> None:
        """``job`` is read in ``ranges`` page-range tasks (``s3ocr.fanout``): it stays claimed (its duplicates do
        nothing) until the range that completes it assembles it. ``facts``: what the assembly needs to know."""
        self._call("update_item", TableName=self.table, Key={"pk": _s(f"job#{job.id}")},
                   UpdateExpression="SET #s = :status, ranges_total = :ranges, facts = :facts, updated = :now",
                   ConditionExpression="#o = :owner", ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                   ExpressionAttributeValues={":status": _s("fanned_out"), ":ranges": _n(ranges),
                                              ":facts": _s(json.dumps(facts)), ":owner": _s(owner),
                                              ":now": _n(self.clock())})

    def range_done(self, job_id: str, range_id: int) -> RangeTally:
        """Count range ``range_id`` done, once however often it is reported; the job's tally after it."""
        try:
            item = self._call("update_item", TableName=self.table, Key={"pk": _s(f"job#{job_id}")},
                              UpdateExpression="ADD done_ranges :range",
                              ConditionExpression="attribute_exists(pk) AND NOT contains(done_ranges, :id)",
                              ExpressionAttributeValues={":range": {"NS": [str(range_id)]},
                                                         ":id": {"N": str(range_id)}},
                              ReturnValues="ALL_NEW")["Attributes"]
        except _ConditionFailed:
            item = self._get(f"job#{job_id}")
        return RangeTally(done=len(item.get("done_ranges", {}).get("NS", [])),
                          total=int(float(item.get("ranges_total", {}).get("N", "0"))),
                          status=item.get("status", {}).get("S", ""),
                          facts=json.loads(item.get("facts", {}).get("S", "{}")))

    def claim_assembly(self, job_id: str, owner: str, lease_seconds: float) -> bool:
        """Whether ``owner`` is the one to assemble the job: the first to ask, or the next after a lease ran out."""
        now = self.clock()
        try:
            self._call("update_item", TableName=self.table, Key={"pk": _s(f"job#{job_id}")},
                       UpdateExpression="SET #o = :owner, assembly_until = :until",
                       ConditionExpression="#s = :fanned AND (attribute_not_exists(assembly_until) OR "
                                           "assembly_until < :now)",
                       ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                       ExpressionAttributeValues={":owner": _s(owner), ":until": _n(now + lease_seconds),
                                                  ":fanned": _s("fanned_out"), ":now": _n(now)})
        except _ConditionFailed:
            return False
        return True

    def _settle(self, job: Job, owner: str, status: str, extra: dict[str, Any]) -> None:
        values = {":status": _s(status), ":owner": _s(owner), ":now": _n(self.clock()), **{f":{k}": v for k, v in
                                                                                           extra.items()}}
        sets = ", ".join(["#s = :status", "updated = :now", *(f"{k} = :{k}" for k in extra)])
        with contextlib.suppress(_ConditionFailed):  # the lease passed to another run, which settles the job
            self._call("update_item", TableName=self.table, Key={"pk": _s(f"job#{job.id}")},
                       UpdateExpression=f"SET {sets}", ConditionExpression="#o = :owner",
                       ExpressionAttributeNames={"#s": "status", "#o": "owner"}, ExpressionAttributeValues=values)

    def _note_sequencer(self, job: Job) -> bool:
        """Record ``job``'s sequencer as its key's latest; False when a newer one is recorded already."""
        try:
            self._call("update_item", TableName=self.table, Key={"pk": _s(_key_pk(job.ref))},
                       UpdateExpression="SET sequencer = :seq, version = :version, job = :job, expires_at = :expires",
                       ConditionExpression="attribute_not_exists(sequencer) OR sequencer <= :seq",
                       ExpressionAttributeValues={":seq": _s(job.sequencer), ":version": _s(job.ref.version_id or ""),
                                                  ":job": _s(job.id), ":expires": _n(self.clock() + KEEP_SECONDS)})
        except _ConditionFailed:
            return False
        return True

    def _get(self, pk: str) -> dict[str, Any]:
        return dict(self._call("get_item", TableName=self.table, Key={"pk": _s(pk)}, ConsistentRead=True)
                    .get("Item") or {})

    def _call(self, operation: str, **kwargs: Any) -> Any:
        import botocore.exceptions

        try:
            return getattr(self.client, operation)(**kwargs)
        except botocore.exceptions.ClientError as e:
            if aws_error_code(e) == "ConditionalCheckFailedException":
                raise _ConditionFailed from e
            raise JobStoreUnavailableError(f"jobs table {operation}: {aws_error_code(e) or 'AWS error'}") from e
        except botocore.exceptions.BotoCoreError as e:
            raise JobStoreUnavailableError(f"jobs table {operation}: {type(e).__name__}") from e


class LatestOnlySink:
    """A sink that writes only while ``job`` is its key's latest event (``JobLedger.superseded``)."""

    def __init__(self, sink: Sink, ledger: JobLedger, job: Job) -> None:
        self.sink, self.ledger, self.job = sink, ledger, job

    def _check(self) -> None:
        if self.ledger.superseded(self.job):
            raise SupersededError(f"a newer event for {self.job.ref.uri} arrived while this one was read")

    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        self._check()
        return self.sink.write_result(result, formats, source)

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        self._check()
        return self.sink.write_failure(failure)


class _ConditionFailed(Exception):
    pass


def _key_pk(ref: DocumentRef) -> str:
    return f"key#{ref.bucket}/{ref.key}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}"}
