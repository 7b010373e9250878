"""Certificate PDFs: one page per learner from a :class:`~.templates.Template`, fast in bulk.

Why it is built this way (``bench/certificates_bench.py`` measures each choice):

* fonts are parsed once per process and cloned per document (:mod:`.fonts`), and each PDF
  embeds a subset written straight from the font file's bytes (:mod:`.sfnt`); only the fonts
  a document's text needs are added, chosen by fpdf2's own fallback rule;
* text shaping (HarfBuzz) is switched on only for text that needs it (right-to-left scripts,
  combining marks, Indic and South-East Asian scripts): it costs several times plain layout;
  shaped text carries an ``/ActualText`` span with the text as typed, because its glyphs are
  reordered and merged (an Indic vowel sign drawn before its consonant);
* the QR code is vector rectangles, one per run of dark modules in a row, with a link
  annotation to the same URL; its mask is chosen like segno's but without segno's per-module
  Python loops (:mod:`.qr`);
* :class:`RenderPool` spreads the work over processes and yields results in input order,
  lazily, so a caller can commit in batches.

Nothing is imported or parsed at import time: fpdf2 alone takes about half a second to import.
"""

from __future__ import annotations

import multiprocessing
import threading
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lms_core.certificates.pdf.fonts import FontBook, font_book
from lms_core.certificates.pdf.qr import draw_qr
from lms_core.certificates.pdf.templates import PLACEHOLDERS, Field, Template, load_template
from lms_core.errors import LmsError, ValidationError
from lms_core.workers import worker_pool

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.output import OutputProducer

    from lms_core.certificates.pdf.sfnt import TrueTypeFile

PT_PER_MM = 72 / 25.4
#: Smallest size (pt) a too-long text is shrunk to before it is allowed to overflow its box.
MIN_FONT_SIZE = 6.0


@dataclass(frozen=True)
class CertificateFields:
    """The values a template's ``{placeholders}`` are filled with."""

    learner: str
    course: str
    date: str
    instructor: str
    number: str
    verify_url: str


def needs_shaping(text: str) -> bool:
    """Whether ``text`` needs HarfBuzz: right-to-left, combining marks, complex scripts."""
    for char in text:
        codepoint = ord(char)
        if codepoint < 0x0300:
            continue
        if (
            unicodedata.combining(char)
            or unicodedata.bidirectional(char) in ("R", "AL", "AN")
            or 0x0900 <= codepoint < 0x1000  # Indic, Sinhala, Thai, Lao, Tibetan
            or 0x1000 <= codepoint < 0x10A0  # Myanmar
            or 0x1780 <= codepoint < 0x1800  # Khmer
        ):
            return True
    return False


def _clean(text: str) -> str:
    """One line of text: line breaks and tabs become spaces, other controls are dropped."""
    if text.isprintable():
        return text
    return "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) != "Cc"
    )


