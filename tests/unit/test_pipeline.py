"""The pipeline with a fake engine: order, page-level failures, caps, work-dir hygiene."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from s3ocr.engines.base import Capabilities, Opinion
from s3ocr.errors import EngineError, EngineUnavailableError, PageTimeoutError
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult
from s3ocr.pipeline import ordered_concurrent_map, process_local_file
from s3ocr.settings import Settings
from tests.fakes import FakeEngine


def _inked(width: int = 200, height: int = 120) -> Image.Image:
    """A small page with a few dark marks on it: not blank, so an engine is asked to read it."""
    page = Image.new("L", (width, height), 255)
    for left in range(20, width - 30, 30):
        page.paste(0, (left, 40, left + 20, 70))
    return page


def _tiff(tmp_path: Path, pages: int, blank: bool = False) -> Path:
    frames = [Image.new("L", (200, 120), 255) if blank else _inked() for _ in range(pages)]
    path = tmp_path / "doc.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def _settings(tmp_path: Path, **kwargs) -> Settings:
    work = tmp_path / "work"
    return Settings(work_dir=work, preprocess="none", **kwargs)


def test_results_come_back_in_page_order_with_several_workers():
    assert list(ordered_concurrent_map(lambda n: n * n, range(1, 30), workers=4)) == [n * n for n in range(1, 30)]


def test_every_page_is_read_in_order_and_the_work_dir_is_removed(tmp_path):
    path = _tiff(tmp_path, 5)
    settings = _settings(tmp_path, workers=3)
    outcome = process_local_file(path, DocumentRef("", "doc.tif"), settings, FakeEngine())
    assert isinstance(outcome, DocumentResult)
    assert outcome.text == "\f".join(f"page {n}" for n in range(1, 6))
    assert outcome.status == "ok" and outcome.page_count == 5
    assert list(settings.work_dir.iterdir()) == []


def test_a_page_timeout_is_recorded_on_the_page_and_the_document_goes_on(tmp_path):
    engine = FakeEngine(failures={2: PageTimeoutError("too slow")})
    outcome = process_local_file(_tiff(tmp_path, 3), DocumentRef("", "doc.tif"), _settings(tmp_path), engine)
    assert isinstance(outcome, DocumentResult) and outcome.status == "partial"
    assert [p.status for p in outcome.pages] == ["ok", "failed", "ok"]
    assert outcome.pages[1].error["reason"] == "page_timeout"


def test_when_every_page_fails_the_document_fails_with_a_reason(tmp_path):
    engine = FakeEngine(failures={1: EngineError("boom"), 2: EngineError("boom")})
    outcome = process_local_file(_tiff(tmp_path, 2), DocumentRef("", "doc.tif"), _settings(tmp_path), engine)
    assert isinstance(outcome, DocumentFailure) and outcome.reason == "no_page_read"


def test_transient_engine_errors_propagate_for_a_retry(tmp_path):
    engine = FakeEngine(failures={1: EngineUnavailableError("throttled")})
    with pytest.raises(EngineUnavailableError):
        process_local_file(_tiff(tmp_path, 2), DocumentRef("", "doc.tif"), _settings(tmp_path), engine)


def test_page_cap_truncates_and_says_so(tmp_path):
    outcome = process_local_file(_tiff(tmp_path, 4), DocumentRef("", "doc.tif"), _settings(tmp_path, max_pages=2),
                                 FakeEngine())
    assert isinstance(outcome, DocumentResult)
    assert len(outcome.pages) == 2 and outcome.page_count == 4 and outcome.truncated and outcome.status == "partial"


def test_a_blank_page_is_empty_and_costs_no_engine_call(tmp_path):
    # GIVEN a page of paper alone  WHEN the document is read
    engine = FakeEngine()
    outcome = process_local_file(_tiff(tmp_path, 1, blank=True), DocumentRef("", "doc.tif"), _settings(tmp_path),
                                 engine)
    # THEN the page is empty, the document ok, and no engine was asked (a cloud service would bill the call)
    assert isinstance(outcome, DocumentResult) and outcome.pages[0].status == "empty" and outcome.status == "ok"
    assert engine.seen == [] and outcome.pages[0].preprocessing == {"blank": True}


def test_a_page_with_ink_and_no_text_is_no_text_found_and_the_document_partial(tmp_path):
    # GIVEN a page with marks on it that the engine reads no text in
    engine = FakeEngine(text="")
    outcome = process_local_file(_tiff(tmp_path, 2), DocumentRef("", "doc.tif"), _settings(tmp_path), engine)
    # THEN neither page passes as ok: each says no text was found, and the document is partial
    assert isinstance(outcome, DocumentResult)
    assert [page.status for page in outcome.pages] == ["no_text_found", "no_text_found"]
    assert outcome.status == "partial"


@pytest.mark.parametrize(("content", "reason"), [(b"", "empty_file"), (bytes(range(256)), "unsupported_type"),
                                                 (b"%PDF-1.4\n%%EOF\n", "corrupt_document")])
def test_bad_input_becomes_a_typed_failure(tmp_path, content, reason):
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    outcome = process_local_file(path, DocumentRef("", "bad.pdf"), _settings(tmp_path), FakeEngine())
    assert isinstance(outcome, DocumentFailure) and outcome.reason == reason


def test_a_long_first_item_does_not_leave_the_other_worker_idle():
    import threading
    import time

    # GIVEN a slow first item that waits for the last of many quick ones, on two workers
    last_item_started = threading.Event()
    seen_by_slow_item: list[bool] = []

    def work(n: int) -> int:
        if n == 0:
            seen_by_slow_item.append(last_item_started.wait(2))
            return n
        if n == 9:
            last_item_started.set()
        time.sleep(0.01)
        return n

    # WHEN mapped; THEN the quick items ran past the window while item 0 was still running, and order holds
    assert list(ordered_concurrent_map(work, range(10), workers=2)) == list(range(10))
    assert seen_by_slow_item == [True]


class BandReadingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__(capabilities=Capabilities(local=True))


def _text_page(height: int = 3000, width: int = 2000, pitch: int = 60) -> Image.Image:
    """A page of 40 dark 'lines' in two paragraphs: something pagesplit can cut."""
    page = Image.new("L", (width, height), 240)
    for i in range(40):
        y = 200 + i * pitch + (230 if i >= 20 else 0)
        page.paste(20, (100, y, 1900, y + pitch // 2))
    return page


def test_only_the_last_page_is_read_in_bands_by_an_engine_that_can(tmp_path):
    # GIVEN a 3-page document of cuttable pages, two workers, an engine that may read bands
    path = tmp_path / "doc.tif"
    frames = [_text_page() for _ in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    engine = BandReadingEngine()
    # WHEN it is read
    outcome = process_local_file(path, DocumentRef("", "doc.tif"), _settings(tmp_path, workers=2), engine)
    # THEN pages 1-2 went to the engine whole, page 3 as two bands at once, recorded in its report
    assert isinstance(outcome, DocumentResult)
    kinds = sorted((page.number, page.path.stem.split("_")[1]) for page in engine.seen)
    assert [number for number, kind in kinds if not kind.startswith("band")] == [1, 2]
    assert [kind for number, kind in kinds if number == 3] == ["band0", "band1"]
    assert outcome.pages[2].text == "page 3\n\npage 3"
    assert outcome.pages[2].preprocessing["bands"][0][0] == 0
    assert "bands" not in outcome.pages[0].preprocessing
    # AND an engine that cannot (a cloud service, billed per call) always gets whole pages
    plain = FakeEngine()
    process_local_file(path, DocumentRef("", "doc.tif"), _settings(tmp_path, workers=2), plain)
    assert not any("band" in page.path.stem for page in plain.seen)


class DpiRecorder(FakeEngine):
    def recognize(self, page, languages, timeout):
        self.dpis = [*getattr(self, "dpis", []), page.dpi]
        return super().recognize(page, languages, timeout)


@pytest.mark.parametrize(("stated", "told"), [(None, 300), ((150, 150), 150)])
def test_a_file_without_a_resolution_is_read_at_the_one_its_lines_suggest(tmp_path, stated, told):
    # GIVEN a PNG of body text (54 px line pitch: read at full size) that states no resolution, or states 150 dpi
    path = tmp_path / "page.png"
    image = _text_page(pitch=54)
    image.save(path, **({"dpi": stated} if stated else {}))
    engine = DpiRecorder()
    # WHEN it is read with the auto recipe
    settings = Settings(work_dir=tmp_path / "work", workers=1)
    process_local_file(path, DocumentRef("", "page.png"), settings, engine)
    # THEN the engine is told the estimate only when the file says nothing
    assert engine.dpis == [told]


class PitchedDpiRecorder(DpiRecorder):
    def capabilities(self, languages: str) -> Capabilities:
        return Capabilities(read_pitch=50.0)


def test_large_text_is_read_at_the_engines_pitch_and_the_engine_is_told_the_resolution_it_is_read_at(tmp_path):
    # GIVEN a 300 dpi scan of large text (lines 100 px apart) and an engine that reads best at 50 px
    path = tmp_path / "page.png"
    _text_page(height=5000, pitch=100).save(path, dpi=(300, 300))
    engine = PitchedDpiRecorder()
    # WHEN it is read with the auto recipe
    settings = Settings(work_dir=tmp_path / "work", workers=1)
    outcome = process_local_file(path, DocumentRef("", "page.png"), settings, engine)
    # THEN the engine got it at half size, told 150 dpi, and the page says so
    assert isinstance(outcome, DocumentResult)
    page = outcome.pages[0]
    assert engine.dpis == [150] and (engine.seen[0].width, engine.seen[0].height) == (1000, 2500)
    assert (page.width, page.height, page.dpi) == (1000, 2500, 150)
    assert page.preprocessing["scale"] == 0.5 and "downscale" in page.preprocessing["steps"]
    # AND an engine that names no pitch (a cloud service) gets the page as rendered
    plain = DpiRecorder()
    outcome = process_local_file(path, DocumentRef("", "page.png"), settings, plain)
    assert plain.dpis == [300] and (plain.seen[0].width, plain.seen[0].height) == (2000, 5000)
    assert isinstance(outcome, DocumentResult) and outcome.pages[0].preprocessing["scale"] == 1.0


class LanguageRecorder(FakeEngine):
    """A local engine that reads page 3 as Chinese — surely only with Chinese among its languages — and every
    other page as English; records the languages each page was read with, in order."""

    def __init__(self) -> None:
        super().__init__(capabilities=Capabilities(local=True))
        self.reads: list[tuple[int, str]] = []

    def recognize(self, page, languages, timeout):
        from s3ocr.models import Box, Line, Recognition, Word

        self.reads.append((page.number, languages))
        if page.number != 3:
            return super().recognize(page, languages, timeout)
        confidence = 0.95 if "chi_sim" in languages else 0.2
        word = Word("打印匹配的行", Box(1, 2, 3, 4), confidence)
        return Recognition("打印匹配的行", (Line("打印匹配的行", Box(1, 2, 3, 4), confidence, (word,)),), confidence)


def test_pages_after_english_ones_are_read_with_the_latin_languages_until_chinese_shows(tmp_path):
    # GIVEN a 5-page document read one page at a time with chi_sim+eng, whose third page is Chinese
    engine = LanguageRecorder()
    settings = _settings(tmp_path, workers=1, languages="chi_sim+eng")
    outcome = process_local_file(_tiff(tmp_path, 5), DocumentRef("", "doc.tif"), settings, engine)
    # THEN page 1 is read with every language, pages 2-3 with eng (English so far); page 3, unsure so, is
    # read with every language next and settles; the pages after it are read with every language again
    assert engine.reads == [(1, "chi_sim+eng"), (2, "eng"), (3, "eng"), (3, "chi_sim+eng"), (4, "chi_sim+eng"),
                            (5, "chi_sim+eng")]
    assert isinstance(outcome, DocumentResult) and outcome.languages == "chi_sim+eng"
    assert [page.preprocessing["languages"] for page in outcome.pages] == ["chi_sim+eng", "eng", "chi_sim+eng",
                                                                         "chi_sim+eng", "chi_sim+eng"]
    assert outcome.pages[2].preprocessing["read"]["kept"] == "all_languages" and "打印" in outcome.pages[2].text


class ReplacedEngine(FakeEngine):
    """A local engine whose every reading a second engine replaces (a document of faxed forms under ``auto``)."""

    def __init__(self) -> None:
        super().__init__(capabilities=Capabilities(local=True))
        self.asked_first: list[int] = []

    def _second(self, page):
        from s3ocr.models import Box, Line, Recognition, Word

        text = f"second {page.number}"
        word = Word(text, Box(1, 2, 3, 4), 0.95)
        return Recognition(text, (Line(text, Box(1, 2, 3, 4), 0.95, (word,)),), 0.95, engine="second")

    def reconsider(self, page, languages, timeout, reading, opinion=None):
        return self._second(page)

    def second_opinion(self, page, languages, timeout):
        with self._lock:
            self.asked_first.append(page.number)
        return Opinion(self._second(page), sure=True)


def test_a_document_whose_readings_are_all_replaced_asks_the_second_engine_first(tmp_path):
    # GIVEN a 7-page document read one page at a time, every first reading of which the second engine replaces
    engine = ReplacedEngine()
    outcome = process_local_file(_tiff(tmp_path, 7), DocumentRef("", "doc.tif"), _settings(tmp_path, workers=1),
                                 engine)
    # THEN pages 1-2 are read by the first engine; pages 3-5 and 7 ask the second engine first and the first reads
    # nothing; page 6, the fourth since, is read the usual way to notice a change; every page has the second text
    assert isinstance(outcome, DocumentResult)
    assert sorted(page.number for page in engine.seen) == [1, 2, 6]
    assert engine.asked_first == [3, 4, 5, 7]
    assert [page.text for page in outcome.pages] == [f"second {n}" for n in range(1, 8)]
    assert [bool(page.preprocessing["read"].get("asked_first")) for page in outcome.pages] == \
        [False, False, True, True, True, False, True]
    assert all(page.preprocessing["read"]["second_opinion"] == "second" for page in outcome.pages)


class TimedEngine(ReplacedEngine):
    """``ReplacedEngine`` whose second opinion replaces only the readings of the ``forms`` pages, and whose every
    reading of page n takes ``delays[n]`` seconds."""

    def __init__(self, delays: dict[int, float], forms: set[int]) -> None:
        super().__init__()
        self.delays, self.forms = delays, forms

    def recognize(self, page, languages, timeout):
        time.sleep(self.delays.get(page.number, 0.0))
        return super().recognize(page, languages, timeout)

    def second_opinion(self, page, languages, timeout):
        time.sleep(self.delays.get(page.number, 0.0))
        return super().second_opinion(page, languages, timeout)

    def reconsider(self, page, languages, timeout, reading, opinion=None):
        return super().reconsider(page, languages, timeout, reading) if page.number in self.forms else reading


def test_a_document_reads_the_same_however_its_pages_threads_run(tmp_path):
    # GIVEN a 10-page document of five forms, then five pages the first engine reads sure, read two at a time
    results = []
    for slow in (1, 0):  # WHEN read once with its odd pages slow, once with its even ones
        engine = TimedEngine({n: 0.15 for n in range(1, 11) if n % 2 == slow}, forms={1, 2, 3, 4, 5})
        outcome = process_local_file(_tiff(tmp_path, 10), DocumentRef("", "doc.tif"),
                                     _settings(tmp_path, workers=2), engine)
        assert isinstance(outcome, DocumentResult)
        results.append((sorted(engine.asked_first), [page.text for page in outcome.pages]))
    # THEN each page is decided from the pages four and more before it: page 6 is the first asked the second engine
    # first, page 9 (the fourth of the run) is read the usual way, and the run ends with it: the same both times
    assert results[0] == results[1]
    assert results[0][0] == [6, 7, 8, 10]


def _lined(width: int = 600, height: int = 900, pitch: int = 40) -> Image.Image:
    """A tall page of dark bars, one a 'line': cut into bands when all cores read it at once."""
    page = Image.new("L", (width, height), 255)
    for top in range(40, height - 40, pitch):
        page.paste(0, (40, top, width - 40, top + pitch // 2))
    return page


@pytest.mark.parametrize("replaced_before", [0, 2])
def test_the_last_page_asked_the_second_engine_first_is_not_cut_into_bands(tmp_path, replaced_before):
    from s3ocr.page import PageContext, read_page
    from s3ocr.pages.images import ImagePages
    from s3ocr.reading import DocumentWriting, PageOutcome

    # GIVEN the last page of a document, read by two cores, after 0 or 2 pages whose readings were replaced
    path = tmp_path / "doc.tif"
    _lined().save(path, save_all=True, append_images=[_lined(), _lined()])
    settings = _settings(tmp_path, workers=2)
    settings.work_dir.mkdir(parents=True)
    writing = DocumentWriting()
    for number in range(1, replaced_before + 1):
        writing.record(number, PageOutcome(text=True, cjk=False, replaced=True, vertical=False))
    engine = ReplacedEngine()
    context = PageContext(ImagePages(path, settings.max_page_pixels), settings.work_dir, settings, engine, last=3,
                          writing=writing)
    # WHEN it is read
    page = read_page(context, 3)
    # THEN asked first, it is read whole by the second engine and never cut; read the usual way, it is read in bands
    if replaced_before:
        assert engine.asked_first == [3] and engine.seen == [] and "bands" not in page.preprocessing
    else:
        assert engine.asked_first == [] and len(page.preprocessing["bands"]) == 2
        assert sorted(p.path.stem for p in engine.seen) == ["000003_band0", "000003_band1"]
