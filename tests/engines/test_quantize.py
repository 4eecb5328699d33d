"""PP-OCRv6's int8 recogniser and detector: built from the wheel's float models by ``s3ocr.engines.quantize``
(``make model``), read by the engine, and reading what the float models read."""

from __future__ import annotations

import cv2
import onnxruntime
import pytest

from s3ocr.bench.scoring import bag_of_characters
from s3ocr.engines import rapidocr
from s3ocr.engines.quantize import LATIN_BELOW, latin_only, quantize
from s3ocr.engines.rapidocr import (
    DET_MODEL,
    DET_MODEL_LATIN,
    REC_MODEL,
    REC_MODEL_INT8,
    REC_MODEL_LATIN,
    RapidOcrEngine,
    detector_model,
    latin_detector,
    latin_model,
    model_dir,
    recogniser_model,
)
from s3ocr.models import PageImage
from s3ocr.textclean import has_cjk


def test_the_engine_reads_with_the_int8_recogniser_make_built():
    # GIVEN the set-up make runs (make model)  THEN the engine's recogniser is the int8 one, pages of Latin text
    # are read by the Latin recogniser and the int8 detector, pages of any text by the float detector, and the
    # engine says so
    assert recogniser_model().name == REC_MODEL_INT8
    assert (latin_model() or recogniser_model()).name == REC_MODEL_LATIN
    assert detector_model(latin=True).name == DET_MODEL_LATIN and detector_model(latin=False).name == DET_MODEL
    assert RapidOcrEngine().version.endswith(
        "(PP-OCRv6 small, int8 recognition, Latin-only for eng, int8 detection for eng)")


def test_without_the_int8_recogniser_the_float_one_reads_and_the_version_says_so(tmp_path, monkeypatch):
    # GIVEN an install where make model never ran  THEN the wheel's float recogniser is read, and named
    monkeypatch.setattr(rapidocr, "QUANTISED_DIR", tmp_path)
    assert recogniser_model() == model_dir() / REC_MODEL and latin_model() is None and latin_detector() is None
    assert detector_model(latin=True) == model_dir() / DET_MODEL
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


@pytest.mark.parametrize("page", ["linn.png", "two-columns.png"])
def test_the_int8_detector_finds_the_lines_the_float_one_finds_on_latin_pages(resources, page):
    # GIVEN a real English scan and a rendered page of two columns, and the Latin recogniser
    reader = rapidocr._Reader(latin=True)
    image = cv2.imread(str(resources / page), cv2.IMREAD_COLOR)
    # WHEN the lines are found by the float detector and by the int8 one, and read the same way
    found = {}
    for latin in (False, True):
        quads, crops = reader.lines(image, latin)
        found[latin] = (len(quads), "\n".join(read_lines(latin_model(), crops, reader,
                                                          reader.recognizer_for(True))))
    # THEN they find as many lines, and the texts are all but the same
    assert found[False][0] >= 7 and abs(found[False][0] - found[True][0]) <= 1
    assert bag_of_characters(found[False][1], found[True][1]).f1 >= 0.99, found


def test_quantize_writes_a_detector_with_int8_kernels(resources, tmp_path):
    # GIVEN calibration on a real English scan
    out = tmp_path / "det.int8.onnx"
    # WHEN the float detector is quantised
    quantize(model_dir() / DET_MODEL, out, [resources / "linn.png"], detector=True)
    # THEN the model has quantised kernels, its GELUs fused, a third of the size, and finds the scan's lines
    import onnx

    kinds = [node.op_type for node in onnx.load(str(out)).graph.node]
    assert {"QuantizeLinear", "DequantizeLinear"} <= set(kinds) and "Erf" not in kinds
    assert out.stat().st_size < (model_dir() / DET_MODEL).stat().st_size / 3
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    detector = rapidocr.MODELS.detector()  # the float one: its pre- and post-processing, without a recogniser
    image = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_COLOR)
    small = rapidocr.detection_input(image)[0]
    probabilities = session.run(None, {session.get_inputs()[0].name: detector.get_preprocess()(small)})[0]
    boxes, _ = detector.postprocess_op(probabilities, small.shape[:2])
    assert len(boxes) >= 7
