"""The view x role matrix, generated from the registered views and routes.

Nothing here lists the views by hand: a view or route added without a role rule, or whose
rule lets the wrong role in, fails these tests. Roles: anonymous (sent to the login page),
a learner (refused: 403; a staff member demoted while logged in is the realistic case),
an instructor (staff views yes, administrator views 403, other instructors' rows never),
an administrator (everything). Every response of the matrix is also searched for every
password hash and token hash in the database.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_admin import Admin, BaseView
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.modelviews.base import ADMIN_ONLY, STAFF, StaffModelView
from lms_core.actor import Actor
from lms_core.models import OneTimeToken, User, WebSession
from lms_core.ops.demo import DEMO_USERS, seed
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.factories import Factories
from tests.web.conftest import log_in

#: Routes anyone may open (the public pages, probes, static files).
#: ``api.``: the JSON API's endpoints each declare their scope (tests/api checks every one);
#: ``metrics.``: Prometheus, for this host only (tests/api/test_metrics.py).
PUBLIC_PREFIXES = ("public.", "probes.", "api.", "metrics.")
PUBLIC_ENDPOINTS = {"static", "home", "admin.static"}


def admin_views(app: Flask) -> list[BaseView]:
    admins: list[Admin] = app.extensions["admin"]
    return [v for admin in admins for v in admin._views]


@pytest.fixture
def school(session: Session, settings: Settings, hasher: PasswordHasher, make: Factories) -> Any:
    """The demo school (its instructor owns every demo row) and a second instructor."""
    seed(session, actor=Actor.system("test"), hasher=hasher, settings=settings)
    other = make.user("instructor", email="other.instructor@test.example")
    make.course(slug="others-course", instructor=other, lessons=1, published=True)
    demoted = make.user("instructor", email="demoted@test.example")
    session.flush()
    return {
        "admin": session.scalars(select(User).where(User.email == DEMO_USERS[0][0])).one(),
        "instructor": session.scalars(select(User).where(User.email == DEMO_USERS[1][0])).one(),
        "other": other,
        "demoted": demoted,
    }


def _client(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    response = log_in(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


@pytest.fixture
def clients(app: Flask, school: Any, session: Session) -> dict[str, FlaskClient]:
    from tests.factories import PASSWORD

    out = {
        "anonymous": app.test_client(),
        "admin": _client(app, DEMO_USERS[0][0], DEMO_USERS[0][3]),
        "instructor": _client(app, DEMO_USERS[1][0], DEMO_USERS[1][3]),
        "other": _client(app, "other.instructor@test.example", PASSWORD),
        "learner": _client(app, "demoted@test.example", PASSWORD),
    }
    school["demoted"].role = "student"  # demoted while logged in
    session.flush()
    return out


def test_every_view_names_the_roles_it_admits(app: Flask) -> None:
    views = admin_views(app)
    assert len(views) >= 1
    for view in views:
        roles = getattr(view, "allowed_roles", None)
        assert roles in (ADMIN_ONLY, STAFF), f"{type(view).__name__} has no role rule"


def test_every_route_belongs_to_a_view_or_is_public(app: Flask) -> None:
    endpoints = {v.endpoint for v in admin_views(app)}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES):
            continue
        owner = endpoint.split(".", 1)[0]
        assert owner in endpoints, f"route {rule.rule} ({endpoint}) has no role rule"


def _gettable(app: Flask, view: BaseView) -> Iterator[str]:
    """Every GET route of ``view`` that needs no path argument."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(view.endpoint + "."):
            continue
        if "GET" not in (rule.methods or ()) or rule.arguments:
            continue
        yield rule.rule


def _expected(role: str, view: BaseView) -> int:
    if role == "anonymous":
        return 302
    if role == "learner":
        return 403
    if role in ("instructor", "other"):
        return 200 if view.allowed_roles == STAFF else 403
    return 200


