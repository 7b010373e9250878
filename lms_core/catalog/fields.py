"""The catalog's fields (courses, lessons, enrollments), written once: the catalog services, the
imports, the exports and the templates read them from here (see ``lms_core.fields``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Final, TypedDict

from lms_core.fields import EntitySpec, FieldSpec
from lms_core.models.courses import DifficultyLevel, LessonType
from lms_core.models.enrollments import EnrollmentStatus

#: Titles of courses and lessons alike (the models' ``String(200)``).
TITLE_MAX: Final = 200

COURSE: Final = EntitySpec(
    "course",
    (
        FieldSpec("slug", "slug", max_length=100, required=True, in_file=True),
        FieldSpec("title", "text", max_length=TITLE_MAX, required=True, in_file=True),
        FieldSpec("description", "text", max_length=20000, in_file=True, multiline=True),
        #: The instructor by e-mail, as users are named; stored as ``instructor_id``. A
        #: service defaults it to the acting instructor, a file must say it.
        FieldSpec(
            "instructor_email",
            "email",
            max_length=320,
            column_required=True,
            audited=False,
            in_file=True,
        ),
        FieldSpec("instructor_id", "int", listed=False),
        FieldSpec("category", "text", max_length=100, in_file=True),
        FieldSpec(
            "difficulty_level",
            "choice",
            choices=tuple(d.value for d in DifficultyLevel),
            default=DifficultyLevel.beginner.value,
            in_file=True,
        ),
        FieldSpec("thumbnail_url", "url", max_length=500, in_file=True),
        FieldSpec("estimated_duration_minutes", "int", in_file=True),
        FieldSpec("is_published", "bool", default=False, in_file=True),
        FieldSpec("external_id", "identifier", max_length=255, in_file=True),
        FieldSpec("certificate_min_grade", "decimal", minimum=0, maximum=100, default=Decimal("0")),
        # Not in course files (like the grade above): an SIS export does not decide a
        # course's certificate policy; set it with ``courses update --auto-certificate``.
        FieldSpec("auto_certificate", "bool", default=False),
    ),
    columns=(
        "external_id",
        "slug",
        "title",
        "description",
        "instructor_email",
        "category",
        "difficulty_level",
        "is_published",
        "thumbnail_url",
        "estimated_duration_minutes",
    ),
)

LESSON: Final = EntitySpec(
    "lesson",
    (
        FieldSpec(
            "course_slug",
            "slug",
            max_length=100,
            required=True,
            audited=False,
            in_file=True,
        ),
        FieldSpec("slug", "slug", max_length=100, required=True, in_file=True),
        FieldSpec("title", "text", max_length=TITLE_MAX, required=True, in_file=True),
        FieldSpec(
            "lesson_type",
            "choice",
            choices=tuple(t.value for t in LessonType),
            default=LessonType.text.value,
            in_file=True,
        ),
        FieldSpec("order_index", "int", minimum=1, in_file=True),
        FieldSpec("content", "text", max_length=1_000_000, in_file=True, multiline=True),
        FieldSpec("duration_minutes", "int", in_file=True),
        FieldSpec("video_url", "url", max_length=500, in_file=True),
        FieldSpec("is_preview", "bool", default=False, in_file=True),
        FieldSpec("is_required", "bool", default=True, in_file=True),
    ),
    columns=(
        "course_slug",
        "slug",
        "title",
        "lesson_type",
        "order_index",
        "content",
        "duration_minutes",
        "video_url",
        "is_preview",
        "is_required",
    ),
    timestamps=False,
)


def _reference(name: str) -> FieldSpec:
    """A file's reference to a user or course by its SIS key (listings name them otherwise)."""
    return FieldSpec(name, "identifier", max_length=255, audited=False, listed=False, in_file=True)


