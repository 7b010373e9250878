"""XLSX imports of damaged and hostile workbooks: each refused (or imported) cleanly.

A workbook is built with openpyxl, its sheet rewritten by hand (shared strings, inline
strings, a date cell) so the XML can be bent in the ways Excel never writes: entries corrupt,
duplicated or missing, absurd extents, shared-string indexes out of range, wrong cell types,
control characters and ``_x0000_`` escapes, entity declarations, a truncated zip.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.cli.helpers import ok
from tests.fuzz.conftest import SEED, Fuzzer

Entries = dict[str, bytes]
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER = ["external_id", "email", "full_name", "role", "is_active"]
ROWS = [
    ["S-1", "ann@x.org", "Ann Lee", "student", "true"],
    ["S-2", "bob@x.org", "Bob Roe", "instructor", "false"],
    ["S-3", "cyd@x.org", "Cyd Poe", "student", "true"],
]


def _base() -> Entries:
    """openpyxl's workbook, its sheet replaced by one with shared strings and a date cell."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "users"
    sheet.append([dt.datetime(2026, 1, 1)])  # puts a date style (s="1") in styles.xml
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    strings = sorted({v for row in [HEADER, *ROWS] for v in row[:2]})
    entries[STRINGS] = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS}" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">'
        + "".join(f"<si><t>{s}</t></si>" for s in strings)
        + "</sst>"
    ).encode()
    rows = []
    for r, row in enumerate([HEADER, *ROWS], start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{'ABCDE'[c]}{r}"
            if c < 2:
                cells.append(f'<c r="{ref}" t="s"><v>{strings.index(value)}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
        rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    entries[SHEET] = sheet_xml("".join(rows), "A1:E4")
    entries["[Content_Types].xml"] = entries["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    entries["xl/_rels/workbook.xml.rels"] = entries["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    return entries


def sheet_xml(rows: str, dimension: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{NS}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    ).encode()


def _zip(entries: Entries | list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of one case
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return buffer.getvalue()


def _row(r: int, cells: str) -> str:
    return f'<row r="{r}">{cells}</row>'


def _with_row(base: Entries, cells: str, r: int = 5, dimension: str = "A1:E5") -> bytes:
    """The base workbook with one more row of raw cell XML."""
    entries = dict(base)
    entries[SHEET] = base[SHEET].replace(b"</sheetData>", _row(r, cells).encode() + b"</sheetData>")
    entries[SHEET] = entries[SHEET].replace(b'ref="A1:E4"', f'ref="{dimension}"'.encode())
    return _zip(entries)


def _new_user(**cells: str) -> str:
    """Raw XML cells of row 5, a fifth user, with some cells replaced."""
    values = {
        "A": '<c r="A5" t="inlineStr"><is><t>S-5</t></is></c>',
        "B": '<c r="B5" t="inlineStr"><is><t>eve@x.org</t></is></c>',
        "C": '<c r="C5" t="inlineStr"><is><t>Eve</t></is></c>',
        "D": '<c r="D5" t="inlineStr"><is><t>student</t></is></c>',
    }
    values.update(cells)
    return "".join(values.values())


def cases(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    base = _base()
    valid = _zip(base)
    yield "valid", valid
    # The zip itself.
    for n in range(6):
        yield f"truncated-{n}", valid[: rng.randrange(len(valid))]
    for n in range(6):
        raw = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        yield f"bytes-flipped-{n}", bytes(raw)
    yield "duplicate-sheet", _zip([*base.items(), (SHEET, sheet_xml("", "A1"))])
    yield "duplicate-strings", _zip([*base.items(), (STRINGS, b"<sst/>")])
    for name in (
        SHEET,
        STRINGS,
        "xl/workbook.xml",
        "[Content_Types].xml",
        "xl/_rels/workbook.xml.rels",
    ):
        yield f"missing {name}", _zip({k: v for k, v in base.items() if k != name})
    yield "stored", _zip(base, zipfile.ZIP_STORED)
    yield "bzip2", _zip(base, zipfile.ZIP_BZIP2)
    yield "lzma", _zip(base, zipfile.ZIP_LZMA)
    yield "bomb-ish", _zip({**base, "xl/media/zeros.bin": b"\0" * (24 * 1024 * 1024)})
    yield (
        "bomb-ish sheet",
        _zip(
            {
                **base,
                SHEET: base[SHEET].replace(
                    b"<sheetData>", b"<sheetData>" + b" " * (8 * 1024 * 1024)
                ),
            }
        ),
    )
    yield "not-a-zip", b"external_id,email\n"
    yield "empty", b""
    # Corrupt XML parts.
    for name in (SHEET, STRINGS, "xl/workbook.xml", "xl/styles.xml"):
        data = bytearray(base[name])
        for _ in range(3):
            data[rng.randrange(len(data))] = rng.choice(b"<>&\"'\x00\xff/=")
        yield f"corrupt {name}", _zip({**base, name: bytes(data)})
        yield f"cut {name}", _zip({**base, name: base[name][: len(base[name]) // 2]})
    yield (
        "rels outside",
        _zip(
            {
                **base,
                "xl/_rels/workbook.xml.rels": base["xl/_rels/workbook.xml.rels"].replace(
                    b"worksheets/sheet1.xml", b"../../../etc/passwd"
                ),
            }
        ),
    )
    # Extents.
    for ref in (
        "A1:XFD1048576",
        "A1:XFD5000",
        "A1:ZZZZ9",
        "A1:A99999999999",
        "garbage",
        "",
        "E4:A1",
    ):
        entries = dict(base)
        entries[SHEET] = base[SHEET].replace(b'ref="A1:E4"', f'ref="{ref}"'.encode())
        yield f"dimension {ref!r}", _zip(entries)
    for ref in ("XFD1048576", "XFD5000", "AAA1", "A0", "A-1", "1A", "", "A99999999999999999999"):
        yield (
            f"cell at {ref!r}",
            _with_row(base, f'<c r="{ref}" t="inlineStr"><is><t>x</t></is></c>'),
        )
    yield "row 2**40", _with_row(base, _new_user(), r=2**40)
    # Shared strings and cell types.
    for value in ("99999", "-1", "abc", "1e3", "", "0.5"):
        yield (
            f"shared string {value!r}",
            _with_row(base, _new_user(A=f'<c r="A5" t="s"><v>{value}</v></c>')),
        )
    for t, value in (
        ("n", "abc"),
        ("n", "1e400"),
        ("n", "NaN"),
        ("b", "2"),
        ("b", "x"),
        ("d", "garbage"),
        ("d", "99999-01-01"),
        ("e", "#REF!"),
        ("str", ""),
        ("zz", "1"),
        ("n", "-0"),
    ):
        yield (
            f"type {t} {value!r}",
            _with_row(base, _new_user(A=f'<c r="A5" t="{t}"><v>{value}</v></c>')),
        )
    for value in ("1e9", "-5", "2958466", "99999999999", "0.5", "NaN"):
        yield (
            f"date serial {value}",
            _with_row(base, _new_user(A=f'<c r="A5" s="1"><v>{value}</v></c>')),
        )
    yield (
        "formula",
        _with_row(
            base, _new_user(C='<c r="C5" t="str"><f>HYPERLINK("http://x")</f><v>=cmd</v></c>')
        ),
    )
    # Text that must be refused or kept inert.
    for text in (
        "_x0000_",
        "S-_x0000_5",
        "_x0001_",
        "_x202E_S-5",
        "_xD800_",
        "_x00_",
        "_xFFFF_",
        "\x01",
        "\x1b[31m",
        "\u202eS-5",
        "\ufeffS-5",
        "=1+1",
        "'=x",
        "\u00a0S-5",
    ):
        escaped = text.replace("&", "&amp;").replace("<", "&lt;")
        yield (
            f"inline {text!r}",
            _with_row(base, _new_user(A=f'<c r="A5" t="inlineStr"><is><t>{escaped}</t></is></c>')),
        )
        yield (
            f"inline name {text!r}",
            _with_row(base, _new_user(C=f'<c r="C5" t="inlineStr"><is><t>{escaped}</t></is></c>')),
        )
    yield (
        "nul byte raw",
        _with_row(base, _new_user(A='<c r="A5" t="inlineStr"><is><t>S-\x005</t></is></c>')),
    )
    yield (
        "control raw",
        _with_row(base, _new_user(A='<c r="A5" t="inlineStr"><is><t>S-\x015</t></is></c>')),
    )
    # Entity declarations: billion laughs and an external entity.
    laughs = (
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )
    rows = base[SHEET].decode().split("<sheetData>")[1].split("</sheetData>")[0]
    yield (
        "billion laughs",
        _zip(
            {
                **base,
                SHEET: sheet_xml(
                    rows + _row(5, _new_user(C='<c r="C5" t="inlineStr"><is><t>&i;</t></is></c>')),
                    "A1:E5",
                    laughs,
                ),
            }
        ),
    )
    xxe = '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    yield (
        "external entity",
        _zip(
            {
                **base,
                SHEET: sheet_xml(
                    rows + _row(5, _new_user(C='<c r="C5" t="inlineStr"><is><t>&x;</t></is></c>')),
                    "A1:E5",
                    xxe,
                ),
            }
        ),
    )
    yield (
        "undeclared entity",
        _with_row(base, _new_user(C='<c r="C5" t="inlineStr"><is><t>&nope;</t></is></c>')),
    )


@pytest.fixture
def workbooks(tmp_path: Path) -> list[tuple[str, Path]]:
    out = []
    for n, (label, data) in enumerate(cases(random.Random(f"{SEED}-xlsx"))):  # noqa: S311 - seeded on purpose
        path = tmp_path / f"case-{n}.xlsx"
        path.write_bytes(data)
        out.append((label, path))
    return out


def test_damaged_and_hostile_workbooks_are_imported_or_refused_cleanly(
    cli: Any, fuzzer: Callable[[str], Fuzzer], workbooks: list[tuple[str, Path]]
) -> None:
    fuzz = fuzzer("xlsx")
    assert len(workbooks) >= 60
    ok(cli("import", "users", str(workbooks[0][1]), "--dry-run", "--json"))  # the base is valid
    for label, path in workbooks:
        fuzz.run(f"xlsx {label}", "import", "users", str(path), "--json")
    for sheet in ("users", "Sheet2", "", "../x", "\x00"):
        fuzz.run(
            f"xlsx --sheet {sheet!r}",
            "import",
            "users",
            str(workbooks[0][1]),
            "--sheet",
            sheet,
            "--json",
        )
    fuzz.assert_clean()
