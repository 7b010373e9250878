"""Checks for what spreadsheets do to data, used by import validation.

Excel silently turns ``0012345`` into ``12345``, ``123450000000`` into ``1.2345E+11``, an
18-digit ID into one ending in ``000``, and opens a UTF-8 file as Windows-1252 so "José"
comes back as "JosÃ©". Each check returns a message a school secretary can act on, or None.
Messages say what happened and what to do; the caller adds file, line and column.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from array import array
from dataclasses import dataclass, field

_SCIENTIFIC = re.compile(r"^\s*[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+\s*$")
_DIGITS = re.compile(r"^\d+$")
#: Excel stores 15 significant digits; the 16th onwards become zeros.
_EXCEL_DIGITS = 15

TEXT_FORMAT_ADVICE = "format the column as Text in Excel and type the IDs again"


def check_identifier(value: str, *, numeric: bool = False) -> str | None:
    """Damage Excel does to identifiers (``external_id``, ``sourcedId``...).

    ``numeric`` is True when an XLSX cell held a number rather than text: leading zeros,
    if the ID had any, are gone.
    """
    text = value.strip()
    if not text:
        return None
    if _SCIENTIFIC.match(text):
        return (
            f'"{text}" looks like Excel turned the ID into scientific notation and lost digits; '
            f"{TEXT_FORMAT_ADVICE}"
        )
    if _DIGITS.match(text) and len(text) > _EXCEL_DIGITS:
        if numeric:
            return (
                f"this ID has {len(text)} digits, but Excel keeps only 15 when it stores a "
                f"number, so the last digits are wrong; {TEXT_FORMAT_ADVICE}"
            )
        if text[_EXCEL_DIGITS:].strip("0") == "" and text[_EXCEL_DIGITS - 1] != "0":
            return (
                f'"{text}" ends in zeros after its 15th digit, as Excel does when it stores a '
                f"long ID as a number (it keeps only 15 digits); {TEXT_FORMAT_ADVICE}"
            )
    if numeric and _DIGITS.match(text):
        return (
            "this ID was stored as a number, so Excel may have removed its leading zeros; "
            f"{TEXT_FORMAT_ADVICE}"
        )
    return None


def check_date_cell(value: str) -> str:
    """A date (or time) cell in a column of text: Excel turned what was typed into a date.

    Excel reads ``1/9/2024``, ``3-1`` or ``12:30`` typed into a General cell as a date or a
    time and shows it in the local format; the file then holds a number of days, which no
    text column can take back (the name ``2024-01-09`` is never what was meant).
    """
    return (
        f'"{value.strip()}" is a date (or time) cell, not text: Excel turns what looks like a '
        "date into one; format the column as Text in Excel and type the value again"
    )


def mojibake_repair(value: str) -> str | None:
    """The text as it was before UTF-8 was read as Windows-1252 (or Latin-1), or None.

    Runs of characters that Windows-1252 encodes to bytes 0x80-0xFF are turned back into
    those bytes; if they form valid UTF-8, the run was mojibake. A real name cannot form
    valid UTF-8 this way unless an accented capital (À-ß, UTF-8 lead bytes) is followed by a
    symbol such as "©" or "€" (continuation bytes), which names never do. Accented small
    letters (0xE0-0xFF) followed by more small letters are never valid UTF-8.
    """
    if _MAYBE_UTF8.search(value) is None:
        return None  # no lead byte followed by a continuation byte: nothing can decode
    changed = False
    out: list[str] = []
    for run in _runs(value):
        if run[0] < "\x80":
            out.append(run)
            continue
        raw = _to_bytes(run)
        if raw is None:
            out.append(run)
            continue
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.append(run)
            continue
        out.append(fixed)
        changed = True
    if not changed:
        return None
    repaired = "".join(out)
    return mojibake_repair(repaired) or repaired  # double-encoded text: ÃƒÂ©


def _cp1252(byte: int) -> str:
    """The character Windows-1252 (Latin-1 for its five undefined bytes) reads ``byte`` as."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


