"""Certificates in Korean, Devanagari, Bengali, Tamil, Thai and Ethiopic: drawn, shaped, readable.

Each name goes through ``lmsctl certificates preview`` and the text pypdf extracts from the PDF
must contain it; for the scripts that need shaping, the embedded font subset must hold the
glyphs HarfBuzz substitutes (conjuncts, reordered vowel signs, small marks), which an unshaped
page never uses.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from lms_core.certificates.pdf.fonts import BUNDLED, BUNDLED_DIR, font_book
from lms_core.certificates.pdf.render import CertificateFields, Renderer, needs_shaping
from lms_core.certificates.pdf.sfnt import TrueTypeFile
from lms_core.certificates.pdf.templates import load_template
from tests.cli.helpers import ok

NAMES = {
    "korean": "김민준",
    "devanagari": "अनुष्का शर्मा",
    "bengali": "সৌমিত্র চট্টোপাধ্যায়",
    "tamil": "கார்த்திகேயன்",
    "thai": "สมศักดิ์ ใจดี",
    "ethiopic": "አበበ ቢቂላ",
}
COURSES = {
    "korean": "데이터베이스 입문",
    "devanagari": "डेटाबेस का परिचय",
    "bengali": "ডেটাবেস পরিচিতি",
    "tamil": "தரவுத்தளங்கள் அறிமுகம்",
    "thai": "ความรู้เบื้องต้นเกี่ยวกับฐานข้อมูล",
    "ethiopic": "የመረጃ ቋት መግቢያ",
}
#: The bold face the learner's name is drawn with (the default template's learner is bold):
#: file, and the font's name in the PDF.
BOLD_FONT = {
    "korean": ("NanumSquareB.ttf", "NanumSquareBold"),
    "devanagari": ("NotoSansDevanagari-Bold.ttf", "NotoSansDevanagariBold"),
    "bengali": ("NotoSansBengali-Bold.ttf", "NotoSansBengaliBold"),
    "tamil": ("NotoSansTamil-Bold.ttf", "NotoSansTamilBold"),
    "thai": ("NotoSansThai-Bold.ttf", "NotoSansThaiBold"),
    "ethiopic": ("NotoSansEthiopic-Bold.ttf", "NotoSansEthiopicBold"),
}
SHAPED = ("devanagari", "bengali", "tamil", "thai")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_template(None))


def render(renderer: Renderer, name: str, course: str = "Introduction to Databases") -> bytes:
    return renderer.render(
        CertificateFields(
            learner=name,
            course=course,
            date="2024-05-01",
            instructor="Jane Instructor",
            number="LMS-7K4F-9QX2-M",
            verify_url="https://lms.example.org/verify/LMS-7K4F-9QX2-M",
        )
    )


def page_text(pdf: bytes) -> str:
    return PdfReader(BytesIO(pdf)).pages[0].extract_text()


def embedded_fonts(pdf: bytes) -> dict[str, bytes]:
    """Base font name (without subset tag) -> embedded TrueType program."""
    found = {}
    for font in PdfReader(BytesIO(pdf)).pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        program = descendant["/FontDescriptor"]["/FontFile2"].get_data()
        found[str(font["/BaseFont"]).split("+", 1)[1]] = program
    return found


@pytest.mark.parametrize("script", list(NAMES))
def test_preview_draws_the_name_and_the_pdf_gives_it_back(cli, tmp_path: Path, script: str) -> None:
    out = tmp_path / f"{script}.pdf"
    name, course = NAMES[script], COURSES[script]
    ok(cli("certificates", "preview", "--name", name, "--course-title", course, "-o", str(out)))
    text = page_text(out.read_bytes())
    assert name in text
    assert course in text


@pytest.mark.parametrize("script", list(NAMES))
def test_each_script_is_drawn_with_its_own_bold_font(renderer: Renderer, script: str) -> None:
    fonts = embedded_fonts(render(renderer, NAMES[script]))
    assert set(fonts) == {"DejaVuSansBook", "DejaVuSansBold", BOLD_FONT[script][1]}


@pytest.mark.parametrize("script", SHAPED)
def test_complex_scripts_are_shaped(renderer: Renderer, script: str) -> None:
    """The subset holds the glyphs no code point maps to: shaping really ran."""
    import uharfbuzz as hb

    name = NAMES[script]
    file_name, pdf_name = BOLD_FONT[script]
    path = BUNDLED_DIR / file_name
    original = TrueTypeFile(path.read_bytes())
    ttfont = TTFont(path)
    cmap = ttfont.getBestCmap()
    nominal = {ttfont.getGlyphID(cmap[ord(c)]) for c in name if ord(c) in cmap}
    font = hb.Font(hb.Face(hb.Blob.from_file_path(path)))
    buffer = hb.Buffer()
    buffer.add_str(name)
    buffer.guess_segment_properties()
    hb.shape(font, buffer, {})
    substituted = {info.codepoint for info in buffer.glyph_infos} - nominal
    # Simple glyphs only: the subset renumbers the components inside composite ones.
    substituted = {g for g in substituted if original.glyph(g)[:2] != b"\xff\xff"}
    assert substituted, f"HarfBuzz substitutes glyphs in {name!r}"
    assert needs_shaping(name)

    program = embedded_fonts(render(renderer, name))[pdf_name]
    embedded = TrueTypeFile(program)
    drawn = {embedded.glyph(g) for g in range(len(embedded.loca) - 1)}
    assert {original.glyph(g) for g in substituted} <= drawn


def test_devanagari_conjunct_is_one_half_form_glyph(renderer: Renderer) -> None:
    """ष्क: SSA + VIRAMA + KA is drawn with SSA's half form, and no visible virama glyph."""
    path = BUNDLED_DIR / "NotoSansDevanagari-Bold.ttf"
    ttfont = TTFont(path)
    original = TrueTypeFile(path.read_bytes())
    glyph = {name: original.glyph(ttfont.getGlyphID(name)) for name in ttfont.getGlyphOrder()}
    cmap = ttfont.getBestCmap()
    program = embedded_fonts(render(renderer, "ष्क"))["NotoSansDevanagariBold"]
    embedded = TrueTypeFile(program)
    drawn = {embedded.glyph(g) for g in range(len(embedded.loca) - 1)}
    assert glyph["ssaprehalfdeva"] in drawn
    assert glyph[cmap[0x0937]] not in drawn  # the full SSA
    assert glyph[cmap[0x094D]] not in drawn  # the virama


