"""What an uploaded file really is, decided from its bytes (never its name or the client's MIME).

puremagic (pure Python, maintained) names the type from the magic bytes; each accepted binary
type must also start with its own signature at offset 0, so a file that merely contains a PDF
header somewhere (a polyglot) is refused. Office files are zip archives: puremagic cannot tell
a .docx from any zip, so the archive is opened and its ``[Content_Types].xml`` (OOXML) or
``mimetype`` entry (OpenDocument) must say what the file claims to be: a renamed zip, jar or
macro-enabled ``.docm`` is refused. Plain UTF-8 text is accepted unless it is markup a browser
would run (HTML, SVG, XML). What an accepted file carries (scripts, macros, embedded programs)
is checked by :mod:`~lms_core.assignments.active_content`.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from lms_core.assignments import active_content, active_office, active_pdf
from lms_core.errors import FileRefused, ValidationError
from lms_core.formats.archive import check_archive


@dataclass(frozen=True)
class FileType:
    ext: str
    mime: str
    label: str


PDF = FileType("pdf", "application/pdf", "PDF document")
PNG = FileType("png", "image/png", "PNG image")
JPEG = FileType("jpg", "image/jpeg", "JPEG image")
GIF = FileType("gif", "image/gif", "GIF image")
WEBP = FileType("webp", "image/webp", "WebP image")
DOCX = FileType(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "Word document",
)
XLSX = FileType(
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"
)
PPTX = FileType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "PowerPoint presentation",
)
ODT = FileType("odt", "application/vnd.oasis.opendocument.text", "OpenDocument text")
TEXT = FileType("txt", "text/plain", "plain text")

ALLOWED = (PDF, PNG, JPEG, GIF, WEBP, DOCX, XLSX, PPTX, ODT, TEXT)
ALLOWED_NAMES = "PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, PPTX, ODT or plain UTF-8 text"

#: puremagic's extension -> our type, with the signature the file must start with.
_MAGIC: dict[str, tuple[FileType, tuple[bytes, ...]]] = {
    ".pdf": (PDF, (b"%PDF-",)),
    ".png": (PNG, (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": (JPEG, (b"\xff\xd8\xff",)),
    ".jpeg": (JPEG, (b"\xff\xd8\xff",)),
    ".jfif": (JPEG, (b"\xff\xd8\xff",)),
    ".jpe": (JPEG, (b"\xff\xd8\xff",)),
    ".gif": (GIF, (b"GIF87a", b"GIF89a")),
    ".webp": (WEBP, (b"RIFF",)),
}
#: The main part's content type in ``[Content_Types].xml`` for each OOXML type.
_OOXML = {
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
#: Name extensions that say "binary type X": the content must then be X.
_CLAIMS = {t.ext: t for t in ALLOWED if t is not TEXT} | {"jpeg": JPEG, "jpe": JPEG}
#: Names that would make a browser or a desktop run the file, whatever its content.
RISKY_EXTENSIONS = frozenset(
    [
        "exe",
        "dll",
        "com",
        "bat",
        "cmd",
        "scr",
        "msi",
        "ps1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "hta",
        "jar",
        "app",
        "apk",
        "html",
        "htm",
        "xhtml",
        "shtml",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "php",
        "asp",
        "aspx",
        "jsp",
        "sh",
        "lnk",
        "reg",
    ]
)
_MARKUP = re.compile(
    rb"^\s*<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?xml|meta|title|style|a\s|"
    rb"img|object|embed|div|table|p[\s>]|br|h1|b[\s>]|font|!--)",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_MANIFEST = 1 << 20
#: What ends a name and is dropped when it is saved: dots, white space, controls, format
#: characters (zero-width spaces).
_TRAILING = re.compile(
    r"[\s.\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+$"
)


def _refuse(message: str, value: str | None = None) -> ValidationError:
    return ValidationError(message, field="file", value=value)


def _zip_type(data: bytes) -> FileType:
    try:
        # Duplicate names, unsafe paths and zip bombs, from the central directory alone.
        check_archive(io.BytesIO(data), display="upload", unreadable="is a damaged zip archive")
    except FileRefused as refused:
        message = refused.errors[0].message
        raise _refuse(
            f"is refused: {message[9:]}" if message.startswith("refused: ") else message
        ) from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = {info.filename: info for info in archive.infolist()}
        kind, manifest = None, ""
        mimetype = names.get("mimetype")
        if (
            mimetype is not None
            and mimetype.file_size < 200
            and archive.read(mimetype).strip() == ODT.mime.encode()
        ):
            odt_manifest = names.get("META-INF/manifest.xml")
            if odt_manifest is not None and odt_manifest.file_size >= _MAX_MANIFEST:
                # It declares the embedded objects and macros: unread, they would pass.
                raise _refuse(
                    "has a manifest over 1 MB, too big to check for macros and embedded "
                    "objects: documents that can run code are refused unless they can be checked"
                )
            kind, manifest = ODT, _small_member(archive, odt_manifest)
        else:
            manifest = _small_member(archive, names.get("[Content_Types].xml"))
            for candidate, main in _OOXML.items():
                if f'ContentType="{main}"' in manifest:
                    kind = candidate
                    break
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        EOFError,
        zlib.error,
    ):
        # zlib.error: a member whose deflate stream is broken (found by the mangled-files
        # property test once the seed files' zip dates changed).
        raise _refuse("is a damaged zip archive") from None
    if kind is None:
        raise _refuse(
            f"is a zip archive that is not an office document; accepted types: {ALLOWED_NAMES}"
        )
    active_office.check_office(f"a {kind.label}", archive, manifest)
    return kind


def _small_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> str:
    """A manifest's text; a missing or oversized one reads as empty (the type check fails)."""
    if info is None or info.file_size >= _MAX_MANIFEST:
        return ""
    return archive.read(info).decode("utf-8", "replace")


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not _CONTROL.search(text)