#: A UTF-8 lead byte (0xC2-0xF4) read as Windows-1252, followed by a continuation byte
#: (0x80-0xBF) read the same way: every mojibake run starts so. Text without one (nearly all
#: real names, accented or not) is answered without splitting it into runs and bytes.
_MAYBE_UTF8 = re.compile(
    "[{}][{}]".format(
        re.escape("".join(_cp1252(b) for b in range(0xC2, 0xF5))),
        re.escape("".join(_cp1252(b) for b in range(0x80, 0xC0))),
    )
)


def check_text(value: str) -> str | None:
    """Mojibake: UTF-8 text that was opened as Windows-1252 and saved again."""
    repaired = mojibake_repair(value)
    if repaired is None:
        return None
    return (
        f'"{value}" looks garbled; it was probably "{repaired}" before the file was opened in '
        "the wrong encoding. Fix the text, then save the file as CSV UTF-8"
    )


#: Control characters named in messages; any other is "a control character (U+001B)".
_CONTROL_NAMES = {
    "\x00": "a NUL character",
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\x1b": "an escape character",
    "\x7f": "a delete character",
}
_LINE_BREAKS = frozenset("\t\n\r")


def check_control(value: str, *, multiline: bool = False, identifier: bool = False) -> str | None:
    """NUL and other control characters, or a byte-order mark, in a text value, named.

    None of them is ever data: PostgreSQL cannot store a NUL in text at all (it raised) while
    SQLite stored it silently, an escape character rewrites a terminal that lists the value,
    and a byte-order mark inside a cell (U+FEFF) is what joining files leaves at the start of
    each line. Tabs and line breaks are allowed in ``multiline`` text only (a bio, a course
    description, a question). Every path calls this through the field specs (services, the
    CLI, imports) or the question-bank readers, so both databases refuse the same values.
    Bidirectional controls follow :func:`check_bidi` (none at all in an ``identifier``).
    """
    if value.isprintable():
        return None  # the common case, answered in C
    bidi = check_bidi(value, identifier=identifier)
    if bidi is not None:
        return bidi
    for char in value:
        if char == "\ufeff":
            return (
                "contains a byte-order mark (U+FEFF, invisible), as left where files were "
                "joined; delete it"
            )
        if multiline and char in _LINE_BREAKS:
            continue
        if unicodedata.category(char) == "Cc":
            name = _CONTROL_NAMES.get(char, "a control character")
            return f"contains {name} (U+{ord(char):04X}), which this text cannot hold; delete it"
    return None


#: Bidirectional formatting characters, named in messages. The first five open an embedding
#: or override (closed by U+202C), the next three an isolate (closed by U+2069).
_BIDI_OPENERS = {
    "\u202a": "a left-to-right embedding",
    "\u202b": "a right-to-left embedding",
    "\u202d": "a left-to-right override",
    "\u202e": "a right-to-left override",
    "\u2066": "a left-to-right isolate",
    "\u2067": "a right-to-left isolate",
    "\u2068": "a first-strong isolate",
}
_BIDI_CLOSERS = {"\u202c": "a pop directional formatting", "\u2069": "a pop directional isolate"}
_BIDI = {
    **_BIDI_OPENERS,
    **_BIDI_CLOSERS,
    "\u200e": "a left-to-right mark",
    "\u200f": "a right-to-left mark",
}
_BIDI_REORDERS = "an invisible character that makes text display in another order than stored"


def _bidi_name(char: str) -> str:
    return f"{_BIDI[char]} (U+{ord(char):04X})"


def check_bidi(value: str, *, identifier: bool = False) -> str | None:
    """Bidirectional controls that could reorder what is shown after the value (Trojan Source).

    An identifier or an e-mail address holds none of them (U+202A-U+202E, U+2066-U+2069,
    U+200E, U+200F): each is invisible and makes two values that look alike differ. Free
    text (a name, a title, a bio) may hold them, as mixed Arabic or Hebrew and Latin text
    legitimately does, when they are balanced: every embedding or override (U+202A, U+202B,
    U+202D, U+202E) is closed by U+202C and every isolate (U+2066-U+2068) by U+2069, nested,
    before the value ends, and no closer comes without its opener. An unclosed one would
    reorder whatever a page, a listing or a terminal shows after the value. Marks (U+200E,
    U+200F) reorder nothing beyond the value and are allowed in free text.
    """
    if identifier:
        for char in value:
            if char in _BIDI:
                return (
                    f"contains {_bidi_name(char)}, {_BIDI_REORDERS}, which an identifier "
                    "cannot hold; delete it"
                )
        return None
    stack: list[str] = []
    for char in value:
        if char in _BIDI_OPENERS:
            stack.append(char)
        elif char in _BIDI_CLOSERS:
            isolate = char == "\u2069"
            if not stack or (stack[-1] >= "\u2066") is not isolate:
                return (
                    f"contains {_bidi_name(char)} that closes nothing open at that point "
                    "(bidirectional controls must be closed in the order they were opened); "
                    "delete it"
                )
            stack.pop()
    if stack:
        return (
            f"contains {_bidi_name(stack[-1])} that is not closed before the end of the text, "
            f"so it would reorder what is shown after it; close it with "
            f"{_bidi_name(chr(0x2069) if stack[-1] >= chr(0x2066) else chr(0x202C))} or delete it"
        )
    return None


