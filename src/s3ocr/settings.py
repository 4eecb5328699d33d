"""Settings, read once from the environment at cold start; explicit arguments beat the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from s3ocr.errors import ConfigurationError


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from e
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as e:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from e


def _routes(raw: str) -> tuple[tuple[str, str], ...]:
    """``prefix=engine,prefix=engine`` as pairs."""
    routes = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        prefix, sep, name = item.rpartition("=")
        if not sep or not prefix or not name.strip():
            raise ConfigurationError(f"OCR_ENGINE_ROUTES entries are prefix=engine, got {item!r}")
        routes.append((prefix, name.strip()))
    return tuple(routes)


def parse_formats(raw: str, where: str) -> tuple[str, ...]:
    """``txt,json,pdf`` as names of ``sinks.formats.FORMATS``, in that table's order; () when ``raw`` is blank."""
    from s3ocr.sinks.formats import FORMATS

    names = {name.strip().lower() for name in raw.split(",") if name.strip()}
    unknown = sorted(names - FORMATS.keys())
    if unknown:
        raise ConfigurationError(f"{where} names no format {', '.join(unknown)} (formats: {', '.join(FORMATS)})")
    return tuple(name for name in FORMATS if name in names)


def uses_cjk(languages: str) -> bool:
    """Whether a Tesseract language list (``chi_sim+eng``) reads Chinese, Japanese or Korean."""
    cjk = ("chi_", "jpn", "kor", "script/Han", "script/Japanese", "script/Hangul")
    return any(language.startswith(cjk) for language in languages.split("+"))


def latin_languages(languages: str) -> str:
    """The languages of a Tesseract language list that read no CJK (``chi_sim+eng`` -> ``eng``), without ``osd``."""
    return "+".join(code for code in languages.split("+") if not uses_cjk(code) and code != "osd")