def test_matrix_of_views_and_roles(app: Flask, clients: dict[str, FlaskClient]) -> None:
    problems = []
    for view in admin_views(app):
        index = view.url.rstrip("/") + "/"
        for role, client in clients.items():
            response = client.get(index)
            if response.status_code != _expected(role, view):
                problems.append(f"{role} GET {index}: {response.status_code}")
            if role == "anonymous" and response.status_code == 302:
                assert "/login" in response.headers["Location"]
        for path in _gettable(app, view):
            for role in ("anonymous", "learner"):
                status = clients[role].get(path).status_code
                if status not in (302, 403):
                    problems.append(f"{role} GET {path}: {status}")
    assert not problems, "\n".join(problems)


def _in_scope_ids(session: Session, view: StaffModelView, actor: Actor) -> set[Any]:
    pk = view.model.__mapper__.primary_key[0]
    stmt = select(pk)
    clause = view.scope(actor)
    if clause is not None:
        stmt = stmt.where(clause)
    return set(session.scalars(stmt))


def test_instructors_see_only_their_own_rows(
    app: Flask, clients: dict[str, FlaskClient], school: Any, session: Session
) -> None:
    """For every staff model view: each row outside the instructor's scope is refused by id,
    and each row inside it opens."""
    other = Actor.for_user(school["other"])
    checked = 0
    problems = []
    for view in admin_views(app):
        if not isinstance(view, StaffModelView) or view.allowed_roles != STAFF:
            continue
        if not view.can_view_details:
            continue
        pk = view.model.__mapper__.primary_key[0]
        every = set(session.scalars(select(pk)))
        mine = _in_scope_ids(session, view, other)
        details = view.url.rstrip("/") + "/details/"
        for row_id in sorted(every - mine)[:3]:
            response = clients["other"].get(details, query_string={"id": row_id})
            checked += 1
            if response.status_code == 200:
                problems.append(f"{view.endpoint} row {row_id} shown to another instructor")
        for row_id in sorted(mine)[:2]:
            response = clients["other"].get(details, query_string={"id": row_id})
            if response.status_code != 200:
                problems.append(f"{view.endpoint} own row {row_id}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert checked >= 1


def _secrets(session: Session) -> list[str]:
    found = [h for h in session.scalars(select(User.password_hash)) if h]
    found += list(session.scalars(select(OneTimeToken.token_hash)))
    found += list(session.scalars(select(WebSession.token_hash)))
    return found


def _text(response: Any) -> str:
    """A response's text; an XLSX export's is every XML part of the workbook."""
    body: bytes = response.get_data()
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "".join(book.read(n).decode("utf-8") for n in book.namelist())
    return body.decode("utf-8")


_LINK = re.compile(r'href="(/admin/[^"#]*)"')


def test_no_hash_or_token_in_any_page_or_export(
    app: Flask, clients: dict[str, FlaskClient], session: Session
) -> None:
    """Every list, details page and export an administrator can reach, searched for secrets
    (argon2 hashes start with ``$argon2``; token hashes are 64 hex digits)."""
    admin = clients["admin"]
    pages: dict[str, str] = {}
    for view in admin_views(app):
        index = view.url.rstrip("/") + "/"
        html = admin.get(index).get_data(as_text=True)
        pages[index] = html
        for link in _LINK.findall(html):
            link = link.replace("&amp;", "&")
            if "/details/" in link or "/export." in link:
                pages.setdefault(link, _text(admin.get(link)))
    secrets_ = _secrets(session)
    assert secrets_
    for path, body in pages.items():
        assert "$argon2" not in body, path
        for secret in secrets_:
            assert secret not in body, f"a secret in {path}"
    assert len(pages) > len(admin_views(app))


def test_a_post_without_its_csrf_token_is_refused(
    app: Flask, clients: dict[str, FlaskClient]
) -> None:
    """Every POST route of every view, sent by a logged-in administrator without the token."""
    admin = clients["admin"]
    tried = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.arguments:
            continue
        response = admin.post(rule.rule, data={"rowid": "1", "action": "x", "id": "1"})
        tried += 1
        assert response.status_code == 400, f"POST {rule.rule}: {response.status_code}"
    assert tried >= 2
