"""CORS: listed origins may call the API with a token; others get no CORS header."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.settings import Settings
from tests.api.conftest import API

ORIGIN = "https://app.example.org"


@pytest.fixture
def cors_app(settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    own = settings.model_copy(update={"cors_origins": f"{ORIGIN}/, https://other.example.org"})
    app = create_app(own, session_factory=session_factory)
    yield app
    app.extensions[EXTENSION].dispose()


def test_a_listed_origin_gets_its_headers_and_a_preflight(cors_app: Flask) -> None:
    client = cors_app.test_client()
    answer = client.get(f"{API}/openapi.json", headers={"Origin": ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in answer.headers
    preflight = client.options(
        f"{API}/courses/x/enrollment",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_an_unlisted_origin_and_the_back_office_get_none(cors_app: Flask, app: Flask) -> None:
    client = cors_app.test_client()
    other = client.get(f"{API}/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/login", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in page.headers
    default = app.test_client().get(f"{API}/openapi.json", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in default.headers
