"""The API's answer models, built from the rows the CLI's ``--json`` prints.

Each row type (``CourseRow``, ``EnrollmentRow``, ...) is the field spec's listing as a
TypedDict; its pydantic twin is made from its annotations here, so the OpenAPI document and
the CLI's JSON cannot drift apart (pydantic reads ``typing.TypedDict`` only on Python 3.12+).
"""

from __future__ import annotations

from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

from pydantic import BaseModel, ConfigDict, Field, create_model

from lms_core.catalog.fields import CourseRow, EnrollmentRow, LessonRow
from lms_core.certificates.registry import CertificateRow

#: The most rows one page holds (the CLI allows more; an HTTP answer stays small).
MAX_PER_PAGE = 100
#: The largest page number asked for (a hostile 10**30 is refused, not sent to SQL).
MAX_PAGE = 1_000_000


def _field_type(hint: Any) -> Any:
    """A row's field type for pydantic: a nested TypedDict (or a list of them) as its twin."""
    if is_typeddict(hint):
        return twin(hint.__name__, hint)
    if get_origin(hint) is list and get_args(hint) and is_typeddict(get_args(hint)[0]):
        item = get_args(hint)[0]
        return list[twin(item.__name__, item)]  # type: ignore[misc]
    return hint


def twin(name: str, row: type, *, leave_out: tuple[str, ...] = ()) -> type[BaseModel]:
    fields: dict[str, Any] = {
        key: (_field_type(hint), ...)
        for key, hint in get_type_hints(row).items()
        if key not in leave_out
    }
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(extra="ignore"), __doc__=row.__doc__, **fields
    )
    return model


Course = twin("Course", CourseRow)
Lesson = twin("Lesson", LessonRow)
#: A lesson in a course outline: what a visitor may read before enrolling (no content).
OutlineLesson = twin("OutlineLesson", LessonRow, leave_out=("content", "video_url", "course_slug"))
Enrollment = twin("Enrollment", EnrollmentRow)
Certificate = twin("Certificate", CertificateRow)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


class PageInfo(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int
