"""The dev stack's moto server, keeping DynamoDB's promise that a conditional write is atomic.

DynamoDB checks a write's condition and applies the write as one step: of several instances writing on the same
condition, one succeeds and the others get ``ConditionalCheckFailedException``. The jobs table relies on that for
its claims, its completion count and the shared request-rate budget. ``moto_server`` serves each connection in a
thread of its own and checks the condition, then writes, with nothing to stop another thread in between: three
processes creating the same item at once all succeeded in 55 of 300 rounds when the server's threads switched
often (``sys.setswitchinterval(1e-5)``), and now and then at the default interval (a CI run saw two instances take
the same request slot). So this server takes DynamoDB's requests one at a time; S3 and SQS requests still run side
by side. Usage: ``python -m s3ocr.devstack.motoserver -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DYNAMODB_TARGET = "DynamoDB_"  # the X-Amz-Target prefix of every DynamoDB operation (DynamoDB_20120810.UpdateItem)


def one_dynamodb_request_at_a_time(app: WSGIApp) -> WSGIApp:
    """``app`` with its DynamoDB requests served one at a time, each to the end of its response body."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    # moto builds some URLs (SQS queue URLs among them) from the port it serves on
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = one_dynamodb_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
