"""Which text encoding a CSV file is in, decided once before any row is read.

We accept what spreadsheet programs write when asked for "CSV UTF-8" (UTF-8, with or without
a byte-order mark) and "Unicode text" (UTF-16 with a byte-order mark). Anything else is refused
with the encoding it most likely is, because guessing silently turns "José" into "JosÃ©" in the
database. ``charset-normalizer`` runs only on a sample, and only once UTF-8 has failed.

The check is one streaming pass over the bytes that also computes the file's SHA-256 (for the
import ledger), so a decoding error is a refusal before the first row, never half-way through.
"""

from __future__ import annotations

import codecs
import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lms_core.errors import FileProblem, FileRefused, Hint, HintCode
from lms_core.formats.table import NO_ROWS

CHUNK = 1 << 20

#: Longest BOM first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: How an encoding is called in messages, and the codec name that reads it.
_FRIENDLY: dict[str, tuple[str, str]] = {
    "cp1252": ("Windows-1252 (Western European, what Excel on Windows writes)", "cp1252"),
    "latin_1": ("Windows-1252 / Latin-1 (Western European)", "cp1252"),
    "iso8859_15": ("Latin-9 (ISO-8859-15, Western European)", "iso8859_15"),
    "cp1250": ("Windows-1250 (Central European)", "cp1250"),
    "iso8859_2": ("Latin-2 (ISO-8859-2, Central European)", "iso8859_2"),
    "cp1251": ("Windows-1251 (Cyrillic)", "cp1251"),
    "cp1253": ("Windows-1253 (Greek)", "cp1253"),
    "cp1254": ("Windows-1254 (Turkish)", "cp1254"),
    "cp1255": ("Windows-1255 (Hebrew)", "cp1255"),
    "cp1256": ("Windows-1256 (Arabic)", "cp1256"),
    "cp1257": ("Windows-1257 (Baltic)", "cp1257"),
    "mac_roman": ("Mac Roman (old Mac Excel)", "mac_roman"),
    "cp437": ("DOS code page 437", "cp437"),
    "cp850": ("DOS code page 850", "cp850"),
    "shift_jis": ("Shift-JIS (Japanese)", "shift_jis"),
    "cp932": ("Shift-JIS (Japanese)", "cp932"),
    "euc_jp": ("EUC-JP (Japanese)", "euc_jp"),
    "gb2312": ("GB2312 (Simplified Chinese)", "gb18030"),
    "gb18030": ("GB18030 (Simplified Chinese)", "gb18030"),
    "big5": ("Big5 (Traditional Chinese)", "big5"),
    "euc_kr": ("EUC-KR (Korean)", "euc_kr"),
    "cp949": ("EUC-KR (Korean)", "cp949"),
    "koi8_r": ("KOI8-R (Cyrillic)", "koi8_r"),
}
#: Single-byte encodings for Latin-script text that spreadsheets write. charset-normalizer
#: guesses poorly among them on a short sample (it calls a Latin-1 "Zoë Ærøskøbing" cp775),
#: so for Latin text we score these ourselves; the first wins a tie.
_LATIN = ("cp1252", "cp1250", "mac_roman", "cp1254", "cp1257")
#: What charset-normalizer recognises well: other scripts and multi-byte encodings.
_OTHER_SCRIPTS = {
    "cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "mac_cyrillic", "cp855",
    "cp1253", "iso8859_7", "cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874", "tis_620",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb2312", "gb18030", "gbk", "hz", "big5",
    "big5hkscs", "euc_kr", "cp949", "johab", "iso2022_kr",
}  # fmt: skip
_NEUTRAL = {"Pi", "Pf", "Pd", "Ps", "Pe", "Po", "Sc", "Zs"}

