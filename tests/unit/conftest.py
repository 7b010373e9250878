"""Users most service tests need; the database fixtures live in tests/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.models import User


@pytest.fixture
def admin_user(make: Any) -> User:
    return make.user("admin")


@pytest.fixture
def teacher(make: Any) -> User:
    return make.user("instructor")


@pytest.fixture
def learner(make: Any) -> User:
    return make.user("student")
