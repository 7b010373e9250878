"""Certificate templates: data (a JSON file), never code.

A template names the page, an optional background (a PNG/JPEG image or a one-page PDF, drawn
under everything), an optional frame, the text fields and the QR code. Positions are in
millimetres, or in percent of the page (``"units": "%"``) so one template fits A4 and Letter.
Loading checks everything once (keys, types, placeholders, files) and turns every mistake into
a :class:`~lms_core.errors.ValidationError` on ``field="template"`` whose message names the
file, the key path and, for broken JSON, the line and column; rendering then never parses or
validates again. The bundled default lives in ``templates/default.json``; the documented example
is ``examples/certificates/template.json``.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lms_core.certificates.pdf.fonts import DEFAULT_FAMILY
from lms_core.errors import ValidationError

DEFAULT_TEMPLATE = Path(__file__).with_name("templates") / "default.json"
#: Placeholders a field's ``text`` may use; the names of :class:`~.render.CertificateFields`.
PLACEHOLDERS = ("learner", "course", "date", "instructor", "number", "verify_url")
#: Landscape sizes in millimetres (width, height).
PAGE_SIZES = {"A4": (297.0, 210.0), "Letter": (279.4, 215.9)}
ALIGNS = ("L", "C", "R")
STYLES = ("", "B", "I", "BI")
BACKGROUND_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf")
_TOP_KEYS = {"version", "page", "units", "background", "frame", "fields", "qr", "description"}
_FIELD_KEYS = {"text", "x", "y", "w", "h", "font", "size", "style", "align", "color"}
_FIELD_REQUIRED = ("text", "x", "y", "w", "h")
_QR_KEYS = {"x", "y", "size", "color", "link", "error"}
_FRAME_KEYS = {"inset", "width", "color", "double"}
_PAGE_KEYS = {"size", "orientation"}


@dataclass(frozen=True)
class Field:
    """One line of text: a box in millimetres and a pattern such as ``"{learner}"``."""

    name: str
    text: str
    x: float
    y: float
    w: float
    h: float
    font: str
    size: float
    style: str
    align: str
    color: tuple[int, int, int]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.text) if name)


@dataclass(frozen=True)
class QrSpec:
    """Where the verification QR code goes; ``size`` is the side of the symbol in millimetres."""

    x: float
    y: float
    size: float
    color: tuple[int, int, int] = (0, 0, 0)
    link: bool = True
    error: str = "m"


@dataclass(frozen=True)
class Frame:
    """A rectangle (or two) drawn ``inset`` mm inside the page edge."""

    inset: float
    width: float
    color: tuple[int, int, int]
    double: bool = False


@dataclass(frozen=True)
class Template:
    """A parsed, checked template for one page size; positions already in millimetres."""

    source: Path
    page_size: str
    orientation: str
    width: float
    height: float
    background: Path | None
    frame: Frame | None
    fields: tuple[Field, ...]
    qr: QrSpec


class _Reader:
    """Reads one JSON template, raising ValidationError(field="template") at the first flaw."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ValidationError:
        return ValidationError(f"{self.path}: {where}: {message}", field="template")

    def take(self, obj: dict[str, Any], key: str, where: str, kinds: tuple[type, ...]) -> Any:
        value = obj[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(f"{where}.{key}", f"must be {names}, not {json.dumps(value)}")
        return value

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
            )
        return value

    def color(self, value: Any, where: str) -> tuple[int, int, int]:
        text = value if isinstance(value, str) else ""
        if len(text) != 7 or text[0] != "#" or any(c not in string.hexdigits for c in text[1:]):
            raise self.fail(where, f'must be a colour like "#1a2b3c", not {json.dumps(value)}')
        return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def load_template(path: Path | None, *, page_size: str = "A4") -> Template:
    """Parse and check a template file; ``None`` loads the bundled default.

    ``page_size`` ("A4" or "Letter", usually ``settings.certificate_page_size``) applies unless
    the template fixes ``page.size`` itself.
    """
    source = DEFAULT_TEMPLATE if path is None else Path(path)
    reader = _Reader(source)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"{source}: cannot read: {exc.strerror}", field="template") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise reader.fail(f"line {exc.lineno} column {exc.colno}", exc.msg) from exc
    doc = reader.mapping(raw, "(top level)", _TOP_KEYS)
    if doc.get("version", 1) != 1:
        raise reader.fail("version", "only version 1 is understood")
    page = reader.mapping(doc.get("page", {}), "page", _PAGE_KEYS)
    size = str(page.get("size") or page_size)
    if size not in PAGE_SIZES:
        raise reader.fail("page.size", f"must be one of {', '.join(PAGE_SIZES)}, not {size!r}")
    orientation = page.get("orientation", "landscape")
    if orientation not in ("landscape", "portrait"):
        raise reader.fail("page.orientation", 'must be "landscape" or "portrait"')
    width, height = PAGE_SIZES[size]
    if orientation == "portrait":
        width, height = height, width
    units = doc.get("units", "mm")
    if units not in ("mm", "%"):
        raise reader.fail("units", 'must be "mm" or "%"')
    sx, sy = (width / 100, height / 100) if units == "%" else (1.0, 1.0)

    def number(
        obj: dict[str, Any], key: str, where: str, scale: float, default: Any = None
    ) -> float:
        if key not in obj:
            if default is None:
                raise reader.fail(where, f"missing key {key!r}")
            return float(default)
        value = float(reader.take(obj, key, where, (int, float)))
        if value < 0:
            raise reader.fail(f"{where}.{key}", "must not be negative")
        return value * scale

    background = None
    if doc.get("background") is not None:
        name = reader.take(doc, "background", "(top level)", (str,))
        background = (source.parent / name).resolve()
        if background.suffix.lower() not in BACKGROUND_SUFFIXES:
            raise reader.fail("background", f"must be one of {', '.join(BACKGROUND_SUFFIXES)}")
        if not background.is_file():
            raise reader.fail("background", f"file {background} does not exist")

    frame = None
    if doc.get("frame") is not None:
        fr = reader.mapping(doc["frame"], "frame", _FRAME_KEYS)
        frame = Frame(
            inset=number(fr, "inset", "frame", 1.0, 8),
            width=number(fr, "width", "frame", 1.0, 0.8),
            color=reader.color(fr.get("color", "#1f2a44"), "frame.color"),
            double=bool(fr.get("double", False)),
        )

    if "fields" not in doc:
        raise reader.fail("(top level)", "missing key 'fields'")
    fields_raw = doc["fields"]
    if not isinstance(fields_raw, dict):
        raise reader.fail("fields", "must be an object of named fields")
    if not fields_raw:
        raise reader.fail("fields", "must name at least one field")
    fields: list[Field] = []
    for name, value in fields_raw.items():
        where = f"fields.{name}"
        spec = reader.mapping(value, where, _FIELD_KEYS)
        for key in _FIELD_REQUIRED:
            if key not in spec:
                raise reader.fail(where, f"missing key {key!r}")
        style = str(spec.get("style", "")).upper()
        if style not in STYLES:
            raise reader.fail(f"{where}.style", f"must be one of {STYLES}")
        align = str(spec.get("align", "C")).upper()
        if align not in ALIGNS:
            raise reader.fail(f"{where}.align", 'must be "L", "C" or "R"')
        field = Field(
            name=name,
            text=reader.take(spec, "text", where, (str,)),
            x=number(spec, "x", where, sx),
            y=number(spec, "y", where, sy),
            w=number(spec, "w", where, sx),
            h=number(spec, "h", where, sy),
            font=str(spec.get("font", DEFAULT_FAMILY)),
            size=number(spec, "size", where, 1.0, 14),
            style=style,
            align=align,
            color=reader.color(spec.get("color", "#000000"), f"{where}.color"),
        )
        try:
            unknown = [p for p in field.placeholders if p not in PLACEHOLDERS]
        except ValueError as exc:
            raise reader.fail(f"{where}.text", f"bad pattern: {exc}") from exc
        if unknown:
            raise reader.fail(
                f"{where}.text",
                f"unknown placeholder {{{unknown[0]}}} (known: {', '.join(PLACEHOLDERS)})",
            )
        fields.append(field)

    if "qr" not in doc:
        raise reader.fail("(top level)", "missing key 'qr'")
    qr_raw = reader.mapping(doc["qr"], "qr", _QR_KEYS)
    error = str(qr_raw.get("error", "m")).lower()
    if error not in ("l", "m", "q", "h"):
        raise reader.fail("qr.error", 'must be one of "L", "M", "Q", "H"')
    qr = QrSpec(
        x=number(qr_raw, "x", "qr", sx),
        y=number(qr_raw, "y", "qr", sy),
        size=number(qr_raw, "size", "qr", min(sx, sy)),
        color=reader.color(qr_raw.get("color", "#000000"), "qr.color"),
        link=bool(qr_raw.get("link", True)),
        error=error,
    )
    return Template(
        source=source,
        page_size=size,
        orientation=orientation,
        width=width,
        height=height,
        background=background,
        frame=frame,
        fields=tuple(fields),
        qr=qr,
    )
