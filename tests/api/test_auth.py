"""Login, refresh (rotation and reuse detection), logout, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import ApiToken, AuditEntry, utcnow
from lms_core.security import token_hash
from lms_core.settings import Settings
from tests.api.conftest import API, assert_problem, bearer, login
from tests.factories import PASSWORD


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_login_gives_an_access_and_a_refresh_token_stored_hashed(
    client: FlaskClient, learner: Any, session: Session
) -> None:
    response = login(client, learner)
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 900 and body["token_type"] == "Bearer"
    assert body["access_token"].startswith("lms_at_")
    assert body["refresh_token"].startswith("lms_rt_")
    rows = list(session.scalars(select(ApiToken).where(ApiToken.user_id == learner.id)))
    assert {r.kind for r in rows} == {"access", "refresh"}
    assert {r.token_hash for r in rows} == {
        token_hash(body["access_token"]),
        token_hash(body["refresh_token"]),
    }
    assert len({r.family for r in rows}) == 1
    entries = _audit(session, "user.login")
    assert entries and entries[-1].actor_id == learner.id and entries[-1].after == {"via": "api"}
    me = client.get(f"{API}/me/enrollments", headers=bearer(body["access_token"]))
    assert me.status_code == 200


def test_wrong_password_is_401_and_counts_toward_the_lockout(
    client: FlaskClient, learner: Any, settings: Settings, session: Session
) -> None:
    body = assert_problem(login(client, learner, "wrong-password"), 401)
    assert "attempts left" not in body["detail"]  # an unknown e-mail could not say it
    for _ in range(settings.lockout_threshold - 1):
        last = login(client, learner, "wrong-password")
    assert assert_problem(last, 401)["detail"] == body["detail"]  # the lock says nothing yet
    # The right password does not open a locked account either (the CLI's rule).
    assert_problem(login(client, learner), 423)
    session.refresh(learner)
    assert learner.locked_until is not None


def test_unknown_user_and_deactivated_user_get_the_same_answer(
    client: FlaskClient, make: Any, session: Session
) -> None:
    unknown = assert_problem(login(client, "nobody@test.example"), 401)
    gone = make.user("student", is_active=False)
    deactivated = assert_problem(login(client, gone), 401)
    assert unknown["detail"] == deactivated["detail"]


def test_refresh_rotates_and_the_old_access_token_stops(client: FlaskClient, learner: Any) -> None:
    first = login(client, learner).get_json()
    response = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        client.get(f"{API}/me/enrollments", headers=bearer(second["access_token"])).status_code
        == 200
    )
    assert_problem(client.get(f"{API}/me/enrollments", headers=bearer(first["access_token"])), 401)


def test_refresh_token_reuse_revokes_the_whole_family(
    client: FlaskClient, learner: Any, session: Session
) -> None:
    first = login(client, learner).get_json()
    second = client.post(
        f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ).get_json()
    # The old refresh token again: a copy is in other hands.
    reused = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert "already used" in assert_problem(reused, 401)["detail"]
    # Every token of that login is now dead, the legitimate holder's new pair too.
    assert_problem(client.get(f"{API}/me/enrollments", headers=bearer(second["access_token"])), 401)
    again = client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_problem(again, 401)
    assert _audit(session, "api_token.reuse")
    # Another login of the same user is not affected.
    other = login(client, learner).get_json()
    assert (
        client.get(f"{API}/me/enrollments", headers=bearer(other["access_token"])).status_code
        == 200
    )


def test_an_access_token_is_not_a_refresh_token_and_back(client: FlaskClient, learner: Any) -> None:
    pair = login(client, learner).get_json()
    assert_problem(
        client.post(f"{API}/auth/refresh", json={"refresh_token": pair["access_token"]}), 401
    )
    assert_problem(client.get(f"{API}/courses", headers=bearer(pair["refresh_token"])), 401)


def test_expired_tokens_are_refused(client: FlaskClient, learner: Any, session: Session) -> None:
    pair = login(client, learner).get_json()
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == learner.id)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    assert_problem(client.get(f"{API}/courses", headers=bearer(pair["access_token"])), 401)
    refused = client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refused, 401)


def test_logout_revokes_the_login(client: FlaskClient, learner: Any, session: Session) -> None:
    pair = login(client, learner).get_json()
    out = client.post(f"{API}/auth/logout", headers=bearer(pair["access_token"]))
    assert out.status_code == 200 and out.get_json()["revoked"] == 2
    assert_problem(client.get(f"{API}/courses", headers=bearer(pair["access_token"])), 401)
    refused = client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refused, 401)
    assert _audit(session, "user.logout")
    assert_problem(client.post(f"{API}/auth/logout"), 401)


def test_a_deactivated_users_tokens_stop_at_once(
    client: FlaskClient, learner: Any, session: Session
) -> None:
    pair = login(client, learner).get_json()
    learner.is_active = False
    session.flush()
    assert_problem(client.get(f"{API}/courses", headers=bearer(pair["access_token"])), 401)
    refused = client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(refused, 401)


def test_a_bad_bearer_token_does_not_shut_the_public_endpoints(
    client: FlaskClient, learner: Any
) -> None:
    first = login(client, learner).get_json()
    stale = bearer("lms_at_expired-or-unknown")
    refreshed = client.post(
        f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]}, headers=stale
    )
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    again = client.post(
        f"{API}/auth/login",
        json={"email": learner.email, "password": PASSWORD},
        headers=stale,
    )
    assert again.status_code == 200, again.get_data(as_text=True)
    assert_problem(client.get(f"{API}/verify/LMS-0000-0000", headers=stale), 422)  # not 401
    # Anywhere else the same header is refused.
    assert_problem(client.get(f"{API}/me/enrollments", headers=stale), 401)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"password": "Sekrit-Echo-1234"}),  # email missing: the whole body
        ("/auth/login", {"email": "a@b.example", "password": ["Sekrit-Echo-1234"]}),
        ("/auth/login", {"email": "a@b.example", "password": "Sekrit-Echo-1234", "x": 1}),
        ("/auth/refresh", {"refresh_token": 12345678}),
        ("/auth/password-reset/confirm", {"token": "Sekrit-Echo-1234", "password": "x"}),
        ("/auth/invitation", {"token": "Sekrit-Echo-1234", "password": "Sekrit-Echo-1234"}),
    ],
)
def test_a_refusal_never_echoes_a_secret(client: FlaskClient, path: str, body: Any) -> None:
    response = client.post(f"{API}{path}", json=body)
    assert response.status_code in (401, 422), response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert "Sekrit-Echo" not in text and "12345678" not in text, text
    secret = {"password", "token", "refresh_token"}
    for entry in response.get_json()["errors"]:
        if (entry["field"] or "").rsplit(".", 1)[-1] in secret:
            assert entry["value"] is None
