"""Every list, details page and search box of the back office speaks in words, not in field
names (``created_at``, ``question_text``); exports keep the seed's field names."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask_admin.contrib.sqla import ModelView

from admin_ui.modelviews.labels import human
from lms_core.models import User

RAW = re.compile(r"[a-z]_[a-z]|\.[a-z]")


def _model_views(app: Flask) -> list[ModelView]:
    return [
        v for admin in app.extensions["admin"] for v in admin._views if isinstance(v, ModelView)
    ]


def test_headers_and_search_placeholders_are_words(app: Flask) -> None:
    problems = []
    with app.test_request_context():
        for view in _model_views(app):
            shown = [*view._list_columns, *getattr(view, "_details_columns", [])]
            problems += [
                f"{view.endpoint}: {n} is {label!r}" for n, label in shown if RAW.search(str(label))
            ]
            placeholder = view.search_placeholder() or ""
            if RAW.search(placeholder):
                problems.append(f"{view.endpoint} search: {placeholder!r}")
    assert problems == []


def test_the_page_shows_the_words_and_the_export_the_field_names(
    logged_in: Any, admin_user: User
) -> None:
    client = logged_in(admin_user)
    page = client.get("/admin/question/").get_data(as_text=True)
    assert 'placeholder="Question, Title"' in page and "question_text," not in page
    users = client.get("/admin/user/").get_data(as_text=True)
    header_cell = re.search(r'<th class="column-header col-created_at">(.*?)</th>', users, re.S)
    assert header_cell is not None
    assert re.sub(r"<[^>]+>", "", header_cell.group(1)).strip() == "Created"
    export = client.get("/admin/user/export.csv").get_data(as_text=True).lstrip("\ufeff")
    header = export.splitlines()[0]
    assert "email" in header.split(",") and "E-mail" not in header


def test_human() -> None:
    assert human("created_at") == "Created"
    assert human("is_published") == "Published"
    assert human("pdf_sha256") == "PDF SHA-256"
    assert human("estimated_duration_minutes") == "Estimated duration (minutes)"
    assert human("avatar_url") == "Avatar URL"
