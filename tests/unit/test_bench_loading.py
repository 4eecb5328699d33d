"""The loading benchmark: a fresh process's start, the loading its first reading pays, and a warm reading."""

from __future__ import annotations

import re

import cv2

from s3ocr.bench import loading


def test_a_round_measures_the_start_the_loading_and_the_warm_reading(resources, tmp_path, capsys):
    # GIVEN a page of small text (read by PP-OCRv6) and one of larger text (read by Tesseract)
    gray = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)
    pages = []
    for scale in (0.34, 0.6):
        pages.append(tmp_path / f"page-{scale}.png")
        cv2.imwrite(str(pages[-1]), cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    # WHEN one round runs, in a process of its own, two pages at once
    assert loading.main([*map(str, pages), "--rounds", "1"]) == 0
    figures = dict(re.findall(r"^- (.+): ([\d.]+)$", capsys.readouterr().out, re.MULTILINE))
    # THEN the start includes the handler's import (boto3, Powertools), the first reading cost more than the
    # second by what it loaded (both engines, Tesseract's workers and PP-OCRv6's readers), and a page was read
    init, load, warm = (float(value) for value in figures.values())
    assert list(figures) == ["start and the handler's import (init)", "loading: the first reading minus the second",
                             "a page, warm"]
    assert init > 0.1 and load > 0.1 and warm > 0.05, figures