def available_cpus() -> int:
    """CPUs this process may run on (Lambda: vCPUs of the memory size; containers: the cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    output_bucket: str = ""
    output_prefix: str = ""
    languages: str = "chi_sim+eng"
    engine: str = "auto"  # PP-OCRv6 for Chinese, Tesseract (with PP-OCRv6's second opinion) for English
    fallback_engines: tuple[str, ...] = ()  # tried in order when an engine is out of quota or unavailable
    engine_routes: tuple[tuple[str, str], ...] = ()  # (key prefix, engine name)
    dpi: int = 300
    max_pages: int = 5000  # a safety cap: long documents are read in page ranges (s3ocr.fanout), not cut
    max_bytes: int = 1024 * 1024 * 1024  # a 1,000-page scan is ~300 MB; each page-range task fetches it whole
    max_page_pixels: int = 50_000_000  # ~A2 at 300 DPI; bigger pages are rendered at a lower DPI
    page_timeout: float = 180.0
    preprocess: str = "auto"
    force_ocr: bool = False  # OCR born-digital PDF pages too, instead of taking their text layer
    workers: int = 0  # 0: one per available CPU
    max_receive_count: int = 5  # the queue's redrive maxReceiveCount: the last delivery records the failure
    work_dir: Path = Path("/tmp")
    # What triggers the function (the template's wiring), for the recursion guard: empty when not told.
    input_bucket: str = ""
    input_prefix: str = ""
    input_suffixes: tuple[str, ...] = ()
    dead_letter_queue_url: str = ""  # where a malformed message goes at once; else the queue's redrive takes it
    jobs_table: str = ""  # DynamoDB table of document jobs (``s3ocr.jobs``): duplicates and stale events do nothing
    # Fan-out (``s3ocr.fanout``): a document of more pages than ``range_pages`` is read in ranges of that many by the
    # tasks on ``tasks_queue_url``, their pages kept under ``work_prefix`` in the output bucket until assembled.
    tasks_queue_url: str = ""
    range_pages: int = 16
    work_prefix: str = "work/"
    output_formats: tuple[str, ...] = ("txt", "json")  # ``sinks.formats.FORMATS``; an object's metadata may differ
    event_bus: str = ""  # the EventBridge bus told of every document done or failed (``s3ocr.events``); "": none

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (``os.environ`` by default); keyword overrides win."""
        env = os.environ if env is None else env
        settings = cls(
            output_bucket=env.get("OUTPUT_BUCKET", "").strip(),
            output_prefix=env.get("OUTPUT_PREFIX", ""),
            languages=env.get("OCR_LANGUAGES", "").strip() or cls.languages,
            engine=env.get("OCR_ENGINE", "").strip() or cls.engine,
            fallback_engines=tuple(n.strip() for n in env.get("OCR_FALLBACK_ENGINES", "").split(",") if n.strip()),
            engine_routes=_routes(env.get("OCR_ENGINE_ROUTES", "")),
            dpi=_int(env, "PDF_DPI", cls.dpi, minimum=50),
            max_pages=_int(env, "MAX_PAGES", cls.max_pages, minimum=1),
            max_bytes=_int(env, "MAX_BYTES", cls.max_bytes, minimum=1),
            max_page_pixels=_int(env, "MAX_PAGE_PIXELS", cls.max_page_pixels, minimum=1),
            page_timeout=_float(env, "PAGE_TIMEOUT", cls.page_timeout),
            preprocess=env.get("OCR_PREPROCESS", "").strip() or cls.preprocess,
            force_ocr=env.get("FORCE_OCR", "").strip().lower() in ("1", "true", "yes"),
            workers=_int(env, "OCR_WORKERS", cls.workers),
            max_receive_count=_int(env, "MAX_RECEIVE_COUNT", cls.max_receive_count, minimum=1),
            work_dir=Path(env.get("S3OCR_WORK_DIR", "").strip() or env.get("TMPDIR", "").strip() or "/tmp"),
            input_bucket=env.get("INPUT_BUCKET", "").strip(),
            input_prefix=env.get("INPUT_PREFIX", ""),
            input_suffixes=tuple(s.strip() for s in env.get("INPUT_SUFFIXES", "").split(",") if s.strip()),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", "").strip(),
            jobs_table=env.get("JOBS_TABLE", "").strip(),
            tasks_queue_url=env.get("TASKS_QUEUE_URL", "").strip(),
            range_pages=_int(env, "RANGE_PAGES", cls.range_pages, minimum=1),
            work_prefix=env.get("WORK_PREFIX", "").strip() or cls.work_prefix,
            output_formats=parse_formats(env.get("OUTPUT_FORMATS", ""), "OUTPUT_FORMATS") or cls.output_formats,
            event_bus=env.get("EVENT_BUS_NAME", "").strip(),
        )
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **overrides) if overrides else settings

    @property
    def worker_count(self) -> int:
        return self.workers or available_cpus()


def recursion_risk(settings: Settings, output_suffixes: tuple[str, ...]) -> str | None:
    """Why the function's outputs could trigger it again, or None.

    An output key is ``output_prefix + source key + suffix`` and a source key starts with ``input_prefix``; in one
    bucket the outputs are inputs again when ``output_prefix + input_prefix`` starts with ``input_prefix`` (an empty
    output prefix, or input and output prefixes that nest that way) unless the trigger's suffix filter matches no
    output suffix.
    """
    if not settings.input_bucket or settings.input_bucket != settings.output_bucket:
        return None
    if not (settings.output_prefix + settings.input_prefix).startswith(settings.input_prefix):
        return None
    suffixes = settings.input_suffixes
    caught = [out for out in output_suffixes if not suffixes or any(out.endswith(s) or s.endswith(out)
                                                                     for s in suffixes)]
    if not caught:
        return None
    where = f"s3://{settings.output_bucket}/{settings.output_prefix}"
    watched = f"s3://{settings.input_bucket}/{settings.input_prefix}"
    return (f"outputs written under {where} ({', '.join(caught)}) would land where the function is triggered "
            f"({watched}{' with suffixes ' + ','.join(suffixes) if suffixes else ''}) and trigger it again: "
            "use another OUTPUT_BUCKET, or an OUTPUT_PREFIX outside INPUT_PREFIX")


def check_no_recursion(settings: Settings, output_suffixes: tuple[str, ...]) -> None:
    """Raise ``ConfigurationError`` when the outputs could trigger the function (``recursion_risk``)."""
    risk = recursion_risk(settings, output_suffixes)
    if risk:
        raise ConfigurationError(risk)
