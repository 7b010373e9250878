"""The engine's settings read without Pydantic agree with the full settings, or step aside."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lms_core import settings_env
from lms_core.settings import Settings, SettingsError, load_settings
from lms_core.settings_env import DatabaseSettings, quick_engine_settings

ENGINE_FIELDS = (
    "database_url",
    "db_pool_size",
    "db_max_overflow",
    "db_ping_idle_ms",
    "sqlite_busy_timeout_ms",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("LMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_table_names_every_field_of_settings_with_its_kind_and_bounds() -> None:
    assert settings_env.known_fields() == set(Settings.model_fields)
    for name, low in settings_env.INT_FIELDS.items():
        info = Settings.model_fields[name]
        assert info.annotation is int, name
        bounds = [getattr(m, "ge", None) for m in info.metadata]
        assert low in bounds, (name, bounds)
    for name in settings_env.TEXT_FIELDS:
        assert Settings.model_fields[name].annotation in (str, str | None, SecretStr), name
    for name in settings_env.PATH_FIELDS:
        assert Settings.model_fields[name].annotation in (Path, Path | None), name
    defaults = DatabaseSettings()
    for name in ENGINE_FIELDS:
        assert getattr(defaults, name) == Settings.model_fields[name].default, name


def full_engine_settings(env: dict[str, str], overrides: dict[str, Any]) -> tuple[Any, ...] | None:
    for key, value in env.items():
        os.environ[key] = value
    try:
        loaded = load_settings(None, **overrides)
    except SettingsError:
        return None
    finally:
        for key in env:
            del os.environ[key]
    return tuple(getattr(loaded, name) for name in ENGINE_FIELDS)


PLAIN: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({}, {}),
    ({}, {"database_url": "sqlite:////tmp/x.db"}),
    ({"LMS_DATABASE_URL": "postgresql+psycopg2://lms@db/lms"}, {}),
    ({"LMS_DATABASE_URL": "sqlite:///a.db"}, {"database_url": "sqlite:///b.db"}),
    ({"lms_db_pool_size": "007", "LMS_DB_MAX_OVERFLOW": "0"}, {}),
    ({"LMS_SQLITE_BUSY_TIMEOUT_MS": "250", "LMS_DEBUG": "Yes", "LMS_ACTOR": "x@y.z"}, {}),
    ({"LMS_FILES_DIR": "/tmp/files", "LMS_CERTIFICATE_PAGE_SIZE": "Letter"}, {}),
    ({"LMS_PASSWORD_MIN_LENGTH": "12", "LMS_HUEY_URL": ""}, {}),
]
#: What the full settings refuse, rewrite or judge: the quick reading steps aside.
OTHER: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"LMS_DB_POOL_SIZE": "0"}, {}),
    ({"LMS_DB_POOL_SIZE": " 5"}, {}),
    ({"LMS_DB_POOL_SIZE": "\uff15"}, {}),  # a full-width digit
    ({"LMS_PASSWORD_MIN_LENGTH": "7"}, {}),
    ({"LMS_DEBUG": "maybe"}, {}),
    ({"LMS_ENVIRONMENT": "production"}, {}),
    ({"LMS_CERTIFICATE_PAGE_SIZE": "a4"}, {}),
    ({"LMS_SECRET_KEY_FILE": "/nonexistent"}, {}),
    ({"LMS_DATABASE_URL": "postgres://lms@db/lms"}, {}),
    ({}, {"database_url": "mysql://x/y"}),
    ({}, {"database_url": "not a url"}),
    ({}, {"database_url": " sqlite:///x.db"}),
]


@pytest.mark.parametrize(("env", "overrides"), PLAIN)
def test_quick_settings_of_a_plain_environment_agree_with_the_full_ones(
    env: dict[str, str], overrides: dict[str, Any]
) -> None:
    quick = quick_engine_settings(None, overrides, environ={**os.environ, **env})
    full = full_engine_settings(env, overrides)
    assert quick is not None
    assert full is not None, "the full settings refuse what the quick reading took"
    assert tuple(getattr(quick, name) for name in ENGINE_FIELDS) == full
    assert quick.is_sqlite == full[0].startswith("sqlite")


@pytest.mark.parametrize(("env", "overrides"), OTHER)
def test_anything_else_is_left_to_the_full_settings(
    env: dict[str, str], overrides: dict[str, Any]
) -> None:
    assert quick_engine_settings(None, overrides, environ={**os.environ, **env}) is None


def test_plain_environments_are_read_without_the_full_settings() -> None:
    env = {"LMS_DATABASE_URL": "postgresql://lms@db/lms", "LMS_DB_POOL_SIZE": "3"}
    quick = quick_engine_settings(None, {}, environ=env)
    assert quick == DatabaseSettings(database_url="postgresql://lms@db/lms", db_pool_size=3)
    assert quick_engine_settings(None, {"database_url": "sqlite:///x.db"}, environ={}) is not None


def test_a_config_or_dotenv_file_needs_the_full_settings(tmp_path: Path) -> None:
    config = tmp_path / "lms.env"
    config.write_text("LMS_DB_POOL_SIZE=2\n", encoding="utf-8")
    assert quick_engine_settings(config, {}, environ={}) is None
    (tmp_path / ".env").write_text("LMS_DB_POOL_SIZE=2\n", encoding="utf-8")
    assert quick_engine_settings(None, {}, environ={}) is None


def test_settings_error_is_one_class_wherever_it_is_imported_from() -> None:
    assert SettingsError is settings_env.SettingsError
