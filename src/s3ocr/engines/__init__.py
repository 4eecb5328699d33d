"""Engines by name: a plain registry dict; two or five engines do not need a plugin framework."""

from __future__ import annotations

from collections.abc import Callable

from s3ocr.engines.base import Engine
from s3ocr.engines.tesseract import TesseractEngine
from s3ocr.errors import ConfigurationError

ENGINES: dict[str, Callable[[], Engine]] = {
    "tesseract": TesseractEngine,
}


def get_engine(name: str) -> Engine:
    """The engine registered under ``name``; raises ``ConfigurationError`` for an unknown name."""
    try:
        factory = ENGINES[name]
    except KeyError as e:
        raise ConfigurationError(f"unknown OCR engine {name!r}; available: {', '.join(sorted(ENGINES))}") from e
    return factory()


__all__ = ["ENGINES", "Engine", "get_engine"]
