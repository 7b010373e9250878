"""Courses: who creates and manages them, slug rules, publishing, deletion, visibility."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lms_core.accounts import audit, users
from lms_core.catalog import courses, enrollments, kept_reads, lessons
from lms_core.catalog.fields import CourseCreate, CourseUpdate
from lms_core.errors import Conflict, ErrorList, NotFound, PermissionDenied, ValidationError
from lms_core.models import Course, Enrollment, Lesson, LessonProgress
from tests.helpers import as_, audit_log, fields_of


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


# --- create -----------------------------------------------------------------------------------


def test_instructor_creates_a_course_for_themselves(session, teacher):
    course = courses.create_course(
        session, actor=as_(teacher), data=CourseCreate(slug="intro-python", title=" Intro ")
    )
    assert course.instructor_id == teacher.id
    assert course.title == "Intro"
    assert course.is_published is False
    assert course.difficulty_level == "beginner"


def test_instructor_may_name_themselves(session, teacher):
    course = courses.create_course(
        session,
        actor=as_(teacher),
        data=CourseCreate(slug="c1", title="C", instructor_email=teacher.email.upper()),
    )
    assert course.instructor_id == teacher.id


def test_instructor_cannot_create_a_course_for_someone_else(session, make, teacher):
    other = make.user("instructor")
    with pytest.raises(PermissionDenied, match="only create courses they teach themselves"):
        courses.create_course(
            session,
            actor=as_(teacher),
            data=CourseCreate(slug="c1", title="C", instructor_email=other.email),
        )
    assert count(session, Course) == 0


def test_students_cannot_create_courses(session, learner):
    with pytest.raises(PermissionDenied, match="students cannot create courses"):
        courses.create_course(session, actor=as_(learner), data=CourseCreate(slug="c1", title="C"))


def test_admin_must_name_an_instructor(session, operator):
    with pytest.raises(ValidationError, match="is required") as err:
        courses.create_course(session, actor=operator, data=CourseCreate(slug="c1", title="C"))
    assert err.value.field == "instructor_email"


def test_admin_creates_a_course_for_an_instructor(session, operator, teacher):
    course = courses.create_course(
        session,
        actor=operator,
        data=CourseCreate(slug="c1", title="C", instructor_email=teacher.email),
    )
    assert course.instructor.email == teacher.email


def test_an_admin_may_teach_a_course(session, operator, admin_user):
    course = courses.create_course(
        session,
        actor=operator,
        data=CourseCreate(slug="c1", title="C", instructor_email=admin_user.email),
    )
    assert course.instructor_id == admin_user.id


def test_an_admin_user_without_instructor_teaches_it_themselves(session, admin_user):
    course = courses.create_course(
        session, actor=as_(admin_user), data=CourseCreate(slug="c1", title="C")
    )
    assert course.instructor_id == admin_user.id


def test_the_instructor_must_not_be_a_student(session, operator, learner):
    with pytest.raises(ValidationError, match="is not an active instructor") as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug="c1", title="C", instructor_email=learner.email),
        )
    assert err.value.field == "instructor_email"


def test_the_instructor_must_be_active(session, operator, teacher):
    users.deactivate_user(session, actor=operator, email=teacher.email)
    with pytest.raises(ValidationError, match="is not an active instructor"):
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug="c1", title="C", instructor_email=teacher.email),
        )


def test_the_instructor_must_exist(session, operator):
    with pytest.raises(NotFound):
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug="c1", title="C", instructor_email="ghost@x.org"),
        )


def test_create_takes_every_optional_field(session, operator, teacher):
    course = courses.create_course(
        session,
        actor=operator,
        data=CourseCreate(
            slug="sql-101",
            title="SQL",
            instructor_email=teacher.email,
            description=" Joins ",
            category="databases",
            difficulty_level="Advanced",
            thumbnail_url="https://img.example.org/sql.png",
            estimated_duration_minutes=90,
            external_id="SIS-C1",
        ),
    )
    assert (course.description, course.category, course.difficulty_level) == (
        "Joins",
        "databases",
        "advanced",
    )
    assert (course.thumbnail_url, course.estimated_duration_minutes, course.external_id) == (
        "https://img.example.org/sql.png",
        90,
        "SIS-C1",
    )


@pytest.mark.parametrize(
    "slug",
    [
        "Intro",
        "intro python",
        "intro--python",
        "-intro",
        "intro-",
        "intro_py",
        "café",
    ],
)
def test_bad_slugs_are_refused(session, operator, teacher, slug):
    with pytest.raises(
        ValidationError, match="lower-case letters, digits and single dashes"
    ) as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug=slug, title="C", instructor_email=teacher.email),
        )
    assert err.value.field == "slug"


def test_a_slug_longer_than_its_field_says_so(session, operator, teacher):
    with pytest.raises(ValidationError) as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug="x" * 101, title="C", instructor_email=teacher.email),
        )
    assert (err.value.field, err.value.message) == ("slug", "is longer than 100 characters")


@pytest.mark.parametrize("slug", ["", "   "])
def test_empty_slugs_are_required(session, operator, teacher, slug):
    with pytest.raises(ValidationError, match="is required") as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug=slug, title="C", instructor_email=teacher.email),
        )
    assert err.value.field == "slug"


@pytest.mark.parametrize("slug", ["a", "intro-to-python-3", "x" * 100, " padded "])
def test_good_slugs_are_accepted(session, operator, teacher, slug):
    course = courses.create_course(
        session,
        actor=operator,
        data=CourseCreate(slug=slug, title="C", instructor_email=teacher.email),
    )
    assert course.slug == slug.strip()


def test_several_bad_fields_are_reported_together(session, operator, teacher):
    with pytest.raises(ErrorList) as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(
                slug="Bad Slug",
                title="",
                instructor_email=teacher.email,
                difficulty_level="expert",
                thumbnail_url="not a url",
                estimated_duration_minutes=-5,
            ),
        )
    assert fields_of(err.value) == {
        "slug",
        "title",
        "difficulty_level",
        "thumbnail_url",
        "estimated_duration_minutes",
    }


def test_duplicate_slug_is_refused(session, operator, make, teacher):
    make.course(slug="taken")
    with pytest.raises(Conflict, match="slug taken already exists") as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(slug="taken", title="C", instructor_email=teacher.email),
        )
    assert err.value.field == "slug"


def test_duplicate_external_id_is_refused(session, operator, make, teacher):
    make.course(slug="first", external_id="SIS-1")
    with pytest.raises(Conflict, match="already belongs to course first") as err:
        courses.create_course(
            session,
            actor=operator,
            data=CourseCreate(
                slug="second", title="C", instructor_email=teacher.email, external_id="SIS-1"
            ),
        )
    assert err.value.field == "external_id"


def test_create_is_audited(session, teacher):
    course = courses.create_course(
        session, actor=as_(teacher), data=CourseCreate(slug="c1", title="C")
    )
    [entry] = audit_log(session, "course.create")
    assert (entry.actor_label, entry.actor_id) == (teacher.email, teacher.id)
    assert (entry.entity_type, entry.entity_id) == ("courses", course.id)
    assert entry.after["slug"] == "c1"
    assert entry.after["instructor_id"] == teacher.id


# --- update -----------------------------------------------------------------------------------


def test_owner_updates_their_course(session, make, teacher):
    course = make.course(instructor=teacher, slug="c1")
    courses.update_course(
        session,
        actor=as_(teacher),
        slug="c1",
        data=CourseUpdate(title="New title", category="art", estimated_duration_minutes=0),
    )
    assert (course.title, course.category, course.estimated_duration_minutes) == (
        "New title",
        "art",
        0,
    )
    [entry] = audit_log(session, "course.update")
    assert entry.after == {"title": "New title", "category": "art", "estimated_duration_minutes": 0}
    assert entry.before["category"] is None


def test_another_instructor_cannot_update_it(session, make, teacher):
    course = make.course(slug="c1")
    with pytest.raises(PermissionDenied, match="course c1"):
        courses.update_course(
            session, actor=as_(teacher), slug="c1", data=CourseUpdate(title="Mine now")
        )
    assert course.title != "Mine now"


def test_a_student_cannot_update_a_course(session, make, learner):
    make.course(slug="c1")
    with pytest.raises(PermissionDenied):
        courses.update_course(session, actor=as_(learner), slug="c1", data=CourseUpdate(title="X"))


def test_only_an_admin_changes_the_instructor(session, operator, make, teacher):
    course = make.course(instructor=teacher, slug="c1")
    other = make.user("instructor")
    with pytest.raises(
        PermissionDenied, match="only an administrator may change a course's instructor"
    ):
        courses.update_course(
            session, actor=as_(teacher), slug="c1", data=CourseUpdate(instructor_email=other.email)
        )
    courses.update_course(
        session, actor=operator, slug="c1", data=CourseUpdate(instructor_email=other.email)
    )
    assert course.instructor_id == other.id
    assert course.instructor.email == other.email


def test_new_instructor_must_be_an_active_instructor(session, operator, make, learner):
    make.course(slug="c1")
    with pytest.raises(ValidationError, match="not an active instructor"):
        courses.update_course(
            session, actor=operator, slug="c1", data=CourseUpdate(instructor_email=learner.email)
        )


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_new_instructor_is_required_not_a_crash(session, operator, make, cli, empty):
    """``courses update py --instructor ""`` once reached the user lookup with None."""
    course = make.course(slug="py")
    with pytest.raises(ValidationError) as err:
        courses.update_course(
            session, actor=operator, slug="py", data=CourseUpdate(instructor_email=empty)
        )
    assert (err.value.field, err.value.message) == ("instructor_email", "is required")
    result = cli("courses", "update", "py", "--instructor", empty)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "instructor_email: is required" in result.output
    assert "Traceback" not in result.output
    assert courses.get_course(session, "py").instructor_id == course.instructor_id


def test_rename_slug_and_refuse_a_taken_one(session, operator, make):
    course = make.course(slug="old")
    make.course(slug="taken")
    with pytest.raises(Conflict, match="slug taken already exists"):
        courses.update_course(session, actor=operator, slug="old", data=CourseUpdate(slug="taken"))
    courses.update_course(session, actor=operator, slug="old", data=CourseUpdate(slug="new"))
    assert course.slug == "new"
    assert courses.get_course(session, "new").id == course.id
    with pytest.raises(NotFound):
        courses.get_course(session, "old")


def test_update_refuses_an_external_id_of_another_course(session, operator, make):
    make.course(slug="a", external_id="SIS-1")
    make.course(slug="b")
    with pytest.raises(Conflict):
        courses.update_course(
            session, actor=operator, slug="b", data=CourseUpdate(external_id="SIS-1")
        )
    courses.update_course(
        session,
        actor=operator,
        slug="a",
        data=CourseUpdate(external_id="SIS-1", title="Same id ok"),
    )


def test_update_with_nothing_is_refused(session, operator, make):
    make.course(slug="c1")
    with pytest.raises(ValidationError, match="nothing to change"):
        courses.update_course(session, actor=operator, slug="c1", data=CourseUpdate())


def test_update_refuses_an_unknown_field(session, operator, make):
    """The command has no such field: publishing goes through publish_course."""
    make.course(slug="c1")
    with pytest.raises(TypeError, match="is_published"):
        CourseUpdate(is_published=True)  # type: ignore[call-arg]
    assert courses.get_course(session, "c1").is_published is False


def test_update_validates_fields(session, operator, make):
    make.course(slug="c1")
    with pytest.raises(ValidationError) as err:
        courses.update_course(
            session, actor=operator, slug="c1", data=CourseUpdate(difficulty_level="impossible")
        )
    assert err.value.field == "difficulty_level"


def test_update_of_unknown_course_is_not_found(session, operator):
    with pytest.raises(NotFound, match="no course with slug nope") as err:
        courses.update_course(session, actor=operator, slug="nope", data=CourseUpdate(title="X"))
    assert err.value.field == "course_slug"


# --- publish ----------------------------------------------------------------------------------


def test_publish_is_refused_without_lessons(session, operator, make):
    course = make.course(slug="empty")
    with pytest.raises(Conflict, match="has no lessons") as err:
        courses.publish_course(session, actor=operator, slug="empty")
    assert err.value.field == "course_slug"
    assert course.is_published is False


def test_publish_and_unpublish(session, make, teacher):
    course = make.course(instructor=teacher, lessons=1, slug="c1")
    courses.publish_course(session, actor=as_(teacher), slug="c1")
    assert course.is_published is True
    courses.unpublish_course(session, actor=as_(teacher), slug="c1")
    assert course.is_published is False
    assert [e.action for e in audit_log(session) if e.action.startswith("course.")][-2:] == [
        "course.publish",
        "course.unpublish",
    ]


def test_publish_by_another_instructor_is_refused(session, make, teacher):
    make.course(lessons=1, slug="c1")
    with pytest.raises(PermissionDenied):
        courses.publish_course(session, actor=as_(teacher), slug="c1")
    with pytest.raises(PermissionDenied):
        courses.unpublish_course(session, actor=as_(teacher), slug="c1")


def test_publishing_twice_writes_one_entry(session, operator, make):
    make.course(lessons=1, slug="c1")
    courses.publish_course(session, actor=operator, slug="c1")
    courses.publish_course(session, actor=operator, slug="c1")
    assert len(audit_log(session, "course.publish")) == 1


# --- delete -----------------------------------------------------------------------------------


def test_delete_a_course_with_its_lessons(session, operator, make):
    course = make.course(lessons=3, slug="c1")
    course_id = course.id
    courses.delete_course(session, actor=operator, slug="c1")
    assert count(session, Course, Course.id == course_id) == 0
    assert count(session, Lesson, Lesson.course_id == course_id) == 0
    [entry] = audit_log(session, "course.delete")
    assert entry.before["slug"] == "c1"
    assert entry.before["enrollments"] == 0


def test_delete_is_refused_with_enrollments(session, operator, make):
    course = make.course(lessons=1, published=True, slug="c1")
    make.enroll(course=course)
    with pytest.raises(Conflict, match="has 1 enrollment"):
        courses.delete_course(session, actor=operator, slug="c1")
    assert courses.get_course(session, "c1").id == course.id


def test_forced_delete_cascades_to_lessons_enrollments_and_progress(session, operator, make):
    course = make.course(lessons=2, published=True, slug="c1")
    student = make.user()
    make.enroll(student, course)
    make.enroll(course=course)
    enrollments.complete_lesson(
        session, actor=operator, email=student.email, course_slug="c1", lesson_slug="lesson-1"
    )
    course_id = course.id
    courses.delete_course(session, actor=operator, slug="c1", force=True)
    session.expire_all()
    assert count(session, Course, Course.id == course_id) == 0
    assert count(session, Lesson, Lesson.course_id == course_id) == 0
    assert count(session, Enrollment, Enrollment.course_id == course_id) == 0
    assert count(session, LessonProgress) == 0
    [entry] = audit_log(session, "course.delete")
    assert entry.before["enrollments"] == 2


def test_delete_by_another_instructor_is_refused(session, make, teacher):
    make.course(slug="c1")
    with pytest.raises(PermissionDenied):
        courses.delete_course(session, actor=as_(teacher), slug="c1")


def test_owner_deletes_their_course(session, make, teacher):
    make.course(instructor=teacher, slug="c1")
    courses.delete_course(session, actor=as_(teacher), slug="c1")
    with pytest.raises(NotFound):
        courses.get_course(session, "c1")


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(make, teacher):
    other = make.user("instructor", email="other-teacher@x.org")
    return {
        "mine-draft": make.course(slug="mine-draft", instructor=teacher, category="art"),
        "mine-live": make.course(slug="mine-live", instructor=teacher, lessons=1, published=True),
        "other-draft": make.course(slug="other-draft", instructor=other),
        "other-live": make.course(
            slug="other-live", instructor=other, lessons=1, published=True, category="art"
        ),
    }


def slugs(page):
    return [c.slug for c in page.items]


def test_students_see_published_courses_only(session, catalogue, learner):
    assert slugs(courses.list_courses(session, actor=as_(learner))) == ["mine-live", "other-live"]


def test_instructors_see_published_courses_and_their_own(session, catalogue, teacher):
    assert slugs(courses.list_courses(session, actor=as_(teacher))) == [
        "mine-draft",
        "mine-live",
        "other-live",
    ]


def test_admins_see_every_course(session, catalogue, operator, admin_user):
    everything = ["mine-draft", "mine-live", "other-draft", "other-live"]
    assert slugs(courses.list_courses(session, actor=operator)) == everything
    assert slugs(courses.list_courses(session, actor=as_(admin_user))) == everything


def test_list_courses_filters(session, catalogue, operator, teacher):
    assert slugs(courses.list_courses(session, actor=operator, published=False)) == [
        "mine-draft",
        "other-draft",
    ]
    assert slugs(courses.list_courses(session, actor=operator, instructor_email=teacher.email)) == [
        "mine-draft",
        "mine-live",
    ]
    assert slugs(courses.list_courses(session, actor=operator, category="art")) == [
        "mine-draft",
        "other-live",
    ]
    assert slugs(courses.list_courses(session, actor=operator, search=" OTHER ")) == [
        "other-draft",
        "other-live",
    ]
    assert slugs(courses.list_courses(session, actor=operator, search="-DRAFT")) == [
        "mine-draft",
        "other-draft",
    ]


def test_list_courses_search_matches_the_title(session, make, operator):
    course = make.course(slug="c1")
    courses.update_course(
        session, actor=operator, slug="c1", data=CourseUpdate(title="Quantum Knitting")
    )
    assert slugs(courses.list_courses(session, actor=operator, search="knit")) == [course.slug]


def test_list_courses_paginates(session, catalogue, operator):
    page = courses.list_courses(session, actor=operator, page=2, per_page=3)
    assert (page.total, page.pages, slugs(page)) == (4, 2, ["other-live"])


#: A course's ``--json`` keys, in order, as ``COURSE_FIELDS`` printed them before the field
#: spec (lms_core/services/courses.py at a740befd): written out, so the JSON contract scripts
#: parse cannot move with the spec.
COURSE_JSON_KEYS = [
    "id",
    "slug",
    "title",
    "description",
    "instructor_email",
    "category",
    "difficulty_level",
    "thumbnail_url",
    "estimated_duration_minutes",
    "is_published",
    "external_id",
    "certificate_min_grade",
    "auto_certificate",
    "created_at",
    "updated_at",
]


def test_course_row_names_the_instructor_by_email(session, make, teacher):
    course = make.course(instructor=teacher)
    row = courses.course_row(course)
    assert list(row) == COURSE_JSON_KEYS
    assert row["instructor_email"] == teacher.email
    assert row["slug"] == course.slug


def test_course_row_json_is_the_snapshot_it_replaced(session, make, teacher, operator):
    """The typed rows print the same JSON as the generic snapshot did (scripts parse it)."""
    course = make.course(instructor=teacher, lessons=2)
    course.certificate_min_grade, course.description = Decimal("62.50"), "Über \u00e9"
    course.estimated_duration_minutes = 90
    session.flush()
    fields = [f for f in COURSE_JSON_KEYS if f != "instructor_email"]
    before = {**audit.snapshot(course, fields), "instructor_email": teacher.email}
    expected = {f: before[f] for f in COURSE_JSON_KEYS}
    assert json.dumps(courses.course_row(course)) == json.dumps(expected)
    shown = courses.show_course(session, actor=operator, slug=course.slug)
    assert json.dumps(shown) == json.dumps({**expected, "lessons": 2, "enrollments": 0})


def test_certificate_min_grade_is_set_checked_and_audited(session, make, operator):
    from decimal import Decimal

    course = make.course()
    courses.update_course(
        session, actor=operator, slug=course.slug, data=CourseUpdate(certificate_min_grade=75)
    )
    assert course.certificate_min_grade == Decimal("75.00")
    for bad in (-1, 100.5, "abc", float("nan")):
        with pytest.raises(ValidationError) as caught:
            courses.update_course(
                session,
                actor=operator,
                slug=course.slug,
                data=CourseUpdate(certificate_min_grade=bad),
            )
        assert caught.value.field == "certificate_min_grade"
    created = courses.create_course(
        session,
        actor=operator,
        data=CourseCreate(
            slug="graded",
            title="G",
            instructor_email=course.instructor.email,
            certificate_min_grade=60,
        ),
    )
    assert courses.course_row(created)["certificate_min_grade"] == 60.0


def test_show_course_hides_unpublished_courses_from_learners(session, make, operator):
    course = make.course(lessons=2)
    row = courses.show_course(session, actor=operator, slug=course.slug)
    assert (row["lessons"], row["enrollments"], row["slug"]) == (2, 0, course.slug)
    with pytest.raises(PermissionDenied):
        courses.show_course(session, actor=as_(make.user()), slug=course.slug)


@pytest.mark.parametrize("search", ["_", "%", "\\"])
def test_search_matches_wildcards_literally(session, make, operator, search):
    make.course(slug="plain-course")
    found = courses.list_courses(session, actor=operator, search=search)
    assert "plain-course" not in [c.slug for c in found.items]
    assert all(search in c.slug or search in c.title.lower() for c in found.items)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"published": True},
        {"published": False},
        {"search": "live"},
        {"search": "LIVE", "published": True},
        {"search": "50%_"},
        {"difficulty": "beginner"},
        {"difficulty": "advanced", "search": "hard"},
        {"difficulty": "advanced", "published": True},
    ],
)
def test_course_rows_are_the_listing_rows(
    session, make, catalogue, operator, teacher, learner, filters
):
    """``list_course_rows`` (plain columns, the API's catalog) answers what ``list_courses``
    with ``course_row`` answers: the same rows, order, total, for every kind of caller."""
    make.course(slug="hard-live", lessons=1, published=True, difficulty_level="advanced")
    make.course(slug="hard-draft", instructor=teacher, difficulty_level="advanced")
    make.course(slug="fifty-pct", lessons=1, published=True, title="50%_ off")
    for actor in (operator, as_(teacher), as_(learner)):
        for page, per_page in ((1, 50), (1, 1), (2, 1), (9, 1)):  # 9: past the end
            objects = courses.list_courses(
                session, actor=actor, page=page, per_page=per_page, **filters
            )
            rows = kept_reads.list_course_rows(
                session, actor=actor, page=page, per_page=per_page, **filters
            )
            assert rows.items == [courses.course_row(c) for c in objects.items]
            assert rows.total == objects.total
    if "difficulty" in filters and page == 1:
        every = kept_reads.list_course_rows(session, actor=operator, per_page=50, **filters)
        assert every.items and {c["difficulty_level"] for c in every.items} == {
            filters["difficulty"]
        }


def test_bad_catalog_filters_are_refused_alike(session, operator):
    for filters in ({"difficulty": "expert"}, {"page": 0}, {"per_page": 0}, {"per_page": 10_001}):
        with pytest.raises(ValidationError) as objects:
            courses.list_courses(session, actor=operator, **filters)
        with pytest.raises(ValidationError) as rows:
            kept_reads.list_course_rows(session, actor=operator, **filters)
        assert (str(rows.value), rows.value.field) == (str(objects.value), objects.value.field)


@pytest.mark.parametrize("visibility", ["all", "own", "published"])
@pytest.mark.parametrize("published", [None, True, False])
def test_catalog_rows_name_the_page_columns(visibility, published):
    """The catalog page and the outline are read as plain tuples (``CatalogRow``, then the
    total or the lesson's columns): their fields must be the kept statements' columns, in
    their order, in every shape."""
    for search in (False, True):
        for difficulty in (False, True):
            stmt = kept_reads._catalog_page(visibility, published, search, difficulty)
            names = [c.key for c in stmt.selected_columns]
            assert names == [*kept_reads.CatalogRow._fields, "total_rows"]
    outline = [c.key for c in kept_reads._outline().selected_columns]
    course = len(kept_reads.CatalogRow._fields)
    assert outline[:course] == list(kept_reads.CatalogRow._fields)
    assert len(outline) - course == len(kept_reads.OUTLINE_LESSON)
    lesson_columns = kept_reads._outline().selected_columns[course:]
    assert [c.name for c in lesson_columns] == list(kept_reads.OUTLINE_LESSON)


def _object_outline(session, actor, slug):
    course = courses.get_course(session, slug)
    listed = lessons.lessons_of(session, actor=actor, course=course)
    return courses.course_row(course), [lessons.lesson_row(x) for x in listed]


def _outcome(read):
    try:
        return read()
    except (NotFound, PermissionDenied) as exc:
        return type(exc).__name__, str(exc), exc.field, exc.value


def test_the_kept_outline_answers_what_the_objects_do(
    session, make, catalogue, operator, teacher, learner
):
    """``course_outline`` (one kept statement, the API's outline) gives the rows, order and
    refusals of ``get_course`` + ``lessons_of``: for each kind of caller, a live course, a
    draft (its manager sees it, a learner is refused), a course of several lessons added out
    of order, one without lessons, and an unknown slug."""
    many = make.course(slug="many-lessons", instructor=teacher, lessons=4, published=True)
    lessons.reorder_lessons(
        session,
        actor=operator,
        course_slug=many.slug,
        slugs=["lesson-4", "lesson-1", "lesson-2", "lesson-3"],
    )
    empty = make.course(slug="no-lessons", instructor=teacher)
    cases = [*catalogue, many.slug, empty.slug, "nope", " mine-live "]
    for actor in (operator, as_(teacher), as_(learner)):
        for slug in cases:
            kept_answer = _outcome(
                lambda a=actor, s=slug: kept_reads.course_outline(session, actor=a, slug=s)
            )
            assert kept_answer == _outcome(
                lambda a=actor, s=slug: _object_outline(session, a, s)
            ), (actor.label, slug)
    _course, listed = kept_reads.course_outline(session, actor=operator, slug=many.slug)
    assert [x["slug"] for x in listed] == ["lesson-4", "lesson-1", "lesson-2", "lesson-3"]
