"""Active content inside a file of an accepted type: scripts, web pages, macros, programs.

:mod:`~lms_core.assignments.file_types` decides what a file *is*; this module refuses what it
*carries*. A file can be a valid GIF and valid JavaScript at once (``GIF89a/*...*/=alert(1)``),
a valid JPEG with a web page in its comment segment or after its end, a text file whose line
200 is ``<script>``, a PDF that runs JavaScript or launches a program when opened, a DOCX with
a macro project or an embedded executable. A browser that sniffs, or a learner's office suite,
would run them; so they are refused at upload, with what was found and where.

Every check is one bounded pass, linear in the file: compiled regexes over the bytes
(``search(data, pos, end)`` never copies). Image pixel data is compressed noise, where a
four-byte tag turns up by chance: it is only searched for long tokens; metadata (comments,
EXIF, text chunks) and bytes after the image's end are searched for every tag. PDFs:
:mod:`.active_pdf`; office documents: :mod:`.active_office`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lms_core.errors import ValidationError

# The patterns below run on lowered bytes and each starts with one literal: Python's re then
# skips ahead with a fast search (a 24 MB file in ~10 ms) where IGNORECASE or an alternation
# of different first bytes tries every position (over a second).
#: A tag name, also with a namespace prefix (``<x:script xmlns:x="...xhtml">``).
_NS = rb"(?:[a-z][a-z0-9_.-]{0,30}:)?"
#: One step through a tag's attributes, as a browser reads them: a quoted value (``<`` or ``>``
#: in it does not end the tag), a lone quote, any other byte but ``<``. Outside quotes a scan
#: stops at the next ``<``, and one from a ``<`` inside quotes reads them the other way round,
#: so it stops at the next quoted ``<``: each byte is scanned from a few ``<`` only (linear).
_ITEM = rb"""(?>"[^"]*+"|'[^']*+'|[^<>])"""
#: An event handler in a tag, over lines (``<img\nsrc=x\nonerror=...\n>``), closed by ``>``:
#: "while i <n:\n    ongoing = True" has no ``>`` and is code. The atomic group commits to the
#: first handler; the tail is one possessive scan to ``>``, never retried per handler.
_HANDLER = (
    rb"[a-z][a-z0-9:_.-]{0,30}[\s/](?>"
    + _ITEM
    + rb"*?(?<=[\s/\"'])on[a-z]{3,30}\s*=)"
    + _ITEM
    + rb"*+>"
)
#: Markup a browser would run: the tags, or an event handler on any tag (``<img onerror=``).
#: ``object``, ``embed``, ``base`` and ``frame`` do nothing without attributes, and
#: ``List<Object>`` is everyday Java: those count only with an attribute after them.
_MARKUP = re.compile(
    rb"<(?:" + _NS + rb"(?:script|iframe|frameset|svg|html|body|applet)(?=[\s/>]|\Z)"
    rb"|(?:object|embed|base|frame)[\s/]"
    rb"|meta\s[^<>]{0,200}?http-equiv|!doctype\s+html|\?xml-stylesheet|" + _HANDLER + rb")"
)
#: The same, long tags and handlers only: searched in pixel data too. A bare ``<svg `` or
#: ``<img `` (five bytes) would turn up by chance in about one 25 MB photo in a thousand.
_STRONG = re.compile(
    rb"<(?:" + _NS + rb"(?:script|iframe|object|embed|applet|frameset)(?=[\s/>])"
    rb"|!doctype\s+html|(?:html|body)[\s>]|meta\s+http-equiv|" + _HANDLER + rb")"
)
#: ``javascript:x``, on bytes without tabs and line breaks (a browser drops them from URLs:
#: ``java\tscript:``); ``script`` first, then the lookbehind, so the search skips ahead.
_BARE_URL = re.compile(rb"script(?:(?<=javascript)|(?<=vbscript)):(?=\S)")
#: ``href= javascript :`` after an equals sign. "JavaScript: the good parts" is prose.
_EQUALS_URL = re.compile(rb"""=\s*["']?\s*(?P<url>(?:java|vb)script\s*:)""")
#: Where such a URL is in the original bytes: searched for from a hit only (no literal first
#: byte: over a whole file it would try every position).
_SPLIT_URL = re.compile(
    rb"(?:j[\t\n\r]*a[\t\n\r]*v[\t\n\r]*a|v[\t\n\r]*b)[\t\n\r]*"
    rb"s[\t\n\r]*c[\t\n\r]*r[\t\n\r]*i[\t\n\r]*p[\t\n\r]*t"
)
#: JavaScript calls: looked for in images (a script hidden in a polyglot), never in text,
#: where a programming course's plain-text answers may well call ``alert(``.
_CALLS = (
    b"alert(",
    b"eval(",
    b"prompt(",
    b"confirm(",
    b"fetch(",
    b"import(",
    b"settimeout(",
    b"setinterval(",
    b"importscripts(",
    b"fromcharcode(",
    b"document.",
)
_DOCUMENT = re.compile(rb"document\.(?:cookie|write|domain|location)")


