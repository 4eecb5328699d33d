"""Several Lambda runtimes on one local stack, as AWS runs concurrent instances of the function: each worker polls
the event queue and the page-range tasks queue, as Lambda's two event source mappings do (``s3ocr.fanout``).

A worker whose runtime is killed (``Fleet.kill``) stops polling; the message it held comes back to the others after
the visibility timeout, as in AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from s3ocr.devstack.event_source import SqsEventSource, queue_depth
from s3ocr.devstack.servers import LambdaFunction, MotoServer
from s3ocr.devstack.stack import (
    EVENT_BUS,
    INPUT_BUCKET,
    JOBS_TABLE,
    OUTPUT_BUCKET,
    create_completion_events,
    create_jobs_table,
    create_resources,
    receive_events,
)
from s3ocr.proctree import descendants

TASKS_QUEUE = "s3ocr-page-ranges"
TASKS_DEAD_LETTER_QUEUE = "s3ocr-page-ranges-dlq"


def create_tasks_queue(sqs: Any, visibility_timeout: int, max_receive_count: int) -> tuple[str, str]:
    """The template's TasksQueue and its dead-letter queue; returns their URLs."""
    dead = sqs.create_queue(QueueName=TASKS_DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=TASKS_QUEUE, Attributes={
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count}),
    })["QueueUrl"]
    return url, dead


@dataclass
class Worker:
    """One function instance and its pollers, in a thread."""

    function: LambdaFunction
    sources: list[SqsEventSource] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    invoking: threading.Event = field(default_factory=threading.Event)  # set while an invocation runs
    invocations: int = 0
    error: str = ""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invoking.set()
        try:
            return self.function.invoke(event)
        finally:
            self.invoking.clear()

    def run(self) -> None:
        while not self.stop.is_set():
            idle = True
            for source in self.sources:
                try:
                    report = source.poll_once(wait_seconds=0)
                except Exception as e:  # the runtime is gone (killed): this instance is no more
                    self.error = f"{type(e).__name__}: {e}"
                    return
                if report.received:
                    idle = False
                    self.invocations += 1
            if idle:
                self.stop.wait(0.2)


@dataclass
class Fleet:
    server: MotoServer
    s3: Any
    sqs: Any
    queue_url: str
    tasks_url: str
    tasks_dead_letter_url: str
    workers: list[Worker]
    threads: list[threading.Thread]
    completion_queue_url: str = ""
    input_bucket: str = INPUT_BUCKET
    output_bucket: str = OUTPUT_BUCKET

    def output_keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.output_bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read_output(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.output_bucket, Key=key)["Body"].read())

    def completion_events(self, wait: float = 1.0) -> list[dict[str, Any]]:
        return receive_events(self.sqs, self.completion_queue_url, wait)

    def busy(self) -> bool:
        return bool(queue_depth(self.sqs, self.queue_url) or queue_depth(self.sqs, self.tasks_url))

    def kill(self, index: int) -> None:
        """SIGKILL worker ``index``'s runtime and emulator, mid-invocation or not."""
        process = self.workers[index].function.process
        with contextlib.suppress(ProcessLookupError):
            for child in descendants(process.pid):
                os.kill(child, signal.SIGKILL)
            os.kill(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def fleet(size: int, function_env: dict[str, str] | None = None, timeouts: list[int] | None = None,
          visibility_timeout: int = 20, max_receive_count: int = 3,
          log: IO[bytes] | int | None = None) -> Iterator[Fleet]:
    """A moto server with the template's queues, table and buckets, and ``size`` function instances polling."""
    with MotoServer() as server:
        s3, sqs = server.client("s3"), server.client("sqs")
        queue_url, dead_letter_url = create_resources(s3, sqs, visibility_timeout, max_receive_count)
        create_jobs_table(server.client("dynamodb"))
        tasks_url, tasks_dead = create_tasks_queue(sqs, visibility_timeout, max_receive_count)
        completion_queue_url = create_completion_events(server.client("events"), sqs)
        env = {"AWS_ENDPOINT_URL": server.endpoint, "OUTPUT_BUCKET": OUTPUT_BUCKET, "INPUT_BUCKET": INPUT_BUCKET,
               "POWERTOOLS_SERVICE_NAME": "s3ocr", "POWERTOOLS_METRICS_NAMESPACE": "S3Ocr",
               "POWERTOOLS_TRACE_DISABLED": "true", "MAX_RECEIVE_COUNT": str(max_receive_count),
               "DEAD_LETTER_QUEUE_URL": dead_letter_url, "JOBS_TABLE": JOBS_TABLE, "TASKS_QUEUE_URL": tasks_url,
               "EVENT_BUS_NAME": EVENT_BUS, **(function_env or {})}
        with contextlib.ExitStack() as stack:
            workers = []
            for index in range(size):
                timeout = (timeouts or [])[index] if index < len(timeouts or []) else 900
                worker = Worker(stack.enter_context(LambdaFunction(env, log=log, timeout_seconds=timeout)))
                worker.sources = [SqsEventSource(sqs, url, worker.invoke, batch_size=1)
                                  for url in (queue_url, tasks_url)]
                workers.append(worker)
            threads = [threading.Thread(target=worker.run, name=f"worker-{i}", daemon=True)
                       for i, worker in enumerate(workers)]
            for thread in threads:
                thread.start()
            try:
                yield Fleet(server, s3, sqs, queue_url, tasks_url, tasks_dead, workers, threads, completion_queue_url)
            finally:
                for worker in workers:
                    worker.stop.set()
                for thread in threads:
                    thread.join(timeout=60)