def test_shaped_text_copies_as_typed(renderer: Renderer) -> None:
    """An ActualText span holds the name as typed; ToUnicode maps a cluster once."""
    name = NAMES["bengali"]
    pdf = render(renderer, name)
    content = PdfReader(BytesIO(pdf)).pages[0].get_contents().get_data().decode("latin-1")
    spans = re.findall(r"/ActualText <FEFF([0-9a-f]+)>", content)
    assert name.encode("utf-16-be").hex() in spans
    assert name in page_text(pdf)  # no stray codes between the letters


def test_every_hangul_syllable_is_drawn_by_the_korean_font() -> None:
    book = font_book(None)
    syllables = "".join(chr(cp) for cp in range(0xAC00, 0xD7A4))
    assert len(syllables) == 11_172
    assert book.missing_glyphs(syllables) == []
    # Droid Sans Fallback's three syllables are not used: one Korean face for a whole name.
    chosen = {book.choose("dejavusans", "", ord(c)) for c in syllables}
    assert chosen == {"nanumsquare"}
    chosen_bold = {book.choose("dejavusansB", "B", ord(c)) for c in syllables}
    assert chosen_bold == {"nanumsquareB"}


def test_chinese_and_japanese_stay_on_droid_sans_fallback(renderer: Renderer) -> None:
    # NanumSquare also has Han ideographs and kana; they are not taken from it.
    for name in ("王小明", "山田 太郎 さくら"):
        fonts = embedded_fonts(render(renderer, name))
        assert set(fonts) == {"DejaVuSansBook", "DejaVuSansBold", "DroidSansFallback"}


def test_bundled_fonts_are_small_licensed_and_documented() -> None:
    readme = (BUNDLED_DIR / "README.md").read_text(encoding="utf-8")
    for _, _, file_name in BUNDLED:
        assert (BUNDLED_DIR / file_name).stat().st_size < 5_000_000, file_name
        assert file_name in readme, f"{file_name} is not in fonts/README.md"
    for licence in re.findall(r"LICENSE-[\w]+\.txt", readme):
        assert (BUNDLED_DIR / licence).is_file(), licence


def test_zero_width_joiner_does_not_cut_a_syllable(renderer: Renderer) -> None:
    """RA, ZWJ, VIRAMA, YA (র্য with a joiner) is RA with the ya-phala, not a dotted circle after RA."""
    path = BUNDLED_DIR / "NotoSansBengali-Bold.ttf"
    ttfont = TTFont(path)
    original = TrueTypeFile(path.read_bytes())
    cmap = ttfont.getBestCmap()
    dotted_circle = original.glyph(ttfont.getGlyphID(cmap[0x25CC]))
    ya_phala = original.glyph(ttfont.getGlyphID("yapostformbeng"))
    name = "র\u200d্যাব"
    pdf = render(renderer, name)
    embedded = TrueTypeFile(embedded_fonts(pdf)["NotoSansBengaliBold"])
    drawn = {embedded.glyph(g) for g in range(len(embedded.loca) - 1)}
    assert ya_phala in drawn
    assert dotted_circle not in drawn
    assert name.replace("\u200d", "") in page_text(pdf).replace("\u200d", "")
