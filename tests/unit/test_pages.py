"""Page sources: every frame of an image, alpha flattened, EXIF applied; PDFs one page at a time."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from s3ocr.errors import CorruptDocumentError, DecompressionBombError
from s3ocr.models import PageImage
from s3ocr.page import PageContext, read_page
from s3ocr.pages import open_pages
from s3ocr.pages.images import ImagePages, to_gray
from s3ocr.pages.pdf import PdfPages, page_dpi, read_pdf_info
from s3ocr.settings import Settings
from tests.fakes import FakeEngine


def test_multi_frame_tiff_gives_one_page_per_frame(tmp_path):
    frames = [Image.new("L", (40, 30), color) for color in (0, 128, 255)]
    path = tmp_path / "three.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = ImagePages(path, max_page_pixels=10_000)
    assert pages.page_count == 3
    page = pages.render(2, tmp_path)
    assert (page.width, page.height) == (40, 30)
    assert int(np.asarray(Image.open(page.path)).mean()) == 128


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 255))
    assert to_gray(rgba).tolist() == [[255, 0]]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("L", (60, 20), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif)
    page = ImagePages(path, max_page_pixels=10_000).render(1, tmp_path)
    assert (page.width, page.height) == (20, 60)


def test_image_far_over_the_pixel_cap_is_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (300, 300), 255).save(path)
    with pytest.raises(DecompressionBombError):
        ImagePages(path, max_page_pixels=1000)


def test_image_a_little_over_the_cap_is_scaled_down(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (200, 100), 255).save(path, dpi=(300, 300))
    page = ImagePages(path, max_page_pixels=10_000).render(1, tmp_path)
    assert page.width * page.height <= 10_000 and page.dpi < 300


def test_truncated_png_is_corrupt(tmp_path, resources):
    path = tmp_path / "cut.png"
    path.write_bytes((resources / "linn.png").read_bytes()[:5000])
    with pytest.raises(CorruptDocumentError):
        ImagePages(path, max_page_pixels=10**8).render(1, tmp_path)


def test_pdf_page_is_rendered_at_the_dpi_as_gray(tmp_path, resources):
    pages = open_pages(resources / "linn.pdf", "application/pdf", dpi=100, max_page_pixels=10**8)
    assert pages.page_count == 1
    page = pages.render(1, tmp_path)
    assert page.path.suffix == ".pgm" and (page.width, page.height) == (850, 1100) and page.dpi == 100


def test_invalid_pdf_is_corrupt(resources):
    with pytest.raises(CorruptDocumentError):
        read_pdf_info(resources / "invalid.pdf", max_pages=10)


def test_encrypted_pdf_is_reported_as_encrypted(tmp_path):
    from s3ocr.errors import EncryptedDocumentError

    path = tmp_path / "locked.pdf"
    # A damaged file whose trailer names an /Encrypt dictionary: what a password-protected PDF looks like
    # to a reader that has no password.
    path.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer << /Encrypt 2 0 R /Root 1 0 R >>\n%%EOF\n")
    with pytest.raises(EncryptedDocumentError):
        read_pdf_info(path, max_pages=10)


def test_oversized_page_is_rendered_at_a_lower_dpi():
    assert page_dpi((612, 792), 300, 50_000_000) == 300
    lowered = page_dpi((2160, 2160), 300, 50_000_000)  # enormous.pdf: a 30-inch square page
    assert lowered < 300 and (30 * lowered) ** 2 <= 50_000_000


def test_a_page_that_is_one_jpeg_scan_is_taken_as_stored_without_rendering(tmp_path, resources):
    from s3ocr.bench.samples import scan_pdf

    pdf = scan_pdf(tmp_path / "scan.pdf", [resources / "linn.png"], dpi=300)
    page = open_pages(pdf, "application/pdf", dpi=200, max_page_pixels=10**8).render(1, tmp_path)
    with Image.open(resources / "linn.png") as original:
        assert (page.width, page.height, page.dpi) == (*original.size, 300)  # native resolution, not 200
    assert page.path.suffix == ".jpg"
    with Image.open(page.path) as extracted:
        assert extracted.format == "JPEG" and extracted.size == (page.width, page.height)


def test_low_resolution_scans_and_other_encodings_are_rendered(tmp_path, resources):
    from s3ocr.bench.samples import scan_pdf

    low = scan_pdf(tmp_path / "low.pdf", [resources / "linn.png"], dpi=150)  # 150 ppi: rendered at 300
    page = open_pages(low, "application/pdf", dpi=300, max_page_pixels=10**9).render(1, tmp_path)
    assert page.path.suffix == ".pgm" and page.dpi == 300
    flate = open_pages(resources / "linn.pdf", "application/pdf", dpi=100, max_page_pixels=10**8)
    assert flate.render(1, tmp_path).path.suffix == ".pgm"


def test_a_600_dpi_scan_is_brought_down_to_300_dpi(tmp_path):
    path = tmp_path / "fine.png"
    Image.new("L", (1200, 1600), 255).save(path, dpi=(600, 600))
    page = ImagePages(path, max_page_pixels=10**8).render(1, tmp_path)
    assert (page.width, page.height, page.dpi) == (600, 800, 300)


class RenderSpy(PdfPages):
    """A PDF page source that notes every page it renders."""

    def __init__(self, path, **kwargs) -> None:
        super().__init__(path, dpi=100, max_page_pixels=10**8, **kwargs)
        self.rendered: list[int] = []

    def render(self, number: int, work_dir, timeout: float = 120) -> PageImage:
        self.rendered.append(number)
        return super().render(number, work_dir, timeout)


@pytest.mark.parametrize("force_ocr", [False, True])
def test_blank_pdf_pages_are_empty_without_rendering_or_an_engine(tmp_path, resources, force_ocr):
    # GIVEN pages that draw nothing: an empty content stream, no /Contents at all, white paint on white paper
    source = RenderSpy(resources / "blank-pages.pdf", use_text_layer=not force_ocr)
    engine = FakeEngine()
    # WHEN each page is read
    context = PageContext(source, tmp_path, Settings(work_dir=tmp_path), engine, last=3)
    pages = [read_page(context, n) for n in (1, 2, 3)]
    # THEN each is empty, known from the document: nothing rendered, no engine asked, no file left
    assert [(page.status, page.preprocessing) for page in pages] == [("empty", {"blank": True})] * 3
    assert source.rendered == [] and engine.seen == [] and list(tmp_path.iterdir()) == []


def test_vector_drawings_and_outlined_text_are_not_blank(tmp_path, resources):
    # GIVEN pages with no text and no image: a hairline rule, and a word drawn as filled outlines
    source = RenderSpy(resources / "drawn-pages.pdf")
    # THEN neither is known blank: each goes on to be rendered, and its pixels decide
    assert [source.known_blank(n) for n in (1, 2)] == [False, False]
    engine = FakeEngine()
    settings = Settings(work_dir=tmp_path / "work", preprocess="none")
    page = read_page(PageContext(source, tmp_path, settings, engine, last=2), 2)
    assert source.rendered == [2] and [seen.number for seen in engine.seen] == [2] and page.status == "ok"


def test_a_scanned_page_is_rendered_and_read_even_when_the_scan_is_of_blank_paper(tmp_path, resources):
    # GIVEN a page that is only an image: the document cannot say whether the scan shows anything
    scan = RenderSpy(resources / "linn.pdf")
    paper = tmp_path / "paper.png"
    Image.new("L", (850, 1100), 255).save(paper, dpi=(100, 100))
    from s3ocr.bench.samples import scan_pdf

    blank_scan = RenderSpy(scan_pdf(tmp_path / "blank-scan.pdf", [paper], dpi=100))
    # THEN it is not known blank: it is rendered, and its pixels say whether an engine is asked
    assert not scan.known_blank(1) and not blank_scan.known_blank(1)
    engine = FakeEngine()
    settings = Settings(work_dir=tmp_path / "work", preprocess="none")
    read = read_page(PageContext(scan, tmp_path, settings, engine), 1)
    empty = read_page(PageContext(blank_scan, tmp_path, settings, engine), 1)
    assert scan.rendered == [1] and read.status == "ok" and [seen.number for seen in engine.seen] == [1]
    assert blank_scan.rendered == [1] and empty.status == "empty" and empty.width > 0  # judged by its pixels
