"""PP-OCRv6 through RapidOCR: its shapes become the normalised schema, it reads only from the wheel, and a real
page read as the pipeline configures it."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from s3ocr.engines import rapidocr
from s3ocr.engines.rapidocr import RapidOcrEngine, parse
from s3ocr.errors import ConfigurationError
from s3ocr.models import Box, PageImage

PAGE = PageImage(number=1, path=Path("page.pgm"), width=1000, height=800, dpi=300)


def quad(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float32)


def test_lines_become_boxes_clipped_to_the_page_with_their_words():
    lines = [
        (np.array([[-3.2, 10.4], [1005.0, 12.0], [1004.0, 60.7], [-2.0, 58.9]]), "Hello world", 0.9,
         [("Hello", 0.8, quad(5, 12, 300, 58)), ("world", 1.0, quad(320, 12, 1010, 58))]),
        (quad(10, 60, 300, 100), "  ", 0.99, []),  # nothing readable: dropped
        (quad(10, 110, 300, 150), "打印", 0.7, [("打", 0.7, quad(10, 110, 60, 150)), ("印", 0.7, None)]),
        (quad(10, 160, 300, 200), "noise", 0.3, []),  # under RapidOCR's own score floor: dropped
    ]
    recognition = parse(lines, PAGE)
    assert recognition.text == "Hello world\n打印"
    first, second = recognition.lines
    assert first.box == Box(0, 10, 1000, 51) and first.confidence == 0.9
    # a word box pokes out of its line by a few pixels: it is kept inside the line
    assert [(w.text, w.box, w.confidence) for w in first.words] == [("Hello", Box(5, 12, 295, 46), 0.8),
                                                                  ("world", Box(320, 12, 680, 46), 1.0)]
    # a word the recogniser could not place is left out of the words, not given a made-up box
    assert [w.text for w in second.words] == ["打"]
    assert recognition.mean_confidence == pytest.approx((0.8 + 1.0 + 0.7) / 3, abs=1e-4)


def test_a_line_without_placed_words_gets_its_tokens_with_the_line_box():
    [line] = parse([(quad(10, 10, 400, 50), "two words", 0.95, [])], PAGE).lines
    assert [(w.text, w.box) for w in line.words] == [("two", line.box), ("words", line.box)]


def test_no_text_is_an_empty_recognition():
    recognition = parse([], PAGE)
    assert (recognition.text, recognition.lines, recognition.mean_confidence) == ("", (), None)


@pytest.mark.parametrize("languages", ["jpn", "chi_sim+kor", "deu"])
def test_languages_the_models_do_not_read_are_a_configuration_error(languages):
    with pytest.raises(ConfigurationError, match="do not read"):
        RapidOcrEngine().recognize(PAGE, languages, timeout=10)


def test_the_engine_declares_a_local_engine_that_reads_pages_as_rendered():
    capabilities = RapidOcrEngine().capabilities("chi_sim+eng")
    assert capabilities.local and capabilities.read_pitch is None
    assert "PP-OCRv6" in RapidOcrEngine().version


def test_models_load_from_the_wheel_and_reading_needs_no_network(resources, tmp_path, monkeypatch):
    # GIVEN no network at all: any socket the engine (or RapidOCR under it) opened would fail the test
    def refuse(*args, **kwargs):
        raise AssertionError("the rapidocr engine tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # fresh readers and models: the models load now
    monkeypatch.setattr(rapidocr, "READERS", rapidocr.ReaderPool())
    monkeypatch.setattr(rapidocr, "MODELS", rapidocr._Models())
    image = cv2.imread(str(resources / "zh-clean.png"), cv2.IMREAD_GRAYSCALE)
    path = tmp_path / "000001_ocr.pgm"
    cv2.imwrite(str(path), image)
    page = PageImage(1, path, image.shape[1], image.shape[0], 300)
    # WHEN a Chinese page is read  THEN its text comes back, with the model files the wheel ships
    result = RapidOcrEngine().recognize(page, "chi_sim+eng", timeout=120)
    assert "打印匹配给定模式的行" in result.text.replace(" ", ""), result.text
    assert (rapidocr.model_dir() / rapidocr.DET_MODEL).is_file()
    assert all(line.words for line in result.lines)


def test_pages_wait_for_the_readers_being_prewarmed_instead_of_loading_more(monkeypatch):
    # GIVEN readers that take a while to build, counted as they are built
    import threading
    import time

    built = []

    class SlowReader:
        def __init__(self, latin: bool = False) -> None:
            time.sleep(0.2)
            built.append(self)

    monkeypatch.setattr(rapidocr, "_Reader", SlowReader)
    pool = rapidocr.ReaderPool(size=2)
    # WHEN two are prewarmed and three pages borrow at once, giving them back when done
    pool.prewarm(2)
    borrowed: list[object] = []

    def page() -> None:
        reader = pool.borrow()
        borrowed.append(reader)
        time.sleep(0.05)
        pool.give_back(reader)

    threads = [threading.Thread(target=page) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN only the two prewarmed readers were ever built (one per CPU of two), and every page got one
    assert len(built) == 2 and len(borrowed) == 3 and set(map(id, borrowed)) <= set(map(id, built))


def test_readers_share_one_set_of_models_and_read_at_once_as_alone(resources, monkeypatch):
    # GIVEN fresh models and two readers, as two pages read at once borrow them
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(rapidocr, "MODELS", rapidocr._Models())
    first, second = rapidocr._Reader(latin=True), rapidocr._Reader(latin=False)
    # THEN they hold the same detector and recogniser for the same kind of page: built once
    assert first.detector is second.detector and first.detector_for(True) is second.detector_for(True)
    assert first.recognizer_for(True) is second.recognizer_for(True)
    assert first.recognizer is second.recognizer
    # AND two pages read at the same time on the two threads come back as each reads alone
    pages = [(first, cv2.imread(str(resources / "linn.png"), cv2.IMREAD_COLOR), True),
             (second, cv2.imread(str(resources / "zh-clean.png"), cv2.IMREAD_COLOR), False)]

    def texts(job):
        reader, image, latin = job
        return [text for _, text, _, _ in reader.read(image, latin)]

    alone = [texts(job) for job in pages]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):
            assert list(pool.map(texts, pages)) == alone
    assert any("LinnSequencer" in line for line in alone[0])


def test_readers_plan_no_memory_by_input_shape():
    # GIVEN a reader as the engine builds it  THEN its sessions keep no per-shape memory plans (each page and
    # line has its own shape: the plans grew a reader by 300 MB over the corpus), and RapidOCR's own builder
    # is left as it was for anyone else
    from rapidocr.inference_engine.onnxruntime.main import OrtInferSession

    builder = OrtInferSession._init_sess_opts
    reader = rapidocr._Reader()
    for model in (reader.detector, reader.recognizer, reader.detector_for(True), reader.recognizer_for(True)):
        assert model.session.session.get_session_options().enable_mem_pattern is False
    assert OrtInferSession._init_sess_opts is builder


def test_rapidocr_is_imported_with_its_model_registry_as_plain_data(resources):
    # GIVEN a fresh process (RapidOCR is imported once a process)  WHEN the engine reads a page
    import subprocess
    import sys

    script = f"""
from pathlib import Path
from omegaconf import OmegaConf
from s3ocr.engines.rapidocr import RapidOcrEngine
from s3ocr.models import PageImage
load = OmegaConf.load
page = PageImage(number=1, path=Path({str(resources / "zh-clean.png")!r}), width=0, height=0, dpi=300)
text = RapidOcrEngine().recognize(page, "chi_sim+eng", 120).text
import rapidocr.inference_engine.base as base, rapidocr.utils.model_resolver as resolver
print(type(base.InferSession.model_info).__name__, type(resolver._MODEL_CONFIG).__name__,
      resolver.normalize_lang("ch"), OmegaConf.load is load, len(text) > 20)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    # THEN RapidOCR's registry of model URLs was read as plain data (0.02 s instead of 0.75 s into OmegaConf),
    # the language aliases it reads from it still resolve, OmegaConf is left as it was, and the page reads
    assert done.stdout.split() == ["dict", "dict", "ch", "True", "True"], done.stderr[-2000:]
