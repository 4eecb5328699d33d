"""PP-OCRv6's int8 recogniser: built from the wheel's float model by ``s3ocr.engines.quantize`` (``make model``),
read by the engine, and reading what the float model reads."""

from __future__ import annotations

import cv2
import onnxruntime
import pytest

from s3ocr.bench.scoring import bag_of_characters
from s3ocr.engines import rapidocr
from s3ocr.engines.quantize import LATIN_BELOW, latin_only, quantize
from s3ocr.engines.rapidocr import (
    REC_MODEL,
    REC_MODEL_INT8,
    REC_MODEL_LATIN,
    RapidOcrEngine,
    latin_model,
    model_dir,
    recogniser_model,
)
from s3ocr.models import PageImage
from s3ocr.textclean import has_cjk


def test_the_engine_reads_with_the_int8_recogniser_make_built():
    # GIVEN the set-up make runs (make model)  THEN the engine's recogniser is the int8 one, and it says so
    assert recogniser_model().name == REC_MODEL_INT8
    assert (latin_model() or recogniser_model()).name == REC_MODEL_LATIN
    assert RapidOcrEngine().version.endswith("(PP-OCRv6 small, int8 recognition, Latin-only for eng)")


def test_without_the_int8_recogniser_the_float_one_reads_and_the_version_says_so(tmp_path, monkeypatch):
    # GIVEN an install where make model never ran  THEN the wheel's float recogniser is read, and named
    monkeypatch.setattr(rapidocr, "QUANTISED_DIR", tmp_path)
    assert recogniser_model() == model_dir() / REC_MODEL and latin_model() is None
    assert RapidOcrEngine().version.endswith("(PP-OCRv6 small, float32 recognition)")


def read_lines(model, crops, reader, decoder=None) -> list[str]:
    """Each crop read by ``model`` as the engine's recogniser reads it (RapidOCR's input sizing, and decoding by
    ``decoder``'s character list: the reader's recogniser's by default)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    texts = []
    for crop in crops:
        line = reader.recognizer.resize_norm_img(crop, max(1.0, crop.shape[1] / crop.shape[0]))[None]
        probabilities = session.run(None, {session.get_inputs()[0].name: line})[0]
        texts.append((decoder or reader.recognizer).postprocess_op(probabilities)[0][0][0])
    return texts


@pytest.mark.parametrize("page", ["linn.png", "zh-clean.png"])
def test_the_int8_recogniser_reads_what_the_float_one_reads(resources, page):
    # GIVEN the lines the engine's detector finds on a real English scan and on rendered Chinese lines
    reader = rapidocr._Reader()
    _, crops = reader.lines(cv2.imread(str(resources / page), cv2.IMREAD_COLOR))
    # WHEN each line is read by the float model the wheel ships and by the int8 one
    float_text = "\n".join(read_lines(model_dir() / REC_MODEL, crops, reader))
    int8_text = "\n".join(read_lines(recogniser_model(), crops, reader))
    # THEN the texts are all but the same, character for character
    assert len(crops) >= 7
    assert bag_of_characters(float_text, int8_text).f1 >= 0.99, (float_text, int8_text)


def test_quantize_writes_a_model_with_int8_kernels_and_the_character_list(resources, tmp_path):
    # GIVEN calibration on a page of rendered Chinese lines
    out = tmp_path / "rec.int8.onnx"
    # WHEN the float recogniser is quantised
    quantize(model_dir() / REC_MODEL, out, [resources / "zh-clean.png"])
    # THEN the model has quantised kernels, its layer normalisations and GELUs fused (one operator each, where the
    # float model has a dozen), keeps the recogniser's character list, and is a quarter the size
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert "character" in session.get_modelmeta().custom_metadata_map
    assert out.stat().st_size < (model_dir() / REC_MODEL).stat().st_size / 3
    assert not list(tmp_path.glob("*.partial"))
    import onnx

    kinds = [node.op_type for node in onnx.load(str(out)).graph.node]
    assert {"QuantizeLinear", "DequantizeLinear"} <= set(kinds)
    assert kinds.count("Gelu") >= 10 and kinds.count("LayerNormalization") >= 4
    assert "Erf" not in kinds


def test_the_latin_recogniser_keeps_the_latin_classes_and_reads_an_english_scan_as_the_whole_one(resources, tmp_path):
    # GIVEN the int8 recogniser cut to its Latin characters
    out = tmp_path / "rec.latin.onnx"
    classes = latin_only(recogniser_model(), out)
    # THEN it has a class for the blank, each character below the CJK blocks and the space, and no other
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    characters = session.get_modelmeta().custom_metadata_map["character"].split("\n")
    assert classes == len(characters) + 2 == session.get_outputs()[0].shape[-1] < 2000
    assert all(max(map(ord, character)) < LATIN_BELOW for character in characters)
    assert set("AZaz09.,;:()$%&@-'\"/") <= set(characters)
    # AND every line of a real English scan reads the same as with the whole recogniser
    reader = rapidocr._Reader()
    _, crops = reader.lines(cv2.imread(str(resources / "linn.png"), cv2.IMREAD_COLOR))
    assert len(crops) >= 7
    latin_decoder = rapidocr._rapidocr(out)._load_rec_model()
    assert read_lines(out, crops, reader, latin_decoder) == read_lines(recogniser_model(), crops, reader)


def test_pages_read_with_latin_languages_only_are_read_by_the_latin_recogniser(resources, tmp_path):
    # GIVEN a page of Chinese text with some Latin words
    page = PageImage(1, resources / "zh-clean.png", 0, 0, 300)
    engine = RapidOcrEngine()
    # WHEN it is read with Chinese among the languages, and with English only
    chinese = engine.recognize(page, "chi_sim+eng", 120).text
    english = engine.recognize(page, "eng", 120).text
    # THEN the first reading has the ideographs, the second none: it came from the Latin recogniser
    assert has_cjk(chinese) and not has_cjk(english), english