class Renderer:
    """Renders certificates of one template; build once, call :meth:`render` many times.

    Not thread-safe (the parsed fonts and HarfBuzz faces are shared by the documents of a
    process): use one per thread, or :class:`RenderPool` for parallel work.
    """

    def __init__(self, template: Template, *, extra_fonts_dir: Path | None = None) -> None:
        self.template = template
        self.book: FontBook = font_book(extra_fonts_dir)
        for spec in template.fields:
            if not self.book.has_family(spec.font):
                raise ValidationError(
                    f"{template.source}: fields.{spec.name}.font: no font family {spec.font!r}"
                    f" (available: {', '.join(self.book.families)})",
                    field="template",
                )
            static = spec.text if not spec.placeholders else ""
            missing = self.book.missing_glyphs(static)
            if missing:
                raise ValidationError(
                    f"{template.source}: fields.{spec.name}.text: no font has {''.join(missing)!r}",
                    field="template",
                )
        self._used = [
            name for name in PLACEHOLDERS if any(name in f.placeholders for f in template.fields)
        ]
        self._image_cache: Any = None  # fpdf2 ImageCache shared by documents: decode once
        self._background_pdf: bytes | None = None
        if template.background is not None and template.background.suffix.lower() == ".pdf":
            self._background_pdf = template.background.read_bytes()

    def warm_up(self) -> None:
        """Parse the template's fonts now (before forking workers, which then inherit them)."""
        for spec in self.template.fields:
            self.book.load(self.book.primary_key(spec.font, spec.style))
        _pdf_classes()

    def missing_glyphs(self, text: str) -> list[str]:
        """Characters of ``text`` no available font can draw (whitespace and controls ignored)."""
        return self.book.missing_glyphs(text)

    def render(self, fields: CertificateFields) -> bytes:
        """One complete PDF; :class:`ValidationError` names the field no font can draw."""
        values = {name: _clean(getattr(fields, name)) for name in PLACEHOLDERS}
        for name in self._used:
            missing = self.book.missing_glyphs(values[name])
            if missing:
                raise ValidationError(
                    f"no font can draw {', '.join(repr(c) for c in missing)}"
                    f" (U+{', U+'.join(f'{ord(c):04X}' for c in missing)})",
                    field=name,
                    value=values[name],
                )
        texts = [
            (spec, spec.text.format_map(values) if spec.placeholders else spec.text)
            for spec in self.template.fields
        ]
        pdf_class, producer_class = _pdf_classes()
        pdf = pdf_class(
            orientation=self.template.orientation[0].upper(),
            unit="mm",
            format=self.template.page_size.lower(),
        )
        pdf.set_auto_page_break(False)
        pdf.set_creator("lms-toolkit")
        plans = self._add_fonts(pdf, texts)
        pdf.add_page()
        self._draw_background(pdf)
        for (spec, text), (style, fallbacks) in zip(texts, plans, strict=True):
            # Fallback fonts and shaping per field: fpdf2 lays out text char by char when
            # either is on, so a Latin title on an Arabic learner's page stays on the fast path.
            pdf.set_fallback_fonts(fallbacks, exact_match=False)
            shaped = needs_shaping(text)
            if shaped:
                pdf.set_text_shaping(True)
                # Shaped glyphs are reordered and merged (Indic vowel signs drawn before their
                # consonant, conjuncts): the span tells copy-and-paste the text as typed.
                pdf._out(f"/Span <</ActualText <FEFF{text.encode('utf-16-be').hex()}>>> BDC")
            self._draw_text(pdf, spec, style, text)
            if shaped:
                pdf._out("EMC")
                pdf.set_text_shaping(False)
        draw_qr(pdf, self.template.qr, fields.verify_url)
        output = bytes(pdf.output(output_producer_class=producer_class))
        if self._background_pdf is not None:
            output = _under(self._background_pdf, output)
        return output

    def _add_fonts(self, pdf: Any, texts: list[tuple[Field, str]]) -> list[tuple[str, list[str]]]:
        """Clone into ``pdf`` the fonts the texts need.

        Returns, per field, the style its family really has and the fallback families it needs
        (in book order, so fpdf2 picks the font :meth:`FontBook.choose` picked).
        """
        keys: dict[str, None] = {}
        plans = []
        order = {family: index for index, family in enumerate(self.book.families)}
        for spec, text in texts:
            style = self.book.files[self.book.primary_key(spec.font, spec.style)].style
            needed = self.book.keys_for(text, spec.font, style)
            keys.update(dict.fromkeys(needed))
            families = {self.book.files[key].family for key in needed[1:]}
            plans.append((style, sorted(families, key=order.__getitem__)))
        for key in keys:
            self.book.clone_into(pdf, key)
            sfnt = self.book.load(key).sfnt
            if sfnt is not None:
                pdf.fast_fonts[key] = sfnt
        return plans

    def _draw_background(self, pdf: FPDF) -> None:
        template = self.template
        if template.background is not None and self._background_pdf is None:
            if self._image_cache is None:
                from fpdf.image_datastructures import ImageCache

                self._image_cache = ImageCache()
            self._image_cache.reset_usages()
            pdf.image_cache = self._image_cache
            pdf.image(str(template.background), x=0, y=0, w=template.width, h=template.height)
        frame = template.frame
        if frame is not None:
            pdf.set_draw_color(*frame.color)
            pdf.set_line_width(frame.width)
            insets = (
                (frame.inset, frame.inset + 2.5 * frame.width) if frame.double else (frame.inset,)
            )
            for inset in insets:
                pdf.rect(inset, inset, template.width - 2 * inset, template.height - 2 * inset)
                pdf.set_line_width(frame.width / 3)

    def _draw_text(self, pdf: FPDF, spec: Field, style: str, text: str) -> None:
        if not text.strip():
            return
        size = spec.size
        width_mm = self.book.text_width(text, spec.font, style) * size / 1000 / PT_PER_MM
        room = spec.w - 2 * pdf.c_margin
        if width_mm > room:
            size = max(MIN_FONT_SIZE, size * room / width_mm * 0.97)
        pdf.set_font(spec.font, style, size)
        pdf.set_text_color(*spec.color)
        pdf.set_xy(spec.x, spec.y)
        pdf.cell(spec.w, spec.h, text, align=spec.align)


