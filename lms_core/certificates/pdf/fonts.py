"""The fonts certificates are drawn with: bundled files, an optional extra folder, coverage.

Why this module exists instead of ``FPDF.add_font`` per document: ``add_font`` parses the whole
TTF with fontTools (cmap, hmtx, metrics) and ``FPDF.output`` then runs fontTools' subsetter over
the full font. Together that is 80-90 % of the time of a one-page certificate. Here each font
file is parsed once per process (lazily, the first time a document needs it) and every document
gets a cheap *clone* of the parsed ``TTFFont`` with fresh subset state;
:class:`~.sfnt.TrueTypeFile` writes the subset with only the glyphs that document used, straight
from the file's bytes.

Order matters: the bundled families come first (DejaVu Sans for Latin, Greek, Cyrillic and
Vietnamese; Noto Naskh Arabic; Noto Sans Hebrew, Devanagari, Bengali, Tamil, Thai and Ethiopic;
NanumSquare for Korean; Droid Sans Fallback for Chinese and Japanese), then the files of
``settings.fonts_dir``. A character is drawn with the field's own font when it has the glyph,
otherwise with the first font of that order which has it (the rule of fpdf2's fallback fonts).
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from lms_core.certificates.pdf.sfnt import TrueTypeFile

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

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
    ("NotoSansDevanagari", "", "NotoSansDevanagari-Regular.ttf"),
    ("NotoSansDevanagari", "B", "NotoSansDevanagari-Bold.ttf"),
    ("NotoSansBengali", "", "NotoSansBengali-Regular.ttf"),
    ("NotoSansBengali", "B", "NotoSansBengali-Bold.ttf"),
    ("NotoSansTamil", "", "NotoSansTamil-Regular.ttf"),
    ("NotoSansTamil", "B", "NotoSansTamil-Bold.ttf"),
    ("NotoSansThai", "", "NotoSansThai-Regular.ttf"),
    ("NotoSansThai", "B", "NotoSansThai-Bold.ttf"),
    ("NotoSansEthiopic", "", "NotoSansEthiopic-Regular.ttf"),
    ("NotoSansEthiopic", "B", "NotoSansEthiopic-Bold.ttf"),
    ("NanumSquare", "", "NanumSquareR.ttf"),
    ("NanumSquare", "B", "NanumSquareB.ttf"),
    ("DroidSansFallbackFull", "", "DroidSansFallbackFull.ttf"),
)
#: Hangul: syllables, jamo (and their extensions), compatibility jamo.
HANGUL_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
)
#: Families whose glyphs for these code point ranges are not used: DejaVu Sans has basic
#: Hebrew and Arabic, but the Noto faces bundled for them are the better (and complete) choice.
SKIPPED_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    # ZWNJ and ZWJ too: drawn with DejaVu Sans they would cut an Indic or Arabic run in two
    # and each half would be shaped alone (Bengali RA, ZWJ, VIRAMA, YA would get a dotted
    # circle). Skipped here, they go to the field's fallback font: that of their script.
    "DejaVuSans": ((0x0590, 0x08FF), (0x200C, 0x200D), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF)),
    # Droid Sans Fallback has 3 of the 11,172 Hangul syllables: Korean is NanumSquare's.
    "DroidSansFallbackFull": HANGUL_RANGES,
}
#: Families used only for these ranges: NanumSquare also has 4,620 Han ideographs and the kana,
#: but a Chinese or Japanese name must not mix its glyphs with Droid Sans Fallback's.
ONLY_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "NanumSquare": HANGUL_RANGES,
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
        bundled = font_file.path.parent == BUNDLED_DIR
        skipped = SKIPPED_RANGES.get(font_file.family, ()) if bundled else ()
        only = ONLY_RANGES.get(font_file.family, ()) if bundled else ()
        if skipped or only:
            # What fpdf2's add_font(unicode_range=...) does: the font no longer claims them.
            def kept(codepoint: int) -> bool:
                if only and not any(low <= codepoint <= high for low, high in only):
                    return False
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
