"""API reads (GET) run their statements outside a transaction on PostgreSQL and may not
write; writes after them, on the same pooled connection, are transactions again. Against
an app with its own engine (as gunicorn runs it), not the tests' shared transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from admin_ui.app import EXTENSION, create_app
from admin_ui.db import request_session
from lms_core.accounts.api_tokens import create_personal_token
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory
from lms_core.models import User
from lms_core.ops import schema
from lms_core.security import PasswordHasher
from tests.api.conftest import API, bearer
from tests.conftest import cheap_settings
from tests.factories import Factories


def test_a_read_that_tries_to_write_is_refused(app: Flask, learner: User) -> None:
    with app.test_request_context(f"{API}/courses", method="GET"):
        session = request_session()
        user = session.get(User, learner.id)
        assert user is not None
        user.full_name = "Changed By A Read"
        with pytest.raises(RuntimeError, match="reads only"):
            session.flush()


def test_a_read_that_runs_an_update_statement_is_refused(app: Flask, learner: User) -> None:
    """A Core ``update()`` through the session would be committed at once in autocommit."""
    with app.test_request_context(f"{API}/courses", method="GET"):
        session = request_session()
        with pytest.raises(RuntimeError, match="reads only"):
            session.execute(
                update(User).where(User.id == learner.id).values(full_name="Written By A Read")
            )
        assert session.get(User, learner.id).full_name != "Written By A Read"


def test_a_write_request_may_still_write(app: Flask, learner: User) -> None:
    with app.test_request_context(f"{API}/me/enrollments", method="POST"):
        session = request_session()
        user = session.get(User, learner.id)
        assert user is not None
        user.full_name = "Changed By A Post"
        session.flush()  # no refusal


def test_reads_then_writes_on_one_pooled_connection(
    scratch_url: str, tmp_path: Path, is_postgres: bool
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files", db_pool_size=1)
    engine = make_engine(settings)
    schema.upgrade(engine)
    operator = Actor.operator("pytest")
    with make_session_factory(engine)() as s:
        make = Factories(s, PasswordHasher.from_settings(settings), operator)
        course = make.course(lessons=2, published=True)
        learner = make.user("student")
        admin = make.user("admin")
        _, reports_token = create_personal_token(
            s, actor=Actor.for_user(admin), name="reports", scopes=["reports:read"]
        )
        _, token = create_personal_token(
            s,
            actor=Actor.for_user(learner),
            name="reads",
            scopes=["courses:read", "enrollments:write", "enrollments:read"],
        )
        s.commit()
        slug = course.slug
    engine.dispose()
    app = create_app(settings)
    client = app.test_client()
    headers = bearer(token)
    try:
        for _ in range(2):  # read, write, read again: the one connection goes back and forth
            catalog = client.get(f"{API}/courses", headers=headers)
            assert catalog.status_code == 200, catalog.get_data(as_text=True)
            assert slug in [c["slug"] for c in catalog.get_json()["items"]]
            enrolled = client.post(f"{API}/courses/{slug}/enrollment", headers=headers)
            assert enrolled.status_code in (200, 201), enrolled.get_data(as_text=True)
            mine = client.get(f"{API}/me/enrollments", headers=headers)
            assert [e["course_slug"] for e in mine.get_json()["items"]] == [slug]
        # A report keeps one transaction: its sections stream from server-side cursors.
        report = client.get(f"{API}/reports/system", headers=bearer(reports_token))
        assert report.status_code == 200, report.get_data(as_text=True)
        assert report.get_json()["sections"]
        pooled: Any = app.extensions[EXTENSION].engine.raw_connection()
        try:
            raw = pooled.dbapi_connection
            # Back in the pool as it was lent: a transaction per unit of work again.
            assert raw.autocommit is False if is_postgres else True
        finally:
            pooled.close()
    finally:
        app.extensions[EXTENSION].engine.dispose()
