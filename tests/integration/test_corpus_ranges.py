"""Real pages read in page ranges, one range stopped and finished by another task, give the text one invocation
gives (``DocumentWriting``: the decisions drawn from the pages before a page). Needs ``../shared/corpus``, which
stays out of the repository: skipped without it. In-process S3 (moto) holds the ranges' pages; the whole path
through queues and Lambda runtimes is in ``test_fanout.py``."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from s3ocr.engines import get_engine
from s3ocr.fanout import PageStore, RangeTask, page_ranges, read_range
from s3ocr.models import DocumentRef, DocumentResult
from s3ocr.page import PageContext, read_page
from s3ocr.pages import detect_media_type, open_pages
from s3ocr.pipeline import process_local_file
from s3ocr.reading import DocumentWriting
from s3ocr.settings import Settings
from tests.conftest import CORPUS

REAL = CORPUS / "real"
# The real English pages in the corpus's order: a clean scan, a magazine page, two receipts that PP-OCRv6
# reads better than Tesseract, two fax forms of small text, a receipt, a deposition, a filing.
PAGES = ("tess-phototest.tif", "tess-8071_093_3B.tif", "sroie-000.jpg", "sroie-017.jpg", "funsd-82092117.png",
         "funsd-83443897.png", "scribe-receipt_03.png", "scribe-deposition_02.png", "scribe-filing_01.png")


@pytest.mark.skipif(not all((REAL / page).exists() for page in PAGES), reason="needs ../shared/corpus")
def test_real_pages_read_in_ranges_read_as_in_one_invocation(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # GIVEN the nine pages twice over as one 18-page document, read two at a time with the default chi_sim+eng
    frames = [Image.open(REAL / page).convert("L") for page in PAGES] * 2
    document = tmp_path / "document.tif"
    frames[0].save(document, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    settings = Settings(languages="chi_sim+eng", workers=2, range_pages=6, work_dir=tmp_path / "work")
    engine = get_engine("auto")
    # WHEN it is read in one invocation
    single = process_local_file(document, DocumentRef("", document.name), settings, engine)
    assert isinstance(single, DocumentResult)
    # AND in ranges of 6, the second stopped after its first page and its rest read by another task
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="out")
        store = PageStore(s3, "out", "work/")
        source = open_pages(document, detect_media_type(document), dpi=settings.dpi,
                            max_page_pixels=settings.max_page_pixels)
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        ranges = page_ranges(source.page_count, settings.range_pages)
        handed_on = 0
        for index, (first, last) in enumerate(ranges):
            task: RangeTask | None = RangeTask("job", DocumentRef("in", document.name), first, last, index, len(ranges))
            time_left = 0.0 if index == 1 else 1e9  # no time for a second page: the rest is handed on
            while task is not None:
                context = PageContext(source, settings.work_dir, settings, engine, last=source.page_count,
                                      writing=DocumentWriting.for_settings(settings))
                report = read_range(task, lambda number, context=context: read_page(context, number), store,
                                    lambda left=time_left: left, settings.worker_count, writing=context.writing)
                task, time_left = report.handed_on, 1e9
                handed_on += task is not None
        ranged = [page for page, _ in store.pages("job", source.page_count)]
    # THEN a range was handed on, and every page reads as in the one invocation, by the same engine
    assert handed_on == 1
    assert [page["text"] for page in ranged] == [page.text for page in single.pages]
    assert [page["engine"] for page in ranged] == [page.engine for page in single.pages]
    # AND the document's decisions fired: PP-OCRv6 was asked first (the fax forms), and read English pages
    assert any(page.preprocessing.get("read", {}).get("asked_first") for page in single.pages)
    assert "tesseract" in {page.engine for page in single.pages}
