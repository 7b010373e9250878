"""Settings: environment, config file, secret files, production refusals, errors naming fields."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lms_core.settings import DEV_SECRET, Environment, Settings, SettingsError, load_settings

GOOD_SECRET = "q8Vx3LmZ0pR7tYw2sN5bK9cF4hJ6gD1a"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No LMS_ variables and no .env from the developer's shell or checkout."""
    for name in list(os.environ):
        if name.startswith("LMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def production(**overrides):
    values = {
        "environment": "production",
        "secret_key": GOOD_SECRET,
        "public_base_url": "https://lms.example.org",
        "database_url": "postgresql+psycopg2://lms@db/lms",
    }
    values.update(overrides)
    return values


def problem_fields(err):
    return [field for field, _ in err.value.problems]


def test_defaults_are_a_development_sqlite_setup():
    s = load_settings()
    assert s.environment is Environment.development
    assert s.database_url == "sqlite:///var/lms.db"
    assert s.is_sqlite
    assert s.secret_key.get_secret_value() == DEV_SECRET
    assert (s.password_time_cost, s.password_memory_cost, s.password_parallelism) == (3, 65536, 4)
    assert (s.lockout_threshold, s.lockout_base_minutes, s.lockout_max_minutes) == (5, 1, 1440)


def test_environment_variables_use_the_lms_prefix(monkeypatch):
    monkeypatch.setenv("LMS_DATABASE_URL", "postgresql://db/lms")
    monkeypatch.setenv("LMS_WEB_WORKERS", "4")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored.db")
    s = load_settings()
    assert (s.database_url, s.web_workers, s.is_sqlite) == ("postgresql://db/lms", 4, False)


def test_overrides_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("LMS_WEB_WORKERS", "4")
    assert load_settings(web_workers=2).web_workers == 2


def test_secret_key_is_never_shown_in_repr():
    s = load_settings(secret_key=GOOD_SECRET)
    assert GOOD_SECRET not in repr(s)
    assert GOOD_SECRET not in str(s.model_dump())


def test_load_settings_reads_a_config_file(tmp_path):
    config = tmp_path / "lms.env"
    config.write_text(
        "LMS_DATABASE_URL=postgresql://db/from-file\nLMS_LOCKOUT_THRESHOLD=7\n"
        "# a comment\nLMS_DEBUG=true\n",
        encoding="utf-8",
    )
    s = load_settings(config)
    assert (s.database_url, s.lockout_threshold, s.debug) == ("postgresql://db/from-file", 7, True)


def test_environment_wins_over_the_config_file(monkeypatch, tmp_path):
    config = tmp_path / "lms.env"
    config.write_text("LMS_WEB_WORKERS=3\n", encoding="utf-8")
    monkeypatch.setenv("LMS_WEB_WORKERS", "5")
    assert load_settings(config).web_workers == 5


def test_a_dot_env_in_the_working_folder_is_read(tmp_path):
    (tmp_path / ".env").write_text(
        "LMS_PUBLIC_BASE_URL=https://from-dotenv.example.org\n", encoding="utf-8"
    )
    assert load_settings().public_base_url == "https://from-dotenv.example.org"


def test_a_missing_config_file_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="does not exist") as err:
        load_settings(tmp_path / "nope.env")
    assert problem_fields(err) == ["config"]


def test_secret_key_file_is_read_and_stripped(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(f"  {GOOD_SECRET}\n", encoding="utf-8")
    monkeypatch.setenv("LMS_SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("LMS_SECRET_KEY", "this-one-loses-to-the-file")
    s = load_settings()
    assert s.secret_key.get_secret_value() == GOOD_SECRET
    assert s.secret_key_file == secret


def test_secret_key_file_satisfies_production(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(GOOD_SECRET, encoding="utf-8")
    monkeypatch.setenv("LMS_SECRET_KEY_FILE", str(secret))
    values = production()
    del values["secret_key"]
    assert load_settings(**values).secret_key.get_secret_value() == GOOD_SECRET


def test_an_unreadable_secret_key_file_is_a_settings_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LMS_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="secret_key_file: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("LMS_WEB_WORKERS", "many", "web_workers"),
        ("LMS_WEB_WORKERS", "0", "web_workers"),
        ("LMS_DB_POOL_SIZE", "0", "db_pool_size"),
        ("LMS_PASSWORD_MEMORY_COST", "4", "password_memory_cost"),
        ("LMS_PASSWORD_MIN_LENGTH", "6", "password_min_length"),
        ("LMS_ENVIRONMENT", "staging", "environment"),
        ("LMS_DEBUG", "perhaps", "debug"),
        ("LMS_SQLITE_BUSY_TIMEOUT_MS", "-1", "sqlite_busy_timeout_ms"),
    ],
)
def test_bad_values_name_the_field(monkeypatch, name, value, field):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert field in problem_fields(err)
    assert field in str(err.value)


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(SettingsError) as err:
        load_settings(web_workers=0, lockout_threshold=0, db_max_overflow=-1)
    assert sorted(problem_fields(err)) == ["db_max_overflow", "lockout_threshold", "web_workers"]


# --- production ----------------------------------------------------------------------------


def test_good_production_settings_load():
    s = load_settings(**production())
    assert s.environment is Environment.production
    assert s.production_problems() == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"secret_key": DEV_SECRET}, "secret_key", "development default"),
        ({"secret_key": ""}, "secret_key", "missing"),
        ({"secret_key": "x7Kp2"}, "secret_key", "shorter than 32 characters"),
        ({"secret_key": "ab" * 20}, "secret_key", "too repetitive"),
        ({"debug": True}, "debug", "must be off in production"),
        (
            {"database_url": "sqlite:///var/lms.db", "web_workers": 2},
            "database_url",
            "SQLite cannot serve",
        ),
        ({"public_base_url": "http://localhost:5000"}, "public_base_url", "localhost"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, field, message):
    with pytest.raises(SettingsError) as err:
        load_settings(**production(**overrides))
    [(got_field, got_message)] = err.value.problems
    assert got_field == field
    assert message in got_message


def test_production_allows_sqlite_with_one_worker():
    assert load_settings(
        **production(database_url="sqlite:////srv/lms.db", web_workers=1)
    ).is_sqlite


def test_production_lists_every_problem():
    with pytest.raises(SettingsError) as err:
        load_settings(environment="production", debug=True, web_workers=3)
    assert problem_fields(err) == ["secret_key", "debug", "database_url", "public_base_url"]


def test_development_tolerates_what_production_refuses():
    s = load_settings(debug=True, web_workers=3)
    assert [f for f, _ in s.production_problems()] == [
        "secret_key",
        "debug",
        "database_url",
        "public_base_url",
    ]


def test_production_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("LMS_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="secret_key"):
        load_settings()


def test_settings_constructor_does_not_enforce_production(tmp_path):
    # Only load_settings refuses: doctor must be able to build and report on bad settings.
    s = Settings(environment="production", files_dir=Path(tmp_path))
    assert s.production_problems()