def check_email_bidi(value: str) -> str | None:
    """A bidirectional control inside an e-mail address, named (never allowed there)."""
    for char in value:
        if char in _BIDI:
            return (
                f"the e-mail address contains {_bidi_name(char)}, {_BIDI_REORDERS}; "
                "delete the address and type it again"
            )
    return None


#: Spaces and invisible characters that survive copy-paste from web pages and Word.
_INVISIBLE = {
    "\u00a0": "a non-breaking space",
    "\u2007": "a figure space",
    "\u202f": "a narrow non-breaking space",
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u2060": "a word joiner",
    "\ufeff": "an invisible byte-order mark",
    "\u00ad": "a soft hyphen",
}


def strip_invisible(value: str) -> str:
    """``value`` without the spaces and invisible characters around it (never inside).

    What a copy-paste leaves at the ends of an e-mail address (a space, a non-breaking space,
    a zero-width space) is removed the same way by every path: the field spec's e-mail check
    (``lms_core.fields``), which a service and an import both call.
    """
    start, end = 0, len(value)
    while start < end and (value[start].isspace() or value[start] in _INVISIBLE):
        start += 1
    while end > start and (value[end - 1].isspace() or value[end - 1] in _INVISIBLE):
        end -= 1
    return value[start:end]


def check_email_invisible(value: str) -> str | None:
    """Invisible characters inside an e-mail address (pasted from a web page), named.

    A visible space is left to the address check ("is not a valid e-mail address"); the
    ones around the address are removed before (:func:`strip_invisible`).
    """
    for char, name in _INVISIBLE.items():
        if char in value:
            return (
                f"the e-mail address contains {name} (invisible, usually pasted from a web page "
                "or document); delete the address and type it again"
            )
    bidi = check_email_bidi(value)
    if bidi is not None:
        return bidi
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "the e-mail address contains an invisible character; type it again"
    return None


def check_email_spacing(value: str) -> str | None:
    """Invisible or surrounding spaces in an e-mail address (pasted from a web page)."""
    for char, name in _INVISIBLE.items():
        if char in value:
            return (
                f"the e-mail address contains {name} (invisible, usually pasted from a web page "
                "or document); delete the address and type it again"
            )
    if value != value.strip():
        return "the e-mail address has spaces before or after it; remove them"
    if any(unicodedata.category(c) in ("Zs", "Cc", "Cf") for c in value):
        return "the e-mail address contains a space or an invisible character; type it again"
    return None


def _runs(value: str) -> list[str]:
    """Split into maximal runs of ASCII and of non-ASCII characters."""
    return [m.group(0) for m in re.finditer(r"[\x00-\x7f]+|[^\x00-\x7f]+", value)]


def _to_bytes(run: str) -> bytes | None:
    """Bytes that Windows-1252 (Latin-1 for its five undefined bytes) gives for ``run``."""
    out = bytearray()
    for char in run:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            code = ord(char)
            if code in (0x81, 0x8D, 0x8F, 0x90, 0x9D):
                out.append(code)
            else:
                return None
    return bytes(out)


@dataclass
class _Width:
    count: int = 0
    padded: int = 0
    #: The first (line, value) of this width, kept in case the width turns out short.
    seen: list[tuple[int, str]] = field(default_factory=list)


