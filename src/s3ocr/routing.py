"""Which engine reads a document: the configured one, overridden per object by S3 metadata
(``x-amz-meta-ocr-engine``) or by key prefix (``OCR_ENGINE_ROUTES``), each with the configured fallbacks.

Engines are built once per name and reused across documents (they hold clients and tokens).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from s3ocr.engines.base import Engine
from s3ocr.engines.fallback import build_engine
from s3ocr.models import DocumentRef
from s3ocr.settings import Settings, parse_formats

METADATA_KEY = "ocr-engine"  # boto3 returns user metadata without the x-amz-meta- prefix
FORMATS_METADATA_KEY = "ocr-formats"  # x-amz-meta-ocr-formats: txt,json,pdf


def engine_name_for(ref: DocumentRef, metadata: Mapping[str, str], settings: Settings) -> str:
    """The engine name for one object: metadata beats the longest matching key prefix beats the default."""
    override = (metadata.get(METADATA_KEY) or "").strip()
    if override:
        return override
    matches = [(prefix, name) for prefix, name in settings.engine_routes if ref.key.startswith(prefix)]
    return max(matches, key=lambda match: len(match[0]))[1] if matches else settings.engine


class EngineChooser:
    """Builds and caches the engine (with fallbacks) for each name asked for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str) -> Engine:
        with self._lock:
            if name not in self._engines:
                self._engines[name] = build_engine(name, self.settings.fallback_engines)
            return self._engines[name]

    @property
    def default(self) -> Engine:
        return self.engine(self.settings.engine)

    def for_object(self, ref: DocumentRef, metadata: Mapping[str, str]) -> Engine:
        return self.engine(engine_name_for(ref, metadata, self.settings))


def formats_for(metadata: Mapping[str, str]) -> tuple[str, ...] | None:
    """The output formats an object's metadata asks for (None: the sink's own, which a deployment sets with
    ``OUTPUT_FORMATS``). An unknown name is a ``ConfigurationError`` of that object (its error record says which)."""
    return parse_formats(metadata.get(FORMATS_METADATA_KEY) or "", f"x-amz-meta-{FORMATS_METADATA_KEY}") or None
