"""The catalog's stamp (migration a1c3e5f7b9d1, lms_core/catalog/stamp.py): every committed
change to a course, a lesson or a user's e-mail gives it a new value, and nothing else does;
the answers kept against it are given again only under the same stamp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lms_core.accounts.fields import UserUpdate
from lms_core.accounts.users import update_user
from lms_core.actor import Actor
from lms_core.catalog import courses, lessons
from lms_core.catalog.fields import CourseUpdate, LessonCreate, LessonUpdate
from lms_core.catalog.stamp import StampedAnswers, catalog_audience, catalog_stamp
from lms_core.models import CatalogStamp
from tests.conftest import Committed
from tests.factories import Factories

OPERATOR = Actor.operator("pytest")


def _stamp(site: Committed) -> str:
    with site.factory() as s:
        stamp = s.scalar(select(CatalogStamp.stamp))
        assert isinstance(stamp, str)
        return stamp


#: (what, the change, whether the catalog shows it); each runs in a transaction of its own.
CHANGES: list[tuple[str, Callable[[Session, dict[str, Any]], object], bool]] = [
    ("a course added", lambda s, r: Factories(s, r["hasher"], OPERATOR).course(), True),
    (
        "a course's title",
        lambda s, r: courses.update_course(
            s, actor=OPERATOR, slug="stamped", data=CourseUpdate(title="Retitled")
        ),
        True,
    ),
    (
        "a course published",
        lambda s, r: courses.publish_course(s, actor=OPERATOR, slug="stamped"),
        True,
    ),
    (
        "a lesson added",
        lambda s, r: lessons.add_lesson(
            s, actor=OPERATOR, course_slug="stamped", data=LessonCreate(slug="extra", title="Extra")
        ),
        True,
    ),
    (
        "a lesson's title",
        lambda s, r: lessons.update_lesson(
            s, actor=OPERATOR, course_slug="stamped", slug="extra", data=LessonUpdate(title="More")
        ),
        True,
    ),
    (
        "a lesson removed",
        lambda s, r: lessons.delete_lesson(s, actor=OPERATOR, course_slug="stamped", slug="extra"),
        True,
    ),
    (
        "the instructor's e-mail",
        lambda s, r: update_user(
            s, actor=OPERATOR, email=r["teacher"], data=UserUpdate(email="renamed@test.example")
        ),
        True,
    ),
    (
        "a course removed",
        lambda s, r: courses.delete_course(s, actor=OPERATOR, slug="stamped", force=True),
        True,
    ),
    (
        "a user's name",
        lambda s, r: update_user(
            s, actor=OPERATOR, email=r["learner"], data=UserUpdate(full_name="Someone Else")
        ),
        False,
    ),
    (
        "every e-mail set to itself",
        lambda s, r: s.execute(text("UPDATE users SET email = email")),
        False,
    ),
    ("a user added", lambda s, r: Factories(s, r["hasher"], OPERATOR).user("instructor"), False),
]


def test_each_change_the_catalog_shows_gives_a_new_stamp_and_nothing_else_does(
    committed: Committed, hasher: Any
) -> None:
    with committed.factory() as s:
        make = Factories(s, hasher, OPERATOR)
        teacher = make.user("instructor")
        learner = make.user("student")
        make.course(slug="stamped", instructor=teacher, lessons=2)
        s.commit()
        rows = {"hasher": hasher, "teacher": teacher.email, "learner": learner.email}
    seen = {_stamp(committed)}
    for what, change, shown in CHANGES:
        before = _stamp(committed)
        with committed.factory() as s:
            change(s, rows)
            s.commit()
        after = _stamp(committed)
        if shown:
            assert after != before and after not in seen, f"{what}: the stamp did not change"
        else:
            assert after == before, f"{what}: the stamp changed"
        seen.add(after)


def test_a_change_rolled_back_leaves_the_stamp(committed: Committed, hasher: Any) -> None:
    before = _stamp(committed)
    with committed.factory() as s:
        Factories(s, hasher, OPERATOR).course(lessons=1)
        s.rollback()
    assert _stamp(committed) == before


def test_the_stamp_vouches_for_nothing_inside_a_transaction_that_wrote(
    committed: Committed, hasher: Any, is_postgres: bool
) -> None:
    """PostgreSQL stamps at commit: until then the writer's own session reads changes the
    stamp does not count, and ``catalog_stamp`` says so (None). SQLite stamps at once."""
    with committed.factory() as s:
        assert catalog_stamp(s) == _stamp(committed)
        s.rollback()
        Factories(s, hasher, OPERATOR).course()
        s.flush()
        if is_postgres:
            assert catalog_stamp(s) is None
        else:
            assert catalog_stamp(s) not in (None, _stamp(committed))  # its own, not committed
        s.commit()
        assert catalog_stamp(s) == _stamp(committed)


def test_many_changes_in_one_transaction(
    committed: Committed, hasher: Any, is_postgres: bool
) -> None:
    """PostgreSQL: the trigger runs for each row changed, at commit, and writes the stamp's
    row once. SQLite: the stamp is written with each row, as each statement runs."""
    with committed.factory() as s:
        make = Factories(s, hasher, OPERATOR)
        seen = set()
        for _ in range(3):
            make.course(lessons=2)
            seen.add(s.scalar(select(CatalogStamp.stamp)))
        if is_postgres:
            assert seen == {_stamp(committed)}  # nothing written yet
            s.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred triggers run now
            written = s.scalar(
                text("SELECT pg_stat_get_xact_tuples_updated('catalog_stamp'::regclass)")
            )
            assert written == 1
        else:
            assert len(seen) == 3
        s.commit()
    if is_postgres:
        assert _stamp(committed) not in seen  # written at the commit
    else:
        assert _stamp(committed) in seen  # the last row's


def test_answers_are_given_again_only_under_their_stamp() -> None:
    answers: StampedAnswers[int] = StampedAnswers(2)
    built: list[str] = []

    def build(name: str) -> Callable[[], int]:
        def made() -> int:
            built.append(name)
            return len(built)

        return made

    assert answers.answer("a", "s1", build("a")) == 1
    assert answers.answer("a", "s1", build("a again")) == 1  # kept
    assert answers.answer("a", "s2", build("a, s2")) == 2  # a new stamp: built again
    assert answers.answer("a", None, build("a, no stamp")) == 3  # vouches for nothing
    assert answers.answer("a", "s2", build("a, s2 again")) == 2  # and kept nothing
    answers.answer("b", "s2", build("b"))
    answers.answer("a", "s2", build("-"))  # a used last: b is the older
    answers.answer("c", "s2", build("c"))  # over the bound: b goes
    assert len(answers) == 2
    answers.answer("b", "s2", build("b again"))
    assert built == ["a", "a, s2", "a, no stamp", "b", "c", "b again"]


def test_a_failed_build_keeps_nothing() -> None:
    answers: StampedAnswers[int] = StampedAnswers(4)

    def refuse() -> int:
        raise LookupError("no such course")

    with pytest.raises(LookupError):
        answers.answer("x", "s1", refuse)
    assert len(answers) == 0
    assert StampedAnswers[int](0).answer("x", "s1", lambda: 5) == 5  # size 0: nothing kept


def test_kept_answers_are_bounded_by_their_weight() -> None:
    """A heavy answer (a page of many courses) pushes out as many light ones; one heavier
    than the whole budget is answered and not kept."""
    answers: StampedAnswers[list[int]] = StampedAnswers(10, len)
    for key in "abcd":
        answers.answer(key, "s", lambda: [1, 2])  # 8 of 10
    answers.answer("heavy", "s", lambda: [0] * 6)  # 14: a and b go
    assert len(answers) == 3 and answers.weight == 10
    answers.answer("d", "t", lambda: [9])  # d replaced: its old weight goes with it
    assert len(answers) == 3 and answers.weight == 9
    assert answers.answer("huge", "s", lambda: [0] * 11) == [0] * 11
    assert answers.weight == 9 and len(answers) == 3


def test_the_triggers_are_there_at_head(committed: Committed, is_postgres: bool) -> None:
    """SQLite drops a table's triggers when a batch migration rebuilds it: a migration that
    rebuilds courses, lessons or users must make them again."""
    with committed.factory() as s:
        if is_postgres:
            found = s.scalars(
                text("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'catalog_stamp%'")
            ).all()
            expected = {
                "catalog_stamp_courses",
                "catalog_stamp_lessons",
                "catalog_stamp_courses_truncate",
                "catalog_stamp_lessons_truncate",
                "catalog_stamp_users",
            }
        else:
            found = s.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
            expected = {
                f"catalog_stamp_{table}_{event}"
                for table in ("courses", "lessons")
                for event in ("insert", "update", "delete")
            } | {"catalog_stamp_users"}
    assert set(found) == expected


def test_audiences(make: Any, operator: Actor) -> None:
    teacher, other = make.user("instructor"), make.user("instructor")
    assert catalog_audience(operator) == ("all", None)
    assert catalog_audience(Actor.for_user(make.user("admin"))) == ("all", None)
    assert catalog_audience(Actor.for_user(teacher)) == ("own", teacher.id)
    assert catalog_audience(Actor.for_user(other)) == ("own", other.id)
    assert catalog_audience(Actor.for_user(make.user("student"))) == ("published", None)
