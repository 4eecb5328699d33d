"""Write the rendered test pages in tests/resources that the page-decision tests read (see its README).

    .venv/bin/python scripts/make_test_pages.py

``two-columns.png``: an A4 page at 300 dpi in two columns under a title that runs across both, typeset in
DejaVu Serif 36 px, bilevel (Debian's fonts-dejavu-core) from the text of the ls(1) and grep(1) manual pages (Debian's
coreutils and grep, GPL-3.0-or-later); ``two-columns.txt`` is the text as drawn, in reading order. The title
across the columns lets the page be cut into bands for all cores (``s3ocr.pagesplit``), where each band holds
the top of both columns: read band by band, the columns would interleave.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from s3ocr.bench.corpus import man_paragraphs, render_columns_page  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
MANUALS = [Path("/usr/share/man/man1/ls.1.gz"), Path("/usr/share/man/man1/grep.1.gz")]
TITLE = "Listing and searching files: two manual pages, side by side"


def main() -> int:
    paragraphs = [paragraph for manual in MANUALS for paragraph in man_paragraphs(manual)]
    page, text = render_columns_page(TITLE, paragraphs, FONT, 36, columns=2)
    resources = ROOT / "tests" / "resources"
    # Bilevel, as a document scanner in black-and-white mode writes it: a tenth of the bytes of the gray page.
    Image.fromarray(page).point(lambda value: 255 if value >= 128 else 0).convert("1").save(
        resources / "two-columns.png", dpi=(300, 300), optimize=True)
    (resources / "two-columns.txt").write_text(text + "\n", encoding="utf-8")
    print(f"two-columns.png: {page.shape[1]}x{page.shape[0]}, {len(text)} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
