"""A new password or a deactivation ends the API's logins as it ends web sessions; a
reactivation brings no old token back; two concurrent refreshes of one token: one wins."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lms_core.accounts.api_tokens import (
    create_personal_token,
    issue_login_tokens,
    refresh_tokens,
)
from lms_core.accounts.tokens import issue_token
from lms_core.accounts.users import deactivate_user, reactivate_user, set_password
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory
from lms_core.models import ApiToken, TokenPurpose
from lms_core.ops import schema
from tests.api.conftest import API, assert_problem, bearer, login
from tests.conftest import cheap_settings
from tests.factories import Factories

NEW = "Another-Long-Pass-42"


def _refused(client: FlaskClient, pair: dict[str, Any]) -> None:
    assert_problem(client.get(f"{API}/me/enrollments", headers=bearer(pair["access_token"])), 401)
    refresh = client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refresh, 401)


def test_a_password_reset_ends_the_api_logins(
    client: FlaskClient, learner: Any, session: Session
) -> None:
    pair = login(client, learner).get_json()
    token = issue_token(
        session, actor=Actor.system("test"), user=learner, purpose=TokenPurpose.password_reset
    )
    done = client.post(f"{API}/auth/password-reset/confirm", json={"token": token, "password": NEW})
    assert done.status_code == 200, done.get_data(as_text=True)
    _refused(client, pair)


def test_setting_a_password_ends_the_api_logins(
    client: FlaskClient, learner: Any, admin_user: Any, session: Session, hasher: Any
) -> None:
    pair = login(client, learner).get_json()
    set_password(
        session, actor=Actor.for_user(admin_user), email=learner.email, password=NEW, hasher=hasher
    )
    _refused(client, pair)


def test_a_reactivation_brings_no_old_token_back(
    client: FlaskClient, learner: Any, admin_user: Any, session: Session
) -> None:
    pair = login(client, learner).get_json()
    _, personal = create_personal_token(
        session, actor=Actor.for_user(learner), name="ci", scopes=["enrollments:read"]
    )
    admin = Actor.for_user(admin_user)
    deactivate_user(session, actor=admin, email=learner.email)
    reactivate_user(session, actor=admin, email=learner.email)
    _refused(client, pair)
    assert_problem(client.get(f"{API}/me/enrollments", headers=bearer(personal)), 401)
    assert login(client, learner).status_code == 200  # a new login works


def test_two_concurrent_refreshes_of_one_token_give_one_pair(
    scratch_url: str, tmp_path: Path, hasher: Any, is_postgres: bool
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    try:
        with factory() as s:
            user = Factories(s, hasher, Actor.system("test")).user("student")
            pair = issue_login_tokens(s, user=user)
            s.commit()
        first = factory()
        won = refresh_tokens(first, raw=pair.refresh_token, settings=settings)  # not yet committed
        assert won.pair is not None
        results: list[Any] = []

        def second() -> None:
            with factory() as other:
                try:
                    results.append(refresh_tokens(other, raw=pair.refresh_token, settings=settings))
                    other.commit()
                except OperationalError as exc:  # SQLite: its read snapshot is stale
                    results.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)  # it waits on the first one's row (PostgreSQL) or lock
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert len(results) == 1
        if is_postgres:  # it waited for the row, then found it used: a reuse
            assert results[0].pair is None and "already used" in str(results[0].error)
        else:  # SQLite serialises writers: the second one is refused outright
            assert isinstance(results[0], OperationalError) and "locked" in str(results[0])
        with factory() as s:
            live = s.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
            if is_postgres:  # treated as a reuse: every token of the login is revoked
                assert [t for t in live if t.used_at is None] == []
            else:  # one rotation only: the first pair's refresh used, one new pair
                assert sorted(t.kind for t in live if t.used_at is None) == [
                    "access",
                    "refresh",
                ]
    finally:
        engine.dispose()
