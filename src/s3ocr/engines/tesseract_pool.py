"""Long-lived Tesseract worker processes (``tesseract_worker``), lent to one page at a time.

A page borrows an idle worker (or starts one), sends its request and waits for the reply within the page's
budget. A worker that overruns the budget, dies or garbles the protocol is killed and dropped; the next
page starts a fresh one. Idle workers are kept for the next page and, under Lambda, the next invocation;
there are never more than one per CPU (``WorkerPool.size``). Workers exit on their own when this process goes away
(their stdin closes).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from typing import Any

from s3ocr.engines.tesseract_worker import HEADER
from s3ocr.settings import available_cpus

START_TIMEOUT_S = 30.0


class WorkerFailure(Exception):
    """The worker answered with an error (``kind`` as in ``tesseract_worker``) or could not answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Worker:
    def __init__(self, languages: str | None = None) -> None:
        env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s3ocr.engines.tesseract_worker", *([languages] if languages else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True,
        )
        # Tesseract's own messages ("Estimating resolution...", Leptonica errors): kept for error reports,
        # and drained so a chatty page can never block the worker on a full pipe.
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._drain_stderr, name="tesseract-worker-stderr", daemon=True).start()

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)

    def start(self, timeout: float) -> None:
        """Wait for the worker's greeting: its library's version once the C API is loaded, else why not."""
        hello = self._receive(time.monotonic() + min(timeout, START_TIMEOUT_S))
        if "version" not in hello:
            raise WorkerFailure(hello.get("kind", "failed"), hello.get("error", "the worker did not start"))

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        payload = json.dumps(request).encode()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerFailure("died", f"the Tesseract worker is gone: {e}; {self.last_words()}") from e
        return self._receive(deadline)

    def _receive(self, deadline: float) -> dict[str, Any]:
        header = self._read_exactly(HEADER.size, deadline)
        (size,) = HEADER.unpack(header)
        reply: dict[str, Any] = json.loads(self._read_exactly(size, deadline))
        return reply

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks, missing = [], size
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerFailure("timeout", "the Tesseract worker did not answer within the page budget")
            chunk = os.read(fd, missing)
            if not chunk:
                # Its end of the pipe closes as it dies; the kernel may not have reaped it yet.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=1.0)
                raise WorkerFailure("died", f"the Tesseract worker exited ({self.exit_status()}); {self.last_words()}")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def exit_status(self) -> str:
        code = self.process.poll()
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def last_words(self) -> str:
        return " | ".join(list(self.stderr_tail)[-3:]) or "nothing on stderr"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class WorkerPool:
    """At most ``size`` workers (one per CPU by default): a page that finds them all busy waits for one,
    within its budget. So the bands of a document's last page start as the cores running other pages free
    up, and no more models are loaded than cores can use (more Tesseracts than cores read no faster, even
    with ``OCR_WORKERS`` set higher for a cloud engine)."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or available_cpus()
        self._idle: list[Worker] = []
        self._lent = 0
        self._available = threading.Condition()

    def _borrow(self, timeout: float) -> Worker:
        deadline = time.monotonic() + timeout
        with self._available:
            while not self._idle and self._lent >= self.size:
                left = deadline - time.monotonic()
                if left <= 0 or not self._available.wait(left):
                    raise WorkerFailure("timeout", "no Tesseract worker came free within the page budget")
            self._lent += 1
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop()
        try:
            worker = Worker()
            worker.start(max(0.0, deadline - time.monotonic()))
        except BaseException:
            self._release(None)
            raise
        return worker

    def _release(self, worker: Worker | None) -> None:
        """A lent worker comes back: kept for the next page, or (``None``) its place freed."""
        with self._available:
            self._lent -= 1
            if worker is not None:
                self._idle.append(worker)
            self._available.notify()

    def prewarm(self, languages: str, count: int) -> None:
        """Start workers with ``languages`` loaded, in the background, until ``count`` (at most ``size``) are
        idle or lent. A page that asks meanwhile waits for one of them: loading the models (0.2 s of CPU
        for ``chi_sim+eng``) then overlaps the first pages' rendering instead of following it."""
        with self._available:
            wanted = min(count, self.size) - len(self._idle) - self._lent
            if wanted <= 0:
                return
            self._lent += wanted  # lent to the starting threads, given back as idle workers
        for _ in range(wanted):
            threading.Thread(target=self._start_idle, args=(languages,), name="tesseract-worker-start",
                             daemon=True).start()

    def _start_idle(self, languages: str) -> None:
        worker = None
        try:
            worker = Worker(languages)
            worker.start(START_TIMEOUT_S)
        except Exception:  # whatever stopped it, its place in the pool must come back
            # No worker this way (no C API, no fork): the page that needs one starts it, or falls back,
            # and reports why.
            if worker is not None:
                worker.stop()
            worker = None
        finally:
            self._release(worker)

    def read(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """The worker's reply to ``request``; raises ``WorkerFailure`` (the worker is then dropped, except
        after a reply that reports an error, which leaves it healthy).

        A worker that dies on the page (killed by the OOM killer or a signal, a crash) is replaced and the page asked
        once more within what is left of ``timeout``: a passing cause does not cost the page; a page that kills
        every worker it meets fails on the second."""
        deadline = time.monotonic() + timeout
        try:
            return self._read_once(request, timeout)
        except WorkerFailure as e:
            if e.kind != "died" or deadline - time.monotonic() <= 0:
                raise
        return self._read_once(request, deadline - time.monotonic())

    def _read_once(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        started = time.monotonic()
        worker = self._borrow(timeout)
        left = timeout - (time.monotonic() - started)
        try:
            reply = worker.call({**request, "timeout_ms": max(1, int(left * 1000))}, left)
        except BaseException:
            worker.stop()
            self._release(None)
            raise
        self._release(worker)
        if "error" in reply:
            raise WorkerFailure(str(reply.get("kind", "failed")), str(reply["error"]))
        return reply

    def close(self) -> None:
        with self._available:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop()


POOL = WorkerPool()
atexit.register(POOL.close)
