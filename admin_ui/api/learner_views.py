"""The learner's flow: the catalog, a course's outline, enrolling, my enrollments with
progress, completing a lesson, my certificates. Each view calls the service the CLI's
command calls, with the caller as the actor: the same rules, the same audit entries."""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, commit, endpoint, json_response
from admin_ui.api.models import (
    Certificate,
    Course,
    Enrollment,
    OutlineLesson,
    PageInfo,
    PageQuery,
)
from lms_core.models import DifficultyLevel, EnrollmentStatus

SLUG = "<string(maxlength=200):slug>"


class CoursesQuery(PageQuery):
    search: str | None = Field(None, max_length=200)
    difficulty: DifficultyLevel | None = None


class CoursePage(BaseModel):
    items: list[Course]  # type: ignore[valid-type]  # a model made from CourseRow
    meta: PageInfo


class Outline(BaseModel):
    course: Course  # type: ignore[valid-type]
    lessons: list[OutlineLesson]  # type: ignore[valid-type]


class EnrollmentPage(BaseModel):
    items: list[Enrollment]  # type: ignore[valid-type]
    meta: PageInfo


class Enrolled(BaseModel):
    enrollment: Enrollment  # type: ignore[valid-type]
    #: ``created``, ``reenrolled`` or ``unchanged``.
    outcome: str


class Completed(BaseModel):
    enrollment: Enrollment  # type: ignore[valid-type]
    #: True when this lesson completed the course.
    course_completed: bool


class CertificateList(BaseModel):
    items: list[Certificate]  # type: ignore[valid-type]


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: 1 to 5 (the service checks the range, as for the CLI; the bounds here are documented).
    rating: int = Field(json_schema_extra={"minimum": 1, "maximum": 5})
    review: str | None = Field(None, max_length=10_000)


class CourseGrade(BaseModel):
    course_slug: str
    #: The course total (0-100) as the gradebook computes it; null before anything is graded.
    grade: float | None


class GradeList(BaseModel):
    items: list[CourseGrade]


class StatusQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")
    status: EnrollmentStatus | None = None


class KeptJson(NamedTuple):
    """A catalog page or an outline kept as the JSON it is sent as (making a page's JSON
    again at every request was a few percent of its CPU), with its weight in the kept
    answers' budget: its courses or lessons."""

    body: bytes
    rows: int


def _kept(answer: CoursePage | Outline) -> KeptJson:
    rows = answer.items if isinstance(answer, CoursePage) else answer.lessons
    return KeptJson(answer.model_dump_json().encode(), len(rows))


def _stamp(session: Any) -> str | None:
    """The catalog's stamp: a token's caller had it read with the token; a cookie's caller
    reads it now."""
    from lms_core.catalog.stamp import catalog_stamp

    found = caller()
    return found.catalog_stamp if found.token_family is not None else catalog_stamp(session)


def _meta(page: Any) -> PageInfo:
    return PageInfo(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages)


@api.get("/courses")
@endpoint(scope="courses:read", tag="catalog", ok=CoursePage, query=CoursesQuery)
def courses(query: CoursesQuery) -> Answer:
    """The catalog: published courses, by title or slug words and by difficulty, a page at a time."""
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.catalog.kept_reads import list_course_rows
    from lms_core.catalog.stamp import catalog_audience

    session = request_session()
    who = caller().actor
    difficulty = query.difficulty.value if query.difficulty else None

    def build() -> KeptJson:
        found = list_course_rows(
            session,
            actor=who,
            search=query.search,
            published=True,
            difficulty=difficulty,
            page=query.page,
            per_page=query.per_page,
        )
        return _kept(CoursePage(items=found.items, meta=_meta(found)))

    # The stamp is read first (with the token): a page kept under it is never older.
    stamp = _stamp(session)
    key = ("catalog", catalog_audience(who), query.search, difficulty, query.page, query.per_page)
    kept: KeptJson = state().catalog_pages.answer(key, stamp, build)
    return json_response(kept.body)


@api.get(f"/courses/{SLUG}")
@endpoint(scope="courses:read", tag="catalog", ok=Outline)
def outline(slug: str) -> Answer:
    """A course and its lessons in order (titles and kinds; the content is for the enrolled)."""
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.catalog.kept_reads import course_outline
    from lms_core.catalog.stamp import catalog_audience

    session = request_session()
    who = caller().actor

    def build() -> KeptJson:
        course, lessons = course_outline(session, actor=who, slug=slug)
        return _kept(Outline(course=course, lessons=lessons))

    stamp = _stamp(session)  # first: see courses()
    key = ("outline", catalog_audience(who), slug)
    kept: KeptJson = state().catalog_pages.answer(key, stamp, build)
    return json_response(kept.body)


@api.post(f"/courses/{SLUG}/enrollment")
@endpoint(scope="enrollments:write", tag="learning", ok=Enrolled, status=201, also=(200,))
def enroll(slug: str) -> Answer:
    """Enroll in a course (201; 200 when already enrolled: nothing changes)."""
    from admin_ui.db import request_session
    from lms_core.catalog.enrollments import enroll as enroll_service
    from lms_core.catalog.enrollments import enrollment_row

    who = caller().actor
    result = enroll_service(request_session(), actor=who, email=who.label, course_slug=slug)
    answer = Enrolled(enrollment=enrollment_row(result.enrollment), outcome=result.outcome)
    commit()
    return answer, 200 if result.outcome == "unchanged" else 201