class LeadingZeroTracker:
    """Find IDs that lost their leading zeros in a column of zero-padded numbers.

    Streaming in one pass: :meth:`observe` each value, then :meth:`finish` returns the
    suspects. A column qualifies when at least ``min_values`` values are digit strings, at
    least ``share`` of them have one length W, and some of those start with 0 (so the IDs
    are zero-padded to W). Suspects are the digit strings shorter than W. The first
    ``max_suspects`` values of each length are remembered (line and value), so memory stays
    small whatever the file's size; beyond that a length's suspects are not all listed.
    """

    def __init__(
        self, *, min_values: int = 5, share: float = 0.6, max_suspects: int = 10_000
    ) -> None:
        self.min_values = min_values
        self.share = share
        self.max_suspects = max_suspects
        self._widths: dict[int, _Width] = {}
        self._digits = 0

    def observe(self, line: int, value: str) -> None:
        text = value.strip()
        if not text or not _DIGITS.match(text):
            return
        self._digits += 1
        width = self._widths.setdefault(len(text), _Width())
        width.count += 1
        if text[0] == "0":
            width.padded += 1
        if len(width.seen) < self.max_suspects:
            width.seen.append((line, text))

    def finish(self) -> list[tuple[int, str, str]]:
        """(line, value, message) for each suspect, in file order."""
        if self._digits < self.min_values:
            return []
        width, stats = max(self._widths.items(), key=lambda item: item[1].count)
        if stats.count < self.share * self._digits or not stats.padded:
            return []
        suspects = sorted(
            item for length, other in self._widths.items() if length < width for item in other.seen
        )
        return [
            (
                line,
                value,
                f'"{value}" has {len(value)} digits where the other IDs have {width} and '
                "start with zeros: Excel probably removed its leading zeros; "
                f"{TEXT_FORMAT_ADVICE}",
            )
            for line, value in suspects
        ]


def normalise_key(key: str) -> str:
    """The form two keys are compared in: NFC, trimmed, case-folded (e-mails, slugs, IDs)."""
    return unicodedata.normalize("NFC", key).strip().casefold()


class DuplicateTracker:
    """Remember the first line of every key in a file, in about 40 bytes a key.

    Keys are normalised (:func:`normalise_key`) and hashed to 128 bits (BLAKE2b); an open
    addressing table in two ``array('Q')`` of digest halves and one ``array('I')`` of line
    numbers holds them, so 1M keys take ~40 MB where a dict of strings would take ~200 MB.
    Two different keys share a digest with probability ~1e-27 for 1M keys.
    """

    def __init__(self, *, normalise: bool = True, capacity: int = 1024) -> None:
        self.normalise = normalise
        size = 1
        while size < capacity * 2:
            size <<= 1
        self._alloc(size)

    def _alloc(self, size: int) -> None:
        self._mask = size - 1
        self._high = array("Q", bytes(8 * size))
        self._low = array("Q", bytes(8 * size))
        self._lines = array("I", bytes(4 * size))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_line(self, key: str, line: int) -> int | None:
        """Record ``key`` at ``line``; return the earlier line it was seen on, else None."""
        text = normalise_key(key) if self.normalise else key
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        high = int.from_bytes(digest[:8], "little")
        low = int.from_bytes(digest[8:], "little")
        found = self._probe(high, low)
        if self._lines[found]:
            return int(self._lines[found])
        self._high[found], self._low[found], self._lines[found] = high, low, line
        self._count += 1
        if self._count * 2 > self._mask + 1:
            self._grow()
        return None

    def check(self, key: str, line: int) -> str | None:
        """A message naming the first line when ``key`` was seen before, else None."""
        first = self.first_line(key, line)
        if first is None:
            return None
        return f'"{key}" appears twice in the file: on line {first} and on line {line}; keep one'

    def _probe(self, high: int, low: int) -> int:
        slot = high & self._mask
        lines, highs, lows = self._lines, self._high, self._low
        while lines[slot] and (highs[slot] != high or lows[slot] != low):
            slot = (slot + 1) & self._mask
        return slot

    def _grow(self) -> None:
        highs, lows, lines, count = self._high, self._low, self._lines, self._count
        self._alloc((self._mask + 1) * 2)
        for high, low, line in zip(highs, lows, lines, strict=True):
            if line:
                slot = self._probe(high, low)
                self._high[slot], self._low[slot], self._lines[slot] = high, low, line
        self._count = count
