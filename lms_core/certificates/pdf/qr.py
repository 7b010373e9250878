"""The QR code of a certificate: segno's matrix, computed faster, drawn as vector runs.

:func:`qr_matrix` gives the very matrix ``segno.make(url).matrix`` gives, without segno's
per-module Python loops for choosing the mask; :func:`draw_qr` writes it into a page as one
rectangle per run of dark modules in a row, with a link annotation to the same URL.
segno is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpdf import FPDF

    from lms_core.certificates.pdf.templates import QrSpec

_DARK_RUN = re.compile(b"\x01+")


def draw_qr(pdf: FPDF, spec: QrSpec, url: str) -> None:
    """Dark runs of each row as rectangles on a white square with a 4-module quiet zone.

    A ``cm`` operator makes one unit one module (y downwards), so each run is written as
    small integers: ``column row length 1 re``.
    """
    matrix = qr_matrix(url, spec.error)
    module = spec.size / (len(matrix) + 8) * pdf.k
    side = spec.size * pdf.k
    left, top = spec.x * pdf.k, (pdf.h - spec.y) * pdf.k
    ops = [
        f"q 1 g {left:.2f} {top - side:.2f} {side:.2f} {side:.2f} re f",
        "{:.3f} {:.3f} {:.3f} rg".format(*(c / 255 for c in spec.color)),
        f"{module:.4f} 0 0 {-module:.4f} {left + 4 * module:.3f} {top - 4 * module:.3f} cm",
    ]
    for row_index, row in enumerate(matrix):
        for run in _DARK_RUN.finditer(row):
            ops.append(f"{run.start()} {row_index} {run.end() - run.start()} 1 re")
    ops.append("f Q")
    pdf._out("\n".join(ops))
    if spec.link:
        pdf.link(spec.x, spec.y, spec.size, spec.size, url)


def qr_matrix(url: str, error: str = "m") -> tuple[bytearray, ...]:
    """The modules of the QR code segno makes for ``url`` (no quiet zone), 1 = dark.

    segno tries the eight data masks and scores each with per-module Python loops, which is
    most of its time. This encodes once with mask 0, derives the other seven masked symbols
    with whole-row bit operations and scores them the way segno does (same penalty rules, same
    order, same ties), so the result is the very matrix ``segno.make(url).matrix`` gives, about
    three times sooner (a test compares them).
    """
    from segno import encoder as segno_encoder

    encoder: Any = segno_encoder  # untyped module
    code = encoder.encode(url, error=error, mask=0, micro=False)
    width = len(code.matrix)
    layout = _qr_layout(width)
    rows0 = [int(bytes(row).translate(_TO_ASCII), 2) for row in code.matrix]
    data = [
        r & region ^ m0 for r, region, m0 in zip(rows0, layout.region, layout.masks[0], strict=True)
    ]
    best_score, best = -1, 0
    for number, mask in enumerate(layout.masks):
        rows = [d ^ m | f for d, m, f in zip(data, mask, layout.fixed, strict=True)]
        score = _penalty(rows, width)
        if best_score < 0 or score < best_score:
            best_score, best = score, number
    keep = [~region & ((1 << width) - 1) for region in layout.region]
    matrix = tuple(
        bytearray(format(r & k | d ^ m, f"0{width}b").translate(_FROM_ASCII).encode())
        for r, k, d, m in zip(rows0, keep, data, layout.masks[best], strict=True)
    )
    encoder.add_format_info(matrix, code.version, code.error, best)
    return matrix


_TO_ASCII = bytes.maketrans(b"\x00\x01", b"01")
_FROM_ASCII = str.maketrans("01", "\x00\x01")
_RUNS = re.compile(r"0{5,}|1{5,}")


@dataclass(frozen=True)
class _QrLayout:
    region: list[int]  # per row, bits of the data (encoding) region
    fixed: list[int]  # per row, dark function modules as segno scores them (format area light)
    masks: list[list[int]]  # per mask, per row, bits the mask flips


@cache
def _qr_layout(width: int) -> _QrLayout:
    """Where data and function patterns are for a symbol of ``width`` (as segno's encoder)."""
    from segno import encoder as segno_encoder

    encoder: Any = segno_encoder  # untyped module
    matrix = encoder.make_matrix(width, width)
    encoder.add_finder_patterns(matrix, width, width)
    encoder.add_alignment_patterns(matrix, width, width)
    functions = encoder.get_data_mask_functions(False)
    region: list[int] = []
    fixed: list[int] = []
    masks: list[list[int]] = [[] for _ in functions]
    for i, row in enumerate(matrix):
        in_region = [value > 1 and not (i == width - 8 and j == 8) for j, value in enumerate(row)]
        region.append(int("".join("1" if r else "0" for r in in_region), 2))
        fixed.append(int("".join("1" if v == 1 else "0" for v in row), 2))
        for mask, function in zip(masks, functions, strict=True):
            mask.append(
                int(
                    "".join("1" if r and function(i, j) else "0" for j, r in enumerate(in_region)),
                    2,
                )
            )
    return _QrLayout(region, fixed, masks)


def _penalty(rows: list[int], width: int) -> int:
    """segno's ``evaluate_mask`` (ISO/IEC 18004 7.8.3.1) on rows given as integers.

    Rows and columns are joined into one string with "2222" between lines: a run (N1) cannot
    cross it, and it reads as light to the finder-like rule (N3), as segno's edge cases do.
    """
    texts = [format(row, f"0{width}b") for row in rows]
    lines = "2222".join(texts + ["".join(col) for col in zip(*texts, strict=True)])
    runs = _RUNS.findall(lines)
    score = sum(map(len, runs)) - 2 * len(runs)
    index = lines.find("1011101")
    while index != -1:
        after = index + 7
        if "1" not in lines[max(index - 4, 0) : index] or "1" not in lines[after : after + 4]:
            score += 40
        else:
            after = index + 4
        index = lines.find("1011101", after)
    full = (1 << (width - 1)) - 1
    for upper, lower in pairwise(rows):
        same = ~(upper ^ lower)
        score += 3 * (same & (same >> 1) & ~(upper ^ (upper >> 1)) & full).bit_count()
    dark = sum(row.bit_count() for row in rows)
    return score + 10 * int(abs(dark / width**2 * 100 - 50) / 5)
