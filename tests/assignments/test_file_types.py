"""Content type detection: the bytes decide, never the name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_core.assignments import file_types as ft
from lms_core.errors import ValidationError
from tests import samples


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (samples.PDF, ft.PDF),
        (samples.PNG, ft.PNG),
        (samples.JPEG, ft.JPEG),
        (samples.GIF, ft.GIF),
        (samples.WEBP, ft.WEBP),
        (samples.DOCX, ft.DOCX),
        (samples.XLSX, ft.XLSX),
        (samples.ODT, ft.ODT),
        (samples.TEXT, ft.TEXT),
        (b"\xef\xbb\xbfwith a BOM\r\n", ft.TEXT),
    ],
)
def test_accepted_types(data: bytes, kind: ft.FileType) -> None:
    assert ft.detect(data) is kind


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (samples.EXE, "windows executable (.exe)"),
        (samples.HTML, "markup"),
        (b"  <svg onload=alert(1)>", "markup"),
        (samples.ZIP, "zip archive that is not an office document"),
        (samples.DOCM, "zip archive that is not an office document"),
        (b"PK\x03\x04 broken", "damaged zip"),
        (b"\x00\x01\x02\x03binary", "unknown type"),
        (b"latin-1 \xe9t\xe9", "unknown type"),
        (b"junk before %PDF-1.4", ""),  # text that merely contains a PDF header
    ],
)
def test_refused_types(data: bytes, says: str) -> None:
    if data.startswith(b"junk"):
        assert ft.detect(data) is ft.TEXT  # harmless text, never a PDF
        return
    with pytest.raises(ValidationError) as caught:
        ft.detect(data)
    assert caught.value.field == "file"
    assert says.lower() in caught.value.message.lower()


def test_a_name_must_not_claim_another_type() -> None:
    ft.check_name(ft.PDF, "report.pdf")
    ft.check_name(ft.JPEG, "photo.JPEG")
    ft.check_name(ft.TEXT, "solution.py")
    ft.check_name(ft.TEXT, "README")
    with pytest.raises(ValidationError, match=r"named \.pdf but the content is plain text"):
        ft.check_name(ft.TEXT, "report.pdf")
    with pytest.raises(ValidationError, match=r"\.html are refused"):
        ft.check_name(ft.TEXT, "page.html")
    with pytest.raises(ValidationError, match=r"\.exe are refused"):
        ft.check_name(ft.PDF, "invoice.pdf.exe")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_name_becomes_a_harmless_display_name(name: str) -> None:
    import unicodedata

    from lms_core.assignments.files import sanitize_filename

    shown = sanitize_filename(name)
    assert shown and len(shown) <= 255
    assert "/" not in shown and "\\" not in shown
    assert shown not in (".", "..") and not shown.startswith(("-", "."))
    assert not any(unicodedata.category(c)[0] == "C" for c in shown)


@pytest.mark.parametrize(
    ("name", "shown"),
    [("-.x.pdf", "x.pdf"), (" . .. ", "file"), ("a/b\\c.txt", "c.txt"), ("-rf", "rf")],
)
def test_display_name_examples(name: str, shown: str) -> None:
    from lms_core.assignments.files import sanitize_filename

    assert sanitize_filename(name) == shown


def test_a_document_whose_deflate_stream_is_broken_is_refused_as_damaged() -> None:
    """zlib's own error (not BadZipFile) when a member's compressed bytes are broken: found by
    the mangled-files property test, whose seed files carry the day's date in their zip."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("[Content_Types].xml", date_time=(2026, 12, 7, 3, 29, 26))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, "<Types>" + "x" * 300 + "</Types>")
    data = bytearray(buffer.getvalue())
    start = 30 + len("[Content_Types].xml")  # the first byte of the member's deflate stream
    data[start] = 0x00  # a stored block whose lengths do not match
    with pytest.raises(ValidationError, match="damaged zip archive"):
        ft.detect(bytes(data))
