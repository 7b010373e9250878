"""Settings from the environment (prefix ``LMS_``), an optional ``.env`` or ``--config`` file.

Secrets may also come from files (``LMS_SECRET_KEY_FILE``), the way Docker and Kubernetes mount
them, so they never have to sit in an environment listing. Nothing is read at import: call
:func:`load_settings`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defined without Pydantic, so that catching it costs no import (lms_core/settings_env.py).
from lms_core.settings_env import SettingsError as SettingsError

DEFAULT_DATABASE_URL = "sqlite:///var/lms.db"
#: What a database URL looks like, for messages that refuse one.
URL_FORMS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
#: Drivers that ship with the toolkit; others are tried, and refused when not installed.
KNOWN_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg2"}
DEV_SECRET = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    production = "production"


class PageSize(StrEnum):
    a4 = "A4"
    letter = "Letter"


class SmtpSecurity(StrEnum):
    """How the connection to the SMTP server is protected."""

    #: Plain SMTP (a relay on the same host, or a local debugging server).
    none = "none"
    #: Plain connection upgraded with STARTTLS before logging in (port 587, the usual).
    starttls = "starttls"
    #: TLS from the first byte ("SMTPS", port 465).
    tls = "tls"


class Settings(BaseSettings):
    """Every knob of the toolkit; the field name is the variable name without ``LMS_``."""

    model_config = SettingsConfigDict(
        env_prefix="LMS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.development
    debug: bool = False
    #: SQLAlchemy URL; the embedded default is one SQLite file under ./var/.
    database_url: str = DEFAULT_DATABASE_URL
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    #: PostgreSQL: a pooled connection idle this long (ms) or more is pinged before use; 0
    #: pings on every checkout (one more round trip per request and task, none lost to a
    #: server restart under steady traffic).
    db_ping_idle_ms: int = Field(default=1000, ge=0)
    #: PostgreSQL: the hot statements (token check, catalog page, outline, quiz answer) run as
    #: server-side prepared statements, planned once per connection. Turn off behind a pooler
    #: that hands a client another server connection per transaction (PgBouncer's
    #: transaction mode): a statement prepared on one is unknown on the next.
    db_prepare: bool = True
    #: SQLite waits this long for a lock held by another process before giving up: 10 minutes,
    #: longer than the longest writer (an import holds the write lock for its whole apply).
    sqlite_busy_timeout_ms: int = Field(default=600_000, ge=0)
    files_dir: Path = Path("var/files")
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    #: A file holding the secret key (Docker/Kubernetes secrets); wins over ``secret_key``.
    secret_key_file: Path | None = None
    public_base_url: str = "http://localhost:5000"
    #: Number of gunicorn workers the web app runs under; SQLite is refused above 1 in production.
    web_workers: int = Field(default=1, ge=1)
    #: argon2id cost; tests lower these, production keeps the defaults (RFC 9106 second choice).
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_cost: int = Field(default=65536, ge=8)
    password_parallelism: int = Field(default=4, ge=1)
    password_min_length: int = Field(default=10, ge=8)
    #: Failed logins before the account locks, and the first lock's length (doubles each time).
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_base_minutes: int = Field(default=1, ge=1)
    lockout_max_minutes: int = Field(default=24 * 60, ge=1)
    #: Roles that must use MFA (TOTP) to log in, comma-separated (``admin``,
    #: ``admin,instructor``); a user of such a role without MFA is refused until enrolled.
    mfa_required_roles: str = ""
    huey_url: str | None = None
    #: Shared state of several web workers (the JSON API's rate limits): a redis:// URL; without
    #: it each worker counts in its own memory.
    redis_url: str | None = None
    #: The JSON API's ceiling per client address, in Flask-Limiter's words ("600 per minute";
    #: several joined by ";"). Logins and resets keep their own, stricter limits.
    api_rate_limit: str = "600 per minute"
    #: Web origins (``https://app.example.org``, comma-separated) whose pages may call the JSON
    #: API from a browser with a bearer token; none by default (same-site pages need none).
    cors_origins: str | None = None
    #: Jobs (docs/jobs.md): a worker looks for due jobs this often, besides its wake-ups.
    jobs_poll_seconds: float = Field(default=5.0, gt=0)
    #: Overrides every handler's lease (seconds a claimed job is held before it may run again).
    jobs_lease_seconds: int | None = Field(default=None, ge=1)
    #: Retry backoff: up to base * 2^(attempt-1) seconds, fully jittered, at most the max.
    jobs_backoff_base_seconds: float = Field(default=30.0, ge=0)
    jobs_backoff_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    #: Certificates: paper size, and an extra folder of .ttf/.otf fonts tried after the bundled ones.
    certificate_page_size: PageSize = PageSize.a4
    fonts_dir: Path | None = None
    #: Largest file an upload may be (course material, submissions), in megabytes.
    max_upload_mb: int = Field(default=25, ge=1)
    #: Outgoing mail (docs/email.md). No host: mail is not configured, mails stay queued.
    smtp_host: str | None = None
    #: None: the standard port of ``smtp_security`` (25, 587 or 465).
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.starttls
    #: Log in with this user (and the password) when set; no login otherwise.
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    #: A file holding the SMTP password (Docker/Kubernetes secrets); wins over ``smtp_password``.
    smtp_password_file: Path | None = None
    #: Seconds to wait for the server (connecting, and each command) before giving up.
    smtp_timeout_seconds: int = Field(default=30, ge=1)
    #: The From: of every mail; None: ``no-reply@`` the host of ``public_base_url``.
    mail_from: str | None = None
    #: Mail learners when they are enrolled, complete a course, get a certificate.
    mail_notifications: bool = True
    #: Webhooks (docs/webhooks.md): allow private, loopback and link-local targets (SSRF guard off).
    webhooks_allow_private: bool = False
    #: An endpoint is disabled after this many failed attempts in a row, failing for at least
    #: ``webhooks_disable_after_hours``.
    webhooks_disable_after_failures: int = Field(default=20, ge=1)
    webhooks_disable_after_hours: float = Field(default=24.0, ge=0)
    #: Seconds a delivery may take in all (connecting: at most 5 of them).
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Drop-folder imports (docs/dropfolder.md): the folder watched; None: no drop folder.
    import_drop_dir: Path | None = None
    #: Where `lmsctl backup create` and the nightly backup job write (unset: `var/backups`
    #: for the command, and no nightly backup).
    backup_dir: Path | None = None
    #: A dropped file is complete once its size and mtime held this long (or ``<name>.done``).
    import_drop_stable_seconds: float = Field(default=10.0, ge=0)
    #: The back office's import page plans and applies a file as a job (with progress) when it
    #: has more rows than this, or is larger than ``import_job_mb``; smaller ones in the request.
    import_job_rows: int = Field(default=20_000, ge=1)
    import_job_mb: int = Field(default=2, ge=1)

    @field_validator("mfa_required_roles")
    @classmethod
    def _check_mfa_roles(cls, value: str) -> str:
        roles = [r.strip().lower() for r in value.split(",") if r.strip()]
        allowed = ("admin", "instructor", "student")
        wrong = [r for r in roles if r not in allowed]
        if wrong:
            raise ValueError(f"unknown role {wrong[0]!r}; use {', '.join(allowed)}")
        return ",".join(roles)

    @property
    def mfa_roles(self) -> frozenset[str]:
        """The roles of ``mfa_required_roles``, as a set."""
        return frozenset(r for r in self.mfa_required_roles.split(",") if r)

    @field_validator("api_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            if not parse_many(value):
                raise ValueError("empty")
        except ValueError as exc:
            raise ValueError(
                f"api_rate_limit: {value!r} is not a rate limit such as '600 per minute'"
            ) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return check_database_url(value)

    @model_validator(mode="after")
    def _read_secret_file(self) -> Settings:
        if self.secret_key_file is not None:
            try:
                text = self.secret_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"secret_key_file: cannot read {self.secret_key_file}: {exc}"
                ) from exc
            self.secret_key = SecretStr(text)
        if self.smtp_password_file is not None:
            try:
                password = self.smtp_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"smtp_password_file: cannot read {self.smtp_password_file}: {exc}"
                ) from exc
            self.smtp_password = SecretStr(password)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def production_problems(self) -> list[tuple[str, str]]:
        """What makes these settings unsafe to run in production, as ``(field, message)``.

        Checked for every environment by ``lmsctl doctor`` and enforced when
        ``environment=production`` by :func:`load_settings`.
        """
        problems: list[tuple[str, str]] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET or not secret:
            problems.append(("secret_key", "is missing or the development default"))
        elif len(secret) < MIN_SECRET_LENGTH:
            problems.append(("secret_key", f"is shorter than {MIN_SECRET_LENGTH} characters"))
        elif len(set(secret)) < 10:
            problems.append(("secret_key", "is too repetitive to be a random key"))
        if self.debug:
            problems.append(("debug", "must be off in production"))
        if self.is_sqlite and self.web_workers > 1:
            problems.append(
                ("database_url", "SQLite cannot serve several gunicorn workers; use PostgreSQL")
            )
        if self.public_base_url.startswith("http://localhost"):
            problems.append(("public_base_url", "still points at localhost"))
        return problems


def check_database_url(value: str) -> str:
    """A database URL the toolkit can use, or ValueError saying why in one line.

    ``postgres://`` (what many hosts hand out) is taken as ``postgresql://``, which
    :func:`lms_core.db.make_engine` connects with the bundled driver, psycopg2. The URL itself
    is never repeated in the message: it may hold a password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = value.strip()
    scheme, sep, rest = url.partition("://")
    if sep and (scheme == "postgres" or scheme.startswith("postgres+")):
        url = "postgresql" + scheme[len("postgres") :] + sep + rest
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL; expected {URL_FORMS}") from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ValueError(
            f"{backend} databases are not supported: use SQLite or PostgreSQL ({URL_FORMS})"
        )
    if parsed.drivername not in KNOWN_DRIVERS:
        from sqlalchemy.exc import NoSuchModuleError

        try:
            parsed.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError):
            raise ValueError(
                f"the database driver {parsed.drivername} is not installed; use {URL_FORMS}"
            ) from None
    return url


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, ``config_file`` (a .env-style file) and overrides.

    In production, unsafe settings raise :class:`SettingsError` instead of starting.
    """
    from pydantic import ValidationError

    try:
        if config_file is not None:
            if not config_file.is_file():
                raise SettingsError([("config", f"{config_file} does not exist")])
            settings = Settings(_env_file=config_file, **overrides)
        else:
            settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(
            [
                (
                    ".".join(str(p) for p in err["loc"]) or "settings",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in exc.errors()
            ]
        ) from exc
    if settings.environment is Environment.production:
        problems = settings.production_problems()
        if problems:
            raise SettingsError(problems)
    return settings
