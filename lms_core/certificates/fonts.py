"""The fonts certificates are drawn with: bundled files, an optional extra folder, coverage.

Why this module exists instead of ``FPDF.add_font`` per document: ``add_font`` parses the whole
TTF with fontTools (cmap, hmtx, metrics) and ``FPDF.output`` then runs fontTools' subsetter over
the full font. Together that is 80-90 % of the time of a one-page certificate. Here each font
file is parsed once per process (lazily, the first time a document needs it) and every document
gets a cheap *clone* of the parsed ``TTFFont`` with fresh subset state; :class:`TrueTypeFile`
writes the subset with only the glyphs that document used, straight from the file's bytes.

Order matters: the bundled families come first (DejaVu Sans for Latin, Greek, Cyrillic and
Vietnamese; Noto Naskh Arabic; Noto Sans Hebrew; Droid Sans Fallback for CJK), then the files of
``settings.fonts_dir``. A character is drawn with the field's own font when it has the glyph,
otherwise with the first font of that order which has it (the rule of fpdf2's fallback fonts).
"""

from __future__ import annotations

import copy
import struct
import sys
import unicodedata
import zlib
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont
    from fpdf.output import PDFFont
    from fpdf.syntax import PDFObject

BUNDLED_DIR = Path(__file__).with_name("fonts")
#: Family name of the bundled default font; templates name it (or another family) per field.
DEFAULT_FAMILY = "DejaVuSans"
#: ``(family, style, file name)`` of the bundled fonts, in fallback order.
BUNDLED: tuple[tuple[str, str, str], ...] = (
    ("DejaVuSans", "", "DejaVuSans.ttf"),
    ("DejaVuSans", "B", "DejaVuSans-Bold.ttf"),
    ("NotoNaskhArabic", "", "NotoNaskhArabic-Regular.ttf"),
    ("NotoNaskhArabic", "B", "NotoNaskhArabic-Bold.ttf"),
    ("NotoSansHebrew", "", "NotoSansHebrew-Regular.ttf"),
    ("NotoSansHebrew", "B", "NotoSansHebrew-Bold.ttf"),
    ("DroidSansFallbackFull", "", "DroidSansFallbackFull.ttf"),
)
#: Families whose glyphs for these code point ranges are not used: DejaVu Sans has basic
#: Hebrew and Arabic, but the Noto faces bundled for them are the better (and complete) choice.
SKIPPED_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "DejaVuSans": ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF)),
}
FONT_SUFFIXES = (".ttf", ".otf")
_STYLE_SUFFIXES = {"-bold": "B", "-italic": "I", "-bolditalic": "BI", "-regular": ""}
#: Categories never drawn as glyphs: controls, format characters (ZWJ, bidi marks), separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class FontFile:
    """One font file and the family/style it is registered under."""

    family: str
    style: str
    path: Path

    @property
    def key(self) -> str:
        """fpdf2's font key: lower-case family plus the style letters."""
        return font_key(self.family, self.style)


def font_key(family: str, style: str) -> str:
    return family.lower() + "".join(sorted(style.upper()))


def bundled_fonts() -> list[FontFile]:
    return [FontFile(family, style, BUNDLED_DIR / name) for family, style, name in BUNDLED]


def scan_fonts_dir(folder: Path) -> list[FontFile]:
    """The ``.ttf``/``.otf`` files of ``folder``, sorted by name.

    ``Name-Bold.ttf`` becomes style B of family ``Name`` (likewise ``-Italic``, ``-BoldItalic``,
    ``-Regular``); any other file is the regular style of a family named after the file.
    """
    found: list[FontFile] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
            continue
        family, style = path.stem, ""
        stem_lower = path.stem.lower()
        for suffix, letters in _STYLE_SUFFIXES.items():
            if stem_lower.endswith(suffix) and len(stem_lower) > len(suffix):
                family, style = path.stem[: -len(suffix)], letters
                break
        found.append(FontFile(family, style, path))
    return found


def is_invisible(char: str) -> bool:
    """Whitespace and control/format characters: they need no glyph."""
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES


@dataclass
class LoadedFont:
    """A font file parsed once: fpdf2's ``TTFFont`` used as a prototype, and its raw tables."""

    file: FontFile
    proto: TTFFont
    #: Raw tables for the fast subsetter; ``None`` for CFF (.otf) fonts, which fpdf2 subsets.
    sfnt: TrueTypeFile | None
    #: The file's bytes, kept only for CFF fonts: each document needs its own fontTools object.
    data: bytes | None
    codepoints: frozenset[int] = field(default_factory=frozenset)


