"""Health checks behind ``lmsctl doctor`` (and later the API's readiness endpoint)."""

from __future__ import annotations

import os
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from lms_core.actor import Actor
from lms_core.db import database_missing, sqlite_file
from lms_core.errors import Hint, HintCode
from lms_core.private_paths import others_can_read
from lms_core.settings import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    #: What fixes a failed check, for the front door to word (``lmsctl doctor`` names the command).
    hint: Hint | None = None
    #: A passed check that still needs a look (``lmsctl doctor`` prints ``warning: ...``).
    warning: bool = False


def safe_url(url: str) -> str:
    """The database URL with any password hidden, for output and logs."""
    return make_url(url).render_as_string(hide_password=True)


def wait_for_database(engine: Engine, seconds: float, *, interval: float = 1.0) -> str | None:
    """Try to connect until it works or ``seconds`` pass; the last error, or None when reachable."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except SQLAlchemyError as exc:
            error = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if time.monotonic() >= deadline:
                return error
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def is_empty_only(checks: list[Check]) -> bool:
    """Every check passed but one: the database is reachable and empty (``lmsctl init`` next).

    ``lmsctl doctor`` gives this its own exit code, so a container entry point can chain
    ``doctor --wait`` and ``init``.
    """
    failed = [c for c in checks if not c.ok]
    return (
        len(failed) == 1
        and failed[0].hint is not None
        and failed[0].hint.code is HintCode.initialise_database
    )


def diagnose(
    settings: Settings, engine: Engine, *, actor: Actor, wait_seconds: float = 0
) -> list[Check]:
    """:func:`run_checks` for ``lmsctl doctor``: administrators and the operator only."""
    from lms_core.permissions import require_admin

    require_admin(actor, "run the health checks")
    return run_checks(settings, engine, wait_seconds=wait_seconds)


def check_files_dir(settings: Settings) -> Check:
    path = settings.files_dir
    if not path.exists():  # a check creates nothing: say whether init will manage to
        parent = next((p for p in path.parents if p.exists()), Path("."))
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return Check("files_dir", True, f"{path} does not exist yet; initialising creates it")
        return Check(
            "files_dir", False, f"{path} is not writable: {parent} is not a writable folder"
        )
    try:
        probe = path / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
        return Check("files_dir", True, f"{path} is writable")
    except OSError as exc:
        return Check("files_dir", False, f"{path} is not writable: {exc.strerror or exc}")


def check_database_file(engine: Engine) -> Check | None:
    """A warning when the SQLite file (password hashes, personal data) is readable by other
    accounts of the machine, by its mode bits; None when it is not, or not a SQLite file."""
    path = sqlite_file(engine.url)
    try:
        if path is None or not others_can_read(path):
            return None
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return Check(
        "database_file",
        True,
        f"{path} is readable by other accounts (mode {mode:04o}): chmod 600 {path}",
        warning=True,
    )


def check_email_domains(engine: Engine) -> Check | None:
    """A warning naming stored e-mail domains that mix Latin with look-alike letters."""
    from lms_core.ops.email_domains import mixed_script_domains

    with engine.connect() as conn:
        found = mixed_script_domains(conn)
    if not found:
        return None
    users = sum(d.users for d in found)
    named = ", ".join(f"{d.domain} ({d.users})" for d in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return Check(
        "email_domains",
        True,
        f"{users} user(s) have an e-mail domain that mixes Latin letters with look-alikes of "
        f"other scripts, as look-alikes of real domains do: {named}{more}; search the users "
        "by domain and correct their addresses",
        warning=True,
    )


def check_files_owner(settings: Settings, engine: Engine) -> Check | None:
    """Whether the files folder's stamp names this database (``lms_core.files_identity``);
    None when there is nothing to compare yet (no folder, or a schema without identity)."""
    from sqlalchemy.orm import Session

    from lms_core.errors import LmsError
    from lms_core.files_identity import check_stamp, stamp_path, stored_identity

    path = settings.files_dir
    with engine.connect() as conn:
        if not path.is_dir() or not inspect(conn).has_table("database_identity"):
            return None
        with Session(bind=conn) as session:
            identity = stored_identity(session)
    try:
        stamp = check_stamp(path, identity)
    except LmsError as exc:
        return Check("files_owner", False, exc.message)
    if stamp is None:
        return Check(
            "files_owner", True, f"{path} not stamped yet; the first run that writes files does"
        )
    return Check("files_owner", True, f"{stamp_path(path)} names this database ({identity})")


def run_checks(settings: Settings, engine: Engine, *, wait_seconds: float = 0) -> list[Check]:
    """Every check, in order; later ones that need the database are skipped when it is down."""
    from lms_core.ops import schema

    checks: list[Check] = []
    problems = settings.production_problems()
    if problems and settings.environment.value == "production":
        checks.append(Check("settings", False, "; ".join(f"{f} {m}" for f, m in problems)))
    else:
        note = f" (not production-ready: {', '.join(f for f, _ in problems)})" if problems else ""
        checks.append(Check("settings", True, f"environment {settings.environment.value}{note}"))
    url = safe_url(engine.url.render_as_string(hide_password=False))
    missing = database_missing(engine.url)  # a SQLite file: checked without creating it
    error = None if missing else wait_for_database(engine, wait_seconds)
    if missing:
        checks.append(Check("database", True, f"{url}: no database file yet"))
        checks.append(
            Check(
                "migrations",
                False,
                "database is empty: initialise it",
                Hint(HintCode.initialise_database),
            )
        )
    elif error is not None:
        checks.append(Check("database", False, f"{url} unreachable: {error}"))
    else:
        checks.append(Check("database", True, f"{url} reachable"))
        exposed = check_database_file(engine)
        if exposed is not None:
            checks.append(exposed)
        status = schema.status(engine)
        if status.current is None:
            checks.append(
                Check(
                    "migrations",
                    False,
                    "database is empty: initialise it",
                    Hint(HintCode.initialise_database),
                )
            )
        elif status.current != status.head:
            checks.append(
                Check(
                    "migrations",
                    False,
                    f"at {status.current}, code expects {status.head}: upgrade the schema",
                    Hint(HintCode.run_migrations),
                )
            )
        elif status.differences:
            checks.append(
                Check(
                    "migrations",
                    False,
                    f"schema differs from the models: {len(status.differences)} difference(s)",
                )
            )
        else:
            checks.append(Check("migrations", True, f"at head {status.head}"))
            domains = check_email_domains(engine)
            if domains is not None:
                checks.append(domains)
    checks.append(check_files_dir(settings))
    if not missing and error is None:
        owner = check_files_owner(settings, engine)
        if owner is not None:
            checks.append(owner)
    checks.append(check_mail(settings))
    return checks


def check_mail(settings: Settings) -> Check:
    """Whether mail can go out: configured or not (nothing is sent; ``lmsctl email test``
    does that). Not configured is no failure, but mails then wait in the outbox: in
    production that is worth a warning."""
    from lms_core.mail.smtp import NOT_CONFIGURED, smtp_config

    config = smtp_config(settings)
    if config is None:
        production = settings.environment.value == "production"
        return Check("mail", True, NOT_CONFIGURED, warning=production)
    return Check("mail", True, f"SMTP {config.describe()}; a test mail shows whether it works")
