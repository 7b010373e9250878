"""Quiz attempts through the API: start or resume, save (checked), submit, result; only the
learner's own attempt; wrong answers and hostile bodies refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.api.conftest import ApiClient, assert_problem
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz


@pytest.fixture
def setup(session: Session, make: Any, operator: Any) -> Any:
    """A published quiz of six auto-graded questions (no essay), one enrolled learner."""
    return make_quiz(session, make, operator, questions=all_types()[:6], max_attempts=2)


def _quiz_path(setup: Any) -> str:
    return f"/courses/{setup.course.slug}/lessons/quiz/quiz/attempts"


def test_start_save_submit_result(as_user: Any, setup: Any, session: Session) -> None:
    api: ApiClient = as_user(setup.student)
    started = api.post(_quiz_path(setup))
    assert started.status_code == 201, started.get_data(as_text=True)
    body = started.get_json()
    attempt_id = body["attempt"]["id"]
    assert body["attempt"]["status"] == "in_progress" and len(body["questions"]) == 6
    assert all("correct" not in str(q).lower() for q in body["questions"])
    resumed = api.post(_quiz_path(setup))
    assert resumed.status_code == 200 and resumed.get_json()["resumed"] is True
    answers = {str(n): RIGHT[n] for n in range(1, 7)}
    saved = api.client.put(
        f"/api/v1/attempts/{attempt_id}/answers",
        json={"answers": answers},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["saved"] == [1, 2, 3, 4, 5, 6]
    progress = api.get(f"/attempts/{attempt_id}").get_json()
    assert progress["attempt"]["status"] == "in_progress"
    submitted = api.post(f"/attempts/{attempt_id}/submission")
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    assert submitted.get_json()["score"] == 100.0 and submitted.get_json()["passed"] is True
    result = api.get(f"/attempts/{attempt_id}").get_json()
    assert [q["points_earned"] for q in result["questions"]] == [
        float(q["points"]) for q in result["questions"]
    ]
    assert_problem(api.post(f"/attempts/{attempt_id}/submission"), 409)
    grades = api.get("/me/grades").get_json()["items"]
    assert grades == [{"course_slug": setup.course.slug, "grade": 100.0}]


def _put(api: ApiClient, attempt_id: int, body: Any) -> Any:
    return api.client.put(
        f"/api/v1/attempts/{attempt_id}/answers",
        json=body,
        headers={"Authorization": f"Bearer {api.token}"},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"answers": {"1": "not an index"}},
        {"answers": {"99": 1}},
        {"answers": {"x": 1}},
        {"answers": []},
        {"answers": {str(n): 0 for n in range(1000)}},
        {},
    ],
)
def test_bad_answers_are_422_and_nothing_is_stored(as_user: Any, setup: Any, body: Any) -> None:
    api: ApiClient = as_user(setup.student)
    attempt_id = api.post(_quiz_path(setup)).get_json()["attempt"]["id"]
    assert_problem(_put(api, attempt_id, body), 422)
    assert all(
        q["answer"] is None for q in api.get(f"/attempts/{attempt_id}").get_json()["questions"]
    )


def test_another_learner_cannot_touch_the_attempt(as_user: Any, setup: Any, make: Any) -> None:
    owner: ApiClient = as_user(setup.student)
    attempt_id = owner.post(_quiz_path(setup)).get_json()["attempt"]["id"]
    stranger: ApiClient = as_user(make.user("student"))
    # Someone else's attempt looks like an unused id: 404, and the owner is not named.
    for refused in (
        stranger.get(f"/attempts/{attempt_id}"),
        _put(stranger, attempt_id, {"answers": {"1": 1}}),
        stranger.post(f"/attempts/{attempt_id}/submission"),
    ):
        body = assert_problem(refused, 404)
        assert body["detail"] == f"attempt: no attempt {attempt_id}"
        assert setup.student.email not in refused.get_data(as_text=True)
    unused = assert_problem(stranger.get("/attempts/99999999"), 404)
    assert unused["detail"] == "attempt: no attempt 99999999"
    not_enrolled = stranger.post(_quiz_path(setup))
    assert_problem(not_enrolled, not_enrolled.status_code)
    assert not_enrolled.status_code in (403, 409, 422)
    assert_problem(owner.get("/attempts/99999999"), 404)
    assert_problem(owner.get("/attempts/99999999999999999999"), 404)


def test_anonymous_and_scopes(client: Any, cli: Any, setup: Any) -> None:
    import json

    assert_problem(client.post("/api/v1" + _quiz_path(setup)), 401)
    made = cli("tokens", "create", "--scope", "quizzes:read", "--json", as_=setup.student.email)
    token = json.loads(made.stdout)["token"]
    refused = client.post(
        "/api/v1" + _quiz_path(setup), headers={"Authorization": f"Bearer {token}"}
    )
    assert assert_problem(refused, 403)["errors"][0]["value"] == "quizzes:write"


def test_a_quiz_that_hides_its_answers_shows_the_learner_totals_only(
    as_user: Any, setup: Any, session: Session
) -> None:
    setup.quiz.show_correct_answers = False
    session.flush()
    api: ApiClient = as_user(setup.student)
    attempt_id = api.post(_quiz_path(setup)).get_json()["attempt"]["id"]
    _put(api, attempt_id, {"answers": {"1": RIGHT[1]}})
    assert api.post(f"/attempts/{attempt_id}/submission").status_code == 200
    result = api.get(f"/attempts/{attempt_id}")
    assert result.status_code == 200, result.get_data(as_text=True)
    body = result.get_json()
    assert body["questions"] == [] and body["attempt"]["points_possible"]
    assert body["attempt"]["score"] is not None
    # The course's instructor still reads every question.
    staff = as_user(setup.teacher).get(f"/attempts/{attempt_id}").get_json()
    assert len(staff["questions"]) == 6 and "points_earned" in staff["questions"][0]
