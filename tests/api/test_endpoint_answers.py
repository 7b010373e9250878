"""What ``@endpoint`` sends: the view's model as JSON with its declared status; another
class, or a status the endpoint does not declare, is a bug in the view (a 500 problem),
since the OpenAPI document would not describe the answer. And the reports' documents,
sent as the CLI's writer wrote them, are checked against their model too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel

from admin_ui.api.caller import PUBLIC
from admin_ui.api.endpoint import Answer, endpoint
from tests.api.conftest import API, assert_problem
from tests.api.test_reports import UNTIL, _token


class Made(BaseModel):
    made: int


class Other(BaseModel):
    other: str


@pytest.fixture
def probes(app: Flask) -> FlaskClient:
    """Views of a test endpoint (status 201, also 200) answering right and wrong."""
    answers: dict[str, Any] = {
        "bare": lambda: Made(made=1),
        "also": lambda: (Made(made=2), 200),
        "other_class": lambda: Other(other="x"),
        "undeclared_status": lambda: (Made(made=3), 418),
    }
    for name, answer in answers.items():

        def view(answer: Any = answer) -> Answer:
            return answer()  # type: ignore[no-any-return]

        view.__name__ = f"probe_{name}"
        checked = endpoint(scope=PUBLIC, tag="probe", ok=Made, status=201, also=(200,))(view)
        app.add_url_rule(f"{API}/_probe/{name}", endpoint=f"api.probe_{name}", view_func=checked)
    return app.test_client()


def test_a_model_is_sent_with_its_declared_status(probes: FlaskClient) -> None:
    response = probes.get(f"{API}/_probe/bare")
    assert (response.status_code, response.mimetype) == (201, "application/json")
    assert response.get_json() == {"made": 1}
    response = probes.get(f"{API}/_probe/also")
    assert (response.status_code, response.get_json()) == (200, {"made": 2})


@pytest.mark.parametrize("name", ["other_class", "undeclared_status"])
def test_an_answer_the_endpoint_does_not_declare_is_a_500(probes: FlaskClient, name: str) -> None:
    assert_problem(probes.get(f"{API}/_probe/{name}"), 500)


def test_a_report_that_does_not_fit_its_model_is_a_500(
    client: FlaskClient, cli: Any, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lms_core.reports.output as output

    admin = _token(cli, make.user("admin").email)
    ok = client.get(f"{API}/reports/system?until={UNTIL}", headers=admin)
    assert ok.status_code == 200, ok.get_data(as_text=True)

    def stray(_session: Any, _report: Any, _format: str, out: Any) -> None:
        out.write(json.dumps({**ok.get_json(), "stray": 1}))

    monkeypatch.setattr(output, "write_report", stray)
    assert_problem(client.get(f"{API}/reports/system?until={UNTIL}", headers=admin), 500)
