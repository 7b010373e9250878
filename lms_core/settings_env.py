"""The database settings of a plain environment, read without Pydantic (start-up time).

Building :class:`lms_core.settings.Settings` imports Pydantic and pydantic-settings and builds
the model: about a fifth of the start of a short command such as ``lmsctl users list --json``
(bench/cli_start.py). A command that only needs the engine takes
:func:`quick_engine_settings` instead, which reads the same ``LMS_*`` variables with the same
rules, and answers only when the result is certain: when no ``.env`` or ``--config`` file is
involved, the environment is ``development``, and every ``LMS_*`` variable of a field holds a
value the full settings take unchanged (digits within the field's bounds, a known boolean
word...). Anything else returns None, and the caller loads the full settings, whose checks and
messages then apply. ``tests/core/test_settings_env.py`` keeps the table below in step with
``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` lists ``(field, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems))


class EngineSettings(Protocol):
    """What :func:`lms_core.db.make_engine` reads: ``Settings`` or :class:`DatabaseSettings`."""

    @property
    def database_url(self) -> str: ...
    @property
    def db_pool_size(self) -> int: ...
    @property
    def db_max_overflow(self) -> int: ...
    @property
    def db_ping_idle_ms(self) -> int: ...
    @property
    def db_prepare(self) -> bool: ...
    @property
    def sqlite_busy_timeout_ms(self) -> int: ...
    @property
    def is_sqlite(self) -> bool: ...


@dataclass(frozen=True)
class DatabaseSettings:
    database_url: str = "sqlite:///var/lms.db"
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_ping_idle_ms: int = 1000
    db_prepare: bool = True
    sqlite_busy_timeout_ms: int = 600_000  # as Settings: longer than the longest writer

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


#: Every field of ``Settings`` and the kind of value taken here; the lower bound of integers.
INT_FIELDS: dict[str, int] = {
    "db_pool_size": 1,
    "db_max_overflow": 0,
    "db_ping_idle_ms": 0,
    "sqlite_busy_timeout_ms": 0,
    "web_workers": 1,
    "password_time_cost": 1,
    "password_memory_cost": 8,
    "password_parallelism": 1,
    "password_min_length": 8,
    "lockout_threshold": 1,
    "lockout_base_minutes": 1,
    "lockout_max_minutes": 1,
    "max_upload_mb": 1,
    "smtp_timeout_seconds": 1,
    "import_job_rows": 1,
    "import_job_mb": 1,
}
TEXT_FIELDS = frozenset(
    {
        "database_url",
        "secret_key",
        "public_base_url",
        "huey_url",
        "redis_url",
        "cors_origins",
        "smtp_host",
        "smtp_user",
        "mail_from",
    }
)
PATH_FIELDS = frozenset({"files_dir", "fonts_dir", "import_drop_dir", "backup_dir"})
BOOL_FIELDS = frozenset({"debug", "db_prepare"})
#: Values taken here; any other (``production``) goes to the full settings and their checks.
CHOICE_FIELDS: dict[str, frozenset[str]] = {
    "environment": frozenset({"development"}),
    "certificate_page_size": frozenset({"A4", "Letter"}),
    "smtp_security": frozenset({"none", "starttls", "tls"}),
}
#: Set at all, these need the full settings (a secret read from a file).
FULL_ONLY_FIELDS = frozenset(
    {
        "api_rate_limit",
        "secret_key_file",
        "smtp_password_file",
        "smtp_password",
        "smtp_port",
        "jobs_poll_seconds",
        "jobs_lease_seconds",
        "jobs_backoff_base_seconds",
        "jobs_backoff_max_seconds",
        "import_drop_stable_seconds",
        "webhooks_allow_private",
        "mail_notifications",
        "webhooks_disable_after_failures",
        "webhooks_disable_after_hours",
        "webhooks_timeout_seconds",
        "mfa_required_roles",  # its roles are checked and lower-cased by Settings
    }
)
#: Pydantic's words for booleans (any case).
BOOL_WORDS = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False),
}

_UNSURE = object()


def known_fields() -> frozenset[str]:
    return frozenset(
        {
            *INT_FIELDS,
            *TEXT_FIELDS,
            *PATH_FIELDS,
            *BOOL_FIELDS,
            *CHOICE_FIELDS,
            *FULL_ONLY_FIELDS,
        }
    )


#: URL schemes ``Settings`` takes as they are (``postgres://`` it rewrites, others it checks
#: by loading their driver: those go to the full settings).
PLAIN_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg2"})


def plain_database_url(url: str) -> bool:
    """Whether ``Settings`` takes ``url`` unchanged (its own check is the judge otherwise)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if url != url.strip() or url.partition("://")[0] not in PLAIN_DRIVERS:
        return False
    try:
        return make_url(url).drivername in PLAIN_DRIVERS
    except ArgumentError:
        return False


def _value(name: str, raw: str) -> Any:
    """``raw`` as the full settings would take it, or ``_UNSURE``."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return _UNSURE
    if name in INT_FIELDS:
        if raw.isascii() and raw.isdigit() and int(raw) >= INT_FIELDS[name]:
            return int(raw)
        return _UNSURE
    if name == "database_url":
        return raw if plain_database_url(raw) else _UNSURE
    if name in TEXT_FIELDS:
        return raw
    if name in PATH_FIELDS:
        return Path(raw) if raw else _UNSURE
    if name in BOOL_FIELDS:
        return BOOL_WORDS.get(raw.lower(), _UNSURE)
    if name in CHOICE_FIELDS:
        return raw if raw in CHOICE_FIELDS[name] else _UNSURE
    return _UNSURE


def quick_engine_settings(
    config_file: Path | None,
    overrides: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    dotenv: Path = Path(".env"),
) -> DatabaseSettings | None:
    """The engine's settings when the full settings would load and agree; else None."""
    if config_file is not None or dotenv.exists():
        return None
    fields = known_fields()
    values: dict[str, Any] = {}
    for key, raw in (os.environ if environ is None else environ).items():
        lowered = key.lower()
        if not lowered.startswith("lms_") or lowered[4:] not in fields:
            continue  # pydantic-settings ignores it too
        name = lowered[4:]
        if name in values:  # LMS_X and lms_x: which one wins is pydantic-settings' business
            return None
        value = _value(name, raw)
        if value is _UNSURE:
            return None
        values[name] = value
    for name, value in overrides.items():
        if name != "database_url" or not isinstance(value, str):
            return None
        if _value(name, value) is _UNSURE:
            return None
        values[name] = value
    engine_fields = (
        "database_url",
        "db_pool_size",
        "db_max_overflow",
        "db_ping_idle_ms",
        "db_prepare",
        "sqlite_busy_timeout_ms",
    )
    return DatabaseSettings(**{name: values[name] for name in engine_fields if name in values})
