"""``s3ocr``: the Lambda's pipeline on local files, folders and ``s3://`` objects, and the tools around a stack.

``s3ocr extract INPUT... [-o OUTDIR]`` prints the text, or with ``-o`` writes exactly what the Lambda writes to
the output bucket, named after each input's full file name (``scan.pdf`` -> ``scan.pdf.txt``, ``scan.pdf.json``
or ``scan.pdf.error.json``); a folder's relative paths are kept. On a terminal a progress bar runs on stderr, and
a summary table ends a run of several documents (``s3ocr.console``); ``--json`` writes one JSON object per
document on stdout instead of the text. ``s3ocr doctor`` says whether what the configured engine needs is
installed (``s3ocr.doctor``); ``s3ocr watch`` follows a deployed stack's documents as they finish
(``s3ocr.watch``).

Exit status of ``extract``; when documents end differently, the first of these that applies, so that a script
can tell "fix the command" from "run it again later" from "look at these documents":

    2   usage or configuration error (unknown engine or format, a bad setting, missing language data)
    4   transient error (OCR service unreachable or throttling, S3 unavailable): run it again later
    1   a document failed or was refused: recorded, a retry will not change it
    3   a document is partial (a page failed, a page with ink gave no text, the page cap cut it)
    0   every document was read
    130 interrupted

``doctor`` exits 0 when the configured engine has all it needs, else 1; ``watch`` 0, or 1 when ``--once`` saw
nothing before ``--timeout``; both 2 on a configuration error and 4 when AWS did not answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3ocr import __version__
from s3ocr.console import QuietProgress, Row, error_row, progress_for, row_of, summary_table
from s3ocr.doctor import add_doctor, doctor
from s3ocr.engines import ENGINES
from s3ocr.errors import ConfigurationError, S3OcrError, TransientError, UnsafeKeyError
from s3ocr.keys import is_folder_marker, printable
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult
from s3ocr.pipeline import Outcome, process_local_file, process_s3_object
from s3ocr.settings import Settings, parse_formats
from s3ocr.sinks import Sink
from s3ocr.sinks.formats import FORMATS
from s3ocr.watch import add_watch, watch

# A named file is always read (its type is judged by its bytes); inside a folder, only files with a
# document extension are picked up, so notes and previous outputs lying beside scans are left alone.
FOLDER_EXTENSIONS = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_RETRY, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_CODES = (
    (EXIT_USAGE, "usage or configuration error (unknown engine or format, a bad setting,\n"
                 "missing language data)"),
    (EXIT_RETRY, "transient error (OCR service unreachable or throttling, S3 unavailable):\n"
                 "run it again later"),
    (EXIT_FAILED, "a document failed or was refused: recorded, a retry will not change it"),
    (EXIT_PARTIAL, "a document is partial (a page failed, a page with ink gave no text,\n"
                   "the page cap cut it)"),
    (EXIT_OK, "every document was read"),
    (EXIT_INTERRUPTED, "interrupted"),
)
JSON_HELP = ("--json writes one JSON object per document on stdout (JSON Lines), and nothing else there: key, "
             "source, status (ok, partial, failed, refused, transient), pages, seconds, mean_confidence (0..1, "
             "over every word), no_text_pages, engine, outputs (format -> file written, with -o) and, "
             "when the status is not ok, reason and message.")


def _epilog() -> str:
    codes = "\n".join(f"  {code:<3}  {meaning}".replace("\n", "\n       ") for code, meaning in EXIT_CODES)
    return (f"{textwrap.fill(JSON_HELP, 79)}\n\nexit status (when documents end differently, the first of these "
            f"that applies):\n{codes}")


def _input(value: str) -> str:
    """An INPUT as argparse checks it: an ``s3://`` URI must name a bucket, and a key or a prefix ending in /."""
    if value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        if not bucket or not (key or value.endswith("/")):
            raise argparse.ArgumentTypeError(f"{value!r}: use s3://bucket/key, s3://bucket/prefix/ or s3://bucket/")
    return value


