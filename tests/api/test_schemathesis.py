"""Schemathesis against the served OpenAPI document: every operation, generated requests within
a fixed budget, no server error and every answer as the document says (status, content type,
body).

The document is loaded from the app itself (``/api/v1/openapi.json`` over WSGI), so what is
checked is what a client downloads. The demo school is seeded in the test's transaction so a
share of the requests name rows that exist (``demo-python-basics``, its lessons, the demo
certificate), and every operation runs twice: as an administrator with a personal token that
has every scope, and as the demo learner. Generation is derandomized (a fixed seed from each
test's name, no example database): CI sees the same requests on every run.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from lms_core.accounts import api_tokens, users
from lms_core.accounts.api_scopes import SCOPES
from lms_core.actor import Actor
from lms_core.ops import demo, demo_assignment
from lms_core.security import PasswordHasher
from lms_core.settings import Settings

#: Generated requests per operation and role (positive and negative data each get this many).
#: 30 operations x 2 modes x 5 = at most 300 requests a role (fewer: an operation without
#: parameters has no negative case): about 20 s a role on one core.
EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Rows the demo seed makes, used for the path parameters of those names in half the requests
#: (each set in turn: the quiz lesson, the assignment lesson).
KNOWN = [
    {
        "slug": "demo-python-basics",
        "lesson": "checkpoint",
        "number": "LMS-DEM0-0001-3",
        "email": "student@demo.example.org",
        "attempt_id": 1,
    },
    {"slug": "demo-python-basics", "lesson": demo_assignment.LESSON},
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


def _run(schema: Any, token: str, label: str) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    calls = 0
    for operation in operations:
        known = {p.name: KNOWN[p.name] for p in operation.path_parameters if p.name in KNOWN}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if known and mode is schemathesis.GenerationMode.POSITIVE:
                strategy = st.one_of(
                    strategy, operation.as_strategy(generation_mode=mode, path_parameters=known)
                )

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                print_blob=True,
            )
            def check(case: Any) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid (no parameter, no body): no negative case exists.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    elapsed = time.perf_counter() - started
    print(
        f"schemathesis {schemathesis.__version__} as {label}: {len(operations)} operations, "
        f"budget {EXAMPLES} examples per operation and mode, {calls} requests in {elapsed:.1f} s"
    )


def test_every_operation_as_an_admin_with_every_scope(api_schema: Any, session: Session) -> None:
    _run(api_schema, _token(session, demo.DEMO_USERS[0][0], sorted(SCOPES)), "admin")


def test_every_operation_as_the_demo_learner(api_schema: Any, session: Session) -> None:
    _run(api_schema, _token(session, demo.DEMO_USERS[2][0], sorted(SCOPES)), "learner")


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