def _script_url(low: bytes, start: int, stop: int) -> tuple[int, bytes] | None:
    """A ``javascript:``/``vbscript:`` URL in ``low[start:stop]``, tabs and newlines ignored."""
    part = low[start:stop].translate(None, b"\t\n\r")
    bare, equals = _BARE_URL.search(part), _EQUALS_URL.search(part)
    if bare is None and equals is None:
        return None
    if equals is not None and (bare is None or equals.start() < bare.start()):
        at, end = equals.start("url"), equals.end("url")
    else:
        assert bare is not None
        head = 4 if part[max(0, bare.start() - 4) : bare.start()] == b"java" else 2
        at, end = bare.start() - head, bare.end()
    # Where it is in the original: at or after ``at`` (only bytes before it were dropped).
    where = _SPLIT_URL.search(low, start + at, stop)
    return (where.start() if where else start + at), part[at : end + 8]


def _active(
    low: bytes, start: int, stop: int, *, tags: re.Pattern[bytes], calls: bool
) -> tuple[int, bytes] | None:
    """The first active content found in ``low[start:stop]`` (lowered bytes): where, what."""
    found = tags.search(low, start, stop)
    if found is not None:
        return found.start(), found.group()
    url = _script_url(low, start, stop)
    if url is not None or not calls:
        return url
    for call in _CALLS:
        at = low.find(call, start, stop)
        while at >= 0 and call == b"document.":
            if (document := _DOCUMENT.match(low, at, stop)) is not None:
                return at, document.group()
            at = low.find(call, at + 1, stop)
        if at >= 0:
            return at, call
    return None


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, field="file")


def _shown(found: bytes) -> str:
    """What was found, printable and short, for the message."""
    text = re.sub(r"\s+", " ", found.decode("latin-1"))
    return "".join(c if c.isprintable() else "?" for c in text)[:40]


# -- text ---------------------------------------------------------------------------------


def check_text(data: bytes) -> None:
    """Refuse text with markup a browser would run anywhere in it, not only at its start."""
    found = _active(data.lower(), 0, len(data), tags=_MARKUP, calls=False)
    if found is not None:
        line = data.count(b"\n", 0, found[0]) + 1
        raise _refuse(
            f"contains HTML ({_shown(found[1])!r} on line {line}): text that a browser "
            "could run as a web page is refused"
        )


# -- images -------------------------------------------------------------------------------

Regions = tuple[list[tuple[int, int]], int]
"""Spans of an image's metadata, and where the image ends (what follows is trailing data)."""

_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _png(data: bytes) -> Regions:
    """Chunks other than pixel data; the end is after IEND (or where the chunks break)."""
    pos = 8
    regions: list[tuple[int, int]] = []
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, start = data[pos + 4 : pos + 8], pos + 8
        end = start + length
        if end + 4 > len(data):
            return regions, pos
        if kind not in (b"IDAT", b"fdAT"):
            regions.append((start, end))
        pos = end + 4
        if kind == b"IEND":
            return regions, pos
    return regions, len(data)


