"""``make bench-fanout``: what splitting and assembling a long document costs on the local stack (S3, SQS and
DynamoDB in the moto server, over HTTP), beside the reading itself.

- planner: the claimed job's document fetched, its pages counted, its ranges sent as tasks, the job record told;
- assembly: every page's result read back from the work prefix, the ``.txt`` and ``.json`` written a page at a
  time and uploaded, the work prefix removed.

Page results are synthetic but of a real page's size (30 lines of 8 words, each with its box and confidence).

``--compare-split`` also weighs the other way to give tasks their pages: the planner splitting the source once
into one PDF per range (Poppler's ``pdfseparate`` + ``pdfunite``) against each task fetching the whole source.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from s3ocr.bench.samples import numbered_scan
from s3ocr.devstack.fleet import create_tasks_queue
from s3ocr.devstack.servers import MotoServer
from s3ocr.devstack.stack import INPUT_BUCKET, JOBS_TABLE, OUTPUT_BUCKET, create_jobs_table, create_resources
from s3ocr.fanout import PageStore, Planner, assemble
from s3ocr.jobs import JobLedger, job_for
from s3ocr.models import Box, DocumentRef, Line, PageResult, Word
from s3ocr.settings import Settings
from s3ocr.sinks.s3 import S3Sink
from s3ocr.sources import fetch_s3_object


class _Engine:
    name, version = "tesseract", "tesseract 5.3.0"


def dense_page(number: int) -> PageResult:
    lines = tuple(Line(" ".join(f"word{number}x{row}x{col}" for col in range(8)), Box(100, 100 + 40 * row, 1800, 36),
                       0.93, tuple(Word(f"word{number}x{row}x{col}", Box(100 + 220 * col, 100 + 40 * row, 200, 36),
                                        0.93) for col in range(8))) for row in range(30))
    return PageResult(number=number, status="ok", text="\n".join(line.text for line in lines), lines=lines,
                      mean_confidence=0.93, width=2481, height=3507, dpi=300, engine="tesseract",
                      preprocessing={"blank": False}, timings={"total": 1.0})


def measure(pages: int, range_pages: int, folder: Path) -> dict[str, float]:
    scan = numbered_scan(folder / "scan.pdf", pages, dpi=50)  # tiny images: the page count is what matters
    with MotoServer() as server:
        s3, sqs, dynamodb = server.client("s3"), server.client("sqs"), server.client("dynamodb")
        create_resources(s3, sqs, 30, 3)
        create_jobs_table(dynamodb)
        tasks_url, _ = create_tasks_queue(sqs, 30, 3)
        s3.upload_file(str(scan), INPUT_BUCKET, "bench/long.pdf")
        settings = Settings(output_bucket=OUTPUT_BUCKET, jobs_table=JOBS_TABLE, tasks_queue_url=tasks_url,
                            range_pages=range_pages, work_dir=folder)
        ledger = JobLedger(dynamodb, JOBS_TABLE)
        store = PageStore(s3, OUTPUT_BUCKET, settings.work_prefix)
        ref = DocumentRef(INPUT_BUCKET, "bench/long.pdf")
        job = job_for(ref, settings)

        started = time.perf_counter()
        ledger.begin(job, "planner", lease_seconds=900)
        work = folder / "planner"
        work.mkdir()
        path, fetched, _ = fetch_s3_object(s3, ref, work, settings.max_bytes)
        handed = Planner(settings, ledger, sqs, job, "planner")(path, fetched, _Engine())  # type: ignore[arg-type]
        planner = time.perf_counter() - started
        assert handed is not None and handed.pages == pages

        for number in range(1, pages + 1):
            store.put(job.id, dense_page(number))
        tally = None
        for number in range(handed.ranges):
            tally = ledger.range_done(job.id, number)
        assert tally is not None and tally.complete
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        assembly_dir = folder / "assembly"
        assembly_dir.mkdir()
        ledger.claim_assembly(job.id, "assembler", 900)
        status, _ = assemble(job.id, tally.facts, store, S3Sink(s3, OUTPUT_BUCKET), assembly_dir, timings={})
        store.remove(job.id)
        assembly = time.perf_counter() - started
        size = s3.head_object(Bucket=OUTPUT_BUCKET, Key="bench/long.pdf.json")["ContentLength"]
        return {"pages": pages, "ranges": handed.ranges, "planner_s": round(planner, 2),
                "assembly_s": round(assembly, 2), "json_mb": round(size / 1e6, 1), "status": status == "ok",
                "peak_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1)}


def compare_split(pages: int, range_pages: int, folder: Path) -> dict[str, float]:
    """Splitting a 300 dpi scan once into range PDFs, against fetching it whole (over loopback: a lower bound)."""
    import subprocess

    from s3ocr.fanout import page_ranges

    folder.mkdir(parents=True, exist_ok=True)
    scan = numbered_scan(folder / "scan-300.pdf", pages, dpi=300)
    started = time.perf_counter()
    written = 0
    for number, (first, last) in enumerate(page_ranges(pages, range_pages)):
        parts = folder / f"range-{number}"
        parts.mkdir()
        subprocess.run(["pdfseparate", "-f", str(first), "-l", str(last), str(scan), str(parts / "p-%d.pdf")],
                       check=True)
        out = folder / f"range-{number}.pdf"
        subprocess.run(["pdfunite", *(str(parts / f"p-{n}.pdf") for n in range(first, last + 1)), str(out)],
                       check=True)
        written += out.stat().st_size
    split = time.perf_counter() - started
    with MotoServer() as server:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="bench-split")
        s3.upload_file(str(scan), "bench-split", "scan.pdf")
        target = folder / "fetched"
        target.mkdir()
        started = time.perf_counter()
        fetch_s3_object(s3, DocumentRef("bench-split", "scan.pdf"), target, 2**31)
        fetch = time.perf_counter() - started
    return {"source_mb": round(scan.stat().st_size / 1e6, 1), "split_s": round(split, 1),
            "split_mb": round(written / 1e6, 1), "fetch_s": round(fetch, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--range-pages", type=int, default=Settings.range_pages)
    parser.add_argument("--compare-split", action="store_true", help="also time splitting the source once")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s3ocr-bench-fanout-") as folder:
        figures = measure(args.pages, args.range_pages, Path(folder))
        split = compare_split(args.pages, args.range_pages, Path(folder) / "split") if args.compare_split else None
    total = figures["planner_s"] + figures["assembly_s"]
    print(f"fan-out on the local stack, {figures['pages']} pages in {figures['ranges']} ranges: planner "
          f"{figures['planner_s']} s, assembly {figures['assembly_s']} s (JSON {figures['json_mb']} MB, peak RSS "
          f"+{figures['peak_rss_growth_mb']} MB), planner + assembly {total:.1f} s")
    if split:
        print(f"a {split['source_mb']} MB 300 dpi scan: split once into range PDFs {split['split_s']} s "
              f"({split['split_mb']} MB written), against each task fetching it whole {split['fetch_s']} s "
              "over loopback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
