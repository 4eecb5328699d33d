"""Text clean-up: CJK spacing and punctuation width (rules in s3ocr.textclean's docstring)."""

from __future__ import annotations

import pytest

from s3ocr.textclean import clean_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # Spaces Tesseract puts between CJK characters go; CJK-Latin spaces stay.
        ("命 令 解 释 程 序", "命令解释程序"),
        ("使 用 Korn 和 C Shell 的 特 性", "使用 Korn 和 C Shell 的特性"),
        # Full-width punctuation carries its own spacing.
        ("输 出 ， 而 socket 将 被 作 为 3 号 。", "输出，而 socket 将被作为 3 号。"),
        ("（ 成 功 地 ）", "（成功地）"),
        # ASCII brackets hugging CJK text lose the space on their inner side only.
        ("true - ( 成 功 地 ) 什 么", "true - (成功地) 什么"),
        # Colon and semicolon after CJK are full-width; between ASCII they are ASCII.
        ("选 项 : 显 示", "选项：显示"),
        ("目 录 ; 文 件", "目录；文件"),
        ("时 间 10：30", "时间 10:30"),
        ("Note: see ls(1).", "Note: see ls(1)."),
        # Full stops, commas and brackets keep the form Tesseract read.
        ("文 件 . 文 件 , 用 于", "文件.文件,用于"),
        # The angle quote Tesseract reads for a full-width parenthesis is put right, a real one is kept.
        ("归 档 〈 备 份 ）", "归档（备份）"),
        ("〈 书 名 〉 (1)", "〈书名〉 (1)"),
        # Full-width letters and digits become ASCII.
        ("ＡＢＣ１２３", "ABC123"),
        # A lone ellipsis in Latin context is the man-page "..."; the Chinese "……" stays.
        ("[file]…", "[file]..."),
        ("等 等 … …", "等等……"),
        ("", ""),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_line_and_paragraph_breaks_are_kept():
    # GIVEN two paragraphs of spaced CJK text WHEN cleaned THEN the newlines are exactly as before
    raw = "第 一 行\n第 二 行\n\n  新 段 落 \n"
    assert clean_text(raw) == "第一行\n第二行\n\n  新段落 \n"


def test_latin_text_is_untouched():
    text = "The quick  brown fox: jumps; over the (lazy) dog?\n\nNext paragraph..."
    assert clean_text(text) == text


def test_clean_text_is_idempotent():
    raw = "命 令 解 释 程 序 : Bourne 二 世 ) 是 一 个 ， 与 …"
    once = clean_text(raw)
    assert clean_text(once) == once


def test_a_page_without_cjk_gets_latin_punctuation():
    from s3ocr.textclean import has_cjk, latin_punctuation

    # GIVEN an English page read with chi_sim+eng: a bullet read as a CJK full stop, full-width marks
    english = "es。 Sequencer「LM-1」（1982）：drum machine、"
    assert not has_cjk(english)
    assert latin_punctuation(english) == 'es. Sequencer"LM-1"(1982):drum machine,'
    # AND a Chinese page keeps its punctuation
    assert has_cjk("输出，而 socket 将被作为 3 号。")
