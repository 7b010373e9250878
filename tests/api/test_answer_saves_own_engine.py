"""Saving quiz answers through the API, as gunicorn runs it (an app with its own engine and
one pooled connection, not the tests' shared transaction): saves that merge, the same answers
again, an overdue save that closes the attempt (409), and a submit after them on the same
connection."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from admin_ui.app import EXTENSION, create_app
from lms_core.accounts.api_tokens import create_personal_token
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory
from lms_core.models import Attempt, utcnow
from lms_core.ops import schema
from lms_core.security import PasswordHasher
from tests.api.conftest import API, bearer
from tests.conftest import cheap_settings
from tests.factories import Factories
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz


def test_saves_merge_an_overdue_one_closes_and_a_submit_follows(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files", db_pool_size=1)
    engine = make_engine(settings)
    schema.upgrade(engine)
    operator = Actor.operator("pytest")
    factory = make_session_factory(engine)
    with factory() as s:
        make = Factories(s, PasswordHasher.from_settings(settings), operator)
        setup = make_quiz(s, make, operator, questions=all_types()[:6], max_attempts=2)
        _, token = create_personal_token(
            s,
            actor=Actor.for_user(setup.student),
            name="quiz",
            scopes=["quizzes:write", "quizzes:read"],
        )
        s.commit()
        path = f"{API}/courses/{setup.course.slug}/lessons/quiz/quiz/attempts"
    app = create_app(settings)
    client = app.test_client()
    headers = bearer(token)

    def put(attempt_id: int, numbers: range) -> Any:
        answers = {str(n): RIGHT[n] for n in numbers}
        return client.put(
            f"{API}/attempts/{attempt_id}/answers", json={"answers": answers}, headers=headers
        )

    try:
        first = client.post(path, headers=headers).get_json()["attempt"]["id"]
        for numbers in (range(1, 4), range(4, 7), range(4, 7)):  # the last: the same again
            saved = put(first, numbers)
            assert saved.status_code == 200, saved.get_data(as_text=True)
            assert saved.get_json()["saved"] == list(numbers)
        submitted = client.post(f"{API}/attempts/{first}/submission", headers=headers)
        assert submitted.status_code == 200, submitted.get_data(as_text=True)
        assert submitted.get_json()["score"] == 100.0  # both saves' answers were kept

        second = client.post(path, headers=headers).get_json()["attempt"]["id"]
        assert put(second, range(1, 2)).status_code == 200
        with factory() as s:  # the deadline passes
            s.execute(
                update(Attempt)
                .where(Attempt.id == second)
                .values(deadline_at=utcnow() - timedelta(minutes=1))
            )
            s.commit()
        late = put(second, range(2, 7))
        assert late.status_code == 409, late.get_data(as_text=True)
        assert "deadline has passed" in late.get_json()["detail"]
        shown = client.get(f"{API}/attempts/{second}", headers=headers).get_json()["attempt"]
        assert shown["status"] in ("graded", "submitted")
        assert shown["points_earned"] == float(all_types()[0].points)  # question 1 only
    finally:
        app.extensions[EXTENSION].engine.dispose()
        engine.dispose()
