"""Certificate PDFs: the naive fpdf2 way against ``lms_core.certificates.render``, in one run.

What: the bundled default template rendered for N learners (1,000; ``--quick``: 40), twice per
kind of name, in the same process and run so the ratio is comparable across machines:

* **naive** (the baseline): per certificate a new ``FPDF()``, ``add_font`` of the TTF files
  it needs (DejaVu Sans regular and bold; for Arabic names also Noto Naskh Arabic regular and
  bold as fallback fonts, with text shaping on), the template file read again, the QR code
  from ``segno`` saved as a PNG and placed with ``image()``; one process;
* **ours**: :class:`RenderPool` with ``--workers`` processes (2 by default, the cores of the
  reference machine), pool start-up included.

Also printed: CPU time per certificate of both (all processes), whose ratio does not depend on
other load on the machine, unlike the wall-clock ratio of a 2-process path against 1 process.

Kinds: ``latin`` (Latin with diacritics, Greek and Cyrillic names) and ``arabic`` (Arabic names,
shaped right to left). Printed per kind: certificates/s of each, the ratio, bytes per file; then
peak RSS, and memory growth: RSS of this process (in-process renderer) after N renders against
after the first 100 (10 with ``--quick``), which shows whether documents leak.

Why: issuing a course's certificates is one batch job; fpdf2's per-document ``add_font``
(parsing the TTF) and font subsetting are 80-90 % of a naive certificate's time.

Targets on the reference 2-core machine: ``latin_speedup >= 20``, ``arabic_speedup >= 15``,
``max_file_kb <= 100``, ``rss_growth_mb <= 8``. Exit status 0 when the benchmark ran, whether
targets pass or miss (the ``target`` lines say which); non-zero when it could not run.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from lms_core.certificates.fonts import BUNDLED_DIR
from lms_core.certificates.render import CertificateFields, Renderer, RenderPool
from lms_core.certificates.templates import load_template

GOALS = {"latin_speedup": 20.0, "arabic_speedup": 15.0, "max_file_kb": 100.0, "rss_growth_mb": 8.0}
BASE_URL = "https://lms.example.org"
LATIN_FIRST = [
    "Émilie",
    "Jürgen",
    "Łukasz",
    "Ελένη",
    "Γιώργος",
    "Иван",
    "Мария",
    "Søren",
    "José",
    "Zoë",
    "Nguyễn Thị",
    "Ọlá",
]
LATIN_LAST = [
    "Dvořák",
    "Papadopoulou",
    "Смирнов",
    "Østergård",
    "Núñez",
    "Παπαδάκης",
    "Kowalczyk",
    "Đặng",
    "Åkesson",
    "Петрова",
]
ARABIC_FIRST = [
    "محمد",
    "فاطمة",
    "أحمد",
    "عائشة",
    "يوسف",
    "مريم",
    "عبد الله",
    "خديجة",
    "علي",
    "ليلى",
]
ARABIC_LAST = ["العلي", "حسن", "الخطيب", "منصور", "الهاشمي", "سليمان", "القحطاني", "يوسف"]
COURSES = ["Introduction to Databases", "Data Structures and Algorithms", "Networks 101"]


def names(kind: str, count: int, seed: int = 7) -> list[CertificateFields]:
    rng = random.Random(seed)
    first, last = (ARABIC_FIRST, ARABIC_LAST) if kind == "arabic" else (LATIN_FIRST, LATIN_LAST)
    items = []
    for index in range(count):
        number = f"LMS-{index:04d}-{rng.randrange(16**4):04X}-B"
        items.append(
            CertificateFields(
                learner=f"{rng.choice(first)} {rng.choice(last)}",
                course=rng.choice(COURSES),
                date=f"2024-05-{1 + index % 28:02d}",
                instructor="Jane Instructor",
                number=number,
                verify_url=f"{BASE_URL}/verify/{number}",
            )
        )
    return items


def naive_pdf(fields: CertificateFields, *, arabic: bool, page_size: str) -> bytes:
    """What a first version does: everything from scratch for every certificate."""
    import segno
    from fpdf import FPDF

    template = load_template(None, page_size=page_size)
    pdf = FPDF(orientation="L", unit="mm", format=page_size.lower())
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVuSans", "", BUNDLED_DIR / "DejaVuSans.ttf")
    pdf.add_font("DejaVuSans", "B", BUNDLED_DIR / "DejaVuSans-Bold.ttf")
    if arabic:
        pdf.add_font("NotoNaskhArabic", "", BUNDLED_DIR / "NotoNaskhArabic-Regular.ttf")
        pdf.add_font("NotoNaskhArabic", "B", BUNDLED_DIR / "NotoNaskhArabic-Bold.ttf")
        pdf.set_fallback_fonts(["NotoNaskhArabic"], exact_match=False)
        pdf.set_text_shaping(True)
    pdf.add_page()
    if template.frame is not None:
        pdf.set_draw_color(*template.frame.color)
        pdf.set_line_width(template.frame.width)
        inset = template.frame.inset
        pdf.rect(inset, inset, template.width - 2 * inset, template.height - 2 * inset)
    values = {name: getattr(fields, name) for name in fields.__dataclass_fields__}
    for spec in template.fields:
        pdf.set_font(spec.font, spec.style, spec.size)
        pdf.set_text_color(*spec.color)
        pdf.set_xy(spec.x, spec.y)
        pdf.cell(spec.w, spec.h, spec.text.format_map(values), align=spec.align)
    png = io.BytesIO()
    segno.make(fields.verify_url, error=template.qr.error, micro=False).save(
        png, kind="png", scale=8, border=4
    )
    png.seek(0)
    qr = template.qr
    pdf.image(png, x=qr.x, y=qr.y, w=qr.size, h=qr.size)
    pdf.link(qr.x, qr.y, qr.size, qr.size, fields.verify_url)
    return bytes(pdf.output())


@dataclass
class Run:
    seconds: float
    sizes: list[int]
    #: CPU seconds of this process and of the workers it waited for.
    cpu: float

    @property
    def rate(self) -> float:
        return len(self.sizes) / self.seconds


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(produce: Callable[[], list[bytes]]) -> Run:
    start, cpu_start = time.perf_counter(), cpu_seconds()
    pdfs = produce()
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_start
    for pdf in pdfs:
        if not pdf.startswith(b"%PDF-"):
            raise SystemExit("a renderer returned something that is not a PDF")
    return Run(seconds, [len(pdf) for pdf in pdfs], cpu)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_growth(
    items: list[CertificateFields], checkpoint: int, page_size: str
) -> tuple[float, float]:
    renderer = Renderer(load_template(None, page_size=page_size))
    at_checkpoint = 0.0
    for index, item in enumerate(items, 1):
        renderer.render(item)
        if index == checkpoint:
            gc.collect()
            at_checkpoint = rss_mb()
    gc.collect()
    return at_checkpoint, rss_mb()


def target(name: str, value: float, *, at_least: bool) -> str:
    goal = GOALS[name]
    ok = value >= goal if at_least else value <= goal
    sign = ">=" if at_least else "<="
    return f"target {name}: {value:.1f} (goal {sign} {goal:g}) {'PASS' if ok else 'MISS'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 certificates per run (CI)")
    parser.add_argument(
        "--count", type=int, help="certificates per run (default 1000, 40 with --quick)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes of our path (default 2)")
    parser.add_argument("--page-size", default="A4", choices=["A4", "Letter"])
    args = parser.parse_args(argv)
    count = args.count or (40 if args.quick else 1000)
    checkpoint = 10 if count < 200 else 100
    print(
        f"certificates per run: {count}; our workers: {args.workers}; cpus: {os.cpu_count()}; python {sys.version.split()[0]}"
    )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"note: load average {load:.2f} before the run; other work on the machine slows the "
            "2-worker path more than the 1-process baseline (the CPU ratio is not affected)"
        )
    ratios: dict[str, float] = {}
    largest = 0
    for kind in ("latin", "arabic"):
        items = names(kind, count)
        arabic = kind == "arabic"
        naive_pdf(items[0], arabic=arabic, page_size=args.page_size)  # imports, not parsing
        naive = timed(
            lambda items=items, arabic=arabic: [
                naive_pdf(i, arabic=arabic, page_size=args.page_size) for i in items
            ]
        )

        def ours_run(items: list[CertificateFields] = items) -> list[bytes]:
            with RenderPool(
                None, page_size=args.page_size, extra_fonts_dir=None, workers=args.workers
            ) as pool:
                return list(pool.map(items))

        ours = timed(ours_run)
        ratios[kind] = ours.rate / naive.rate
        largest = max(largest, *ours.sizes)
        print(
            f"{kind}: naive {naive.rate:.1f} cert/s ({1000 / naive.rate:.1f} ms each), "
            f"ours {ours.rate:.1f} cert/s; ratio {ratios[kind]:.1f}x; bytes/file naive "
            f"{sum(naive.sizes) // count}, ours {sum(ours.sizes) // count} (max {max(ours.sizes)})"
        )
        print(
            f"{kind}: CPU ms per certificate: naive {naive.cpu * 1000 / count:.1f}, ours "
            f"{ours.cpu * 1000 / count:.1f} (all processes); CPU ratio {naive.cpu / ours.cpu:.1f}x"
        )
    before, after = memory_growth(names("latin", count, seed=11), checkpoint, args.page_size)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MB, largest worker {children:.0f} MB")
    print(
        f"RSS in-process: {before:.1f} MB after {checkpoint} renders, {after:.1f} MB after {count}"
    )
    print(target("latin_speedup", ratios["latin"], at_least=True))
    print(target("arabic_speedup", ratios["arabic"], at_least=True))
    print(target("max_file_kb", largest / 1024, at_least=False))
    print(target("rss_growth_mb", after - before, at_least=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