@api.get("/me/enrollments")
@endpoint(scope="enrollments:read", tag="learning", ok=EnrollmentPage, query=StatusQuery)
def my_enrollments(query: StatusQuery) -> Answer:
    """My enrollments with their progress, a page at a time (``status``: active, completed, dropped)."""
    from admin_ui.db import request_session
    from lms_core.catalog.enrollments import enrollment_row, list_enrollments

    who = caller().actor
    page = list_enrollments(
        request_session(),
        actor=who,
        email=who.label,
        status=query.status.value if query.status else None,
        page=query.page,
        per_page=query.per_page,
    )
    return EnrollmentPage(items=[enrollment_row(e) for e in page.items], meta=_meta(page))


@api.post(f"/me/enrollments/{SLUG}/lessons/<string(maxlength=200):lesson>/completion")
@endpoint(scope="enrollments:write", tag="learning", ok=Completed)
def complete(slug: str, lesson: str) -> Answer:
    """Mark a lesson done (again: no change); quiz and assignment lessons complete by the work."""
    from admin_ui.db import request_session
    from lms_core.catalog.enrollments import complete_lesson, enrollment_row

    who = caller().actor
    enrollment, finished = complete_lesson(
        request_session(), actor=who, email=who.label, course_slug=slug, lesson_slug=lesson
    )
    answer = Completed(enrollment=enrollment_row(enrollment), course_completed=finished)
    commit()
    return answer


@api.put(f"/me/enrollments/{SLUG}/review")
@endpoint(scope="enrollments:write", tag="learning", ok=Enrollment, json=ReviewBody)
def review(slug: str, json: ReviewBody) -> Answer:
    """Rate (1 to 5) and review a course one is enrolled in; again: the new one replaces it."""
    from admin_ui.db import request_session
    from lms_core.catalog.enrollments import enrollment_row
    from lms_core.catalog.enrollments import review as review_service

    who = caller().actor
    enrollment = review_service(
        request_session(),
        actor=who,
        email=who.label,
        course_slug=slug,
        rating=json.rating,
        text=json.review,
    )
    row = enrollment_row(enrollment)
    commit()
    return Enrollment.model_validate(row)


@api.get("/me/grades")
@endpoint(scope="enrollments:read", tag="learning", ok=GradeList)
def my_grades() -> Answer:
    """My course totals, by the gradebook's own computation (what certificates are judged by)."""
    from sqlalchemy import select

    from admin_ui.db import request_session
    from lms_core.assignments.gradebook import course_grades
    from lms_core.models import Course as CourseModel
    from lms_core.models import Enrollment as EnrollmentModel

    who = caller().actor
    db = request_session()
    rows = db.execute(
        select(EnrollmentModel.id, EnrollmentModel.course_id, CourseModel.slug)
        .join(CourseModel, CourseModel.id == EnrollmentModel.course_id)
        .where(
            EnrollmentModel.student_id == who.user_id,
            EnrollmentModel.status != EnrollmentStatus.dropped.value,
        )
        .order_by(CourseModel.slug)
    ).all()
    items = []
    for enrollment_id, course_id, slug in rows:
        total = course_grades(db, course_id, [enrollment_id]).get(enrollment_id)
        items.append(CourseGrade(course_slug=slug, grade=None if total is None else float(total)))
    return GradeList(items=items)


@api.get("/me/certificates")
@endpoint(scope="certificates:read", tag="learning", ok=CertificateList)
def my_certificates() -> Answer:
    """My certificates (valid, revoked and superseded ones, each with its status)."""
    from admin_ui.db import request_session
    from lms_core.certificates.registry import certificate_row, certificates_query
    from lms_core.models import Enrollment as EnrollmentModel

    who = caller().actor
    db = request_session()
    stmt = certificates_query(db, actor=who).where(EnrollmentModel.student_id == who.user_id)
    return CertificateList(items=[certificate_row(c) for c in db.scalars(stmt).unique()])


@api.get("/me/certificates/<string(maxlength=64):number>/pdf")
@endpoint(scope="certificates:read", tag="learning", ok=None)
def my_certificate_pdf(number: str) -> Answer:
    """One of my certificates as its stored PDF (a download; 404 for anyone else's)."""
    return pdf_download(number, mine_only=True)


def pdf_download(number: str, *, mine_only: bool) -> Answer:
    """A certificate the caller may see (``mine_only``: their own) as its stored PDF."""
    from flask import Response

    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.assignments.file_types import PDF
    from lms_core.assignments.serving import download_headers
    from lms_core.certificates.numbers import normalize_number
    from lms_core.certificates.registry import certificates_query
    from lms_core.errors import NotFound
    from lms_core.models import Certificate as CertificateModel
    from lms_core.models import Enrollment as EnrollmentModel

    who = caller().actor
    db = request_session()
    wanted = normalize_number(number)
    stmt = certificates_query(db, actor=who).where(CertificateModel.number == wanted)
    if mine_only:
        stmt = stmt.where(EnrollmentModel.student_id == who.user_id)
    cert = db.scalars(stmt).first()
    root = state().settings.files_dir.resolve()
    path = (root / cert.pdf_path).resolve() if cert is not None else None
    if cert is None or path is None or root not in path.parents or not path.is_file():
        raise NotFound(
            f"you have no certificate {number} with a stored PDF"
            if mine_only
            else f"no certificate {number} with a stored PDF that you may see",
            field="number",
            value=number,
        )
    # Read whole (a certificate is well under a megabyte): a streamed file would be read
    # after the request's session is closed (it would need ``stream_with_context``).
    return Response(
        path.read_bytes(),
        mimetype="application/pdf",
        headers=download_headers(PDF, f"{cert.number}.pdf"),
    )