def _formats(value: str) -> tuple[str, ...]:
    try:
        names = parse_formats(value, "--format")
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    if not names:
        raise argparse.ArgumentTypeError(f"--format names no format (formats: {', '.join(FORMATS)})")
    return names


def _add_extract(commands: Any) -> None:
    extract = commands.add_parser("extract", help="OCR files, folders or s3:// objects", epilog=_epilog(),
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  description="OCR files, folders or s3:// objects with the Lambda's pipeline.")
    extract.add_argument("inputs", nargs="+", metavar="INPUT", type=_input,
                         help="file, folder, s3://bucket/key or s3://bucket/prefix/")
    extract.add_argument("-o", "--output-dir", type=Path, help="write the outputs here instead of printing the text")
    extract.add_argument("--lang", help="Tesseract languages, e.g. chi_sim+eng (env OCR_LANGUAGES)")
    extract.add_argument("--engine", metavar="NAME",
                         help=f"OCR engine: {', '.join(ENGINES)} (env OCR_ENGINE; default {Settings.engine}: "
                              "PP-OCRv6 for Chinese, Tesseract for English)")
    formats = ", ".join(f"{name} ({suffix})" for name, suffix in FORMATS.items())
    extract.add_argument("--format", type=_formats, metavar="LIST",
                         help=f"output formats with -o, comma separated: {formats} "
                              f"(env OUTPUT_FORMATS; default {','.join(Settings.output_formats)})")
    extract.add_argument("--json", action="store_true",
                         help="one JSON object per document on stdout instead of the text (see below)")
    extract.add_argument("--dpi", type=int, help="PDF rendering resolution (env PDF_DPI)")
    extract.add_argument("--max-pages", type=int, help="page cap per document (env MAX_PAGES)")
    extract.add_argument("--preprocess", help="preprocessing recipe or comma list of steps (env OCR_PREPROCESS)")
    extract.add_argument("--workers", type=int, help="pages in parallel (default: one per CPU)")
    extract.add_argument("--force-ocr", action="store_true", default=None,
                         help="OCR born-digital PDF pages too instead of using their text (env FORCE_OCR)")
    extract.add_argument("-q", "--quiet", action="store_true",
                         help="no progress bar, no summary: a line only for a document that could not be read")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3ocr", description="Serverless OCR pipeline, run locally.")
    parser.add_argument("--version", action="version", version=f"s3ocr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_extract(commands)
    add_doctor(commands)
    add_watch(commands)
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


@dataclass(frozen=True)
class _Document:
    ref: DocumentRef
    source: str  # what --json calls it: the local path, or the s3:// URI
    path: Path | None = None  # None: the S3 object ``ref`` names


class _RecordingSink:
    """The local sink, remembering where the last outcome went: ``--json`` names the files written."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.written: dict[str, str] = {}

    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        self.written = self.sink.write_result(result, formats, source)
        return self.written

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        self.written = self.sink.write_failure(failure)
        return self.written

    def take(self) -> dict[str, str]:
        written, self.written = self.written, {}
        return written


class _Extraction:
    """One ``s3ocr extract`` run: list the inputs, read each document, report."""

    def __init__(self, args: argparse.Namespace) -> None:
        from s3ocr.routing import EngineChooser
        from s3ocr.sinks.local import LocalSink

        self.args = args
        self.settings = Settings.from_env(languages=args.lang, engine=args.engine, dpi=args.dpi,
                                          max_pages=args.max_pages, preprocess=args.preprocess,
                                          workers=args.workers, force_ocr=args.force_ocr,
                                          output_formats=args.format)
        self.chooser = EngineChooser(self.settings)
        self.engine = self.chooser.default  # an unknown engine is a usage error before any input is read
        self.local = LocalSink(args.output_dir, frozenset(self.settings.output_formats)) if args.output_dir else None
        self.sink = _RecordingSink(self.local) if self.local else None
        self.client: Any = None
        self.progress: QuietProgress = QuietProgress(sys.stderr)

    def s3(self) -> Any:
        from s3ocr.sources import s3_client

        self.client = self.client or s3_client()
        return self.client

    def documents(self) -> tuple[list[_Document], list[Row]]:
        """Every document the inputs name, and a row for each input or key that cannot be read at all."""
        skip = self.args.output_dir.resolve() if self.args.output_dir else None
        documents, rows = [], []
        for item in self.args.inputs:
            try:
                if item.startswith("s3://"):
                    for ref in _s3_refs(item, self.s3()):
                        refusal = self.local.refuses(ref.key) if self.local else None
                        if refusal:  # the listing names a key that would land outside the output folder
                            rows.append(Row(ref.key, ref.uri, "refused", reason=UnsafeKeyError.reason,
                                            message=refusal))
                        else:
                            documents.append(_Document(ref, ref.uri))
                    continue
                path = Path(item)
                if not path.exists():
                    raise FileNotFoundError(f"no such file or folder: {item}")
                files = _walk_folder(path, skip) if path.is_dir() else [(path, path.name)]
                documents += [_Document(DocumentRef("", name, size=file.stat().st_size), str(file), file)
                              for file, name in files]
            except (S3OcrError, OSError) as e:
                rows.append(error_row(item, item, e))
        return documents, rows

    def read(self, document: _Document) -> tuple[Row, Outcome | None]:
        if self.sink:
            self.sink.take()
        try:
            if document.path is None:
                outcome = process_s3_object(document.ref, self.settings, self.engine, self.s3(), self.sink,
                                            observer=self.progress, choose_engine=self.chooser.for_object)
            else:
                engine = self.chooser.for_object(document.ref, {})
                outcome = process_local_file(document.path, document.ref, self.settings, engine, self.sink,
                                             observer=self.progress)
        except (S3OcrError, OSError) as e:
            return error_row(document.ref.key, document.source, e), None
        return row_of(outcome, document.source, self.sink.take() if self.sink else {}), outcome

    def finish(self, row: Row, rows: list[Row]) -> None:
        rows.append(row)
        self.progress.finished(row)
        if self.args.json:
            print(json.dumps(row.to_dict(), ensure_ascii=False), flush=True)

    def run(self) -> int:
        documents, unreadable = self.documents()
        self.progress = progress_for(sys.stderr, self.args.quiet, len(documents) + len(unreadable))
        rows: list[Row] = []
        outcomes: list[Outcome] = []
        interrupted = False
        try:
            for row in unreadable:
                self.finish(row, rows)
            for document in documents:
                self.progress.start(document.ref.key)
                row, outcome = self.read(document)
                outcomes += [outcome] if outcome else []
                self.finish(row, rows)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.progress.close()
        if len(rows) > 1 and not self.args.quiet:
            print(summary_table(rows), file=sys.stderr)
        if interrupted:
            print("s3ocr: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if self.sink is None and not self.args.json:
            _print_text(outcomes)
        return exit_status(rows)


def exit_status(rows: Sequence[Row]) -> int:
    """The run's exit status from its documents' rows, in the order of ``EXIT_CODES``."""
    statuses = {row.status for row in rows}
    if any(row.reason == ConfigurationError.reason for row in rows):
        return EXIT_USAGE
    if "transient" in statuses:
        return EXIT_RETRY
    if statuses & {"failed", "refused"}:
        return EXIT_FAILED
    return EXIT_PARTIAL if "partial" in statuses else EXIT_OK


def _print_text(outcomes: Sequence[Outcome]) -> None:
    read = [o for o in outcomes if not isinstance(o, DocumentFailure)]
    for outcome in read:
        if len(read) > 1:
            print(f"==> {printable(outcome.source.key)} <==")
        print(outcome.text)


def extract(args: argparse.Namespace) -> int:
    return _Extraction(args).run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"extract": extract, "doctor": doctor, "watch": watch}
    try:
        return commands[args.command](args)
    except S3OcrError as e:
        print(f"s3ocr: {type(e).__name__} ({e.reason}): {printable(str(e))}", file=sys.stderr)
        return EXIT_RETRY if isinstance(e, TransientError) else EXIT_USAGE
    except KeyboardInterrupt:
        print("s3ocr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
