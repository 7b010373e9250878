"""Certificate templates and PDFs: real files, read back with pypdf and fontTools."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
import segno
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from lms_core.certificates.pdf.fonts import BUNDLED_DIR, font_book, scan_fonts_dir
from lms_core.certificates.pdf.qr import qr_matrix
from lms_core.certificates.pdf.render import CertificateFields, Renderer, RenderPool, needs_shaping
from lms_core.certificates.pdf.sfnt import TrueTypeFile
from lms_core.certificates.pdf.templates import DEFAULT_TEMPLATE, load_template
from lms_core.errors import ValidationError

EXAMPLE = Path(__file__).parents[2] / "examples" / "certificates" / "template.json"
URL = "https://lms.example.org/verify/LMS-7K4F-9QX2-M"
NAMES = {
    "latin": "Émilie Dvořák-Núñez",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "greek": "Ελένη Παπαδοπούλου",
    "cyrillic": "Иван Петрович Сидоров",
    "arabic": "محمد عبد الله",
    "hebrew": "דוד בן-גוריון",
    "chinese": "王小明",
    "japanese": "山田 太郎 さくら",
    "korean": "김민준",
    "devanagari": "अनुष्का शर्मा",
    "bengali": "সৌমিত্র চট্টোপাধ্যায়",
    "tamil": "கார்த்திகேயன்",
    "thai": "สมศักดิ์ ใจดี",
    "ethiopic": "አበበ ቢቂላ",
}
#: Scripts pypdf reads back in logical order (right-to-left text comes out reordered).
EXTRACTABLE = tuple(script for script in NAMES if script not in ("arabic", "hebrew"))


def fields(learner: str = "John Smith", number: str = "LMS-7K4F-9QX2-M") -> CertificateFields:
    return CertificateFields(
        learner=learner,
        course="Introduction to Databases",
        date="2024-05-01",
        instructor="Jane Instructor",
        number=number,
        verify_url=f"https://lms.example.org/verify/{number}",
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_template(None))


def text_of(pdf: bytes) -> str:
    return PdfReader(BytesIO(pdf)).pages[0].extract_text()


def embedded_fonts(pdf: bytes) -> dict[str, bytes]:
    """Base font name (without subset tag) -> embedded TrueType program."""
    page = PdfReader(BytesIO(pdf)).pages[0]
    found = {}
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        program = descendant["/FontDescriptor"]["/FontFile2"].get_data()
        found[str(font["/BaseFont"]).split("+", 1)[1]] = program
    return found


# --- templates -------------------------------------------------------------------------------


def test_default_template_loads_for_both_page_sizes() -> None:
    a4 = load_template(None)
    letter = load_template(None, page_size="Letter")
    assert a4.source == DEFAULT_TEMPLATE
    assert (a4.width, a4.height) == (297.0, 210.0)
    assert (letter.width, letter.height) == (279.4, 215.9)
    assert {f.name for f in a4.fields} >= {"learner", "course", "date", "instructor", "number"}
    # Percent positions follow the page.
    assert a4.qr.x == pytest.approx(0.76 * 297) and letter.qr.x == pytest.approx(0.76 * 279.4)


def test_example_template_loads_and_renders() -> None:
    template = load_template(EXAMPLE, page_size="Letter")
    assert template.page_size == "A4"  # the example fixes its size
    assert template.background == (EXAMPLE.parent / "background.png").resolve()
    pdf = Renderer(template).render(fields("Zoë Åkesson"))
    assert "Zoë Åkesson" in text_of(pdf)
    assert len(pdf) < 100_000


BASE = {
    "fields": {"learner": {"text": "{learner}", "x": 10, "y": 10, "w": 100, "h": 10}},
    "qr": {"x": 200, "y": 150, "size": 30},
}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{\n  "fields": {,\n}', r"line 2 column 14"),
        (json.dumps({"qr": BASE["qr"]}), r"missing key 'fields'"),
        (json.dumps({**BASE, "colour": "red"}), r"unknown key 'colour'"),
        (
            json.dumps(
                {**BASE, "fields": {"x": {"text": "{name}", "x": 1, "y": 1, "w": 1, "h": 1}}}
            ),
            r"fields\.x\.text: unknown placeholder \{name\}",
        ),
        (
            json.dumps({**BASE, "fields": {"x": {"text": "a", "x": 1, "y": 1, "w": 1}}}),
            r"fields\.x: missing key 'h'",
        ),
        (
            json.dumps({**BASE, "fields": {"x": {"text": "a", "x": "1", "y": 1, "w": 1, "h": 1}}}),
            r"fields\.x\.x: must be int or float",
        ),
        (
            json.dumps(
                {
                    **BASE,
                    "fields": {
                        "x": {
                            "text": "a",
                            "x": 1,
                            "y": 1,
                            "w": 1,
                            "h": 1,
                            "size": 9,
                            "font": 3,
                            "bold": True,
                        }
                    },
                }
            ),
            r"unknown key 'bold'",
        ),
        (
            json.dumps({**BASE, "qr": {"x": 1, "y": 1, "size": 1, "color": "blue"}}),
            r"qr\.color: must be a colour",
        ),
        (json.dumps({**BASE, "page": {"size": "A3"}}), r"page\.size: must be one of A4, Letter"),
        (
            json.dumps({**BASE, "background": "nope.png"}),
            r"background: file .*nope\.png does not exist",
        ),
        (json.dumps({"fields": BASE["fields"]}), r"missing key 'qr'"),
        ("[]", r"must be an object"),
    ],
)
def test_bad_template_is_refused_with_where(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_template(path)
    assert caught.value.field == "template"
    assert str(path) in caught.value.message
    assert re.search(expected, caught.value.message), caught.value.message


def test_missing_template_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        load_template(tmp_path / "absent.json")


def test_unknown_font_family_is_refused(tmp_path: Path) -> None:
    spec = {**BASE, "fields": {"x": {"text": "a", "x": 1, "y": 1, "w": 1, "h": 1, "font": "Comic"}}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValidationError, match="no font family 'Comic'"):
        Renderer(load_template(path))


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize("script", list(NAMES))
def test_renders_every_script(renderer: Renderer, script: str) -> None:
    name = NAMES[script]
    assert renderer.missing_glyphs(name) == []
    pdf = renderer.render(fields(name))
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) < 100_000
    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    for program in embedded_fonts(pdf).values():
        TTFont(BytesIO(program))["glyf"]  # every embedded subset parses as TrueType
    if script in EXTRACTABLE:
        assert name in text_of(pdf)


def test_latin_name_and_fields_are_extractable(renderer: Renderer) -> None:
    text = text_of(renderer.render(fields("John Smith")))
    for expected in (
        "John Smith",
        "Introduction to Databases",
        "2024-05-01",
        "Jane Instructor",
        "LMS-7K4F-9QX2-M",
    ):
        assert expected in text


def test_each_pdf_embeds_only_the_glyphs_it_uses(renderer: Renderer) -> None:
    pdf = renderer.render(fields("Zoë"))
    fonts = embedded_fonts(pdf)
    assert set(fonts) == {"DejaVuSansBook", "DejaVuSansBold"}  # no Arabic, Hebrew or CJK font
    bold = TrueTypeFile(fonts["DejaVuSansBold"])
    outlines = [g for g in range(len(bold.loca) - 1) if bold.glyph(g)]
    # Bold draws "Certificate of Completion", "Zoë", "Introduction to Databases":
    distinct = set("Certificate of Completion" + "Zoë" + "Introduction to Databases") - {" "}
    assert len(outlines) <= len(distinct) + 3  # plus .notdef and composite components
    assert len(fonts["DejaVuSansBold"]) < 20_000  # the whole font is 700 kB


def test_arabic_is_shaped_into_positional_forms(renderer: Renderer) -> None:
    import uharfbuzz as hb

    name = NAMES["arabic"]
    path = BUNDLED_DIR / "NotoNaskhArabic-Bold.ttf"
    original = TrueTypeFile(path.read_bytes())
    cmap = TTFont(path).getBestCmap()
    nominal = {TTFont(path).getGlyphID(cmap[ord(c)]) for c in name if c != " "}
    font = hb.Font(hb.Face(hb.Blob.from_file_path(path)))
    buffer = hb.Buffer()
    buffer.add_str(name)
    buffer.guess_segment_properties()
    hb.shape(font, buffer, {})
    positional = {info.codepoint for info in buffer.glyph_infos} - nominal
    # Simple glyphs only: the subset renumbers the components inside composite ones.
    positional = {g for g in positional if original.glyph(g)[:2] != b"\xff\xff"}
    assert positional, "HarfBuzz should substitute initial/medial/final forms"

    embedded = TrueTypeFile(embedded_fonts(renderer.render(fields(name)))["NotoNaskhArabicBold"])
    drawn = {embedded.glyph(g) for g in range(len(embedded.loca) - 1)}
    assert {original.glyph(g) for g in positional} <= drawn
    assert (
        needs_shaping(name) and needs_shaping(NAMES["hebrew"]) and not needs_shaping(NAMES["greek"])
    )


def test_missing_glyphs(renderer: Renderer) -> None:
    # DejaVu Sans has the 1.0-era emoji (U+1F600) but not later ones such as the unicorn.
    assert renderer.missing_glyphs("Ann 🦄 \U00010000 🦄") == ["🦄", "\U00010000"]
    assert renderer.missing_glyphs("Ann\t\n\u200f\u200d Lee") == []
    for name in NAMES.values():
        assert renderer.missing_glyphs(name) == []


def test_a_name_no_font_can_draw_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValidationError) as caught:
        renderer.render(fields("Ann 🦄"))
    assert caught.value.field == "learner"
    assert "U+1F984" in caught.value.message


def test_qr_matrix_is_segnos(renderer: Renderer) -> None:
    for url in (URL, "https://x.org/verify/1", "https://lms.example.org/verify/" + "A" * 200):
        for error in "lmqh":
            assert qr_matrix(url, error) == segno.make(url, error=error, micro=False).matrix


def test_pdf_draws_the_qr_of_the_verify_url_and_links_it(renderer: Renderer) -> None:
    pdf = renderer.render(fields())
    page = PdfReader(BytesIO(pdf)).pages[0]
    links = [a.get_object()["/A"]["/URI"] for a in page["/Annots"]]
    assert links == [URL]
    content = page.get_contents().get_data().decode("latin-1")
    block = content[content.index("q 1 g") : content.index("f Q")].splitlines()
    assert block[2].endswith(" cm")  # one unit = one module from here on
    expected = segno.make(URL, error="m", micro=False).matrix
    drawn = [bytearray(len(expected)) for _ in expected]
    for line in block[3:]:
        column, row, width, height, op = line.split()
        assert (height, op) == ("1", "re")
        drawn[int(row)][int(column) : int(column) + int(width)] = b"\x01" * int(width)
    assert drawn == list(expected)


def test_page_sizes(renderer: Renderer) -> None:
    letter = Renderer(load_template(None, page_size="Letter")).render(fields())
    a4 = renderer.render(fields())
    assert [round(float(v)) for v in PdfReader(BytesIO(a4)).pages[0].mediabox[2:]] == [842, 595]
    assert [round(float(v)) for v in PdfReader(BytesIO(letter)).pages[0].mediabox[2:]] == [792, 612]


def test_long_names_are_shrunk_to_fit(renderer: Renderer) -> None:
    long_name = "Maria " * 20
    pdf = renderer.render(fields(long_name))
    assert long_name.split()[0] in text_of(pdf)


def test_render_pool_two_workers_keeps_order() -> None:
    items = [fields(f"Learner {i}", number=f"LMS-0000-{i:04d}-X") for i in range(12)]
    with RenderPool(None, page_size="A4", extra_fonts_dir=None, workers=2, chunk_size=2) as pool:
        pdfs = list(pool.map(iter(items)))
    assert len(pdfs) == len(items)
    for item, pdf in zip(items, pdfs, strict=True):
        assert item.number in text_of(pdf)


def test_render_pool_reports_refusals_with_their_field() -> None:
    pool = RenderPool(None, page_size="A4", extra_fonts_dir=None, workers=2)
    with pool, pytest.raises(ValidationError) as caught:
        list(pool.map([fields(), fields("Ann 🦄")]))
    assert caught.value.field == "learner"


def test_extra_fonts_dir_adds_families(tmp_path: Path) -> None:
    (tmp_path / "Extra.ttf").write_bytes((BUNDLED_DIR / "DejaVuSans.ttf").read_bytes())
    (tmp_path / "Extra-Bold.ttf").write_bytes((BUNDLED_DIR / "DejaVuSans-Bold.ttf").read_bytes())
    (tmp_path / "notes.txt").write_text("not a font")
    assert [(f.family, f.style) for f in scan_fonts_dir(tmp_path)] == [
        ("Extra", "B"),
        ("Extra", ""),
    ]
    spec = {
        **BASE,
        "fields": {"learner": {**BASE["fields"]["learner"], "font": "Extra", "style": "B"}},
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    pdf = Renderer(load_template(path), extra_fonts_dir=tmp_path).render(fields("Ελένη"))
    assert "Ελένη" in text_of(pdf)
    assert font_book(tmp_path).families[-1] == "Extra"


def test_pdf_background_is_drawn_under_the_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    background = FPDF(orientation="L", format="a4")
    background.add_page()
    background.set_font("helvetica", size=9)
    background.text(10, 200, "BACKGROUND-MARK")
    (tmp_path / "bg.pdf").write_bytes(bytes(background.output()))
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**BASE, "background": "bg.pdf"}), encoding="utf-8")
    text = text_of(Renderer(load_template(path)).render(fields("Ann Lee")))
    assert "BACKGROUND-MARK" in text and "Ann Lee" in text


def test_importing_render_loads_no_pdf_library() -> None:
    code = (
        "import sys, lms_core.certificates.pdf.render, lms_core.certificates.pdf.qr,"
        " lms_core.certificates.pdf.sfnt; print('fpdf' in sys.modules, 'segno' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
