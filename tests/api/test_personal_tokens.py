"""Personal access tokens: made by ``lmsctl tokens create``, narrowed by scopes, revoked by
``tokens revoke``, and never wider than their user's own rights."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lms_core.models import ApiToken, utcnow
from tests.api.conftest import API, assert_problem, bearer


def _create(cli: Any, user: Any, *args: str) -> dict[str, Any]:
    result = cli("tokens", "create", *args, "--json", as_=user.email)
    assert result.exit_code == 0, result.stdout + result.stderr
    row: dict[str, Any] = json.loads(result.stdout)
    return row


def test_create_prints_the_token_once_and_stores_its_hash(
    cli: Any, learner: Any, session: Session
) -> None:
    row = _create(cli, learner, "--scope", "courses:read,enrollments:read", "--name", "app")
    assert row["token"].startswith("lms_pat_")
    assert row["scopes"] == "courses:read enrollments:read" and row["status"] == "active"
    stored = session.get(ApiToken, row["id"])
    assert stored is not None and row["token"] not in {stored.token_hash, stored.name}
    listed = cli("tokens", "list", "--json", as_=learner.email)
    assert listed.exit_code == 0
    assert row["token"] not in listed.stdout
    assert [r["id"] for r in json.loads(listed.stdout)] == [row["id"]]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--scope", "courses:destroy"], "scope"),
        (["--scope", ""], "scope"),
        (["--scope", "courses:read", "--expires", "yesterday"], "expires"),
        (["--scope", "courses:read", "--expires", "2001-01-01"], "expires"),
        (["--scope", "courses:read", "--expires", "900d"], "expires"),
    ],
)
def test_create_refuses_bad_input(cli: Any, learner: Any, args: list[str], field: str) -> None:
    result = cli("tokens", "create", *args, "--json", as_=learner.email)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["field"] == field


def test_the_operator_must_act_as_the_tokens_user(cli: Any) -> None:
    result = cli("tokens", "create", "--scope", "courses:read", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["field"] == "as"


def test_a_scope_narrows_the_token(cli: Any, client: FlaskClient, learner: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True)
    token = _create(cli, learner, "--scope", "courses:read")["token"]
    assert client.get(f"{API}/courses", headers=bearer(token)).status_code == 200
    refused = client.post(f"{API}/courses/{course.slug}/enrollment", headers=bearer(token))
    body = assert_problem(refused, 403)
    assert body["errors"][0] == {
        "field": "scope",
        "value": "enrollments:write",
        "message": body["detail"],
    }
    assert_problem(client.get(f"{API}/me/enrollments", headers=bearer(token)), 403)


def test_a_scope_never_widens_the_users_rights(
    cli: Any, client: FlaskClient, learner: Any, make: Any
) -> None:
    """A learner's token with every scope still sees only the learner's own records."""
    other = make.enroll()
    token = _create(cli, learner, "--scope", "enrollments:read,certificates:read")["token"]
    mine = client.get(f"{API}/me/enrollments", headers=bearer(token)).get_json()
    assert mine["items"] == [] and other.id


def test_revoke_stops_the_token_at_once(
    cli: Any, client: FlaskClient, learner: Any, session: Session
) -> None:
    row = _create(cli, learner, "--scope", "courses:read")
    revoked = cli("tokens", "revoke", str(row["id"]), "--json", as_=learner.email)
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    assert_problem(client.get(f"{API}/courses", headers=bearer(row["token"])), 401)


def test_only_the_owner_or_an_admin_revokes(
    cli: Any, learner: Any, make: Any, admin_user: Any
) -> None:
    row = _create(cli, learner, "--scope", "courses:read")
    stranger = make.user("student")
    refused = cli("tokens", "revoke", str(row["id"]), "--json", as_=stranger.email)
    assert refused.exit_code == 1
    assert cli("tokens", "list", "--json", as_=stranger.email).stdout.strip() == "[]"
    everyone = json.loads(cli("tokens", "list", "--json", as_=admin_user.email).stdout)
    assert row["id"] in [r["id"] for r in everyone]
    assert cli("tokens", "revoke", str(row["id"]), as_=admin_user.email).exit_code == 0


def test_an_expired_token_is_refused(
    cli: Any, client: FlaskClient, learner: Any, session: Session
) -> None:
    row = _create(cli, learner, "--scope", "courses:read", "--expires", "1d")
    stored = session.get(ApiToken, row["id"])
    assert stored is not None
    stored.expires_at = utcnow() - timedelta(minutes=1)
    session.flush()
    assert_problem(client.get(f"{API}/courses", headers=bearer(row["token"])), 401)
    listed = json.loads(cli("tokens", "list", "--json", as_=learner.email).stdout)
    assert listed[0]["status"] == "expired"


def test_logout_with_a_personal_token_revokes_only_it(
    cli: Any, client: FlaskClient, learner: Any
) -> None:
    one = _create(cli, learner, "--scope", "courses:read")["token"]
    two = _create(cli, learner, "--scope", "courses:read")["token"]
    assert client.post(f"{API}/auth/logout", headers=bearer(one)).get_json() == {"revoked": 1}
    assert_problem(client.get(f"{API}/courses", headers=bearer(one)), 401)
    assert client.get(f"{API}/courses", headers=bearer(two)).status_code == 200
