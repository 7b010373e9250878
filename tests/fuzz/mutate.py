"""Seeded mutations of a valid text file: what clumsy operators and hostile senders produce.

Every mutator takes the file's bytes (UTF-8) and a ``random.Random`` and returns new bytes;
``mutate`` picks one to three of them. Sizes are bounded (the longest line is 64 KB) so a run
stays fast; the seed makes a failing case reproducible from its label alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Mutator = Callable[[bytes, random.Random], bytes]

CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85)]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
ODD = [
    "\u200b",
    "\u00a0",
    "\ufeff",
    "\u2028",
    "\u00ad",
    "Ã©",
    "\U0001f600",
    "e\u0301",
    "ﬁ",
    "İ",
    "x" * 300,
    "NULL",
    "None",
    "-",
    "=1+1",
    "'",
    "''",
    "\\",
    "\\N",
    "🙂" * 20,
    "\u0430",  # Cyrillic a
]
FORMULA = [
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "'=",
    "'+",
    '=HYPERLINK("http://x")',
    "=cmd|' /C calc'!A0",
]
NUMBERS = [
    "1e309",
    "-1e309",
    "99999999999999999999999999",
    "-0",
    "0x10",
    "NaN",
    "inf",
    "1_000",
    "١٢٣",
    "1,5",
    "00000000000000000000001",
    "9" * 400,
    "-2147483649",
    "1.2E+05",
    "",
]
DATES = [
    "2026-02-30",
    "0000-00-00",
    "9999-12-31T25:61:61",
    "yesterday",
    "31/12/2026",
    "2026-13-01",
    "1e9",
    "-1",
    "2026-01-01T00:00:00+25:00",
    "\u0662\u0660\u0662\u0666-01-01",
]
BOOLS = [
    "true",
    "false",
    "TRUE",
    "yes",
    "no",
    "1",
    "0",
    "maybe",
    "",
    "tru",
    "\uff54\uff52\uff55\uff45",
]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _insert(data: bytes, rng: random.Random, piece: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + piece + data[at:]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def insert_control(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = _insert(data, rng, _bytes(rng.choice(CONTROL)))
    return data


def insert_bidi(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = _insert(data, rng, _bytes(rng.choice(BIDI)))
    return data


def bom_mid_file(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    for i in rng.sample(range(len(lines)), k=min(len(lines), rng.randint(1, 3))):
        lines[i] = b"\xef\xbb\xbf" + lines[i]
    return b"\n".join(lines)


def _rows(data: bytes) -> list[list[str]]:
    return [line.split(",") for line in _text(data).split("\n")]


def _join(rows: list[list[str]]) -> bytes:
    return _bytes("\n".join(",".join(row) for row in rows))


def duplicate_column(data: bytes, rng: random.Random) -> bytes:
    rows = _rows(data)
    i = rng.randrange(len(rows[0]))
    rows[0].insert(rng.randrange(len(rows[0]) + 1), rows[0][i])
    return _join(rows)


def remove_column(data: bytes, rng: random.Random) -> bytes:
    rows = _rows(data)
    i = rng.randrange(len(rows[0]))
    only_header = rng.random() < 0.5
    return _join(
        [r[:i] + r[i + 1 :] if (not only_header or n == 0) else r for n, r in enumerate(rows)]
    )


def unbalance_quotes(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = _insert(data, rng, rng.choice([b'"', b'""', b'"""', b"'"]))
    return data


def long_line(data: bytes, rng: random.Random) -> bytes:
    rows = _rows(data)
    r = rows[rng.randrange(len(rows))]
    r[rng.randrange(len(r))] = rng.choice(["x", "é", ",", '"', "a@b."]) * rng.choice(
        [5_000, 30_000, 64_000]
    )
    return _join(rows)


def mix_newlines(data: bytes, rng: random.Random) -> bytes:
    parts = data.split(b"\n")
    out = parts[0]
    for part in parts[1:]:
        out += rng.choice([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n"]) + part
    return out


def reencode(data: bytes, rng: random.Random) -> bytes:
    text = _text(data)
    codec = rng.choice(
        [
            "latin-1",
            "cp1252",
            "utf-16",
            "utf-16-le",
            "utf-16-be",
            "utf-32",
            "utf-8-sig",
            "mac_roman",
        ]
    )
    return text.encode(codec, errors="replace")


def _replace_cells(data: bytes, rng: random.Random, values: list[str]) -> bytes:
    rows = _rows(data)
    if len(rows) < 2:
        return data
    for _ in range(rng.randint(1, 4)):
        r = rows[rng.randrange(1, len(rows))]
        if r:
            r[rng.randrange(len(r))] = rng.choice(values)
    return _join(rows)


def formula_prefix(data: bytes, rng: random.Random) -> bytes:
    rows = _rows(data)
    for _ in range(rng.randint(1, 4)):
        r = rows[rng.randrange(1, len(rows))] if len(rows) > 1 else rows[0]
        if r:
            c = rng.randrange(len(r))
            r[c] = rng.choice(FORMULA) + r[c]
    return _join(rows)


def huge_numbers(data: bytes, rng: random.Random) -> bytes:
    return _replace_cells(data, rng, NUMBERS)


def garbage_dates(data: bytes, rng: random.Random) -> bytes:
    return _replace_cells(data, rng, DATES + BOOLS)


def odd_cells(data: bytes, rng: random.Random) -> bytes:
    return _replace_cells(data, rng, ODD + CONTROL + BIDI)


def shuffle_lines(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    body = lines[1:]
    rng.shuffle(body)
    if rng.random() < 0.3:
        body += body[: rng.randint(1, 3)]  # duplicated keys
    return b"\n".join([lines[0], *body])


def change_delimiter(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b",", rng.choice([b";", b"\t", b"|", b", ", b",,"]), rng.choice([-1, 1, 3]))


MUTATORS: list[Mutator] = [
    flip_bytes,
    truncate,
    insert_control,
    insert_bidi,
    bom_mid_file,
    duplicate_column,
    remove_column,
    unbalance_quotes,
    long_line,
    mix_newlines,
    reencode,
    formula_prefix,
    huge_numbers,
    garbage_dates,
    odd_cells,
    shuffle_lines,
    change_delimiter,
]


def mutate(
    data: bytes, rng: random.Random, mutators: list[Mutator] = MUTATORS
) -> tuple[str, bytes]:
    """One to three mutations in a row; returns their names (for the case's label) and the bytes.

    Re-encoding is only ever the last step, so later mutators still see UTF-8 text.
    """
    chosen = [rng.choice(mutators) for _ in range(rng.choices([1, 2, 3], [6, 3, 1])[0])]
    chosen.sort(key=lambda m: m is reencode)
    for mutator in chosen:
        data = mutator(data, rng)
    return "+".join(m.__name__ for m in chosen), data


def special_files(header: bytes) -> list[tuple[str, bytes]]:
    """Edge files every format must refuse or accept cleanly: empty, header only, BOM only..."""
    return [
        ("empty", b""),
        ("bom-only", b"\xef\xbb\xbf"),
        ("utf16-bom-only", b"\xff\xfe"),
        ("header-only", header),
        ("header-only-no-newline", header.rstrip(b"\r\n")),
        ("header-with-bom", b"\xef\xbb\xbf" + header),
        ("newlines-only", b"\n\n\r\n\r"),
        ("nul-only", b"\x00" * 64),
        ("binary", bytes(range(256)) * 4),
        ("zip-magic", b"PK\x03\x04" + b"\x00" * 60),
        ("xml", b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"),
        ("one-comma", b","),
        ("quote-only", b'"'),
    ]
