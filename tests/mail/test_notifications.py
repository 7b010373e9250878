"""Learner notifications: enrolled, completed, certificate issued; once each; a switch to stop them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.catalog.progress import complete_lesson_for_many
from lms_core.models import Lesson, OutboxMail
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.cli.helpers import ok, ok_json
from tests.conftest import Cli
from tests.mail.smtp_server import Server

Factory = Callable[[], Session]
SITE = "https://lms.school.example"


def mails(factory: Factory) -> list[tuple[str, str, str]]:
    with factory() as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id))
        return [(m.template, m.to_address, m.key) for m in rows]


def body(message: Any) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_enrolled_completed_and_certified_learners_get_one_mail_each(
    mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    course = make.course(slug="algebra", lessons=1, published=True)
    ada = make.user(email="ada@x.org", name="Ada Lovelace")
    ok(mail_cli("enrollments", "enroll", ada.email, course.slug))
    ok(mail_cli("enrollments", "enroll", ada.email, course.slug))  # unchanged: no second mail
    ok(mail_cli("jobs", "run-due"))
    [enrolled] = smtp_server.messages
    assert enrolled["To"] == ada.email and course.title in enrolled["Subject"]
    assert f"{SITE}/courses/algebra" in body(enrolled)
    ok(mail_cli("enrollments", "complete-lesson", ada.email, course.slug, "lesson-1"))
    ok(mail_cli("jobs", "run-due"))
    completed = smtp_server.messages[1]
    assert completed["To"] == ada.email and "completed" in completed["Subject"]
    [issued] = ok_json(mail_cli("certificates", "issue", "algebra", "--json"))["issued"]
    ok(mail_cli("jobs", "run-due"))
    certified = smtp_server.messages[2]
    assert certified["To"] == ada.email
    assert f"{SITE}/verify/{issued['number']}" in body(certified)
    # Issued again (nothing new), run again: nothing more.
    ok(mail_cli("certificates", "issue", "algebra"))
    ok(mail_cli("jobs", "run-due"))
    assert len(smtp_server.messages) == 3
    assert [t for t, _to, _key in mails(mail_cli.factory)] == [
        "enrollment",
        "course_completion",
        "certificate_issued",
    ]


def test_notifications_off_queue_no_mail(
    mail_settings: Settings, session_factory: Factory, smtp_server: Server, make: Any
) -> None:
    off = Cli(mail_settings.model_copy(update={"mail_notifications": False}), session_factory)
    course = make.course(slug="algebra", lessons=1, published=True)
    ada = make.user(email="ada@x.org")
    ok(off("enrollments", "enroll", ada.email, course.slug))
    ok(off("enrollments", "complete-lesson", ada.email, course.slug, "lesson-1"))
    ok(off("certificates", "issue", "algebra"))
    ok(off("jobs", "run-due"))
    assert mails(session_factory) == [] and smtp_server.messages == []


def test_a_bulk_completion_queues_one_job_and_a_mail_per_learner(
    session: Session, session_factory: Factory, mail_settings: Settings, make: Any
) -> None:
    from lms_core.jobs.groups import run_due

    course = make.course(slug="algebra", lessons=1, published=True)
    learners = [make.user(email=f"l{n}@x.org") for n in range(3)]
    ids = [make.enroll(learner, course).id for learner in learners]
    session.execute(Job.__table__.delete())  # the enrollment notices: not this test's subject
    lesson = session.scalars(select(Lesson).where(Lesson.course_id == course.id)).one()
    assert complete_lesson_for_many(session, lesson, ids) == 3
    notify = session.scalars(select(Job).where(Job.kind == "mail.notify")).all()
    assert [j.args for j in notify] == [{"template": "course_completion", "enrollment_ids": ids}]
    session.commit()
    run_due(session_factory, mail_settings)
    assert [(t, to) for t, to, _ in mails(session_factory)] == [
        ("course_completion", learner.email) for learner in learners
    ]
    # A second completion of the same enrollments (after a re-enrollment) mails nothing more.
    from lms_core.mail.notify import mail_enrollments

    with session_factory() as again, again.begin():
        assert mail_enrollments(again, mail_settings, "course_completion", ids) == 0
    assert len(mails(session_factory)) == 3