ENROLLMENT: Final = EntitySpec(
    "enrollment",
    (
        #: The learner by ``user_email`` or ``user_external_id``, the course by ``course_slug``
        #: or ``course_external_id``: one of each pair is required in a file.
        FieldSpec("user_email", "email", max_length=320, audited=False, in_file=True),
        _reference("user_external_id"),
        FieldSpec("course_slug", "slug", max_length=100, audited=False, in_file=True),
        _reference("course_external_id"),
        FieldSpec(
            "status",
            "choice",
            choices=tuple(s.value for s in EnrollmentStatus),
            default=EnrollmentStatus.active.value,
            in_file=True,
        ),
        FieldSpec("progress_percentage", "decimal", minimum=0, maximum=100),
        FieldSpec("enrolled_at", "datetime", audited=False),
        FieldSpec("completed_at", "datetime"),
        FieldSpec("dropped_at", "datetime"),
        FieldSpec("rating", "int", minimum=1, maximum=5),
        FieldSpec("review", "text", max_length=5000, multiline=True),
    ),
    columns=("user_email", "user_external_id", "course_slug", "course_external_id", "status"),
    timestamps=False,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseFields:
    """Course fields a create or an update may give; ``None`` means "not given"."""

    description: str | None = None
    category: str | None = None
    difficulty_level: str | None = None
    thumbnail_url: str | None = None
    estimated_duration_minutes: int | None = None
    external_id: str | None = None
    certificate_min_grade: Decimal | float | int | str | None = None
    #: Issue each learner's certificate when they complete the course (a job).
    auto_certificate: bool | None = None
    #: A create defaults it to the acting instructor; an update moves the course (admins).
    instructor_email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseCreate(CourseFields):
    """A new, unpublished course."""

    slug: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseUpdate(CourseFields):
    """Changes to a course; ``slug`` renames it."""

    slug: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LessonFields:
    """Lesson fields a create or an update may give; ``None`` means "not given"."""

    lesson_type: str | None = None
    content: str | None = None
    duration_minutes: int | None = None
    video_url: str | None = None
    is_preview: bool | None = None
    is_required: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LessonCreate(LessonFields):
    """A new lesson, at the end of its course or at ``position`` (1-based)."""

    slug: str
    title: str
    position: int | None = None

    #: ``position`` is the service's own argument, not a lesson field (``command_values``).
    service_args: ClassVar[frozenset[str]] = frozenset({"position"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LessonUpdate(LessonFields):
    """Changes to a lesson; ``slug`` renames it."""

    slug: str | None = None
    title: str | None = None


class CourseRow(TypedDict):
    """A course in listings and ``--json`` output: the keys of ``COURSE.listing()``, in its
    order (a test holds them together); the instructor by e-mail, timestamps as ISO 8601."""

    id: int
    slug: str
    title: str
    description: str | None
    instructor_email: str
    category: str | None
    difficulty_level: str
    thumbnail_url: str | None
    estimated_duration_minutes: int | None
    is_published: bool
    external_id: str | None
    certificate_min_grade: float
    auto_certificate: bool
    created_at: str | None
    updated_at: str | None


class CourseDetail(CourseRow):
    """``courses show``: the course with its lesson and enrollment counts."""

    lessons: int
    enrollments: int


class LessonRow(TypedDict):
    """A lesson in listings and ``--json`` output: the keys of ``LESSON.listing()``."""

    id: int
    course_slug: str
    slug: str
    title: str
    lesson_type: str
    order_index: int
    content: str | None
    duration_minutes: int | None
    video_url: str | None
    is_preview: bool
    is_required: bool


class EnrollmentRow(TypedDict):
    """An enrollment in listings and ``--json`` output: the keys of ``ENROLLMENT.listing()``;
    the learner by e-mail and the course by slug, the percentage as a number."""

    id: int
    user_email: str
    course_slug: str
    status: str
    progress_percentage: float
    enrolled_at: str | None
    completed_at: str | None
    dropped_at: str | None
    rating: int | None
    review: str | None
