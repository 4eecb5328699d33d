"""Generate a scored test corpus: prose rendered on A4 at 300 dpi, then damaged in eight ways.

Unlike the shared evaluation corpus, every degradation of one (language, font) page shows the *same* text,
so a rotated page's CER can be compared with its upright twin. Text comes from the installed manual pages
(``manpages-zh`` for Chinese, the system's own for English) with troff markup removed; fonts from the
Debian packages ``fonts-noto-cjk``, ``fonts-wqy-zenhei``, ``fonts-arphic-uming``, ``fonts-liberation``
and ``fonts-dejavu-core``.

Usage: ``python -m s3ocr.bench.corpus OUT_DIR [--seed 7]``; writes ``manifest.json``, ``*.png`` and
``*.gt.txt`` in the format ``s3ocr.bench.accuracy`` reads.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PAGE_W, PAGE_H, MARGIN = 2481, 3507, 220
MAN_DIRS = {"zh": Path("/usr/share/man/zh_CN/man1"), "en": Path("/usr/share/man/man1")}
FONTS = {
    "zh": [
        "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/arphic/uming.ttc",
    ],
    "en": [
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ],
}
_TROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\f\(..|\\[&,/]|\\\(..|\\\*\(..|\\\*.|\\s[-+]?\d")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def man_paragraphs(path: Path) -> list[str]:
    """Plain paragraphs of a troff manual page: requests dropped, escapes resolved or removed."""
    raw = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    paragraphs: list[str] = []
    current: list[str] = []
    for line in raw.splitlines():
        if line.startswith((".", "'")):
            if current and line[1:3] in ("PP", "TP", "SH", "SS", "IP", "LP", "P "):
                paragraphs.append(" ".join(current))
                current = []
            continue
        text = _TROFF_ESCAPE.sub("", line.replace("\\-", "-").replace("\\e", "\\")).strip()
        if text:
            current.append(text)
    if current:
        paragraphs.append(" ".join(current))
    return [p for p in paragraphs if len(p) >= 30 and "\\" not in p]


def pick_text(lang: str, rng: random.Random, chars: int) -> list[str]:
    """Paragraphs from randomly chosen manual pages until about ``chars`` characters are gathered."""
    pages = sorted(MAN_DIRS[lang].glob("*.gz"))
    rng.shuffle(pages)
    chosen: list[str] = []
    for page in pages:
        paragraphs = man_paragraphs(page)
        if lang == "zh":
            paragraphs = [p for p in paragraphs if len(_CJK.findall(p)) > len(p) // 3]
        chosen.extend(paragraphs[:2])
        if sum(len(p) for p in chosen) >= chars:
            break
    return chosen


def _tokens(paragraph: str) -> list[str]:
    # CJK characters break anywhere; Latin words only at spaces (kept with their trailing space).
    return re.findall(
        r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]|[^\s\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+\s*|\s+", paragraph
    )


def wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for token in _tokens(paragraph):
        if line and font.getlength(line + token.rstrip()) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def render_page(paragraphs: Sequence[str], font_path: str, size: int) -> tuple[np.ndarray, str]:
    """A white A4 page at 300 dpi with the paragraphs typeset; returns the page and the exact text on it."""
    font = ImageFont.truetype(font_path, size)
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    draw = ImageDraw.Draw(page)
    pitch, y = int(size * 1.45), MARGIN
    drawn: list[str] = []
    for paragraph in paragraphs:
        for line in wrap(paragraph, font, PAGE_W - 2 * MARGIN):
            if y + pitch > PAGE_H - MARGIN:
                return np.array(page), "\n".join(drawn)
            draw.text((MARGIN, y), line, font=font, fill=0)
            drawn.append(line)
            y += pitch
        y += pitch // 2
        drawn.append("")
    return np.array(page), "\n".join(drawn).strip()


def render_columns_page(title: str, paragraphs: Sequence[str], font_path: str, size: int, columns: int = 2,
                        gutter: int = 90) -> tuple[np.ndarray, str]:
    """A white A4 page at 300 dpi: a title across the page, then the paragraphs in ``columns`` columns, each
    column filled to the bottom before the next. Returns the page and its text in reading order (the title,
    then each column's lines)."""
    font, title_font = ImageFont.truetype(font_path, size), ImageFont.truetype(font_path, int(size * 1.6))
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    draw = ImageDraw.Draw(page)
    draw.text((MARGIN, MARGIN), title, font=title_font, fill=0)
    drawn = [title, ""]
    pitch, top = int(size * 1.45), MARGIN + int(size * 1.6 * 2.2)
    width = (PAGE_W - 2 * MARGIN - (columns - 1) * gutter) // columns
    lines = [line for paragraph in paragraphs for line in [*wrap(paragraph, font, width), ""]]
    per_column = (PAGE_H - MARGIN - top) // pitch
    for column in range(columns):
        x = MARGIN + column * (width + gutter)
        for row, line in enumerate(lines[column * per_column:(column + 1) * per_column]):
            draw.text((x, top + row * pitch), line, font=font, fill=0)
            drawn.append(line)
    return np.array(page), "\n".join(drawn).strip()


def render_vertical_page(text: str, font_path: str, size: int, width: int = PAGE_W,
                         height: int = PAGE_H) -> tuple[np.ndarray, str]:
    """A white page with ``text`` in vertical writing: upright characters in columns, top to bottom, right to
    left, a new column at each newline. Returns the page and the exact text on it, a line per column."""
    font = ImageFont.truetype(font_path, size)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    margin, pitch, advance = min(MARGIN, width // 10), int(size * 1.45), int(size * 1.05)
    columns: list[str] = []
    for paragraph in text.split("\n"):
        rest = paragraph
        while rest:
            if margin + (len(columns) + 1) * pitch > width - margin:
                return np.array(page), "\n".join(columns)
            fits = max(1, (height - 2 * margin) // advance)
            column, rest = rest[:fits], rest[fits:]
            x = width - margin - (len(columns) + 1) * pitch
            for row, char in enumerate(column):
                draw.text((x, margin + row * advance), char, font=font, fill=0)
            columns.append(column)
    return np.array(page), "\n".join(columns)


def add_noise(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = page.astype(np.float32) + rng.normal(0, 18, page.shape)
    return cv2.GaussianBlur(np.clip(noisy, 0, 255).astype(np.uint8), (3, 3), 0)


def add_skew(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angle = float(rng.uniform(2, 4) * rng.choice([-1, 1]))
    h, w = page.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(page, matrix, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)


def add_shadow(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = page.shape
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    light = 0.95 - 0.3 * (xs * rng.uniform(0.3, 1) + ys * rng.uniform(0.3, 1)) / 2
    dim = 60 + page.astype(np.float32) * 0.7  # lower contrast, then uneven light
    return np.clip(dim * light, 0, 255).astype(np.uint8)


def add_phone(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    small = cv2.resize(page, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), float(rng.uniform(0.6, 1.0)))
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 25])
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE) if ok else None
    return small if decoded is None else decoded


def add_salt_pepper(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = page.copy()
    hits = rng.random(page.shape)
    out[hits < 0.025] = 0
    out[hits > 0.975] = 255
    return out


DEGRADATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "clean": lambda page, rng: page,
    "noise": add_noise,
    "skew": add_skew,
    "shadow": add_shadow,
    "phone": add_phone,
    "saltpepper": add_salt_pepper,
    "rot90": lambda page, rng: cv2.rotate(page, cv2.ROTATE_90_COUNTERCLOCKWISE),
    "rot180": lambda page, rng: cv2.rotate(page, cv2.ROTATE_180),
}


def generate(out_dir: Path, seed: int, fonts: dict[str, list[str]] = FONTS) -> list[dict[str, str]]:
    """Render one page per (language, font) and write it in every degradation; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    manifest = []
    for lang, font_paths in fonts.items():
        for index, font_path in enumerate(p for p in font_paths if Path(p).exists()):
            size = rng.randint(36, 48)
            page, truth = render_page(pick_text(lang, rng, 2400), font_path, size)
            for kind, degrade in DEGRADATIONS.items():
                stem = f"{lang}-s{seed}f{index}-{kind}"
                cv2.imwrite(str(out_dir / f"{stem}.png"), degrade(page, np_rng))
                (out_dir / f"{stem}.gt.txt").write_text(truth + "\n", encoding="utf-8")
                manifest.append(
                    {
                        "image": f"{stem}.png",
                        "truth": f"{stem}.gt.txt",
                        "lang": lang,
                        "font": Path(font_path).name,
                        "degradation": kind,
                    }
                )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3ocr.bench.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    manifest = generate(args.out_dir, args.seed)
    print(f"wrote {len(manifest)} pages to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