#: Text codecs (as ``codecs.lookup`` names them) refused for ``--encoding``: UTF-7 decodes
#: any ASCII file (``+`` starts a base64 run: "a+b@x.org" becomes mojibake), and the others
#: are Python's own notations, not encodings a program saves files in.
_NOT_FILE_ENCODINGS = frozenset(
    {"utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
)

SAVE_AS = 'Re-save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8)'


@dataclass(frozen=True, slots=True)
class Detected:
    """The codec to open the file with (BOM handled by the codec) and the file's digest."""

    encoding: str
    sha256: str
    size: int


def detect(
    opener: Callable[[], BinaryIO], *, display: str, encoding: str | None = None
) -> Detected:
    """Decide the encoding of the byte stream ``opener()`` returns, or refuse the file.

    ``encoding`` (the ``--encoding`` option) overrides detection, but the bytes must still
    decode with it, so a wrong override is a clear refusal rather than garbage.
    """
    from lms_core.formats.archive import READ_ERRORS

    try:
        return _detect(opener, display=display, encoding=encoding)
    except READ_ERRORS as exc:
        raise _refused(display, f"the file cannot be read: it may be damaged ({exc})") from None


def _detect(opener: Callable[[], BinaryIO], *, display: str, encoding: str | None) -> Detected:
    if encoding is not None:
        try:
            info = codecs.lookup(encoding)
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            raise _refused(
                display, f"unknown encoding {_quoted(encoding)} (try utf-8 or cp1252)"
            ) from None
        codec = info.name
        if not getattr(info, "_is_text_encoding", True) or codec in _NOT_FILE_ENCODINGS:
            # rot13, base64, hex... turn bytes into bytes (a traceback, before), and UTF-7
            # or the escape codecs read any ASCII file, so a wrong choice is never noticed.
            raise _refused(
                display,
                f'"{encoding}" is not an encoding spreadsheet files are written in '
                "(try utf-8 or cp1252)",
            )
        if codec == "utf-8":
            codec = "utf-8-sig"  # an explicit UTF-8 still drops a BOM
    else:
        codec = ""
    digest = hashlib.sha256()
    size = 0
    decoder: codecs.IncrementalDecoder | None = None
    sample = bytearray()
    newlines = 0
    has_text = False
    with opener() as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            if decoder is None:
                if not codec:
                    codec = next((name for bom, name in _BOMS if chunk.startswith(bom)), "utf-8")
                decoder = codecs.getincrementaldecoder(codec)("strict")
            if len(sample) < 65536:
                sample += chunk[: 65536 - len(sample)]
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = newlines + chunk[: exc.start].count(b"\n") + 1
                raise _not_this_encoding(
                    display, codec, bytes(sample), chunk[exc.start : exc.start + 1], line, encoding
                ) from None
            except UnicodeError:
                # ``--encoding utf-16`` (or utf-32) on a file without a byte-order mark: the
                # codec cannot tell the byte order and raises this bare UnicodeError.
                raise _refused(
                    display,
                    f"the file does not start with a {codec} byte-order mark: "
                    f"read it as {codec}-le or {codec}-be",
                    line=1,
                ) from None
            has_text = has_text or bool(text.strip())
            if "\x00" in text:
                raise _nul_refusal(display, codec)
            newlines += chunk.count(b"\n")
            size += len(chunk)
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise _refused(
                    display, "the file ends in the middle of a character: it may be cut short"
                ) from None
    if not has_text:
        raise _refused(display, NO_ROWS)
    return Detected(encoding=codec or "utf-8", sha256=digest.hexdigest(), size=size)


def _quoted(name: str) -> str:
    """``name`` in double quotes, with control characters (a NUL...) shown as escapes."""
    return '"' + name.encode("unicode_escape").decode("ascii") + '"'


def _refused(
    display: str, message: str, line: int | None = None, hint: Hint | None = None
) -> FileRefused:
    return FileRefused([FileProblem(message, file=display, line=line, hint=hint)])


def _nul_refusal(display: str, codec: str) -> FileRefused:
    if codec.startswith(("utf-16", "utf-32")):
        return _refused(display, "the file contains an empty (NUL) character: it is damaged")
    message = (
        "the file contains NUL bytes, so it is not a plain-text CSV: if it is a spreadsheet, "
        f"save it as .xlsx or as CSV UTF-8 ({SAVE_AS}); if it is UTF-16 text without a "
        "byte-order mark, read it as utf-16-le."
    )
    return _refused(
        display, message, hint=Hint(HintCode.choose_encoding, {"encoding": "utf-16-le"})
    )


def likely_encoding(sample: bytes) -> tuple[str, str] | None:
    """(name for a person, codec name to read it with) of the most likely encoding, or None."""
    from charset_normalizer import from_bytes

    controls = sum(1 for b in sample if b < 0x20 and b not in (0x09, 0x0A, 0x0D))
    if controls > len(sample) // 100:
        return None  # binary data, not text in any encoding
    best = from_bytes(sample).best()
    name = best.encoding if best is not None else None
    if name not in _OTHER_SCRIPTS:
        scored = [(_latin_score(sample, codec), -i, codec) for i, codec in enumerate(_LATIN)]
        fitting = [item for item in scored if item[0] is not None]
        if fitting:
            name = max(fitting)[2]
    if name is None:
        return None
    if name == "cp1252" and not any(0x80 <= b <= 0x9F for b in sample):
        # Without bytes 0x80-0x9F (curly quotes, dashes, the euro sign) Windows-1252 and
        # Latin-1 read the same; Windows-1252 is what Excel writes.
        name = "latin_1"
    return _FRIENDLY.get(name, (name, name))


def _latin_score(sample: bytes, codec: str) -> int | None:
    """How much ``sample`` read as ``codec`` looks like words: accented letters inside
    words score, symbols and capitals in the middle of a word cost. None: cannot decode."""
    try:
        text = sample.decode(codec)
    except UnicodeDecodeError:
        return None
    score = 0
    previous = ""
    for char in text:
        if char > "\x7f":
            category = unicodedata.category(char)
            if category.startswith("L"):
                score += 2
                if category == "Lu" and previous.islower():
                    score -= 3
            elif category not in _NEUTRAL:
                score -= 3
        previous = char
    return score


def _not_this_encoding(
    display: str,
    codec: str,
    sample: bytes,
    bad: bytes,
    line: int,
    override: str | None,
) -> FileRefused:
    where = f"byte 0x{bad.hex().upper()}" if bad else "a byte"
    if override is not None:
        return _refused(
            display,
            f"the file is not valid {override} ({where} cannot be read): check the encoding",
            line,
            Hint(HintCode.choose_encoding),
        )
    if codec != "utf-8":
        return _refused(display, f"the file is not valid {codec} ({where} cannot be read)", line)
    guess = likely_encoding(sample)
    if guess is None:
        return _refused(
            display,
            f"the file is not UTF-8 text ({where} cannot be read) and its encoding is "
            f"unknown: it may not be a CSV file at all. {SAVE_AS}.",
            line,
        )
    friendly, option = guess
    return _refused(
        display,
        f"the file is not UTF-8 ({where} cannot be read): it looks like {friendly}. "
        f"{SAVE_AS}, or read it as {option}.",
        line,
        Hint(HintCode.choose_encoding, {"encoding": option}),
    )


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (the ledger records it for every run)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
