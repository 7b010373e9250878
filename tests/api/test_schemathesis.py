"""Schemathesis against the served OpenAPI document: every operation, generated requests within
a fixed budget, no server error and every answer as the document says (status, content type,
body).

The document is loaded from the app itself (``/api/v1/openapi.json`` over WSGI), so what is
checked is what a client downloads. The demo school is seeded in the test's transaction and
an operation whose path names rows also runs on the demo's own (``demo-python-basics``, its
lessons, the demo certificate, the student, the graded attempt). Every operation runs twice: as
an administrator with a personal token that has every scope, and as the demo learner. Logout
runs last, each request with a token of its own, and each run must see a 2xx from every
operation its role can use: a run where the views are never reached (every request 401) fails
instead of passing every check. Generation is derandomized (a fixed seed from each test's
name, no example database): CI sees the same requests on every run.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.accounts import api_tokens, users
from lms_core.accounts.api_scopes import SCOPES
from lms_core.actor import Actor
from lms_core.models.quizzes import Attempt
from lms_core.ops import demo, demo_assignment, demo_quiz
from lms_core.security import PasswordHasher
from lms_core.settings import Settings

#: Generated requests per operation and role: positive data, negative data (fewer: most of
#: what negative data finds is a 422 before the view), and per set of known rows below.
EXAMPLES = 5
NEGATIVE_EXAMPLES = 2
KNOWN_EXAMPLES = 2
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Operations that end the caller's own login (a personal token revokes itself): each of their
#: requests carries a token made for it alone, and they run last, so no other operation is
#: ever answered "401, revoked" instead of reaching its view.
ENDS_LOGIN = {"POST /api/v1/auth/logout"}

#: Operations each role must see answered 2xx at least once, or the run proves nothing about
#: their views (a run where every request is refused would pass every check).
#: Not listed: what only bad or unknown input reaches with random data (login, refresh, the
#: token confirmations, the staff enrollments by e-mail, a profile change: random text is no
#: e-mail address or URL), and the learner's writes on rows the
#: demo left finished (a graded attempt, a completed lesson: 409).
ADMIN_2XX = {
    "GET /api/v1/attempts/{attempt_id}",
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/courses/{slug}/enrollment",
    "POST /api/v1/courses/{slug}/lessons/{lesson}/quiz/attempts",
    "GET /api/v1/auth/csrf",
    "POST /api/v1/auth/logout",
    "POST /api/v1/certificates/{number}/revocation",
    "GET /api/v1/courses",
    "GET /api/v1/courses/{slug}",
    "GET /api/v1/me/certificates",
    "GET /api/v1/me/enrollments",
    "GET /api/v1/me/grades",
    "GET /api/v1/users",
    "POST /api/v1/users/{email}/deactivation",
    "GET /api/v1/verify/{number}",
}
LEARNER_2XX = {
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/courses/{slug}/lessons/{lesson}/quiz/attempts",
    "GET /api/v1/attempts/{attempt_id}",
    "GET /api/v1/auth/csrf",
    "POST /api/v1/auth/logout",
    "GET /api/v1/courses",
    "GET /api/v1/courses/{slug}",
    "POST /api/v1/courses/{slug}/enrollment",
    "GET /api/v1/me/certificates",
    "GET /api/v1/me/certificates/{number}/pdf",
    "GET /api/v1/me/enrollments",
    "GET /api/v1/me/grades",
    "GET /api/v1/verify/{number}",
    "PUT /api/v1/me/enrollments/{slug}/review",
}


def _known(session: Session) -> list[dict[str, Any]]:
    """Path values naming rows the demo seed made: an operation whose path parameters are all
    in one entry also runs with exactly those values (ids read back: PostgreSQL sequences do
    not restart with the test's transaction)."""
    attempt = session.scalar(select(func.min(Attempt.id)))
    return [
        {"slug": "demo-python-basics"},
        {"slug": "demo-python-basics", "lesson": demo_quiz.LESSON},
        {"slug": "demo-python-basics", "lesson": demo_assignment.LESSON},
        {"number": demo.DEMO_CERTIFICATE_NUMBER},
        {"email": demo.DEMO_USERS[2][0]},
        {"attempt_id": attempt},
    ]


def _token(session: Session, email: str, scopes: list[str]) -> str:
    user = users.find_user(session, email)
    assert user is not None
    _row, raw = api_tokens.create_personal_token(
        session, actor=Actor.for_user(user), name="schemathesis", scopes=scopes
    )
    session.commit()
    return raw


@pytest.fixture
def api_schema(
    app: Flask, session: Session, hasher: PasswordHasher, settings: Settings, operator: Actor
) -> Any:
    from admin_ui.api.limits import EXTENSION as LIMITER

    demo.seed(session, actor=operator, hasher=hasher, settings=settings)
    session.commit()
    # The limits have their own tests; here 700 requests from one address would all be 429s.
    app.extensions[LIMITER].enabled = False
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _strategies(operation: Any, known: list[dict[str, Any]]) -> list[tuple[str, Any, int]]:
    """(name, strategy, budget) for one operation: its known rows first (before random
    requests change them), then positive and negative data."""
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    names = {p.name for p in operation.path_parameters}
    runs = [
        (
            "known",
            operation.as_strategy(generation_mode=positive, path_parameters=values),
            KNOWN_EXAMPLES,
        )
        for values in known
        if names and set(values) == names
    ]
    runs.append(("positive", operation.as_strategy(generation_mode=positive), EXAMPLES))
    runs.append(("negative", operation.as_strategy(generation_mode=negative), NEGATIVE_EXAMPLES))
    return runs


def _run(schema: Any, session: Session, email: str, label: str) -> dict[str, dict[str, set[int]]]:
    """Every operation, as ``email`` with a token that has every scope; the statuses seen,
    by operation label and kind of data (known, positive, negative)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    operations.sort(key=lambda op: op.label in ENDS_LOGIN)  # stable: document order otherwise
    assert operations[-1].label in ENDS_LOGIN
    token = _token(session, email, sorted(SCOPES))
    known = _known(session)
    seen: dict[str, dict[str, set[int]]] = {}
    started = time.perf_counter()
    calls = 0
    for operation in operations:
        for kind, strategy, budget in _strategies(operation, known):
            statuses = seen.setdefault(operation.label, {}).setdefault(kind, set())

            @given(case=strategy)
            @settings(
                max_examples=budget,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                print_blob=True,
            )
            def check(case: Any) -> None:
                # Called right below, in this iteration: the loop variables are the current ones.
                nonlocal calls
                calls += 1
                own = (
                    _token(session, email, sorted(SCOPES))
                    if operation.label in ENDS_LOGIN  # noqa: B023
                    else token
                )
                response = case.call_and_validate(
                    headers={"Authorization": f"Bearer {own}"}, checks=CHECKS
                )
                statuses.add(response.status_code)  # noqa: B023

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid (no parameter, no body): no negative case exists.
                assert kind == "negative", operation.label
    elapsed = time.perf_counter() - started
    print(
        f"schemathesis {schemathesis.__version__} as {label}: {len(operations)} operations, "
        f"{EXAMPLES} positive + {NEGATIVE_EXAMPLES} negative examples per operation "
        f"(+ {KNOWN_EXAMPLES} per set of known rows), {calls} requests in {elapsed:.1f} s"
    )
    return seen


def _answered_2xx(seen: dict[str, dict[str, set[int]]], kinds: tuple[str, ...]) -> set[str]:
    return {
        label
        for label, by_kind in seen.items()
        if any(200 <= s < 300 for kind in kinds for s in by_kind.get(kind, ()))
    }


def _assert_reached(seen: dict[str, dict[str, set[int]]], expected: set[str]) -> None:
    """The views were reached: every expected operation answered 2xx, and so did every
    expected one with known rows, to one of those requests."""
    missing = expected - _answered_2xx(seen, ("known", "positive"))
    assert not missing, {label: seen[label] for label in sorted(missing)}
    with_known = {label for label, by_kind in seen.items() if "known" in by_kind}
    missing = (expected & with_known) - _answered_2xx(seen, ("known",))
    assert not missing, {label: seen[label] for label in sorted(missing)}


def test_every_operation_as_an_admin_with_every_scope(api_schema: Any, session: Session) -> None:
    _assert_reached(_run(api_schema, session, demo.DEMO_USERS[0][0], "admin"), ADMIN_2XX)


def test_every_operation_as_the_demo_learner(api_schema: Any, session: Session) -> None:
    _assert_reached(_run(api_schema, session, demo.DEMO_USERS[2][0], "learner"), LEARNER_2XX)


def test_the_checks_catch_a_wrong_answer(app: Flask) -> None:
    """The checks can fail: a body off its schema, an undocumented status and a server error
    from one operation are each reported (schemathesis raises a FailureGroup)."""
    from flask import jsonify

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema["/api/v1/auth/csrf"]["GET"]
    operation.Case().call_and_validate(checks=CHECKS)  # the real view passes
    wrong = {
        "ST108 Response violates schema": lambda: (jsonify({"nope": 1}), 200),
        "ST103 Undocumented status code": lambda: (jsonify({"csrf_token": "x"}), 202),
        "Server error": lambda: 1 / 0,
    }
    for code, view in wrong.items():
        app.view_functions["api.csrf"] = view
        with pytest.raises(BaseException) as failed:
            operation.Case().call_and_validate(checks=CHECKS)
        assert type(failed.value).__name__ == "FailureGroup"
        assert code in str(failed.value), str(failed.value)[:500]


def test_the_reach_check_catches_a_run_that_never_reaches_a_view() -> None:
    """A run answered 401 throughout (a revoked token) or 404 on the known rows fails."""
    all_401 = {label: {"positive": {401}, "negative": {401}} for label in ADMIN_2XX}
    with pytest.raises(AssertionError, match="GET /api/v1/courses"):
        _assert_reached(all_401, ADMIN_2XX)
    known_404 = {label: {"positive": {200}} for label in ADMIN_2XX}
    known_404["GET /api/v1/courses/{slug}"] = {"known": {404}, "positive": {200}}
    with pytest.raises(AssertionError, match=re.escape("courses/{slug}")):
        _assert_reached(known_404, ADMIN_2XX)
