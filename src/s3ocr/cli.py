"""``s3ocr``: the Lambda's pipeline on local files, folders and ``s3://`` objects.

``s3ocr extract INPUT... [-o OUTDIR]`` prints the text, or with ``-o`` writes exactly what the Lambda
writes to the output bucket, named after each input's full file name (``scan.pdf`` -> ``scan.pdf.txt``,
``scan.pdf.json`` or ``scan.pdf.error.json``); a folder's relative paths are kept. Exit status 1 when
any input failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from s3ocr import __version__
from s3ocr.errors import S3OcrError, TransientError
from s3ocr.keys import is_folder_marker, printable
from s3ocr.models import DocumentFailure, DocumentRef
from s3ocr.pipeline import Outcome, process_local_file, process_s3_object
from s3ocr.settings import Settings

# A named file is always read (its type is judged by its bytes); inside a folder, only files with a
# document extension are picked up, so notes and previous outputs lying beside scans are left alone.
FOLDER_EXTENSIONS = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3ocr", description="Serverless OCR pipeline, run locally.")
    parser.add_argument("--version", action="version", version=f"s3ocr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="OCR files, folders or s3:// objects")
    extract.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder, s3://bucket/key or s3://bucket/prefix/")
    extract.add_argument("-o", "--output-dir", type=Path, help="write .txt/.json/.error.json here instead of printing")
    extract.add_argument("--lang", help="Tesseract languages, e.g. chi_sim+eng (env OCR_LANGUAGES)")
    extract.add_argument("--engine", help="OCR engine (env OCR_ENGINE; default auto: PP-OCRv6 for Chinese, "
                                          "Tesseract for English)")
    extract.add_argument("--format", default="txt,json", help="output formats with -o: txt,json (default both)")
    extract.add_argument("--dpi", type=int, help="PDF rendering resolution (env PDF_DPI)")
    extract.add_argument("--max-pages", type=int, help="page cap per document (env MAX_PAGES)")
    extract.add_argument("--preprocess", help="preprocessing recipe or comma list of steps (env OCR_PREPROCESS)")
    extract.add_argument("--workers", type=int, help="pages in parallel (default: one per CPU)")
    extract.add_argument("--force-ocr", action="store_true", default=None,
                         help="OCR born-digital PDF pages too instead of using their text (env FORCE_OCR)")
    extract.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _walk_folder(folder: Path, skip: Path | None) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        if path.suffix.lower() in FOLDER_EXTENSIONS:
            yield path, relative.as_posix()


def _s3_refs(uri: str, client: Any) -> list[DocumentRef]:
    from s3ocr.sources import parse_s3_uri, s3_errors

    if not uri.endswith("/"):
        return [parse_s3_uri(uri)]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    refs = []
    with s3_errors(f"listing {uri}"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            refs += [DocumentRef(bucket, obj["Key"], size=obj["Size"]) for obj in page.get("Contents", [])
                     if not is_folder_marker(obj["Key"])]
    return refs


def _report(outcome: Outcome, quiet: bool) -> None:
    if quiet:
        return
    name = printable(outcome.source.key)
    if isinstance(outcome, DocumentFailure):
        print(f"s3ocr: {name}: failed ({outcome.reason}): {printable(outcome.message)}", file=sys.stderr)
    else:
        seconds = outcome.timings.get("total", 0.0)
        print(f"s3ocr: {name}: {outcome.status}, {len(outcome.pages)} page(s), {seconds:.1f} s", file=sys.stderr)


def extract(args: argparse.Namespace) -> int:
    from s3ocr.routing import EngineChooser
    from s3ocr.sinks.local import LocalSink

    settings = Settings.from_env(languages=args.lang, engine=args.engine, dpi=args.dpi, max_pages=args.max_pages,
                                 preprocess=args.preprocess, workers=args.workers, force_ocr=args.force_ocr)
    chooser = EngineChooser(settings)
    formats = frozenset(f.strip() for f in args.format.split(",") if f.strip())
    sink = LocalSink(args.output_dir, formats) if args.output_dir else None
    skip = args.output_dir.resolve() if args.output_dir else None
    client = None
    failures = 0
    outcomes: list[Outcome] = []
    for item in args.inputs:
        try:
            if item.startswith("s3://"):
                from s3ocr.sources import s3_client

                client = client or s3_client()
                for ref in _s3_refs(item, client):
                    refusal = sink.refuses(ref.key) if sink else None
                    if refusal:  # the listing names a key that would land outside the output folder
                        print(f"s3ocr: {printable(ref.uri)}: refused (unsafe_key): {refusal}", file=sys.stderr)
                        failures += 1
                        continue
                    outcome = process_s3_object(ref, settings, chooser.default, client, sink,
                                                choose_engine=chooser.for_object)
                    outcomes.append(outcome)
                    _report(outcome, args.quiet)
                continue
            path = Path(item)
            if path.is_dir():
                files = list(_walk_folder(path, skip))
            elif path.exists():
                files = [(path, path.name)]
            else:
                raise FileNotFoundError(item)
            for file, name in files:
                ref = DocumentRef("", name, size=file.stat().st_size)
                outcome = process_local_file(file, ref, settings, chooser.for_object(ref, {}), sink)
                outcomes.append(outcome)
                _report(outcome, args.quiet)
        except (S3OcrError, OSError, ValueError) as e:
            kind = "transient" if isinstance(e, TransientError) else type(e).__name__
            print(f"s3ocr: {printable(item)}: {kind}: {printable(str(e))}", file=sys.stderr)
            failures += 1
    failures += sum(isinstance(o, DocumentFailure) for o in outcomes)
    if sink is None:
        _print_text(outcomes)
    return 1 if failures else 0


def _print_text(outcomes: Sequence[Outcome]) -> None:
    read = [o for o in outcomes if not isinstance(o, DocumentFailure)]
    for outcome in read:
        if len(read) > 1:
            print(f"==> {printable(outcome.source.key)} <==")
        print(outcome.text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "extract":
            return extract(args)
    except S3OcrError as e:
        print(f"s3ocr: {type(e).__name__} ({e.reason}): {printable(str(e))}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
