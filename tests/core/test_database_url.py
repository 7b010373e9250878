"""Database URLs in settings: ``postgres://`` is PostgreSQL, the rest refused in one line."""

from __future__ import annotations

import pytest

from lms_core.db import make_engine
from lms_core.settings import Settings, SettingsError, load_settings


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        (
            "postgres://lms:pw@db.example.org:5432/lms",
            "postgresql://lms:pw@db.example.org:5432/lms",
        ),
        ("postgres+psycopg2://lms@h/lms", "postgresql+psycopg2://lms@h/lms"),
        ("postgresql://lms@h/lms", "postgresql://lms@h/lms"),
        ("  sqlite:///var/lms.db ", "sqlite:///var/lms.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_urls_taken(given, taken):
    assert load_settings(database_url=given).database_url == taken


def test_a_plain_postgresql_url_connects_with_the_bundled_driver():
    engine = make_engine(Settings(database_url="postgres://lms@127.0.0.1:1/lms"), create=False)
    assert engine.url.drivername == "postgresql+psycopg2"  # not psycopg 3, which is not installed
    engine.dispose()


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("mysql://lms:s3cret@h/lms", "mysql databases are not supported"),
        ("mssql+pyodbc://lms:s3cret@h/lms", "mssql databases are not supported"),
        ("not a url", "not a database URL"),
        ("", "not a database URL"),
        (
            "postgresql+nosuchdriver://lms:s3cret@h/lms",
            "driver postgresql+nosuchdriver is not installed",
        ),
    ],
)
def test_urls_refused_in_one_line_without_the_password(given, says):
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url=given)
    [(field, message)] = caught.value.problems
    assert field == "database_url"
    assert says in message and "s3cret" not in message
    assert "\n" not in message and not message.startswith("Value error")