def _under(background: bytes, overlay: bytes) -> bytes:
    """``overlay``'s page drawn over the first page of the ``background`` PDF (pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(BytesIO(background), pages=[0])
    writer.pages[0].merge_page(PdfReader(BytesIO(overlay)).pages[0])
    writer.compress_identical_objects()
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


@cache
def _pdf_classes() -> tuple[type[Any], type[OutputProducer]]:
    """fpdf2 subclasses, built on first use so that importing this module stays cheap."""
    from fpdf import FPDF
    from fpdf.line_break import Fragment
    from fpdf.output import OutputProducer
    from fpdf.unicode_script import UnicodeScript, get_unicode_script

    from lms_core.certificates.pdf.sfnt import embed_subset

    def _inherited(char: str) -> bool:
        return bool(get_unicode_script(char) == UnicodeScript.INHERITED)

    class CertificatePDF(FPDF):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            #: Font keys this module embeds itself, with their raw tables.
            self.fast_fonts: dict[str, TrueTypeFile] = {}

        def _parse_chars(self, text: str, markdown: bool, **kwargs: Any) -> Iterator[Any]:
            """fpdf2's fragments, with its cuts around "inherited" characters undone.

            fpdf2 starts a new fragment wherever the Unicode script changes, and ZWJ, ZWNJ and
            combining marks have the script "Inherited": Bengali RA, ZWJ, VIRAMA, YA became
            three fragments, shaped one by one (a dotted circle instead of the ya-phala).
            Neighbours in the same font are joined again when either side of the cut is such a
            character.
            """
            parts = super()._parse_chars(text, markdown, **kwargs)
            if not self.text_shaping:
                yield from parts
                return
            pending = None
            for part in parts:
                if (
                    pending is not None
                    and type(part) is type(pending) is Fragment
                    and part.font is pending.font
                    and part.link == pending.link
                    and (_inherited(part.characters[0]) or _inherited(pending.characters[-1]))
                ):
                    pending.characters.extend(part.characters)
                    continue
                if pending is not None:
                    yield pending
                pending = part
            if pending is not None:
                yield pending

    class FastFontProducer(OutputProducer):
        """fpdf2's producer, except for fonts in ``fast_fonts`` (see :func:`.embed_subset`)."""

        def _add_fonts(self, *args: Any, **kwargs: Any) -> Any:
            pdf = self.fpdf
            fast: dict[str, TrueTypeFile] = getattr(pdf, "fast_fonts", {})
            registry = pdf.fonts  # hide our fonts from fpdf2's loop, then put them back
            every = dict(registry)
            for key in fast:
                del registry[key]
            try:
                objs = super()._add_fonts(*args, **kwargs)
            finally:
                registry.clear()
                registry.update(every)
            for key, sfnt in fast.items():
                font = every[key]
                objs[font.i] = embed_subset(self._add_pdf_obj, font, sfnt)  # type: ignore[arg-type]
            return objs

    return CertificatePDF, FastFontProducer


# --- pool ------------------------------------------------------------------------------------

_worker_renderer: Renderer | None = None


def _worker_init(template_path: Path | None, page_size: str, extra_fonts_dir: Path | None) -> None:
    global _worker_renderer
    _worker_renderer = Renderer(
        load_template(template_path, page_size=page_size), extra_fonts_dir=extra_fonts_dir
    )


def _worker_render(chunk: list[CertificateFields]) -> list[bytes] | tuple[str, str | None, Any]:
    """Render a chunk in a worker; a refusal comes back as data (LmsError does not pickle its field)."""
    assert _worker_renderer is not None
    try:
        return [_worker_renderer.render(item) for item in chunk]
    except LmsError as exc:
        return (exc.message, exc.field, exc.value)


class RenderPool:
    """Render many certificates with ``workers`` processes; ``workers=1`` stays in-process.

    Use as a context manager. Workers are forked when this process has a single thread (they
    inherit already parsed fonts), started with ``forkserver`` otherwise (forking a threaded
    process can deadlock); either way they die with this process (:mod:`lms_core.workers`).
    """

    def __init__(
        self,
        template_path: Path | None,
        *,
        page_size: str,
        extra_fonts_dir: Path | None,
        workers: int = 1,
        chunk_size: int = 8,
    ) -> None:
        self.workers = max(1, workers)
        self.chunk_size = max(1, chunk_size)
        self._renderer = Renderer(
            load_template(template_path, page_size=page_size), extra_fonts_dir=extra_fonts_dir
        )
        self._executor: ProcessPoolExecutor | None = None
        if self.workers > 1:
            self._renderer.warm_up()
            method = (
                "fork"
                if threading.active_count() == 1
                and "fork" in multiprocessing.get_all_start_methods()
                else "forkserver"
            )
            self._executor = worker_pool(
                self.workers,
                method=method,
                initializer=_worker_init,
                initargs=(template_path, page_size, extra_fonts_dir),
            )

    @property
    def renderer(self) -> Renderer:
        """The in-process renderer (also for :meth:`Renderer.missing_glyphs` checks)."""
        return self._renderer

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map(self, items: Iterable[CertificateFields]) -> Iterator[bytes]:
        """PDFs for ``items`` in the same order, produced lazily a few chunks ahead."""
        if self._executor is None:
            for item in items:
                yield self._renderer.render(item)
            return
        source = iter(items)
        pending: deque[Future[list[bytes] | tuple[str, str | None, Any]]] = deque()

        def submit() -> None:
            chunk = list(islice(source, self.chunk_size))
            if chunk and self._executor is not None:
                pending.append(self._executor.submit(_worker_render, chunk))

        for _ in range(self.workers * 3):
            submit()
        while pending:
            result = pending.popleft().result()
            submit()
            if isinstance(result, tuple):
                message, field, value = result
                raise ValidationError(message, field=field, value=value)
            yield from result
