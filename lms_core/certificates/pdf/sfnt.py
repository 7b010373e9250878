"""TrueType subsets written straight from a font file's bytes, and their PDF objects.

fpdf2 runs fontTools' general subsetter over the whole font for every document; for the
``glyf``-based fonts certificates use, :class:`TrueTypeFile` copies the used glyphs' byte
ranges instead (about a hundred times faster), and :func:`embed_subset` writes the PDF font
objects for that subset. :mod:`.fonts` parses each file once and hands the tables out here.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf.fonts import TTFFont
    from fpdf.output import PDFFont
    from fpdf.syntax import PDFObject

_COMPOSITE_MORE = 0x0020
_COMPOSITE_WORDS = 0x0001
_COMPOSITE_SCALE = 0x0008
_COMPOSITE_XY_SCALE = 0x0040
_COMPOSITE_2X2 = 0x0080
#: Tables copied unchanged: hinting programs the glyphs' instructions call, and OS/2 metrics.
_COPIED_TABLES = ("OS/2", "cvt ", "fpgm", "prep")
#: A cmap with one empty format 4 subtable: PDF reads glyphs through CIDToGIDMap, some font
#: sanitisers still want the table to exist.
_EMPTY_CMAP = (
    struct.pack(">HHHHI", 0, 1, 3, 1, 12)
    + struct.pack(">HHHHHHHHHHH", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1)
    + struct.pack(">H", 0)
)


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


class TrueTypeFile:
    """The tables of a ``glyf``-based font, read once, and a subsetter that keeps glyph ids.

    ``subset(order)`` returns a font whose glyph *i* is the original glyph ``order[i]`` (``None``
    for an empty slot), plus the components of composite glyphs appended at the end. fpdf2
    numbers the characters of a document 0, 1, 2, ...; laying the subset out in that order
    lets the PDF use ``/CIDToGIDMap /Identity``. Copying byte ranges is about a hundred times
    faster than fontTools' general subsetter, which handles every table and format.
    """

    def __init__(self, data: bytes) -> None:
        self.tables: dict[str, bytes] = {}
        (num_tables,) = struct.unpack_from(">H", data, 4)
        for index in range(num_tables):
            tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
            self.tables[tag.decode("latin-1")] = data[offset : offset + length]
        (long_loca,) = struct.unpack_from(">h", self.tables["head"], 50)
        (self.num_glyphs,) = struct.unpack_from(">H", self.tables["maxp"], 4)
        self.loca = array(
            "I" if long_loca else "H",
            self.tables["loca"][: (self.num_glyphs + 1) * (4 if long_loca else 2)],
        )
        if sys.byteorder == "little":
            self.loca.byteswap()
        self.loca_scale = 1 if long_loca else 2
        (self.num_hmetrics,) = struct.unpack_from(">H", self.tables["hhea"], 34)
        self.glyf = self.tables["glyf"]
        self.hmtx = self.tables["hmtx"]

    def glyph(self, gid: int) -> bytes:
        return self.glyf[self.loca[gid] * self.loca_scale : self.loca[gid + 1] * self.loca_scale]

    def metrics(self, gid: int) -> bytes:
        """Advance width and left side bearing of ``gid`` as a long hmtx entry."""
        if gid < self.num_hmetrics:
            return self.hmtx[gid * 4 : gid * 4 + 4]
        last = (self.num_hmetrics - 1) * 4
        offset = self.num_hmetrics * 4 + (gid - self.num_hmetrics) * 2
        return self.hmtx[last : last + 2] + self.hmtx[offset : offset + 2]

    @staticmethod
    def _components(data: bytes) -> list[int]:
        """Byte offsets of the glyph-index fields of a composite glyph (empty if simple)."""
        if len(data) < 10 or struct.unpack_from(">h", data, 0)[0] >= 0:
            return []
        offsets, pos = [], 10
        while True:
            (flags,) = struct.unpack_from(">H", data, pos)
            offsets.append(pos + 2)
            pos += 4 + (4 if flags & _COMPOSITE_WORDS else 2)
            if flags & _COMPOSITE_SCALE:
                pos += 2
            elif flags & _COMPOSITE_XY_SCALE:
                pos += 4
            elif flags & _COMPOSITE_2X2:
                pos += 8
            if not flags & _COMPOSITE_MORE:
                return offsets

    def subset(self, order: list[int | None]) -> bytes:
        """A complete TrueType font holding the glyphs of ``order`` (see the class doc)."""
        order = list(order)
        new_id = {gid: i for i, gid in reversed(list(enumerate(order))) if gid is not None}
        glyphs: list[bytes] = []
        index = 0
        while index < len(order):  # ``order`` grows with components as they are found
            gid = order[index]
            # (fpdf2 gives a font without a space glyph a code point as "glyph id": skip it)
            data = b"" if gid is None or gid >= self.num_glyphs else self.glyph(gid)
            fields = self._components(data)
            if fields:
                patched = bytearray(data)
                for at in fields:
                    (component,) = struct.unpack_from(">H", data, at)
                    if component not in new_id:
                        new_id[component] = len(order)
                        order.append(component)
                    struct.pack_into(">H", patched, at, new_id[component])
                data = bytes(patched)
            glyphs.append(data + b"\0" * (-len(data) % 4))
            index += 1
        offsets = array("I", [0])
        for data in glyphs:
            offsets.append(offsets[-1] + len(data))
        if sys.byteorder == "little":
            offsets.byteswap()
        count = len(order)
        head = bytearray(self.tables["head"])
        struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment, set below
        struct.pack_into(">h", head, 50, 1)  # long loca offsets
        hhea = bytearray(self.tables["hhea"])
        struct.pack_into(">H", hhea, 34, count)
        maxp = bytearray(self.tables["maxp"])
        struct.pack_into(">H", maxp, 4, count)
        tables = {
            "cmap": _EMPTY_CMAP,
            "glyf": b"".join(glyphs),
            "head": bytes(head),
            "hhea": bytes(hhea),
            "hmtx": b"".join(
                self.metrics(g) if g is not None and g < self.num_glyphs else b"\0" * 4
                for g in order
            ),
            "loca": offsets.tobytes(),
            "maxp": bytes(maxp),
            # post format 3: the metrics of the original, no glyph names (PDF never uses them)
            "post": b"\0\3\0\0" + self.tables["post"][4:16] + b"\0" * 16,
        }
        for tag in _COPIED_TABLES:
            if tag in self.tables:
                tables[tag] = self.tables[tag]
        return _assemble({tag: data for tag, data in tables.items() if data})


def _assemble(tables: dict[str, bytes]) -> bytes:
    """Write an sfnt file: header, sorted table records, 4-byte aligned tables, checksums."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, (count - power) * 16
    )
    records, body = [], []
    offset = 12 + 16 * count
    for tag in tags:
        data = tables[tag]
        records.append(
            struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data))
        )
        padded = data + b"\0" * (-len(data) % 4)
        body.append(padded)
        offset += len(padded)
    font = bytearray(header + b"".join(records) + b"".join(body))
    head_at = 12 + 16 * count + sum(len(b) for b in body[: tags.index("head")])
    struct.pack_into(">I", font, head_at + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


def embed_subset(
    add_obj: Callable[[PDFObject, str], int], font: TTFFont, sfnt: TrueTypeFile
) -> PDFFont:
    """Add the PDF objects of ``font`` (Type0 + CIDFontType2 + subset file) to a document.

    The TrueType branch of fpdf2's ``OutputProducer._add_fonts``, with two changes: the font
    program comes from :meth:`TrueTypeFile.subset` laid out so that code *n* is glyph *n*, hence
    ``/CIDToGIDMap /Identity`` instead of a 128 KiB map per font; and the subset tag is derived
    from the glyphs, so equal subsets get equal names. ``add_obj`` is the producer's
    ``_add_pdf_obj``.
    """
    from fpdf.output import CIDSystemInfo, PDFFont, PDFFontStream
    from fpdf.syntax import Name, PDFArray, PDFContentStream

    used = sorted(
        ((code, glyph) for glyph, code in font.subset.items() if glyph is not None),
        key=lambda item: item[0],
    )
    order: list[int | None] = [None] * (used[-1][0] + 1 if used else 1)
    widths: list[str] = []
    to_unicode: list[str] = []
    for code, glyph in used:
        order[code] = 0 if glyph.glyph_name == ".notdef" else glyph.glyph_id
        widths.append(f"{code} [{glyph.glyph_width}]")
        if isinstance(glyph.unicode, tuple):
            # A shaped cluster's text goes to its first glyph; the cluster's other glyphs
            # (the two halves of Bengali AU, a reordered consonant) map to nothing, or text
            # extraction would show their codes between the letters.
            text = "".join(chr(c) for c in glyph.unicode).encode("utf-16-be").hex().upper()
            to_unicode.append(f"<{code:04X}> <{text}>")
    program = sfnt.subset(order)
    tag = "".join(chr(65 + (zlib.crc32(program) >> (5 * i)) % 26) for i in range(6))
    fontname = f"{tag}+{font.name}"

    type0 = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
    add_obj(type0, "fonts")
    cid_font = PDFFont(
        subtype="CIDFontType2",
        base_font=fontname,
        d_w=font.desc.missing_width,
        w=f"[{' '.join(widths)}]",
    )
    add_obj(cid_font, "fonts")
    type0.descendant_fonts = PDFArray([cid_font])
    blocks = [to_unicode[i : i + 100] for i in range(0, len(to_unicode), 100)]
    cmap = "".join(f"{len(b)} beginbfchar\n" + "\n".join(b) + "\nendbfchar\n" for b in blocks)
    to_unicode_obj = PDFContentStream(
        (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{cmap}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("latin-1"),
        compress=True,
    )
    add_obj(to_unicode_obj, "fonts")
    type0.to_unicode = to_unicode_obj
    system_info = CIDSystemInfo()
    add_obj(system_info, "fonts")
    cid_font.c_i_d_system_info = system_info
    descriptor = font.desc
    descriptor.font_name = Name(fontname)
    add_obj(descriptor, "fonts")
    cid_font.font_descriptor = descriptor
    cid_font.c_i_d_to_g_i_d_map = Name("Identity")  # type: ignore[assignment]
    program_obj = PDFFontStream(contents=program)
    add_obj(program_obj, "fonts")
    descriptor.font_file2 = program_obj  # type: ignore[attr-defined]
    # fpdf2 memoises these methods in process-wide caches keyed by the subset map: clear them
    # or every document's map (and its font) stays alive.
    font.subset.pick.cache_clear()
    font.subset.get_glyph.cache_clear()
    return type0