def _jpeg(data: bytes) -> Regions:
    """Segments (APPn, COM, tables) but not scan data; the end is after EOI."""
    pos, n = 2, len(data)
    regions: list[tuple[int, int]] = []
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return regions, pos  # not a marker: the structure is broken here
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
        elif marker == 0xD9:
            return regions, pos + 2
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
        else:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            regions.append((pos + 4, min(pos + 2 + length, n)))
            pos += 2 + length
            if marker == 0xDA:  # entropy-coded data runs to the next real marker
                found = _JPEG_NEXT_MARKER.search(data, pos)
                pos = found.start() if found else n
    return regions, n


def _skip_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _gif(data: bytes) -> Regions:
    """Extension blocks (comments, application data) but not LZW data; the end is after ``;``."""
    n = len(data)
    regions: list[tuple[int, int]] = []
    if n < 13:
        return regions, n
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while pos < n:
        block = data[pos]
        if block == 0x3B:
            return regions, pos + 1
        if block == 0x21:  # extension: comment, application, plain text, graphic control
            start = pos + 2
            pos = _skip_blocks(data, start)
            regions.append((start, min(pos, n)))
        elif block == 0x2C and pos + 10 <= n:  # image: descriptor, colour table, LZW data
            flags = data[pos + 9]
            pos = _skip_blocks(data, pos + 11 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0))
        else:
            return regions, pos
    return regions, n


def _webp(data: bytes) -> Regions:
    """RIFF chunks other than frames (EXIF, XMP, ICC); the end is the RIFF size declared."""
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    pos = 12
    regions: list[tuple[int, int]] = []
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + size > end:
            return regions, pos
        if data[pos : pos + 4] not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
            regions.append((pos + 8, pos + 8 + size))
        pos += 8 + size + (size & 1)
    return regions, end


#: ``GIF89a`` read as a script: an assignment (``GIF89a=...``) or a comment (``GIF89a/*``,
#: ``GIF89a //``); an ``=`` only with a byte a script can go on with (not a control byte). The
#: header's next bytes are the width: ``=`` then a control byte is a 61 + 256 k (k < 9) pixels
#: wide GIF and passes; what is refused is 2,365+ pixels wide with a low byte of 61 (``=``), or
#: 10,799 or 12,079 wide (``/*``, ``//``): a real GIF of such a width is rare.
_GIF_SCRIPT = re.compile(rb"GIF8[79]a\s*(?:/[*/]|=[\s\x21-\x7e\x80-\xff])")

_IMAGES: dict[str, tuple[str, Callable[[bytes], Regions]]] = {
    "png": ("PNG", _png),
    "jpg": ("JPEG", _jpeg),
    "gif": ("GIF", _gif),
    "webp": ("WebP", _webp),
}


def check_image(ext: str, data: bytes) -> None:
    """Refuse an image that is also a script or a web page (a polyglot)."""
    label, walk = _IMAGES[ext]
    why = f": {label} images carrying scripts or web pages are refused (an image polyglot)"
    if ext == "gif" and _GIF_SCRIPT.match(data):
        raise _refuse(
            "is a GIF whose header reads as JavaScript (GIF89a/*, GIF89a=...): a GIF that is "
            "also a script is refused (a GIF/JavaScript polyglot)"
        )
    regions, end = walk(data)
    low = data.lower()
    for start, stop in [*regions, (end, len(data))]:
        found = _active(low, start, stop, tags=_MARKUP, calls=True)
        if found is not None:
            where = "after the end of the image" if start >= end else "in its metadata"
            raise _refuse(f"contains {_shown(found[1])!r} at byte {found[0]}, {where}{why}")
    found = _active(low, 0, len(data), tags=_STRONG, calls=True)
    if found is not None:
        raise _refuse(f"contains {_shown(found[1])!r} at byte {found[0]}{why}")
