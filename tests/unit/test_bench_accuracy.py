"""The accuracy benchmark's scoring and table, and the corpus generator's pieces (no OCR run here)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from s3ocr.bench import accuracy, corpus, tables
from s3ocr.bench.accuracy import PageScore
from s3ocr.bench.scoring import bag_of_characters, cer, levenshtein, normalise


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("命令解释", "命今解释程", 2)],
)
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_scores_normalise_with_nfkc_and_ignore_all_whitespace():
    # GIVEN Tesseract's spaced CJK output, full-width letters, and a reference with newlines
    assert normalise("ＡＢ　c\n d") == "ABcd"
    assert cer("命令解释\n程序 shell", "命 令 解 释 程 序 s h e l l") == 0.0


def test_cer_is_distance_over_reference_length():
    assert cer("abcd", "abxd") == pytest.approx(0.25)
    assert cer("ab", "") == 1.0
    assert cer(" ", "") == 0.0
    assert cer("", "x") == 1.0


def test_bag_of_characters_ignores_order_and_counts_repeats():
    # GIVEN two columns read in the wrong order: every character right
    assert bag_of_characters("abc def", "def abc").f1 == 1.0
    assert cer("abc def", "def abc") > 0.5
    # AND a reading with a character missing and one extra
    score = bag_of_characters("aab", "abc")
    assert (score.precision, score.recall) == pytest.approx((2 / 3, 2 / 3))
    assert bag_of_characters("ab", "").f1 == 0.0


def test_configs_name_a_recipe_and_an_engine():
    assert (accuracy.recipe_for("raw@tesseract"), accuracy.engine_for("raw@tesseract")) == ("none", "tesseract")
    assert (accuracy.recipe_for("auto"), accuracy.engine_for("auto")) == ("auto", "auto")
    assert (accuracy.recipe_for("rapidocr"), accuracy.engine_for("rapidocr")) == ("auto", "rapidocr")
    assert accuracy.recipe_for("grayscale+median_denoise@tesseract") == "grayscale,median_denoise"


def test_load_corpus_reads_real_and_rendered_manifests(tmp_path):
    entries = [{"image": "zh-clean.png", "truth": "zh-clean.gt.txt", "lang": "zh", "degradation": "clean"},
               {"image": "omni-x.jpg", "truth": "t.txt", "lang": "zh", "kind": "book", "set": "document"},
               {"image": "sroie-1.jpg", "truth": "t.txt", "lang": "en", "kind": "receipt", "set": "document"}]
    (tmp_path / "manifest.json").write_text(json.dumps(entries))
    rendered, book, receipt = accuracy.load_corpus(tmp_path)
    assert rendered.image == tmp_path / "zh-clean.png"
    assert (rendered.kind, rendered.set, rendered.ordered_truth) == ("clean", "rendered", True)
    assert (book.kind, book.set, book.ordered_truth) == ("book", "document", True)
    assert receipt.ordered_truth is False  # the truth's order is a heuristic: CER does not count



@pytest.mark.parametrize("warm", [False, True])
def test_a_warm_reading_times_only_the_second_reading_of_the_page(tmp_path, monkeypatch, warm):
    # GIVEN a page whose readings are counted, and a CPU clock that advances one second per reading
    (tmp_path / "t.txt").write_text("abc")
    sample = accuracy.Sample(tmp_path / "p.png", tmp_path / "t.txt", "en", "scan")
    readings: list[str] = []
    monkeypatch.setattr(accuracy, "read", lambda page, config: readings.append(config) or ("abc", "ok", {}))
    monkeypatch.setattr(accuracy, "tree_cpu_seconds", lambda: float(len(readings)))
    # WHEN it is scored, warm or not
    score = accuracy.score_page(sample, "auto", warm=warm)
    # THEN a warm score read it once more, before, and timed one reading all the same
    assert readings == ["auto"] * (2 if warm else 1)
    assert score.cpu_seconds == 1.0 and score.f1 == 1.0


def test_turned_copies_keep_the_truth_and_say_their_turn(tmp_path, resources):
    # GIVEN a corpus page
    sample = accuracy.Sample(image=resources / "linn.png", truth=resources / "linn.txt", lang="en", kind="scan",
                             set="document")
    # WHEN turned copies are made
    copies = accuracy.turned([sample], [90, 180], tmp_path)
    # THEN each is the page turned clockwise by its degrees, with the same truth, named by its turn
    import cv2

    original = cv2.imread(str(sample.image), cv2.IMREAD_UNCHANGED)
    quarter, half = (cv2.imread(str(copy.image), cv2.IMREAD_UNCHANGED) for copy in copies)
    assert (quarter == cv2.rotate(original, cv2.ROTATE_90_CLOCKWISE)).all()
    assert (half == original[::-1, ::-1]).all()
    assert [copy.kind for copy in copies] == ["scan, turned 90", "scan, turned 180"]
    assert {copy.truth for copy in copies} == {sample.truth}


def test_resampled_copies_have_their_lines_the_pitch_asked_apart(tmp_path, resources):
    # GIVEN a corpus page whose lines lie ~45 px apart
    sample = accuracy.Sample(image=resources / "linn.png", truth=resources / "linn.txt", lang="en", kind="scan",
                             set="document")
    # WHEN copies are made for lines 15 and 30 px apart, and 60 (larger than the page's)
    copies = accuracy.resampled([sample], [15, 30, 60], tmp_path)
    # THEN two, whose lines measure as asked, with the same truth; none scaled up
    import cv2

    from s3ocr.preprocess import line_pitch

    assert [copy.kind.rsplit("-> ", 1)[1] for copy in copies] == ["15 px apart", "30 px apart"]
    for copy, pitch in zip(copies, (15, 30), strict=True):
        assert line_pitch(cv2.imread(str(copy.image), cv2.IMREAD_GRAYSCALE)) == pytest.approx(pitch, abs=1.5)
    assert {copy.truth for copy in copies} == {sample.truth}


def score(lang: str, kind: str, config: str, value: float, image: str = "", text: str = "x", f1: float = 1.0,
          page_set: str = "rendered") -> PageScore:
    image = image or f"{lang}-{kind}.png"
    ordered = page_set == "rendered" or image.startswith(accuracy.ORDERED_TRUTH)
    return PageScore(image, lang, kind, page_set, ordered, config, value, f1, f1, 1.0, 2.0,
                     "ok" if text else "no_text_found", {}, text)


def test_kind_table_has_a_cell_per_kind_and_config_and_mean_rows():
    # GIVEN two kinds of zh pages (one with two pages) and one en page, scored in two configs
    scores = [
        score("zh", "clean", "raw", 0.1),
        score("zh", "clean", "auto", 0.0),
        score("zh", "rot90", "raw", 1.0, "a.png"),
        score("zh", "rot90", "auto", 0.2, "a.png"),
        score("zh", "rot90", "raw", 0.8, "b.png"),
        score("zh", "rot90", "auto", 0.0, "b.png"),
        score("en", "clean", "raw", 0.004),
        score("en", "clean", "auto", 0.002),
    ]
    # WHEN tabulated
    table = tables.kind_table(scores, ["raw", "auto"]).splitlines()
    # THEN pages of a kind are averaged, then kinds are averaged with equal weight
    assert table[0] == "| lang | degradation | raw | auto |"
    assert "| zh | rot90 | 0.900 | 0.100 |" in table
    assert "| zh | **mean** | **0.500** | **0.050** |" in table
    assert "| en | clean | 0.004 | 0.002 |" in table
    assert table[-2:] == ["| all | seconds/page | 1.0 | 1.0 |", "| all | CPU-s/page | 2.0 | 2.0 |"]


def test_checks_name_pages_worse_than_bare_tesseract_and_pages_left_blank():
    # GIVEN three real pages: one read like bare Tesseract, one worse beyond the slack, one left without text
    real = {"page_set": "document"}
    scores = [score("en", "scan", "bare-tesseract", 0.10, "tess-a.tif", f1=0.95, **real),
              score("en", "scan", "auto", 0.12, "tess-a.tif", f1=0.94, **real),
              score("en", "form", "bare-tesseract", 0.10, "funsd-b.png", f1=0.95, **real),
              score("en", "form", "auto", 0.90, "funsd-b.png", f1=0.80, **real),
              score("en", "scan", "bare-tesseract", 0.30, "tess-c.tif", f1=0.70, **real),
              score("en", "scan", "auto", 1.00, "tess-c.tif", f1=0.0, text="", **real)]
    found = tables.checks(scores, ["bare-tesseract", "auto"])
    # THEN the worse page is named by its bag-F1 (its CER does not count: the form's truth order is a
    # heuristic), the blank one by both measures and as a page a bare engine reads
    assert found[0].startswith("- auto: 3 page(s) worse") and "funsd-b.png bag-F1 0.800 < 0.950" in found[0]
    assert "funsd-b.png CER" not in found[0] and "tess-c.tif CER 1.000 > 0.300" in found[0]
    assert found[1] == "- auto: 1 page(s) without text that a bare engine reads: tess-c.tif (read by bare-tesseract)"


def test_man_paragraphs_strip_troff(tmp_path):
    # GIVEN a gzipped troff page with requests, font escapes and an escaped hyphen
    source = ".TH LS 1\n.SH 名称\nls \\- 列出目录内容，这一段足够长可以作为一个段落使用的文字。\n.PP\n"
    source += "\\fBls\\fP [\\fI\\,选项\\/\\fP]... 列出指定文件的信息，如果没有指定则列出当前目录。\n"
    page = tmp_path / "ls.1.gz"
    page.write_bytes(gzip.compress(source.encode()))
    # WHEN read THEN the paragraphs are plain text
    assert corpus.man_paragraphs(page) == [
        "ls - 列出目录内容，这一段足够长可以作为一个段落使用的文字。",
        "ls [选项]... 列出指定文件的信息，如果没有指定则列出当前目录。",
    ]


def test_wrap_breaks_cjk_anywhere_and_latin_at_spaces():
    font = corpus.ImageFont.load_default()
    lines = corpus.wrap("alpha beta gamma delta epsilon zeta eta theta", font, 120)
    assert len(lines) > 1
    assert " ".join(lines) == "alpha beta gamma delta epsilon zeta eta theta"


def test_render_page_returns_the_text_it_drew():
    font = corpus.FONTS["en"][2]
    if not Path(font).exists():
        pytest.skip("DejaVu font not installed")
    page, text = corpus.render_page(["first paragraph", "second one"], font, 40)
    assert page.shape == (corpus.PAGE_H, corpus.PAGE_W)
    assert text == "first paragraph\n\nsecond one"
    assert page.min() == 0 and page.max() == 255


@pytest.mark.parametrize("kind", sorted(corpus.DEGRADATIONS))
def test_degradations_keep_a_page_a_gray_page(kind):
    rng = np.random.default_rng(0)
    page = np.full((200, 100), 255, np.uint8)
    page[50:60, 10:90] = 0
    damaged = corpus.DEGRADATIONS[kind](page, rng)
    assert damaged.dtype == np.uint8 and damaged.ndim == 2
    expected = {"rot90": (100, 200), "phone": (100, 50)}.get(kind, (200, 100))
    assert damaged.shape == expected
    if kind in ("noise", "shadow", "saltpepper", "skew"):
        assert not np.array_equal(damaged, page)


def test_pick_text_is_reproducible_from_its_seed():
    if not any(corpus.MAN_DIRS["en"].glob("*.gz")):
        pytest.skip("no manual pages installed")
    first = corpus.pick_text("en", random.Random(3), 500)
    assert first == corpus.pick_text("en", random.Random(3), 500)
    assert sum(len(p) for p in first) >= 500
