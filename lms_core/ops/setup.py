"""``lmsctl init`` as one service: every input checked first, then one all-or-nothing write.

A refused init leaves the database as it was: the administrator's e-mail, name and password
and the files folder are checked before anything is written, and the migration and the
administrator share one transaction (PostgreSQL and SQLite both roll DDL back). A SQLite
file that did not exist before a failed init is removed again, with the folders made for it.
A files folder stamped by another database is refused first; once the schema has
committed, the folder is stamped with this database's identity (``lms_core.files_identity``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import database_missing, sqlite_file
from lms_core.errors import Conflict, HintCode, ValidationError, hint
from lms_core.files_identity import claim_files_dir
from lms_core.permissions import require_admin
from lms_core.private_paths import make_private_dirs
from lms_core.security import PasswordHasher
from lms_core.settings import Settings


@dataclass(frozen=True)
class AdminRequest:
    """The first administrator ``init`` makes; ``password`` is asked for only when needed."""

    email: str
    full_name: str
    password: Callable[[], str | None]


@dataclass
class InitReport:
    before: str | None
    current: str | None
    files_dir: Path
    #: ``{"email", "created"}`` when an administrator was asked for.
    admin: dict[str, Any] | None


def _existing_role(engine: Engine, email: str) -> str | None:
    """The role of the (not deleted) user ``email`` if the database has one; read-only."""
    if database_missing(engine.url):
        return None
    with engine.connect() as conn:
        if not inspect(conn).has_table("users"):
            return None
        row = conn.execute(
            text("SELECT role FROM users WHERE email = :email AND deleted_at IS NULL"),
            {"email": email},
        ).first()
        return None if row is None else str(row.role)


def _check_admin(engine: Engine, admin: AdminRequest, hasher: PasswordHasher) -> str | None:
    """Refuse a bad administrator before any write; the password to create it with, or None
    when it exists already."""
    from lms_core.accounts.fields import USER, UserCreate
    from lms_core.fields import checked_values, command_values, raise_all

    data = UserCreate(email=admin.email, full_name=admin.full_name, role="admin")
    values, problems = checked_values(USER, command_values(data, USER), creating=True)
    raise_all(problems)
    email = str(values["email"])
    role = _existing_role(engine, email)
    if role is not None and role != "admin":
        raise Conflict(
            f"{email} exists as a {role}, not an admin: give them the admin role",
            field="admin_email",
            value=admin.email,
            hint=hint(HintCode.promote_user, email=email),
        )
    if role == "admin":
        return None
    password = admin.password()
    if not password:
        raise ValidationError("a new administrator needs a password", field="password", value=None)
    hasher.check_strength(password, email=email)
    return password


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p``, each folder made readable by its owner only (0700); the folders it made,
    deepest last (to remove them again on failure)."""
    return make_private_dirs(path)


def _remove_new_database(path: Path, made: list[Path]) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        leftover.unlink(missing_ok=True)
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            break


def _check_files_owner(engine: Engine, settings: Settings) -> None:
    """Refuse, before any write, a files folder stamped by another database (a database
    without an identity yet, new or older than the identity, owns no stamp either)."""
    from lms_core.files_identity import check_stamp

    identity = None
    if not database_missing(engine.url):
        with engine.connect() as conn:
            if inspect(conn).has_table("database_identity"):
                found = conn.execute(text("SELECT identity FROM database_identity")).scalar()
                identity = None if found is None else str(found)
    check_stamp(settings.files_dir, identity)


def initialise(
    engine: Engine,
    settings: Settings,
    *,
    actor: Actor,
    hasher: PasswordHasher,
    admin: AdminRequest | None = None,
) -> InitReport:
    """Migrate the database to the newest revision and make sure the administrator exists.

    Administrators and the operator only. Safe to run again: an existing administrator is
    found, not changed (and no password is asked for).
    """
    from lms_core.accounts.users import ensure_admin
    from lms_core.ops import schema

    require_admin(actor, "initialise the database")
    password = _check_admin(engine, admin, hasher) if admin is not None else None
    _check_files_owner(engine, settings)
    try:
        made_files_dir = _make_dirs(settings.files_dir)
    except OSError as exc:
        raise ValidationError(
            f"cannot create {settings.files_dir}: {exc.strerror or exc}",
            field="files_dir",
            value=str(settings.files_dir),
        ) from exc
    database = sqlite_file(engine.url)
    new_file = database is not None and not database.exists()
    made: list[Path] = []
    before = schema.current_revision(engine)
    try:
        if database is not None:
            made = _make_dirs(database.parent)
        admin_row: dict[str, Any] | None = None
        with schema.migrating(engine) as conn:
            schema.upgrade_on(conn, "head")
            if admin is not None:
                with Session(bind=conn, expire_on_commit=False) as session:
                    user, created = ensure_admin(
                        session,
                        actor=actor,
                        email=admin.email,
                        full_name=admin.full_name,
                        password=lambda: password,
                        hasher=hasher,
                    )
                    session.flush()
                    admin_row = {"email": user.email, "created": created}
    except BaseException:
        if new_file and database is not None:
            engine.dispose()
            _remove_new_database(database, made)
        for folder in reversed(made_files_dir):
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    with Session(bind=engine) as session, session.begin():
        claim_files_dir(session, settings)  # the folder is this database's from now on
    return InitReport(
        before=before,
        current=schema.current_revision(engine),
        files_dir=settings.files_dir,
        admin=admin_row,
    )
