"""The users view: who sees whom, service-backed writes and actions (the CLI's audit entries),
refusals that change nothing, formula-safe exports without secrets, constant SQL per page."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from lms_core.models import AuditEntry, Enrollment, OneTimeToken, OutboxMail, User, utcnow
from tests.factories import Factories
from tests.web.conftest import csrf_token
from tests.web.views_support import (
    Login,
    act,
    audit,
    flashes,
    page_statements,
    seed_users,
)

# -- who sees what -------------------------------------------------------------------------


def test_admin_lists_and_opens_users_without_secrets(
    logged_in: Login, make: Factories, session: Session
) -> None:
    admin = make.user("admin")
    learner = make.user("student", name="=HYPERLINK(1)")
    client = logged_in(admin)
    page = client.get("/admin/user/").get_data(as_text=True)
    assert learner.email in page and admin.email in page
    details = client.get(f"/admin/user/details/?id={learner.id}").get_data(as_text=True)
    edit = client.get(f"/admin/user/edit/?id={learner.id}").get_data(as_text=True)
    for text in (page, details, edit, client.get("/admin/user/new/").get_data(as_text=True)):
        assert "$argon2" not in text and "password_hash" not in text
        assert "mfa" not in text.lower() and "token_hash" not in text
    assert learner.email in details and 'name="full_name"' in edit
    found = client.get("/admin/user/", query_string={"search": learner.email}).get_data(
        as_text=True
    )
    assert learner.email in found and admin.email not in found
    admins = client.get("/admin/user/", query_string={"flt0_0": "admin"}).get_data(as_text=True)
    assert admin.email in admins and learner.email not in admins


def test_instructor_lists_only_the_learners_of_their_courses(
    logged_in: Login, make: Factories, session: Session
) -> None:
    mine, theirs = make.user("instructor"), make.user("instructor")
    my_learner, their_learner = make.user("student"), make.user("student")
    make.enroll(my_learner, make.course(instructor=mine, lessons=1, published=True))
    make.enroll(their_learner, make.course(instructor=theirs, lessons=1, published=True))
    client = logged_in(mine)
    page = client.get("/admin/user/").get_data(as_text=True)
    assert my_learner.email in page and their_learner.email not in page
    assert client.get(f"/admin/user/details/?id={my_learner.id}").status_code == 200
    other = client.get(f"/admin/user/details/?id={their_learner.id}", follow_redirects=True)
    assert "Record does not exist" in flashes(other)
    assert their_learner.email not in other.get_data(as_text=True)
    # Read-only for instructors: no create, edit or delete, no account actions.
    assert client.get("/admin/user/new/").status_code == 302
    assert client.get(f"/admin/user/edit/?id={my_learner.id}").status_code == 302
    assert 'data-lms-action="deactivate"' not in page and 'data-lms-action="enroll"' in page
    act(client, "user", "deactivate", [my_learner.id])  # posted by hand: ignored
    session.refresh(my_learner)
    assert my_learner.is_active and audit(session, "user.deactivate") == []


def test_learners_are_refused(logged_in: Login, make: Factories, session: Session) -> None:
    """A learner cannot log in here; one demoted while logged in gets 403 on every page."""
    user = make.user("instructor")
    client = logged_in(user)
    assert client.get("/admin/user/").status_code == 200
    user.role = "student"
    session.flush()
    for path in ("/admin/user/", f"/admin/user/details/?id={user.id}", "/admin/user/export.csv"):
        assert client.get(path).status_code == 403, path


# -- writes through the services -----------------------------------------------------------


def test_create_with_invitation_is_the_cli_create_and_invite(
    logged_in: Login, make: Factories, session: Session
) -> None:
    client = logged_in(make.user("admin"))
    token = csrf_token(client, "/admin/user/new/")
    response = client.post(
        "/admin/user/new/",
        data={
            "csrf_token": token,
            "email": "New.Person@Example.org",
            "full_name": "New Person",
            "role": "instructor",
            "external_id": "",
            "is_active": "y",
            "send_invitation": "y",
        },
        follow_redirects=True,
    )
    assert "Created user new.person@example.org" in flashes(response)
    user = session.scalars(select(User).where(User.email == "new.person@example.org")).one()
    assert user.role == "instructor" and user.password_hash is None
    assert len(audit(session, "user.create", user.id)) == 1
    assert len(audit(session, "token.issue.invitation", user.id)) == 1
    assert session.scalar(select(func.count()).select_from(OneTimeToken)) == 1
    mails = list(session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)))
    assert [m.template for m in mails] == ["invitation"]


def test_create_refused_changes_nothing(
    logged_in: Login, make: Factories, session: Session
) -> None:
    existing = make.user("student")
    client = logged_in(make.user("admin"))
    before = session.scalar(select(func.count()).select_from(User))
    response = client.post(
        "/admin/user/new/",
        data={
            "csrf_token": csrf_token(client, "/admin/user/new/"),
            "email": existing.email,
            "full_name": "Twin",
            "role": "student",
            "send_invitation": "y",
        },
        follow_redirects=True,
    )
    assert f"a user with e-mail {existing.email} already exists" in flashes(response)
    assert session.scalar(select(func.count()).select_from(User)) == before


def test_edit_updates_profile_and_role_with_their_audit_entries(
    logged_in: Login, make: Factories, session: Session
) -> None:
    learner = make.user("student")
    client = logged_in(make.user("admin"))
    path = f"/admin/user/edit/?id={learner.id}"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "email": learner.email,
            "full_name": "Renamed Learner",
            "role": "instructor",
            "external_id": "",
            "bio": "",
            "avatar_url": "",
        },
        follow_redirects=True,
    )
    assert f"Saved user {learner.email}" in flashes(response)
    session.refresh(learner)
    assert (learner.full_name, learner.role) == ("Renamed Learner", "instructor")
    assert audit(session, "user.update", learner.id)[-1].after == {"full_name": "Renamed Learner"}
    assert audit(session, "user.set_role", learner.id)[-1].after == {"role": "instructor"}


def test_delete_is_a_soft_delete(logged_in: Login, make: Factories, session: Session) -> None:
    learner = make.user("student")
    client = logged_in(make.user("admin"))
    response = client.post(
        "/admin/user/delete/",
        data={"csrf_token": csrf_token(client, "/admin/user/"), "id": str(learner.id), "url": ""},
        follow_redirects=True,
    )
    assert f"Deleted user {learner.email}" in flashes(response)
    session.refresh(learner)
    assert learner.deleted_at is not None and not learner.is_active
    assert len(audit(session, "user.delete", learner.id)) == 1


# -- actions on a selection ----------------------------------------------------------------


def test_deactivate_reactivate_unlock(logged_in: Login, make: Factories, session: Session) -> None:
    a, b = make.user("student", email="a@x.example"), make.user("student", email="b@x.example")
    client = logged_in(make.user("admin"))
    response = act(client, "user", "deactivate", [b.id, a.id])
    assert "Deactivated 2 users: a@x.example, b@x.example." in flashes(response)
    session.refresh(a)
    session.refresh(b)
    assert not a.is_active and not b.is_active
    assert len(audit(session, "user.deactivate", a.id)) == 1
    response = act(client, "user", "reactivate", [a.id])
    assert "Reactivated 1 user: a@x.example." in flashes(response)
    session.refresh(a)
    assert a.is_active and audit(session, "user.reactivate", a.id)
    b.failed_login_attempts, b.locked_until = 9, utcnow()
    session.flush()
    assert "Unlocked 1 user: b@x.example." in flashes(act(client, "user", "unlock", [b.id]))
    session.refresh(b)
    assert b.failed_login_attempts == 0 and b.locked_until is None
    assert audit(session, "user.unlock", b.id)


def test_web_and_cli_write_the_same_audit_entry(
    logged_in: Login, make: Factories, session: Session, cli: Any
) -> None:
    admin = make.user("admin")
    by_web, by_cli = make.user("student"), make.user("student")
    act(logged_in(admin), "user", "deactivate", [by_web.id])
    result = cli("users", "deactivate", by_cli.email, as_=admin.email)
    assert result.exit_code == 0, result.output
    web = audit(session, "user.deactivate", by_web.id)
    shell = audit(session, "user.deactivate", by_cli.id)
    assert len(web) == len(shell) == 1

    def shape(entry: AuditEntry) -> tuple[Any, ...]:
        """The entry without what differs between the two users (their own e-mail, name)."""
        before = {k: v for k, v in (entry.before or {}).items() if k not in ("email", "full_name")}
        return (entry.actor_id, entry.actor_label, entry.entity_type, before, entry.after)

    assert shape(web[0]) == shape(shell[0])


def test_a_refused_row_rolls_back_the_whole_action(
    logged_in: Login, make: Factories, session: Session
) -> None:
    """Deactivating the last admin is refused: the learner selected with them stays active."""
    admin, learner = make.user("admin"), make.user("student")
    client = logged_in(admin)
    response = act(client, "user", "deactivate", [learner.id, admin.id])
    assert f"{admin.email} is the last active administrator; cannot deactivate" in flashes(response)
    session.refresh(learner)
    session.refresh(admin)
    assert learner.is_active and admin.is_active
    assert audit(session, "user.deactivate") == []


def test_invitation_and_reset_mails(logged_in: Login, make: Factories, session: Session) -> None:
    invited = make.user("student", password=None)
    has_password = make.user("student")
    client = logged_in(make.user("admin"))
    response = act(client, "user", "invite", [invited.id, has_password.id])
    text = flashes(response)
    assert f"Invited 1 user: {invited.email}." in text
    assert f"Not invited: {has_password.email} has a password" in text
    assert len(audit(session, "token.issue.invitation", invited.id)) == 1
    response = act(client, "user", "reset", [has_password.id])
    assert f"Mailed a password reset link to 1 user: {has_password.email}." in flashes(response)
    assert len(audit(session, "token.issue.password_reset", has_password.id)) == 1
    templates = {
        (m.to_address, m.template)
        for m in session.scalars(select(OutboxMail).where(OutboxMail.to_address.like("student%")))
    }
    assert templates == {(invited.email, "invitation"), (has_password.email, "password_reset")}


def test_enroll_selected_users_into_a_course(
    logged_in: Login, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True, slug="py-101")
    a, b = make.user("student"), make.user("student")
    client = logged_in(make.user("admin"))
    picker = act(client, "user", "enroll", [a.id, b.id])
    page = picker.get_data(as_text=True)
    assert "Enroll 2 users into a course" in page and "py-101" in page
    response = client.post(
        "/admin/enrollment/enroll/",
        data={
            "csrf_token": csrf_token(client, "/admin/user/"),
            "user": [a.id, b.id],
            "course": "py-101",
        },
        follow_redirects=True,
    )
    assert f"Enrolled 2 users in py-101: {', '.join(sorted([a.email, b.email]))}." in flashes(
        response
    )
    enrolled = set(
        session.scalars(select(Enrollment.student_id).where(Enrollment.course_id == course.id))
    )
    assert enrolled == {a.id, b.id}
    assert len(audit(session, "enrollment.create")) == 2


def test_instructors_enroll_only_into_their_own_courses(
    logged_in: Login, make: Factories, session: Session
) -> None:
    mine, theirs = make.user("instructor"), make.user("instructor")
    my_course = make.course(instructor=mine, lessons=1, published=True)
    their_course = make.course(instructor=theirs, lessons=1, published=True)
    learner, second = make.user("student"), make.user("student")
    make.enroll(learner, my_course)
    make.enroll(second, my_course)
    client = logged_in(mine)
    picker = act(client, "user", "enroll", [learner.id, second.id]).get_data(as_text=True)
    assert my_course.slug in picker and their_course.slug not in picker
    response = client.post(
        "/admin/enrollment/enroll/",
        data={
            "csrf_token": csrf_token(client, "/admin/user/"),
            "user": [learner.id, second.id],
            "course": their_course.slug,
        },
        follow_redirects=True,
    )
    assert "the course's instructor or an administrator may enroll this learner" in flashes(
        response
    )
    assert session.scalar(select(func.count()).where(Enrollment.course_id == their_course.id)) == 0


# -- exports and the cost of a page ---------------------------------------------------------


def test_export_csv_is_formula_safe_and_has_no_secret_column(
    logged_in: Login, make: Factories
) -> None:
    make.user("student", name='=HYPERLINK("http://evil")', email="evil@x.example")
    client = logged_in(make.user("admin"))
    response = client.get("/admin/user/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert "password_hash" not in rows[0] and "password" not in rows[0]
    evil = next(r for r in rows if r["email"] == "evil@x.example")
    assert evil["full_name"] != '=HYPERLINK("http://evil")'
    assert evil["full_name"].endswith('=HYPERLINK("http://evil")')
    assert "$argon2" not in response.get_data(as_text=True)
    xlsx = client.get("/admin/user/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"  # a zip: the workbook


def test_list_statements_do_not_grow_with_page_size(
    logged_in: Login, make: Factories, session: Session, connection: Connection
) -> None:
    seed_users(session, 505)
    client = logged_in(make.user("admin"))
    small, large = page_statements(client, connection, "/admin/user/")
    assert small == large