class FontBook:
    """Every font a renderer may use, in fallback order; each file parsed on first need.

    One per process and fonts folder (:func:`font_book`): documents share the parsed fonts and
    never mutate them (the subset state lives in the per-document clones).
    """

    def __init__(self, files: Iterable[FontFile]) -> None:
        self.files: dict[str, FontFile] = {}
        for font_file in files:
            # A later file never replaces an earlier one (the bundled fonts win).
            self.files.setdefault(font_file.key, font_file)
        self._loaded: dict[str, LoadedFont] = {}
        # Memos of :meth:`choose` and :meth:`missing_glyphs`, bounded by the characters seen.
        self._choices: dict[tuple[str, str, int], str | None] = {}
        self._drawable: dict[int, bool] = {}
        self.families: list[str] = list(dict.fromkeys(f.family for f in self.files.values()))

    def has_family(self, family: str) -> bool:
        return family in self.families

    def load(self, key: str) -> LoadedFont:
        """The parsed font for ``key`` (parsing it the first time)."""
        loaded = self._loaded.get(key)
        if loaded is None:
            loaded = self._parse(self.files[key])
            self._loaded[key] = loaded
        return loaded

    @staticmethod
    def _parse(font_file: FontFile) -> LoadedFont:
        from fpdf import FPDF
        from fpdf.fonts import TTFFont

        data = font_file.path.read_bytes()
        proto = TTFFont(FPDF(), font_file.path, font_file.key, font_file.style)
        skipped = (
            SKIPPED_RANGES.get(font_file.family, ()) if font_file.path.parent == BUNDLED_DIR else ()
        )
        if skipped:
            # What fpdf2's add_font(unicode_range=...) does: the font no longer claims them.
            def kept(codepoint: int) -> bool:
                return not any(low <= codepoint <= high for low, high in skipped)

            proto.cmap = {cp: name for cp, name in proto.cmap.items() if kept(cp)}
            proto.glyph_ids = {cp: gid for cp, gid in proto.glyph_ids.items() if kept(cp)}
        sfnt = TrueTypeFile(data) if "glyf" in proto.ttfont and not proto.is_cff else None
        kept_data = None if sfnt is not None else data
        return LoadedFont(font_file, proto, sfnt, kept_data, frozenset(proto.cmap))

    def covers(self, key: str, codepoint: int) -> bool:
        return codepoint in self.load(key).codepoints

    def missing_glyphs(self, text: str) -> list[str]:
        """Characters of ``text`` that no font can draw, each once, in order of appearance."""
        missing: list[str] = []
        for char in dict.fromkeys(text):
            if is_invisible(char):
                continue
            codepoint = ord(char)
            drawable = self._drawable.get(codepoint)
            if drawable is None:
                drawable = any(self.covers(key, codepoint) for key in self.files)
                self._drawable[codepoint] = drawable
            if not drawable:
                missing.append(char)
        return missing

    def keys_for(self, text: str, family: str, style: str) -> list[str]:
        """The font keys needed to draw ``text`` in ``family``/``style``, primary first.

        Adding only these fonts to a document gives the same choices as adding every font
        (see :meth:`choose`), with fewer fonts to embed.
        """
        primary = self.primary_key(family, style)
        keys = [primary]
        for char in dict.fromkeys(text):
            if not is_invisible(char):
                chosen = self.choose(primary, style, ord(char))
                if chosen is not None and chosen not in keys:
                    keys.append(chosen)
        return keys

    def choose(self, primary: str, style: str, codepoint: int) -> str | None:
        """The font that draws ``codepoint``, by the rule of ``FPDF.get_fallback_font``.

        The primary font when it has the glyph; else the first font in book order that has it
        in the same style; else the first that has it at all; ``None`` when none has it.
        """
        memo = (primary, style, codepoint)
        if memo in self._choices:
            return self._choices[memo]
        chosen = None
        if self.covers(primary, codepoint):
            chosen = primary
        else:
            wanted = "".join(sorted(style.upper()))
            for key, font_file in self.files.items():
                if key != primary and self.covers(key, codepoint):
                    if font_file.style == wanted:
                        chosen = key
                        break
                    chosen = chosen or key
        self._choices[memo] = chosen
        return chosen

    def text_width(self, text: str, family: str, style: str) -> float:
        """Width of ``text`` in thousandths of the font size (unshaped; for fitting only)."""
        primary = self.primary_key(family, style)
        total = 0.0
        for char in text:
            key = self.choose(primary, style, ord(char))
            if key is not None:
                total += self.load(key).proto.cw[ord(char)]
        return total

    def primary_key(self, family: str, style: str) -> str:
        """The key of ``family`` in ``style``, or its regular face when it has no such style."""
        key = font_key(family, style)
        if key in self.files:
            return key
        return font_key(family, "")

    def clone_into(self, pdf: FPDF, key: str) -> TTFFont:
        """Register a fresh clone of font ``key`` in ``pdf`` (what ``add_font`` would do).

        The clone shares the immutable parts (cmap, widths, glyph ids, the fontTools object
        used read-only for shaping) and gets its own subset map, missing-glyph list and font
        descriptor. CFF fonts get their own fontTools object, because fpdf2's output subsets it
        in place.
        """
        from fontTools import ttLib
        from fpdf.fonts import SubsetMap, TTFFont

        loaded = self.load(key)
        proto = loaded.proto
        clone = TTFFont.__new__(TTFFont)
        for slot in TTFFont.__slots__:
            if slot not in _PER_DOCUMENT and hasattr(proto, slot):
                setattr(clone, slot, getattr(proto, slot))
        clone.i = len(pdf.fonts) + 1
        clone.biggest_size_pt = 0
        clone.missing_glyphs = []
        clone.desc = copy.copy(proto.desc)
        clone._hbfont = proto.hbfont  # one HarfBuzz face per process, built on first use
        if loaded.data is not None:
            clone.ttfont = ttLib.TTFont(BytesIO(loaded.data), recalcTimestamp=False, lazy=True)
        clone.subset = SubsetMap(clone)
        pdf.fonts[key] = clone
        return clone


#: ``TTFFont`` attributes that are per document; a clone shares every other one (read-only).
_PER_DOCUMENT = frozenset({"i", "subset", "missing_glyphs", "biggest_size_pt", "desc"})


@cache
def font_book(extra_fonts_dir: Path | None = None) -> FontBook:
    """The process-wide book for the bundled fonts plus ``extra_fonts_dir`` (parsed lazily)."""
    files = bundled_fonts()
    if extra_fonts_dir is not None:
        files += scan_fonts_dir(extra_fonts_dir)
    return FontBook(files)


# --- TrueType subsetting -------------------------------------------------------------------------

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
        if isinstance(glyph.unicode, tuple) and glyph.unicode:
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
