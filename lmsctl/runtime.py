"""What a command needs at run time, built lazily from the global options.

Tests hand in a ``Runtime`` with ready settings and a session factory bound to their
rolled-back transaction; everything else builds its own from settings.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lmsctl.output import notice, reporting

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from lms_core.actor import Actor
    from lms_core.db import SessionFactory
    from lms_core.security import PasswordHasher
    from lms_core.settings import Settings
    from lms_core.settings_env import EngineSettings


@dataclass
class Runtime:
    database_url: str | None = None
    actor_email: str | None = None
    config: Path | None = None
    settings: Settings | None = None
    session_factory: SessionFactory | None = None
    engine: Engine | None = None
    _hasher: PasswordHasher | None = field(default=None, repr=False)

    def get_settings(self) -> Settings:
        if self.settings is None:
            from lms_core.settings import load_settings

            overrides: dict[str, Any] = {}
            if self.database_url:
                overrides["database_url"] = self.database_url
            self.settings = load_settings(self.config, **overrides)
        return self.settings

    def get_engine(self, *, create: bool = False, missing_ok: bool = False) -> Engine:
        """The engine; a SQLite file that does not exist is refused (``DatabaseMissing``)
        unless the command may ``create`` it (init, db upgrade) or checks it is ``missing_ok``
        (doctor, db current): a mistyped path never leaves a folder or an empty file behind."""
        if self.engine is None:
            from lms_core.db import make_engine, require_database
            from lmsctl import startup

            startup.resume()  # the command's modules are loaded: start-up is over
            settings = self.engine_settings()
            if not (create or missing_ok):
                require_database(settings.database_url)
            self.engine = make_engine(settings, create=create, notify=notice)
        return self.engine

    def engine_settings(self) -> EngineSettings:
        """What the engine needs; without building the full settings (and importing Pydantic)
        when the environment is plain (lms_core/settings_env.py), else the full settings."""
        if self.settings is None:
            from lms_core.settings_env import quick_engine_settings

            overrides = {"database_url": self.database_url} if self.database_url else {}
            quick = quick_engine_settings(self.config, overrides)
            if quick is not None:
                return quick
        return self.get_settings()

    def get_session_factory(self) -> SessionFactory:
        if self.session_factory is None:
            from lms_core.db import make_session_factory

            self.session_factory = make_session_factory(self.get_engine())
        return self.session_factory

    def hasher(self) -> PasswordHasher:
        if self._hasher is None:
            from lms_core.security import PasswordHasher

            self._hasher = PasswordHasher.from_settings(self.get_settings())
        return self._hasher

    def resolve_actor(self, session: Session) -> Actor:
        """``--as EMAIL`` acts as that user with that user's rights; else the OS operator, as admin."""
        from lms_core.accounts.users import find_user
        from lms_core.actor import Actor
        from lms_core.errors import NotFound, PermissionDenied

        if not self.actor_email:
            return Actor.operator(getpass.getuser())
        user = find_user(session, self.actor_email)
        if user is None:
            raise NotFound(
                f"no user with e-mail {self.actor_email} to act as",
                field="as",
                value=self.actor_email,
            )
        if not user.is_active:
            raise PermissionDenied(
                f"{user.email} is deactivated and cannot act", field="as", value=self.actor_email
            )
        return Actor.for_user(user)

    def schema_actor(self) -> Actor:
        """The acting party for ``init``, ``doctor`` and ``db``, which run whatever state the
        schema is in: ``--as`` is looked up in the users table as it stands, and refused
        clearly when there is none yet (an empty database has nobody to act as)."""
        from lms_core.actor import Actor, actor_for_email
        from lms_core.db import database_missing, unit_of_work
        from lms_core.errors import PermissionDenied

        if not self.actor_email:
            return Actor.operator(getpass.getuser())
        if self.session_factory is None and database_missing(self.get_settings().database_url):
            raise PermissionDenied(
                f"cannot act as {self.actor_email}: the database does not exist yet, so it "
                "has no users; act as the operator (leave out --as)",
                value=self.actor_email,
            )
        with unit_of_work(self.get_session_factory(), write=False) as session:
            return actor_for_email(session.connection(), self.actor_email)

    def actor(self) -> Actor:
        """The acting party, for commands whose service runs its own units of work."""
        from lms_core.db import unit_of_work

        with unit_of_work(self.get_session_factory(), write=False) as session:
            return self.resolve_actor(session)

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[tuple[Session, Actor]]:
        """One transaction for the whole command, with the resolved actor.

        Listings pass ``write=False`` so that on SQLite they never wait for a writer.
        """
        from lms_core.db import unit_of_work

        with unit_of_work(self.get_session_factory(), write=write) as session:
            yield session, self.resolve_actor(session)


def runtime(ctx: typer.Context) -> Runtime:
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    return root.obj


@contextmanager
def acting(
    ctx: typer.Context, *, as_json: bool, write: bool = True
) -> Iterator[tuple[Session, Actor]]:
    """The command's one unit of work and its actor, its failures reported (``reporting``).

    The skeleton of every command that reads or changes the database, written once: a
    known failure (a settings, database or service error) leaves the transaction rolled back
    and becomes a clean message and exit code 1, never a traceback.
    """
    with reporting(as_json=as_json), runtime(ctx).unit_of_work(write=write) as pair:
        yield pair
