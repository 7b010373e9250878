"""All models, imported together so the metadata is complete for Alembic and the services."""

from lms_core.models.api_tokens import ApiToken, ApiTokenKind
from lms_core.models.assignments import Assignment, LatePolicy, Submission, submission_files
from lms_core.models.audit import AuditEntry
from lms_core.models.base import Base, utcnow
from lms_core.models.certificates import Certificate
from lms_core.models.courses import CatalogStamp, Course, DifficultyLevel, Lesson, LessonType
from lms_core.models.enrollments import Enrollment, EnrollmentStatus, LessonProgress
from lms_core.models.files import StoredFile
from lms_core.models.identity import DatabaseIdentity
from lms_core.models.imports import ChangeAction, ImportChange, ImportMode, ImportRun, ImportStatus
from lms_core.models.jobs import Job, JobStatus
from lms_core.models.mail import MailStatus, OutboxMail
from lms_core.models.quizzes import (
    Attempt,
    AttemptStatus,
    GradingMethod,
    Question,
    QuestionType,
    Quiz,
    QuizType,
)
from lms_core.models.schedules import ExportKind, ExportSchedule
from lms_core.models.users import (
    MfaRecoveryCode,
    OneTimeToken,
    Role,
    TokenPurpose,
    User,
    WebSession,
)
from lms_core.models.webhooks import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiToken",
    "ApiTokenKind",
    "Assignment",
    "Attempt",
    "AttemptStatus",
    "AuditEntry",
    "Base",
    "CatalogStamp",
    "Certificate",
    "ChangeAction",
    "Course",
    "DatabaseIdentity",
    "DeliveryStatus",
    "DifficultyLevel",
    "Enrollment",
    "EnrollmentStatus",
    "Event",
    "ExportKind",
    "ExportSchedule",
    "GradingMethod",
    "ImportChange",
    "ImportMode",
    "ImportRun",
    "ImportStatus",
    "Job",
    "JobStatus",
    "LatePolicy",
    "Lesson",
    "LessonProgress",
    "LessonType",
    "MailStatus",
    "MfaRecoveryCode",
    "OneTimeToken",
    "OutboxMail",
    "Question",
    "QuestionType",
    "Quiz",
    "QuizType",
    "Role",
    "StoredFile",
    "Submission",
    "TokenPurpose",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "submission_files",
    "utcnow",
]
