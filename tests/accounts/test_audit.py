"""The audit log: every change leaves one entry naming the actor, and no secret ever lands in it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import String, cast, select

import lms_core
from lms_core.accounts import audit, auth, mfa, tokens, users
from lms_core.accounts.fields import UserCreate, UserUpdate
from lms_core.actor import Actor
from lms_core.catalog import courses, enrollments, lessons
from lms_core.catalog.fields import CourseCreate, CourseUpdate, LessonCreate, LessonUpdate
from lms_core.models import AuditEntry, Role, TokenPurpose, User, utcnow
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.factories import PASSWORD
from tests.helpers import audit_json, audit_log


@dataclass
class World:
    session: Any
    actor: Actor
    make: Any
    hasher: PasswordHasher
    settings: Settings


@pytest.fixture
def world(session, make, hasher, admin_user, settings):
    # An admin user (not the operator) acts, so actor_id and actor_label can both be checked.
    return World(session, Actor.for_user(admin_user), make, hasher, settings)


def _course(w: World, n_lessons: int = 2, published: bool = True) -> str:
    teacher = w.make.user("instructor")
    courses.create_course(
        w.session,
        actor=w.actor,
        data=CourseCreate(slug="c1", title="C1", instructor_email=teacher.email),
    )
    for i in range(1, n_lessons + 1):
        lessons.add_lesson(
            w.session,
            actor=w.actor,
            course_slug="c1",
            data=LessonCreate(slug=f"lesson-{i}", title=f"L{i}"),
        )
    if published:
        courses.publish_course(w.session, actor=w.actor, slug="c1")
    return "c1"


def _enrolled(w: World) -> str:
    _course(w)
    enrollments.enroll(
        w.session, actor=w.actor, email=w.make.user(email="sam@x.org").email, course_slug="c1"
    )
    return "sam@x.org"


#: action -> (a change that writes it, which of before/after its entry carries)
CHANGES: dict[str, tuple[Callable[[World], object], str]] = {}


def change(action: str, shape: str) -> Callable[[Callable[[World], object]], None]:
    def register(fn: Callable[[World], object]) -> None:
        CHANGES[action] = (fn, shape)

    return register


@change("user.create", "after")
def _(w):
    users.create_user(
        w.session,
        actor=w.actor,
        password=PASSWORD,
        hasher=w.hasher,
        data=UserCreate(email="n@x.org", full_name="N"),
    )


@change("user.update", "both")
def _(w):
    users.update_user(
        w.session, actor=w.actor, email=w.make.user().email, data=UserUpdate(bio="hi")
    )


@change("user.set_role", "both")
def _(w):
    users.set_role(w.session, actor=w.actor, email=w.make.user().email, role="instructor")


@change("user.deactivate", "both")
def _(w):
    users.deactivate_user(w.session, actor=w.actor, email=w.make.user().email)


@change("user.reactivate", "both")
def _(w):
    email = w.make.user().email
    users.deactivate_user(w.session, actor=w.actor, email=email)
    users.reactivate_user(w.session, actor=w.actor, email=email)


@change("user.reset_password", "both")
def _(w):
    users.set_password(
        w.session,
        actor=w.actor,
        email=w.make.user().email,
        password="N3w-Secret-Pass",
        hasher=w.hasher,
    )


@change("user.unlock", "both")
def _(w):
    user = w.make.user()
    user.failed_login_attempts = 3
    w.session.flush()
    users.unlock_user(w.session, actor=w.actor, email=user.email)


@change("user.mfa.enroll", "both")
def _(w):
    mfa.enable(w.session, actor=w.actor, email=w.make.user().email, settings=w.settings)


@change("user.mfa.enable", "both")
def _(w):
    email = w.make.user().email
    found = mfa.enable(w.session, actor=w.actor, email=email, settings=w.settings)
    code = pyotp.TOTP(found.secret).now()
    mfa.confirm(w.session, actor=w.actor, email=email, code=code, settings=w.settings)


@change("user.mfa.disable", "both")
def _(w):
    email = w.make.user().email
    mfa.enable(w.session, actor=w.actor, email=email, settings=w.settings)
    mfa.disable(w.session, actor=w.actor, email=email)


@change("user.delete", "both")
def _(w):
    users.delete_user(w.session, actor=w.actor, email=w.make.user().email)


@change("user.purge", "after")
def _(w):
    users.delete_user(w.session, actor=w.actor, email=w.make.user().email, purge=True)


@change("token.issue.invitation", "none")
def _(w):
    tokens.issue_token(
        w.session, actor=w.actor, user=w.make.user(), purpose=TokenPurpose.invitation
    )


@change("course.create", "after")
def _(w):
    _course(w, n_lessons=0, published=False)


@change("course.update", "both")
def _(w):
    courses.update_course(w.session, actor=w.actor, slug=_course(w), data=CourseUpdate(title="New"))


@change("course.publish", "both")
def _(w):
    _course(w)


@change("course.unpublish", "both")
def _(w):
    courses.unpublish_course(w.session, actor=w.actor, slug=_course(w))


@change("course.delete", "before")
def _(w):
    courses.delete_course(w.session, actor=w.actor, slug=_course(w))


@change("course.reorder_lessons", "both")
def _(w):
    lessons.reorder_lessons(
        w.session, actor=w.actor, course_slug=_course(w), slugs=["lesson-2", "lesson-1"]
    )


@change("lesson.add", "after")
def _(w):
    _course(w, n_lessons=1)


@change("lesson.update", "both")
def _(w):
    lessons.update_lesson(
        w.session,
        actor=w.actor,
        course_slug=_course(w),
        slug="lesson-1",
        data=LessonUpdate(title="T"),
    )


@change("lesson.delete", "before")
def _(w):
    lessons.delete_lesson(w.session, actor=w.actor, course_slug=_course(w), slug="lesson-1")


@change("enrollment.create", "after")
def _(w):
    _enrolled(w)


@change("enrollment.drop", "both")
def _(w):
    enrollments.drop(w.session, actor=w.actor, email=_enrolled(w), course_slug="c1")


@change("enrollment.reenroll", "both")
def _(w):
    email = _enrolled(w)
    enrollments.drop(w.session, actor=w.actor, email=email, course_slug="c1")
    enrollments.enroll(w.session, actor=w.actor, email=email, course_slug="c1")


@change("enrollment.complete_lesson", "both")
def _(w):
    enrollments.complete_lesson(
        w.session, actor=w.actor, email=_enrolled(w), course_slug="c1", lesson_slug="lesson-1"
    )


@change("enrollment.review", "both")
def _(w):
    enrollments.review(w.session, actor=w.actor, email=_enrolled(w), course_slug="c1", rating=4)


@pytest.mark.parametrize("action", sorted(CHANGES))
def test_every_change_writes_an_entry_naming_the_actor(world, action):
    change, shape = CHANGES[action]
    change(world)
    entries = audit_log(world.session, action)
    assert entries, f"no {action} entry"
    entry = entries[-1]
    assert entry.actor_label == world.actor.label
    assert entry.actor_id == world.actor.user_id
    assert entry.created_at is not None
    assert entry.entity_type in {"users", "courses", "lessons", "enrollments"}
    assert entry.entity_id is not None
    expected_before, expected_after = {
        "after": (False, True),
        "before": (True, False),
        "both": (True, True),
        "none": (False, False),
    }[shape]
    assert (entry.before is not None) is expected_before
    assert (entry.after is not None and entry.after != {}) is expected_after


def test_the_table_above_covers_every_action_the_services_write():
    # A new audited action must join CHANGES (user.lock, user.verify_email, user.login and
    # demo.generate are written by another actor than the caller and have tests of their own:
    # user.login in tests/accounts/test_web_sessions.py; user.logout, the API's, in
    # tests/api/test_auth.py).
    written = set()
    for module in Path(lms_core.__file__).parent.rglob("*.py"):
        if module.parent.name == "events":  # event types (docs/webhooks.md), not audit actions
            continue
        written |= set(
            re.findall(
                r'"((?:user|course|lesson|enrollment|token|demo)\.[a-z_.]+)"',
                module.read_text(encoding="utf-8"),
            )
        )
    assert written - set(CHANGES) == {
        "user.lock",
        "user.verify_email",
        "user.login",
        "user.logout",
        "user.mfa.recovery_code_used",  # system:auth, tests/accounts/test_mfa.py
        "demo.generate",
    }


def test_password_hash_never_appears_in_any_audit_json(session, make, operator, hasher, settings):
    user = make.user("instructor", email="ada@x.org")
    users.create_user(
        session,
        actor=operator,
        password="An0ther-Password",
        hasher=hasher,
        update_existing=True,
        data=UserCreate(email="ada@x.org", full_name="Ada 2", role="instructor"),
    )
    users.set_password(
        session, actor=operator, email=user.email, password="Third-Passw0rd", hasher=hasher
    )
    for _ in range(settings.lockout_threshold):
        auth.authenticate(
            session, email=user.email, password="wrong-password-9", hasher=hasher, settings=settings
        )
    users.unlock_user(session, actor=operator, email=user.email)
    stronger = PasswordHasher.from_settings(settings.model_copy(update={"password_time_cost": 2}))
    assert auth.authenticate(
        session, email=user.email, password="Third-Passw0rd", hasher=stronger, settings=settings
    ).ok
    raw = tokens.issue_token(
        session, actor=operator, user=user, purpose=TokenPurpose.password_reset
    )
    tokens.reset_password_with_token(session, raw=raw, password="Fourth-Passw0rd", hasher=hasher)
    users.delete_user(session, actor=operator, email=user.email, purge=True)

    entries = audit_log(session)
    assert len(entries) >= 6
    stored = [
        f"{before} {after}"
        for before, after in session.execute(
            select(cast(AuditEntry.before, String), cast(AuditEntry.after, String))
        )
    ]
    for text in [audit_json(e) for e in entries] + stored:
        assert "password_hash" not in text
        assert "$argon2" not in text
        assert "token_hash" not in text
        assert raw not in text
        for password in (PASSWORD, "An0ther-Password", "Third-Passw0rd", "Fourth-Passw0rd"):
            assert password not in text


def test_snapshot_leaves_secrets_out_and_makes_values_json_ready():
    class Thing:
        password_hash = "$argon2id$..."
        token_hash = "abc"
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        day = date(2026, 1, 2)
        amount = Decimal("33.33")
        role = Role.admin
        name = "x"

    snap = audit.snapshot(
        Thing(), ["password_hash", "token_hash", "when", "day", "amount", "role", "name"]
    )
    assert snap == {
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "amount": 33.33,
        "role": "admin",
        "name": "x",
    }


def test_changed_keeps_only_the_fields_that_differ():
    assert audit.changed({"a": 1, "b": 2, "c": None}, {"a": 1, "b": 3, "c": "x"}) == {
        "b": 3,
        "c": "x",
    }
    assert audit.changed({"a": 1}, {"a": 1}) == {}


def test_entries_for_an_entity_in_order(session, operator, make):
    user = make.user()
    users.update_user(session, actor=operator, email=user.email, data=UserUpdate(bio="one"))
    users.update_user(session, actor=operator, email=user.email, data=UserUpdate(bio="two"))
    make.user()
    assert [
        (e.action, (e.after or {}).get("bio")) for e in audit.entries_for(session, "users", user.id)
    ] == [("user.create", None), ("user.update", "one"), ("user.update", "two")]


def test_entries_by_a_user_keep_their_label_and_id(session, make, learner):
    users.update_user(
        session, actor=Actor.for_user(learner), email=learner.email, data=UserUpdate(bio="me")
    )
    [entry] = audit_log(session, "user.update")
    assert (entry.actor_id, entry.actor_label) == (learner.id, learner.email)


def test_system_actors_are_labelled(session, make):
    actor = Actor.system("nightly")
    assert (actor.label, actor.is_admin, actor.user_id) == ("system:nightly", True, None)
    user = make.user()
    audit.record(session, actor, "user.touch", user, after={"at": utcnow().isoformat()})
    [entry] = audit_log(session, "user.touch")
    assert (entry.actor_label, entry.actor_id, entry.entity_id) == ("system:nightly", None, user.id)


def test_entries_survive_their_actor_being_soft_deleted(session, operator, make, admin_user):
    other_admin = make.user("admin")
    users.update_user(
        session,
        actor=Actor.for_user(admin_user),
        email=admin_user.email,
        data=UserUpdate(bio="bye"),
    )
    users.delete_user(session, actor=Actor.for_user(other_admin), email=admin_user.email)
    [entry] = audit_log(session, "user.update")
    assert (entry.actor_id, entry.actor_label) == (admin_user.id, admin_user.email)
    assert session.get(User, admin_user.id) is not None
