"""Certificate PDFs: the naive fpdf2 way against ``lms_core.certificates.pdf.render``, in one run.

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

**issue** (end to end, per kind): our real ``lmsctl certificates issue`` path,
:func:`lms_core.certificates.issue.issue_certificates` with ``--workers`` processes and
batches of 50, on a fresh migrated SQLite file in a temporary folder holding N learners who
completed the one required lesson of one published course. Timed: the whole call -- pool
start-up, eligibility, rendering, each PDF written to a temporary file, fsynced and renamed
(folder fsynced), certificate rows and audit entries, one commit per batch. Not timed: the
database set-up (migrations; instructor, course, lesson and publishing through the services;
learners, ``completed`` enrollments and lesson progress as bulk Core inserts). Its ratio is
against the same naive baseline (rendering only, which flatters the baseline: it writes no file
and no row). After each run the bench checks that there are N certificate rows and N audit
entries and that every PDF's SHA-256 is the one its row records; a mismatch is an error.

Kinds: ``latin`` (Latin with diacritics, Greek and Cyrillic names), ``arabic`` (Arabic names,
shaped right to left) and ``scripts`` (Devanagari, Bengali, Tamil and Thai names, shaped;
Korean and Ethiopic names; the naive path adds the one script font a name needs, regular and
bold, as fallback fonts with text shaping on). Printed per kind: certificates/s of each, the ratio, bytes per file; then
peak RSS, and memory growth: RSS of this process (in-process renderer) after N renders against
after the first 100 (10 with ``--quick``), which shows whether documents leak.

Why: issuing a course's certificates is one batch job; fpdf2's per-document ``add_font``
(parsing the TTF) and font subsetting are 80-90 % of a naive certificate's time.

Targets on the reference 2-core machine: ``latin_speedup >= 20``, ``arabic_speedup >= 15``,
``scripts_speedup >= 15``, ``issue_latin_speedup >= 20``, ``issue_arabic_speedup >= 15``,
``issue_scripts_speedup >= 15``, ``max_file_kb <= 100``,
``rss_growth_mb <= 8``. Exit status 0 when the benchmark ran, whether
targets pass or miss (the ``target`` lines say which); non-zero when it could not run.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select

from lms_core.accounts import users
from lms_core.accounts.fields import UserCreate
from lms_core.actor import Actor
from lms_core.catalog import courses, lessons
from lms_core.catalog.fields import CourseCreate, LessonCreate
from lms_core.certificates.issue import issue_certificates
from lms_core.certificates.pdf.fonts import BUNDLED_DIR
from lms_core.certificates.pdf.render import CertificateFields, Renderer, RenderPool
from lms_core.certificates.pdf.templates import load_template
from lms_core.db import SessionFactory, make_engine, make_session_factory, unit_of_work
from lms_core.models import (
    AuditEntry,
    Certificate,
    Enrollment,
    EnrollmentStatus,
    LessonProgress,
    Role,
    User,
    utcnow,
)
from lms_core.ops import schema
from lms_core.settings import PageSize, Settings

GOALS = {
    "latin_speedup": 20.0,
    "arabic_speedup": 15.0,
    "scripts_speedup": 15.0,
    "issue_latin_speedup": 20.0,
    "issue_arabic_speedup": 15.0,
    "issue_scripts_speedup": 15.0,
    "max_file_kb": 100.0,
    "rss_growth_mb": 8.0,
}
#: Certificates committed per transaction by the issue run (the command's default).
ISSUE_BATCH = 50
ISSUE_COURSE = "bench-databases"
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
#: Names of the ``scripts`` kind, by the bundled family (and files) that draws them.
SCRIPT_NAMES: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {
    ("NotoSansDevanagari", "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"): (
        ["अनुष्का", "राहुल", "प्रिया", "अर्जुन", "स्नेहा"],
        ["शर्मा", "द्विवेदी", "कृष्णन", "त्रिपाठी"],
    ),
    ("NotoSansBengali", "NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf"): (
        ["সৌমিত্র", "রবীন্দ্রনাথ", "শর্মিষ্ঠা", "অর্ক"],
        ["চট্টোপাধ্যায়", "ঠাকুর", "বন্দ্যোপাধ্যায়"],
    ),
    ("NotoSansTamil", "NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf"): (
        ["கார்த்திகேயன்", "பிரியா", "செல்வி"],
        ["சுப்பிரமணியன்", "ராஜேந்திரன்"],
    ),
    ("NotoSansThai", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"): (
        ["สมศักดิ์", "สมชาย", "นิภาพร"],
        ["ใจดี", "ศรีสุข", "วงศ์ใหญ่"],
    ),
    ("NanumSquare", "NanumSquareR.ttf", "NanumSquareB.ttf"): (
        ["김민준", "이서연", "박지훈"],
        ["최", "정", "강"],
    ),
    ("NotoSansEthiopic", "NotoSansEthiopic-Regular.ttf", "NotoSansEthiopic-Bold.ttf"): (
        ["አበበ", "ትዕግሥት", "ኃይሌ"],
        ["ቢቂላ", "ገብረሥላሴ"],
    ),
}
#: Learner name -> the family and files the naive path adds for it.
SCRIPT_FONT: dict[str, tuple[str, str, str]] = {}
COURSES = ["Introduction to Databases", "Data Structures and Algorithms", "Networks 101"]


def pick_name(kind: str, rng: random.Random) -> str:
    if kind == "scripts":
        font = rng.choice(list(SCRIPT_NAMES))
        first, last = SCRIPT_NAMES[font]
        name = f"{rng.choice(first)} {rng.choice(last)}"
        SCRIPT_FONT[name] = font
        return name
    first, last = (ARABIC_FIRST, ARABIC_LAST) if kind == "arabic" else (LATIN_FIRST, LATIN_LAST)
    return f"{rng.choice(first)} {rng.choice(last)}"


def names(kind: str, count: int, seed: int = 7) -> list[CertificateFields]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        number = f"LMS-{index:04d}-{rng.randrange(16**4):04X}-B"
        items.append(
            CertificateFields(
                learner=pick_name(kind, rng),
                course=rng.choice(COURSES),
                date=f"2024-05-{1 + index % 28:02d}",
                instructor="Jane Instructor",
                number=number,
                verify_url=f"{BASE_URL}/verify/{number}",
            )
        )
    return items


def naive_pdf(fields: CertificateFields, *, kind: str, page_size: str) -> bytes:
    """What a first version does: everything from scratch for every certificate."""
    import segno
    from fpdf import FPDF

    template = load_template(None, page_size=page_size)
    pdf = FPDF(orientation="L", unit="mm", format=page_size.lower())
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVuSans", "", BUNDLED_DIR / "DejaVuSans.ttf")
    pdf.add_font("DejaVuSans", "B", BUNDLED_DIR / "DejaVuSans-Bold.ttf")
    if kind == "arabic":
        pdf.add_font("NotoNaskhArabic", "", BUNDLED_DIR / "NotoNaskhArabic-Regular.ttf")
        pdf.add_font("NotoNaskhArabic", "B", BUNDLED_DIR / "NotoNaskhArabic-Bold.ttf")
        pdf.set_fallback_fonts(["NotoNaskhArabic"], exact_match=False)
        pdf.set_text_shaping(True)
    elif kind == "scripts":
        family, regular, bold = SCRIPT_FONT[fields.learner]
        pdf.add_font(family, "", BUNDLED_DIR / regular)
        pdf.add_font(family, "B", BUNDLED_DIR / bold)
        pdf.set_fallback_fonts([family], exact_match=False)
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


def completers_database(
    root: Path, kind: str, count: int, page_size: str
) -> tuple[Settings, SessionFactory]:
    """A fresh migrated SQLite file under ``root`` with ``count`` completers of one course.

    The instructor, course, lesson and publishing go through the services (as an operator
    would); the learners, their ``completed`` enrollments and lesson progress are bulk Core
    inserts, because thousands of service calls would only measure the set-up.
    """
    settings = Settings(
        database_url=f"sqlite:///{root / 'lms.db'}",
        files_dir=root / "files",
        password_memory_cost=8,
        password_time_cost=1,
        password_parallelism=1,
        certificate_page_size=PageSize(page_size),
    )
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    operator = Actor.operator("bench")
    learners = [item.learner for item in names(kind, count, seed=13)]
    with unit_of_work(factory) as session:
        users.create_user(
            session,
            actor=operator,
            data=UserCreate(
                email="instructor@bench.example.org",
                full_name="Jane Instructor",
                role=Role.instructor.value,
            ),
        )
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(
                slug=ISSUE_COURSE,
                title=COURSES[0],
                instructor_email="instructor@bench.example.org",
            ),
        )
        lesson = lessons.add_lesson(
            session,
            actor=operator,
            course_slug=ISSUE_COURSE,
            data=LessonCreate(slug="final", title="Final project"),
        )
        course = courses.publish_course(session, actor=operator, slug=ISSUE_COURSE)
        now = utcnow()
        stamps = {"created_at": now, "updated_at": now}
        student_ids = list(
            session.scalars(
                insert(User).returning(User.id),
                [
                    {
                        "email": f"learner-{index:06d}@bench.example.org",
                        "full_name": learner,
                        "role": Role.student.value,
                        "is_active": True,
                        "failed_login_attempts": 0,
                        **stamps,
                    }
                    for index, learner in enumerate(learners)
                ],
            )
        )
        enrollment_ids = list(
            session.scalars(
                insert(Enrollment).returning(Enrollment.id),
                [
                    {
                        "student_id": student_id,
                        "course_id": course.id,
                        "status": EnrollmentStatus.completed.value,
                        "enrolled_at": now,
                        "completed_at": now,
                        "progress_percentage": 100,
                        **stamps,
                    }
                    for student_id in student_ids
                ],
            )
        )
        session.execute(
            insert(LessonProgress),
            [
                {"enrollment_id": enrollment_id, "lesson_id": lesson.id, "completed_at": now}
                for enrollment_id in enrollment_ids
            ],
        )
    engine.dispose()  # the timed run starts with no pooled connection, like a fresh lmsctl
    return settings, factory


def check_issued(settings: Settings, factory: SessionFactory, count: int) -> list[int]:
    """Rows, audit entries and files of an issue run; exits when they do not add up."""
    with unit_of_work(factory, write=False) as session:
        rows = session.execute(select(Certificate.pdf_path, Certificate.pdf_sha256)).all()
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "certificate.issue")
        )
    if len(rows) != count or audited != count:
        raise SystemExit(
            f"issue run: {len(rows)} certificate rows, {audited} audit entries, not {count}"
        )
    sizes = []
    for path, sha256 in rows:
        data = (settings.files_dir / path).read_bytes()
        if not data.startswith(b"%PDF-") or hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"issue run: {path} is not the PDF its row records (SHA-256 differs)")
        sizes.append(len(data))
    stored = [p for p in (settings.files_dir / "certificates").rglob("*") if p.is_file()]
    if len(stored) != count:
        raise SystemExit(f"issue run: {len(stored)} files in the certificates folder, not {count}")
    return sizes


def issue_run(kind: str, count: int, workers: int, page_size: str) -> Run:
    """:func:`issue_certificates` end to end on a fresh database (set-up not timed)."""
    with tempfile.TemporaryDirectory(prefix="lms-cert-bench-") as tmp:
        settings, factory = completers_database(Path(tmp), kind, count, page_size)
        gc.collect()
        start, cpu_start = time.perf_counter(), cpu_seconds()
        report = issue_certificates(
            factory,
            actor=Actor.operator("bench"),
            course_slug=ISSUE_COURSE,
            settings=settings,
            workers=workers,
            batch_size=ISSUE_BATCH,
        )
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start
        if len(report.issued) != count or report.uncovered or report.not_eligible:
            raise SystemExit(
                f"issue run: issued {len(report.issued)} of {count}; uncovered "
                f"{len(report.uncovered)}, not eligible {report.not_eligible}"
            )
        return Run(seconds, check_issued(settings, factory, count), cpu)


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
    for kind in ("latin", "arabic", "scripts"):
        items = names(kind, count)
        naive_pdf(items[0], kind=kind, page_size=args.page_size)  # imports, not parsing

        def naive_run(items: list[CertificateFields] = items, kind: str = kind) -> list[bytes]:
            return [naive_pdf(i, kind=kind, page_size=args.page_size) for i in items]

        naive = timed(naive_run)

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
        issued = issue_run(kind, count, args.workers, args.page_size)
        ratios[f"issue_{kind}"] = issued.rate / naive.rate
        print(
            f"{kind}: issue end to end {issued.rate:.1f} cert/s ({1000 / issued.rate:.1f} ms each:"
            f" render, fsynced files, rows, audit, commit per {ISSUE_BATCH}); ratio vs naive "
            f"{ratios[f'issue_{kind}']:.1f}x; CPU ms per certificate {issued.cpu * 1000 / count:.1f}"
            f"; {count} rows, files and SHA-256 checked"
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
    print(target("scripts_speedup", ratios["scripts"], at_least=True))
    print(target("issue_latin_speedup", ratios["issue_latin"], at_least=True))
    print(target("issue_arabic_speedup", ratios["issue_arabic"], at_least=True))
    print(target("issue_scripts_speedup", ratios["issue_scripts"], at_least=True))
    print(target("max_file_kb", largest / 1024, at_least=False))
    print(target("rss_growth_mb", after - before, at_least=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
