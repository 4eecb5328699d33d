"""Writers of results: to the output bucket (Lambda) or a local folder (CLI), with the same names.

A sink writes deterministic names derived from the source key, so a redelivered event rewrites the
same objects, never duplicates them; a success removes a stale ``.error.json`` and a failure removes
stale text, so the outputs always describe the latest attempt.
"""

from __future__ import annotations

from typing import Protocol

from s3ocr.models import DocumentFailure, DocumentResult


class Sink(Protocol):
    def write_result(self, result: DocumentResult) -> list[str]:
        """Write ``.txt`` and ``.json``; returns the names written."""
        ...

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        """Write ``.error.json``; returns the names written."""
        ...