def detect(data: bytes) -> FileType:
    """The accepted type of ``data``, or a refusal that names what it is or what it carries.

    A file of an accepted type that also carries active content (a script, a web page, a
    macro: :mod:`~lms_core.assignments.active_content`) is refused too.
    """
    kind = _detect_type(data)
    if kind is PDF:
        active_pdf.check_pdf(data)
    elif kind is TEXT:
        active_content.check_text(data)
    elif kind in (PNG, JPEG, GIF, WEBP):
        active_content.check_image(kind.ext, data)
    return kind


def _detect_type(data: bytes) -> FileType:
    import puremagic

    if not data:
        raise _refuse("is empty")
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        matches = []
    for match in matches:
        known = _MAGIC.get(match.extension.lower())
        if known is not None and data.startswith(known[1]):
            kind = known[0]
            if kind is WEBP and data[8:12] != b"WEBP":
                continue
            return kind
    if _is_text(data):
        if _MARKUP.match(data.lstrip(b"\xef\xbb\xbf")):
            raise _refuse("is HTML/XML markup, which is refused (a browser would run it)")
        return TEXT
    if matches:
        best = next((m for m in matches if m.mime_type), matches[0])
        what = best.name or best.extension
        raise _refuse(f"is {what} ({best.extension}); accepted types: {ALLOWED_NAMES}")
    raise _refuse(f"is of an unknown type; accepted types: {ALLOWED_NAMES}")


def extension(filename: str) -> str:
    """The extension a saved download ends up with, lowered: after trailing dots, spaces
    and invisible characters (``page.html.``, ``x.svg\u00a0``, ``page.htm\u200b``), which
    file systems and browsers drop from a name."""
    name = _TRAILING.sub("", filename)
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_name(kind: FileType, filename: str) -> None:
    """Refuse a name whose extension says another type than the content, or a runnable one.

    The stored blob is named from the content; but downloads carry the original name, and
    ``report.pdf`` that is really text (or ``notes.html``) would open as something else.
    """
    ext = extension(filename)
    if ext in RISKY_EXTENSIONS:
        raise _refuse(
            f"files named .{ext} are refused (they open as programs or web pages)", filename
        )
    claimed = _CLAIMS.get(ext)
    if claimed is not None and claimed is not kind:
        raise _refuse(f"is named .{ext} but the content is {kind.label}", filename)
