"""The column names of our import templates and exports: an interface users' scripts rely on.

The same names are the models' field names, the CSV headers, the XLSX headers and the JSON
keys, so an export can be edited and imported again. Change them only with a changelog entry.
"""

from __future__ import annotations

from typing import Final

#: Users: ``external_id`` (else ``email``) is the key. ``password`` is never exported.
USER_COLUMNS: Final = ("external_id", "email", "full_name", "role", "password", "is_active")
USER_REQUIRED: Final = ("email", "full_name", "role")

#: Courses: ``external_id`` (else ``slug``) is the key.
COURSE_COLUMNS: Final = (
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
)
COURSE_REQUIRED: Final = ("slug", "title", "instructor_email")

#: Lessons, a second file or a second sheet (``lessons``) of a courses import.
LESSON_COLUMNS: Final = (
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
)
LESSON_REQUIRED: Final = ("course_slug", "slug", "title")

#: Enrollments: the user by ``user_email`` or ``user_external_id``, the course by
#: ``course_slug`` or ``course_external_id``; one of each pair is required.
ENROLLMENT_COLUMNS: Final = (
    "user_email",
    "user_external_id",
    "course_slug",
    "course_external_id",
    "status",
)

#: Columns that hold identifiers: text, even when they look like numbers (leading zeros).
IDENTIFIER_COLUMNS: Final = frozenset(
    {"external_id", "user_external_id", "course_external_id", "sourcedId"}
)

COLUMNS: Final = {
    "users": USER_COLUMNS,
    "courses": COURSE_COLUMNS,
    "lessons": LESSON_COLUMNS,
    "enrollments": ENROLLMENT_COLUMNS,
}
