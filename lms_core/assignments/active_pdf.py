"""Scripts, actions and attachments in an uploaded PDF (see :mod:`.active_content`).

A PDF reader runs JavaScript (``/JS``, ``/JavaScript``), XFA forms (scripts in XML, no ``/JS``
needed), starts programs (``/Launch``), sends form data or reads files (``/SubmitForm``,
``/ImportData``) and opens attachments (``/EmbeddedFile``, ``/GoToE``). Those names are looked
for in the file (also spelled with ``#xx`` escapes) and in its streams, decoded: PDF 1.5
writers put most dictionaries in compressed object streams, behind filter chains
(``[/FlateDecode /ASCIIHexDecode]``) a reader undoes.

Each stream's dictionary runs from its ``N G obj`` to ``stream`` (never a fixed window). A
stream a reader could take objects from (``/Type /ObjStm``, ``/N`` or ``/First``: readers do
not all ask for the type) must be decoded in full, within :data:`MAX_EXPANDED` in all:
a filter we cannot undo (LZW, a PNG predictor, a chain with DCT) is refused, since its objects
cannot be checked. Any other stream is decoded as far as Flate, ASCIIHex and ASCII85 go (an
image's DCT stops it, which is fine: pixels are not objects), with what budget is left, and
searched for the long names only: ``/JS`` and ``/XFA`` (three bytes) would turn up by chance
in decoded pixels and fonts. Images (``/Subtype /Image``) are not decoded at all.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib

from lms_core.assignments.active_content import _refuse, _shown
from lms_core.errors import ValidationError

#: What decoding a PDF's streams may cost at most (a 25 MB PDF's object streams hold far less).
MAX_EXPANDED = 64 * 1024 * 1024


def _name(word: str) -> bytes:
    """A PDF name pattern (no slash) that also matches ``#xx`` spellings (``J#61vaScript``).

    Names are case-sensitive in PDF; only the hex digits of an escape may be either case.
    """
    parts = []
    for c in word:
        code = f"{ord(c):02x}"
        parts.append(f"(?:{re.escape(c)}|#{code[0]}[{code[1]}{code[1].upper()}])".encode())
    return b"".join(parts)


_END = rb"(?![^\s/<>\[\]()%{}])"
_ACTIONS = {
    "JavaScript": "JavaScript (/JavaScript action)",
    "Launch": "a /Launch action (it starts a program)",
    "EmbeddedFile": "an attached file (/EmbeddedFile)",
    "GoToE": "a /GoToE action (it opens an attached file)",
    "RichMedia": "rich media (/RichMedia: Flash or video that can run scripts)",
    "SubmitForm": "a /SubmitForm action (it sends data to a web address)",
    "ImportData": "an /ImportData action (it reads a file from the reader's computer)",
}
#: One leading literal ``/``, so the search skips ahead fast.
_STRONG = re.compile(
    b"/(?:" + b"|".join(b"(" + _name(word) + b")" for word in _ACTIONS) + b")" + _END
)
#: Short names: outside stream data and in object streams only.
_SHORT = re.compile(b"/(?:(" + _name("JS") + b")|(" + _name("XFA") + b"))" + _END)
_STREAM = re.compile(rb"stream(?:\r\n|\r|\n)")
#: Bounded runs (a megabyte of digits must not be rescanned from each one: linear).
_OBJ = re.compile(rb"\d{1,10}\s{1,64}\d{1,10}\s{1,64}obj\b")
_OBJECT_STREAM = re.compile(
    b"/"
    + _name("Type")
    + rb"\s*/"
    + _name("ObjStm")
    + _END
    + b"|/(?:"
    + _name("N")
    + b"|"
    + _name("First")
    + rb")\s*\d"
)
_IMAGE = re.compile(b"/" + _name("Subtype") + rb"\s*/" + _name("Image") + _END)
_FILTER = re.compile(b"/" + _name("Filter") + rb"\s*(\[[^\]]{0,512}\]|/[^\s/\[\]<>()]{1,64})")
_FILTER_NAME = re.compile(rb"/[^\s/\[\]<>()]+")
_PREDICTOR = re.compile(b"/" + _name("Predictor") + rb"\s*(\d+)")
_ESCAPE = re.compile(rb"#([0-9a-fA-F]{2})")
_NOT_HEX = re.compile(rb"[^0-9a-fA-F]")


def _refuse_pdf(what: str) -> ValidationError:
    return _refuse(f"contains {what}: PDF uploads with scripts, actions or attachments are refused")


def _look(text: bytes, *, short: bool) -> None:
    found = _STRONG.search(text)
    if found is not None:
        raise _refuse_pdf(
            next(w for w, hit in zip(_ACTIONS.values(), found.groups(), strict=True) if hit)
        )
    if short and (found := _SHORT.search(text)) is not None:
        raise _refuse_pdf("JavaScript (/JS)" if found.group(1) else "an XFA form (/XFA: scripts)")


def check_pdf(data: bytes) -> None:
    """Refuse a PDF that runs scripts, starts programs, sends data or carries attached files."""
    _look(data, short=False)
    pos, budgets = 0, [MAX_EXPANDED, MAX_EXPANDED]  # object streams, other streams
    for stream in _STREAM.finditer(data):
        if stream.start() < pos or data.endswith(b"end", 0, stream.start()):
            continue  # inside the previous stream's data, or the end of one
        _look(data[pos : stream.start()], short=True)
        stop = data.find(b"endstream", stream.end())
        stop = len(data) if stop < 0 else stop
        _check_stream(_dictionary(data, pos, stream.start()), data[stream.end() : stop], budgets)
        pos = stop + len(b"endstream")
    _look(data[pos:], short=True)


def _dictionary(data: bytes, pos: int, start: int) -> bytes:
    """The stream's dictionary: from its ``N G obj`` (the last one before it) to ``stream``.

    A dictionary that spells ``obj`` again (``/X (1 0 obj)``, to cut off what comes before)
    is taken from the previous stream's end instead: more to read, nothing hidden.
    """
    last = None
    for last in _OBJ.finditer(data, pos, start):  # noqa: B007 - the last one is wanted
        pass
    if last is None or data.find(b"obj", last.end(), start) >= 0:
        return data[pos:start]
    return data[last.end() : start]


def _check_stream(header: bytes, text: bytes, budgets: list[int]) -> None:
    """Decode one stream (object streams in full, others as far as we can) and look in it.

    ``budgets`` holds what decoding may still cost, for object streams (then refused) and
    for other streams (then no longer decoded); it is lowered by what this one cost.
    """
    objects = _OBJECT_STREAM.search(header) is not None
    if not objects and _IMAGE.search(header):
        return
    kind = 0 if objects else 1
    found = _FILTER.search(header)
    names = _FILTER_NAME.findall(found.group(1)) if found else []
    if not names and not objects:
        return  # its bytes were searched with the whole file
    names = [_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), n) for n in names]
    predictor = _PREDICTOR.search(header)
    for name in names:
        if name in (b"/FlateDecode", b"/Fl") and not (predictor and int(predictor[1]) > 1):
            try:
                text = zlib.decompressobj().decompress(text, max(budgets[kind], 0) + 1)
            except zlib.error:
                if objects:
                    raise _refuse(
                        "has a damaged compressed object stream; it cannot be checked"
                    ) from None
                return
            budgets[kind] -= len(text)
            if budgets[kind] < 0:
                if objects:
                    raise _refuse(
                        f"has object streams that expand beyond {MAX_EXPANDED // 1024 // 1024} MB; "
                        "it cannot be checked for scripts and is refused"
                    )
                return  # other streams: best effort, spent
        elif name in (b"/ASCIIHexDecode", b"/AHx"):
            digits = _NOT_HEX.sub(b"", text.split(b">", 1)[0])
            text = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
        elif name in (b"/ASCII85Decode", b"/A85"):
            try:
                text = base64.a85decode(text.split(b"~>", 1)[0].removeprefix(b"<~"))
            except (ValueError, binascii.Error):
                if objects:
                    raise _refuse(
                        "has a damaged ASCII85 object stream; it cannot be checked"
                    ) from None
                return
        elif objects:
            what = "a PNG predictor" if name in (b"/FlateDecode", b"/Fl") else _shown(name)
            raise _refuse(
                f"has an object stream encoded with {what}, which cannot be checked for "
                "scripts; save it again as PDF (any PDF printer or exporter) and upload that"
            )
        else:
            break  # an image's DCT, a font's LZW: pixels and glyphs are not objects
    _look(text, short=objects)
