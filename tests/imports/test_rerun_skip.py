"""A re-run of the file the last run applied, unchanged: nothing read, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.formats.tabular import Sheet, write_xlsx
from lms_core.imports.runs import undo_import
from lms_core.models import ImportRun, OneTimeToken, User
from tests.cli.helpers import count, db_state
from tests.imports.importing import Importer

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"
COURSES = "slug,title,instructor_email\nintro,Intro,tea@x.org\n"
LESSONS = "course_slug,slug,title,position\nintro,one,One,1\n"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples/import"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def test_unchanged_file_is_skipped_and_recheck_reads_it(session: Session, imp: Importer) -> None:
    path = imp.file("u.csv", USERS)
    first = imp("users", path)
    assert first.counts["create"] == 2 and first.unchanged_since is None
    state = db_state(session)

    again = imp("users", path)
    assert again.unchanged_since == first.run_id and again.run_id is None
    assert again.counts["create"] == again.counts["update"] == 0 and not again.refused
    assert db_state(session) == state  # not even a run in the ledger
    # A dry run shows the plan, always: it is how one checks what a re-run would do.
    dry = imp("users", path, dry_run=True)
    assert dry.unchanged_since is None and dry.counts["unchanged"] == 2

    forced = imp("users", path, recheck=True)
    assert forced.unchanged_since is None and forced.counts["unchanged"] == 2
    assert count(session, ImportRun) == 2


def test_changed_file_another_mode_or_an_undone_run_is_read(
    session: Session, imp: Importer, operator: Any
) -> None:
    path = imp.file("u.csv", USERS)
    first = imp("users", path)
    assert imp("users", path, mode="update").unchanged_since is None  # another mode
    # The latest applied run of the kind read another file.
    path.write_text(USERS.replace("Bob", "Robert"), encoding="utf-8")
    changed = imp("users", path)
    assert changed.unchanged_since is None and changed.counts["update"] == 1
    path.write_text(USERS, encoding="utf-8")
    back = imp("users", path)
    assert back.unchanged_since is None and back.counts["update"] == 1
    assert imp("users", path).unchanged_since == back.run_id

    undo_import(session, actor=operator, run_id=back.run_id)
    session.commit()
    redo = imp("users", path)  # the run was undone: its file applies again
    assert redo.unchanged_since is None and redo.counts["update"] == 1
    assert first.run_id is not None


def test_unchanged_xlsx_is_skipped(session: Session, imp: Importer) -> None:
    path = imp.tmp / "u.xlsx"
    rows = [("S-1", "ann@x.org", "Ann", "student")]
    write_xlsx(path, [Sheet("users", ("external_id", "email", "full_name", "role"), iter(rows))])
    first = imp("users", path)
    assert first.counts["create"] == 1
    assert imp("users", path).unchanged_since == first.run_id
    # A sheet chosen by hand is not recorded in the ledger: read it.
    assert imp("users", path, sheet="users").unchanged_since is None


def test_courses_with_a_lessons_file_compare_both(session: Session, imp: Importer) -> None:
    imp("users", imp.file("t.csv", "email,full_name,role\ntea@x.org,Tea,instructor\n"))
    courses, lessons = imp.file("c.csv", COURSES), imp.file("l.csv", LESSONS)
    first = imp("courses", courses, lessons=lessons)
    assert first.counts["create"] == 1 and not first.refused
    assert imp("courses", courses, lessons=lessons).unchanged_since == first.run_id
    lessons.write_text(LESSONS.replace("One", "Uno"), encoding="utf-8")
    assert imp("courses", courses, lessons=lessons).unchanged_since is None


def test_unchanged_oneroster_bundle_is_skipped(session: Session, imp: Importer) -> None:
    bulk = imp("oneroster", EXAMPLES / "oneroster")
    assert not bulk.refused and bulk.counts["create"] > 0
    assert imp("oneroster", EXAMPLES / "oneroster").unchanged_since == bulk.run_id


def test_import_without_invites_out_makes_no_token(session: Session, imp: Importer) -> None:
    report = imp("users", imp.file("u.csv", USERS))
    assert report.uninvited == 2 and report.invites == 0
    assert count(session, User) >= 2 and count(session, OneTimeToken) == 0

    with_links = imp(
        "users",
        imp.file("v.csv", "email,full_name,role\ncy@x.org,Cy,student\n"),
        invites_out=imp.tmp / "links.csv",
    )
    assert with_links.invites == 1 and with_links.uninvited == 0
    assert count(session, OneTimeToken) == 1


def test_a_change_by_hand_since_the_run_makes_the_same_file_read_again(
    session: Session, imp: Importer, operator: Any
) -> None:
    """An unchanged file is not an unchanged database: an edit since the run (which the
    re-run puts back) or another import means the file is read and planned again."""
    from lms_core.accounts.fields import UserCreate, UserUpdate
    from lms_core.accounts.users import create_user, update_user

    data = UserCreate(email="adm@x.org", full_name="Adm", role="instructor")
    create_user(session, actor=operator, data=data)
    session.commit()
    path = imp.file("u.csv", USERS)
    first = imp("users", path)
    assert imp("users", path).unchanged_since == first.run_id
    update_user(session, actor=operator, email="bob@x.org", data=UserUpdate(full_name="Changed"))
    session.commit()

    again = imp("users", path)
    assert again.unchanged_since is None and again.counts["update"] == 1
    assert session.scalars(select(User).where(User.email == "bob@x.org")).one().full_name == "Bob"
    # Nothing changed since that run: skipped again.
    assert imp("users", path).unchanged_since == again.run_id

    # Another kind's import since (it may have touched these users) reads the file too.
    enrolled = imp("enrollments", imp.file("e.csv", "user_email,course_slug\nbob@x.org,intro\n"))
    assert enrolled.refused  # no such course: a refused run changes nothing, and is no reason
    assert imp("users", path).unchanged_since == again.run_id
    courses = imp(
        "courses",
        imp.file("c.csv", COURSES.replace("tea@x.org", "adm@x.org")),
        lessons=imp.file("l.csv", LESSONS),
    )
    assert not courses.refused, courses.errors
    assert imp("users", path).unchanged_since is None
