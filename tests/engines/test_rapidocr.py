"""RapidOCR's own shapes: detector quadrilaterals become page boxes, languages it cannot read are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3ocr.engines.rapidocr import RapidOcrEngine, parse, polygon_box
from s3ocr.errors import ConfigurationError
from s3ocr.models import Box, PageImage

PAGE = PageImage(number=1, path=Path("page.pgm"), width=1000, height=800, dpi=300)


def test_a_tilted_quadrilateral_becomes_its_bounding_box_clipped_to_the_page():
    quad = [[-3.2, 10.4], [1005.0, 12.0], [1004.0, 60.7], [-2.0, 58.9]]
    assert polygon_box(quad, PAGE) == Box(0, 10, 1000, 51)


def test_results_become_lines_with_words_and_a_mean_confidence():
    result = [
        [[[10, 10], [400, 10], [400, 50], [10, 50]], "Hello world", 0.9],
        [[[10, 60], [300, 60], [300, 100], [10, 100]], "  ", 0.99],  # nothing readable: dropped
        [[[10, 110], [300, 110], [300, 150], [10, 150]], "打印匹配的行", 0.7],
    ]
    recognition = parse(result, PAGE)
    assert recognition.text == "Hello world\n打印匹配的行"
    assert [line.confidence for line in recognition.lines] == [0.9, 0.7]
    assert [word.text for word in recognition.lines[0].words] == ["Hello", "world"]
    assert recognition.mean_confidence == 0.8


def test_no_text_is_an_empty_recognition():
    recognition = parse(None, PAGE)
    assert (recognition.text, recognition.lines, recognition.mean_confidence) == ("", (), None)


@pytest.mark.parametrize("languages", ["jpn", "chi_sim+kor", "deu"])
def test_languages_the_models_do_not_read_are_a_configuration_error(languages, tmp_path):
    with pytest.raises(ConfigurationError, match="do not read"):
        RapidOcrEngine().recognize(PAGE, languages, timeout=10)
