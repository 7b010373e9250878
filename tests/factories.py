"""Factories that build real rows through the services (so the rules hold for test data too)."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from lms_core.accounts import users
from lms_core.accounts.fields import UserCreate
from lms_core.actor import Actor
from lms_core.catalog import courses, enrollments, lessons
from lms_core.catalog.fields import CourseCreate, LessonCreate
from lms_core.models import Course, Enrollment, Lesson, User
from lms_core.security import PasswordHasher

PASSWORD = "Corr3ct-Horse-Battery"
_seq = itertools.count(1)


class Factories:
    def __init__(self, session: Session, hasher: PasswordHasher, actor: Actor) -> None:
        self.session = session
        self.hasher = hasher
        self.actor = actor

    def user(
        self,
        role: str = "student",
        *,
        email: str | None = None,
        name: str | None = None,
        password: str | None = PASSWORD,
        **extra: object,
    ) -> User:
        n = next(_seq)
        data = UserCreate(
            email=email or f"{role}{n}@test.example",
            full_name=name or f"{role.title()} {n}",
            role=role,
            **extra,  # type: ignore[arg-type]
        )
        user, _ = users.create_user(
            self.session,
            actor=self.actor,
            data=data,
            password=password,
            hasher=self.hasher if password else None,
        )
        return user

    def course(
        self,
        *,
        slug: str | None = None,
        instructor: User | None = None,
        lessons: int = 0,
        published: bool = False,
        **extra: object,
    ) -> Course:
        n = next(_seq)
        instructor = instructor or self.user("instructor")
        extra.setdefault("title", f"Course {n}")
        data = CourseCreate(
            slug=slug or f"course-{n}",
            instructor_email=instructor.email,
            **extra,  # type: ignore[arg-type]
        )
        course = courses.create_course(self.session, actor=self.actor, data=data)
        for i in range(1, lessons + 1):
            self.lesson(course, slug=f"lesson-{i}")
        if published:
            courses.publish_course(self.session, actor=self.actor, slug=course.slug)
        self.session.refresh(course)
        return course

    def lesson(self, course: Course, *, slug: str, **extra: object) -> Lesson:
        extra.setdefault("title", slug.replace("-", " ").title())
        data = LessonCreate(slug=slug, **extra)  # type: ignore[arg-type]
        return lessons.add_lesson(
            self.session, actor=self.actor, course_slug=course.slug, data=data
        )

    def enroll(self, student: User | None = None, course: Course | None = None) -> Enrollment:
        student = student or self.user("student")
        course = course or self.course(lessons=2, published=True)
        return enrollments.enroll(
            self.session, actor=self.actor, email=student.email, course_slug=course.slug
        ).enrollment
