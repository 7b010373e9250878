"""All models, imported together so the metadata is complete for Alembic and the services."""

from lms_core.models.audit import AuditEntry
from lms_core.models.base import Base, utcnow
from lms_core.models.certificates import Certificate
from lms_core.models.courses import Course, DifficultyLevel, Lesson, LessonType
from lms_core.models.enrollments import Enrollment, EnrollmentStatus, LessonProgress
from lms_core.models.users import OneTimeToken, Role, TokenPurpose, User

__all__ = [
    "AuditEntry",
    "Base",
    "Certificate",
    "Course",
    "DifficultyLevel",
    "Enrollment",
    "EnrollmentStatus",
    "Lesson",
    "LessonProgress",
    "LessonType",
    "OneTimeToken",
    "Role",
    "TokenPurpose",
    "User",
    "utcnow",
]
