"""Role checks shared by the services: one place says who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models.users import Role


class ManagedCourse(Protocol):
    """What the course checks read of a course: a ``Course``, or a row of plain columns
    (the API's outline, :mod:`lms_core.catalog.kept_reads`)."""

    @property
    def slug(self) -> str: ...

    @property
    def instructor_id(self) -> int: ...


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only an administrator may {what} (acting as {actor.label})")


def can_manage_course(actor: Actor, course: ManagedCourse) -> bool:
    """Admins manage every course; instructors only their own. The role is checked too: a
    user moved from instructor to student keeps ``Course.instructor_id`` until a course gets
    a new instructor, and must not keep managing it (the listings, :mod:`lms_core.scopes`,
    already show such a user no course as theirs)."""
    if actor.is_admin:
        return True
    return actor.role is Role.instructor and actor.is_user(course.instructor_id)


def require_course_manager(actor: Actor, course: ManagedCourse, what: str) -> None:
    if not can_manage_course(actor, course):
        raise PermissionDenied(
            f"only the course's instructor or an administrator may {what} "
            f"(course {course.slug}, acting as {actor.label})"
        )


class Who(StrEnum):
    """Who may run a command, from the most to the least restricted."""

    #: An administrator, the operator at the shell (no ``--as``) or a system job.
    admin = "admin"
    #: Also an instructor, for the courses they teach (admins for every course).
    instructor = "instructor"
    #: Any active user for their own account, enrollments, attempts, submissions and files;
    #: staff for the learners of their courses, administrators for everyone.
    own = "own"
    #: Any active user: what it shows is public (published courses, a certificate's status).
    anyone = "anyone"


@dataclass(frozen=True)
class Rule:
    who: Who
    #: What the level alone does not say.
    note: str = ""


_A, _I, _O, _E = Who.admin, Who.instructor, Who.own, Who.anyone

#: Who may run each ``lmsctl`` command (``"group command"``). The services enforce it: each
#: takes the actor and checks. ``tests/cli/test_rights_every_command.py`` runs every registered
#: command as a learner (and the admin-only ones as an instructor) against this table, and
#: fails on a command without a row. docs/cli-rules.md ("Who may run what") shows it.
COMMAND_RULES: dict[str, Rule] = {
    "init": Rule(
        _A, "acting as a user needs an initialised database: the first run has nobody to act as"
    ),
    "doctor": Rule(_A),
    "db upgrade": Rule(_A),
    "db downgrade": Rule(_A),
    "db current": Rule(_A),
    "db check": Rule(_A),
    "users create": Rule(_A),
    "users list": Rule(_A),
    "users show": Rule(_O),
    "users update": Rule(_O, "role and active state: administrators only"),
    "users deactivate": Rule(_A),
    "users reactivate": Rule(_A),
    "users unlock": Rule(_A),
    "users set-role": Rule(_A),
    "users reset-password": Rule(_O),
    "users delete": Rule(_A),
    "users invite": Rule(_A),
    "users mfa enable": Rule(_O, "administrators for anyone (they hand the QR over)"),
    "users mfa confirm": Rule(_O),
    "users mfa disable": Rule(_O, "administrators for anyone: a lost phone"),
    "users mfa status": Rule(_O),
    "email test": Rule(_A),
    "email outbox": Rule(_A, "the outbox holds every mail's address and subject"),
    "backup create": Rule(_A, "a backup holds every password hash and upload"),
    "backup list": Rule(_A),
    "backup verify": Rule(_A),
    "backup restore": Rule(_A),
    "backup prune": Rule(_A),
    "courses create": Rule(_I),
    "courses list": Rule(_E, "learners see published courses"),
    "courses show": Rule(_E, "learners see published courses"),
    "courses update": Rule(_I),
    "courses publish": Rule(_I),
    "courses unpublish": Rule(_I),
    "courses delete": Rule(_I),
    "lessons add": Rule(_I),
    "lessons list": Rule(_E),
    "lessons update": Rule(_I),
    "lessons delete": Rule(_I),
    "lessons reorder": Rule(_I),
    "enrollments enroll": Rule(_O, "learners enroll themselves in published courses"),
    "enrollments drop": Rule(_O),
    "enrollments list": Rule(_O),
    "enrollments complete-lesson": Rule(_O),
    "enrollments review": Rule(_O),
    "certificates eligible": Rule(_I),
    "certificates issue": Rule(_I),
    "certificates verify": Rule(_E),
    "certificates revoke": Rule(_I),
    "certificates reissue": Rule(_I),
    "certificates reinstate": Rule(_A, "a revocation stands until an administrator lifts it"),
    "certificates list": Rule(_O),
    "certificates export": Rule(_I),
    "certificates preview": Rule(_E, "renders a sample; reads no data"),
    "quizzes create": Rule(_I),
    "quizzes update": Rule(_I),
    "quizzes list": Rule(_E),
    "quizzes show": Rule(_E, "the answer key only to the course's staff"),
    "quizzes publish": Rule(_I),
    "quizzes questions": Rule(_I),
    "quizzes remove-question": Rule(_I),
    "quizzes import": Rule(_I),
    "quizzes export": Rule(_I),
    "quizzes attempts": Rule(_I),
    "quizzes attempt": Rule(_O),
    "quizzes regrade": Rule(_I),
    "quizzes close-overdue": Rule(_A, "every course's attempts: for cron"),
    "quizzes start": Rule(_O),
    "quizzes answer": Rule(_O),
    "quizzes submit": Rule(_O),
    "quizzes grade-essay": Rule(_I),
    "files upload": Rule(_O),
    "files list": Rule(_O),
    "files delete": Rule(_O),
    "files download": Rule(_O),
    "assignments create": Rule(_I),
    "assignments update": Rule(_I),
    "assignments list": Rule(_E),
    "assignments show": Rule(_E),
    "submissions list": Rule(_O),
    "submissions submit": Rule(_O),
    "submissions grade": Rule(_I),
    "grading export": Rule(_I),
    "grading import": Rule(_I),
    "gradebook export": Rule(_I),
    "reports student": Rule(_O, "instructors: their learners' enrollments in their courses"),
    "reports instructor": Rule(_I, "instructors: their own report"),
    "reports course": Rule(_I),
    "reports system": Rule(_A),
    "reports chart": Rule(_I),
    "import users": Rule(_A),
    "import courses": Rule(_A),
    "import enrollments": Rule(_A),
    "import oneroster": Rule(_A),
    "import apply": Rule(_A),
    "import history": Rule(_A),
    "import undo": Rule(_A),
    "import template": Rule(_E, "an empty file with one example row; reads no data"),
    "export users": Rule(_A),
    "export courses": Rule(_I, "instructors export their own courses"),
    "export enrollments": Rule(_I, "instructors export their own courses' enrollments"),
    "demo seed": Rule(_A),
    "demo generate": Rule(_A),
    "jobs worker": Rule(_A),
    "jobs run-due": Rule(_A),
    "jobs list": Rule(_A, "jobs carry their arguments: ids, e-mail addresses"),
    "jobs show": Rule(_A),
    "jobs retry": Rule(_A),
    "jobs cancel": Rule(_A),
    "webhooks add": Rule(_A),
    "webhooks list": Rule(_A, "endpoint URLs may carry tokens"),
    "webhooks test": Rule(_A),
    "webhooks deliveries": Rule(_A, "the delivery log holds receivers' answers"),
    "webhooks replay": Rule(_A),
    "webhooks disable": Rule(_A),
    "webhooks enable": Rule(_A),
    "api openapi": Rule(_E, "describes the API; reads no data"),
    "api postman": Rule(_E, "describes the API; reads no data"),
    "tokens create": Rule(_O, "a token acts as its user, narrowed to its scopes"),
    "tokens list": Rule(_O, "administrators see every user's tokens"),
    "tokens revoke": Rule(_O),
    "schedules add": Rule(_A),
    "schedules list": Rule(_A),
    "schedules remove": Rule(_A),
    "schedules run": Rule(_A),
    "serve": Rule(_A, "the back office itself lets each user in by role"),
}
