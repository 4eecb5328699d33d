"""Faults on the local stack: an HTTP proxy between the function and the S3/SQS/Secrets Manager server that
answers chosen requests with errors, resets or delays, and the function's Tesseract workers to stop or kill.

The proxy runs in the test's own process, on loopback; the test adds rules (``FaultProxy.add``) while the
function runs, e.g. "the first 2 GetObject on ``k`` answer 503 SlowDown". Each rule counts its hits, and every
proxied request is logged by operation and key, so a test can say how often an output was written.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import http.client
import json
import os
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any, Literal
from urllib.parse import unquote, urlsplit

from s3ocr.devstack.servers import MotoServer
from s3ocr.devstack.stack import LocalStack, local_stack
from s3ocr.proctree import descendants

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect"}


@dataclass(frozen=True)
class Fault:
    """What a matched request gets: ``error`` (``status``/``code`` in the service's error shape), ``reset``
    (a TCP reset instead of an answer), ``reset_body`` (the server's headers and half its body, then a reset)
    or ``delay`` (``seconds`` before the request goes on to the server)."""

    kind: Literal["error", "reset", "reset_body", "delay"]
    status: int = 503
    code: str = ""
    seconds: float = 0.0


SLOW_DOWN = Fault("error", 503, "SlowDown")  # S3 throttling
SERVICE_UNAVAILABLE = Fault("error", 503, "ServiceUnavailable")
INTERNAL_ERROR = Fault("error", 500, "InternalError")
ACCESS_DENIED = Fault("error", 403, "AccessDenied")
RESET = Fault("reset")
RESET_BODY = Fault("reset_body")


@dataclass
class FaultRule:
    """The first ``times`` requests (all when None) of ``operation`` on a key matching ``key`` (a glob) get
    ``fault``. ``operation`` is the API's name (``GetObject``, ``PutObject``, ``GetSecretValue``...)."""

    operation: str
    fault: Fault
    key: str = "*"
    times: int | None = None
    hits: int = 0

    def matches(self, operation: str, key: str) -> bool:
        return (self.operation in ("*", operation) and fnmatch.fnmatchcase(key, self.key)
                and (self.times is None or self.hits < self.times))


@dataclass(frozen=True)
class Proxied:
    operation: str
    key: str
    fault: str  # the fault's kind, "" when the request went through untouched
    status: int  # what the function got (0 for a reset before any answer)


def operation_of(method: str, target: str, headers: Any) -> tuple[str, str]:
    """The API operation and the S3 key (or "") of a request: JSON protocols (Secrets Manager, SQS) name it in
    ``X-Amz-Target``; S3's REST API by method and path (path-style, as boto3 addresses an IP endpoint)."""
    amz_target = headers.get("X-Amz-Target")
    if amz_target:
        return str(amz_target).rsplit(".", 1)[-1], ""
    parts = urlsplit(target)
    _, _, key = unquote(parts.path).lstrip("/").partition("/")
    if not key:
        return f"{method} bucket", ""
    if method == "PUT":
        return ("UploadPart" if "uploadId=" in parts.query else
                "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"), key
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method), key


def _error_reply(fault: Fault, json_protocol: bool) -> tuple[bytes, dict[str, str]]:
    if json_protocol:
        body = json.dumps({"__type": fault.code, "message": f"injected {fault.code}"}).encode()
        return body, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": fault.code}
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{fault.code}</Code>'
            f"<Message>injected {fault.code}</Message><RequestId>FAULT</RequestId><HostId>fault</HostId>"
            "</Error>").encode()
    return body, {"Content-Type": "application/xml"}


class FaultProxy:
    """A loopback HTTP proxy to ``upstream`` that plays the faults of its rules."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[FaultRule] = []
        self.log: list[Proxied] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-proxy", daemon=True)
        self._thread.start()

    def add(self, operation: str, fault: Fault, key: str = "*", times: int | None = None) -> FaultRule:
        rule = FaultRule(operation, fault, key, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def count(self, operation: str, key: str) -> int:
        """How many ``operation`` requests on ``key`` reached the server (faulted ones excluded)."""
        with self._lock:
            return sum(1 for p in self.log if p.operation == operation and p.key == key and not p.fault)

    def _match(self, operation: str, key: str) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(operation, key):
                    rule.hits += 1
                    return rule.fault
        return None

    def _note(self, proxied: Proxied) -> None:
        with self._lock:
            self.log.append(proxied)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation, key = operation_of(self.command, self.path, self.headers)
                fault = proxy._match(operation, key)
                if fault is not None and fault.kind == "reset":
                    proxy._note(Proxied(operation, key, fault.kind, 0))
                    self._reset()
                    return
                if fault is not None and fault.kind == "error":
                    proxy._note(Proxied(operation, key, fault.kind, fault.status))
                    payload, error_headers = _error_reply(fault, bool(self.headers.get("X-Amz-Target")))
                    self._answer(fault.status, error_headers, b"" if self.command == "HEAD" else payload)
                    return
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.seconds)
                status, reason, headers, answer = self._forward(body)
                proxy._note(Proxied(operation, key, fault.kind if fault else "", status))
                if fault is not None and fault.kind == "reset_body":
                    self._answer(status, headers, answer[: len(answer) // 2], reason, length=len(answer))
                    self._reset()
                    return
                self._answer(status, headers, answer, reason)

            def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                            upstream.putheader(name, value)
                    upstream.putheader("Content-Length", str(len(body)))
                    upstream.endheaders(body)
                    response = upstream.getresponse()
                    answer = response.read()
                    headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
                    return response.status, response.reason, headers, answer
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: Any, body: bytes, reason: str | None = None,
                        length: int | None = None) -> None:
                self.send_response(status, reason)
                items = headers.items() if isinstance(headers, dict) else headers
                for name, value in items:
                    if name.lower() != "content-length" or self.command == "HEAD":
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends a RST, what a load balancer dropping the connection looks like.
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                self.close_connection = True

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the function's processes -------------------------------------------------------------------------------

def tesseract_workers(root: int) -> list[int]:
    """The Tesseract worker processes (``s3ocr.engines.tesseract_worker``) under process ``root``."""
    workers = []
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"s3ocr.engines.tesseract_worker" in cmdline.read():
                    workers.append(pid)
        except OSError:
            continue
    return workers


def pending_input(pid: int) -> int:
    """Bytes waiting unread in process ``pid``'s stdin pipe: a worker stopped with a page request sent to it."""
    try:
        fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0
    finally:
        os.close(fd)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of process ``pid`` in clock ticks; -1 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return -1


@dataclass
class FaultStack:
    """The local stack with the function behind a ``FaultProxy``; ``stack``'s own clients go to the server."""

    stack: LocalStack
    proxy: FaultProxy
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return self.stack.server.client(service)

    def workers(self) -> list[int]:
        return tesseract_workers(self.stack.function.process.pid)


@contextlib.contextmanager
def fault_stack(function_env: dict[str, str] | None = None, log: IO[bytes] | int | None = None,
                visibility_timeout: int = 2, max_receive_count: int = 2) -> Iterator[FaultStack]:
    """``local_stack`` whose function reaches S3, SQS and Secrets Manager only through a ``FaultProxy``."""
    with MotoServer() as server, FaultProxy(server.endpoint) as proxy, local_stack(
            function_env={**(function_env or {}), "AWS_ENDPOINT_URL": proxy.endpoint}, log=log,
            visibility_timeout=visibility_timeout, max_receive_count=max_receive_count, server=server) as stack:
        yield FaultStack(stack, proxy)
