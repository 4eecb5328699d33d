"""Engines by name: a plain registry dict; two or five engines do not need a plugin framework.

Engines are imported when first asked for: a Tesseract-only function never loads the cloud SDKs, and a
born-digital document never loads Tesseract's wrapper (or numpy through it).
"""

from __future__ import annotations

from collections.abc import Callable

from s3ocr.engines.base import Engine
from s3ocr.errors import ConfigurationError


def _tesseract() -> Engine:
    from s3ocr.engines.tesseract import TesseractEngine

    return TesseractEngine()


def _auto() -> Engine:
    from s3ocr.engines.auto import AutoEngine

    return AutoEngine()


def _rapidocr() -> Engine:
    from s3ocr.engines.rapidocr import RapidOcrEngine

    return RapidOcrEngine()


def _baidu(api: str) -> Callable[[], Engine]:
    def factory() -> Engine:
        from s3ocr.engines.baidu import BaiduEngine

        return BaiduEngine(api)

    return factory


def _textract() -> Engine:
    from s3ocr.engines.textract import TextractEngine

    return TextractEngine()


def _tencent(api: str) -> Callable[[], Engine]:
    def factory() -> Engine:
        try:
            from s3ocr.engines.tencent import TencentEngine
        except ImportError as e:
            raise ConfigurationError("the tencent engine needs its SDK: pip install 's3ocr[tencent]'") from e
        return TencentEngine(api)

    return factory


def _aliyun() -> Engine:
    try:
        from s3ocr.engines.aliyun import AliyunEngine
    except ImportError as e:
        raise ConfigurationError("the aliyun engine needs its SDK: pip install 's3ocr[aliyun]'") from e
    return AliyunEngine()


ENGINES: dict[str, Callable[[], Engine]] = {
    "tesseract": _tesseract,
    "auto": _auto,  # the local engine that measured best for the page's language
    "baidu": _baidu("general"),
    "baidu-accurate": _baidu("accurate"),
    "baidu-basic": _baidu("basicGeneral"),
    "baidu-accurate-basic": _baidu("basicAccurate"),
    "textract": _textract,
    # Optional extras: their SDKs or models are not in the Lambda image unless it is built with them.
    "rapidocr": _rapidocr,
    "tencent": _tencent("basic"),
    "tencent-accurate": _tencent("accurate"),
    "aliyun": _aliyun,
}


def get_engine(name: str) -> Engine:
    """The engine registered under ``name``; raises ``ConfigurationError`` for an unknown name."""
    try:
        factory = ENGINES[name]
    except KeyError as e:
        raise ConfigurationError(f"unknown OCR engine {name!r}; available: {', '.join(sorted(ENGINES))}") from e
    return factory()


__all__ = ["ENGINES", "Engine", "get_engine"]
