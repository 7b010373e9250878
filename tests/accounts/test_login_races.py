"""Parallel wrong codes are all counted: the failure counter is incremented in the database,
not read, added to and written back (on PostgreSQL the parallel logins all read the same
count and all but one increment was lost, so guessing in parallel never locked).

Real threads, each with its own connection, released together by a barrier."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy.exc import OperationalError

from lms_core.accounts import mfa
from lms_core.accounts.auth import authenticate
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory
from lms_core.models import User
from lms_core.ops import schema
from lms_core.security import PasswordHasher
from tests.conftest import cheap_settings
from tests.factories import PASSWORD, Factories

PARALLEL = 20


@pytest.mark.parametrize("threshold", [50, 5])
def test_parallel_wrong_codes_are_all_counted(
    scratch_url: str, tmp_path: Path, threshold: int, is_postgres: bool
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files", lockout_threshold=threshold)
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    hasher = PasswordHasher.from_settings(settings)
    operator = Actor.operator("pytest")
    try:
        with factory() as s:
            user = Factories(s, hasher, operator).user("admin")
            found = mfa.enable(s, actor=operator, email=user.email, settings=settings)
            mfa.confirm(
                s,
                actor=operator,
                email=user.email,
                code=pyotp.TOTP(found.secret).now(),
                settings=settings,
            )
            s.commit()
            email, user_id = user.email, user.id
        barrier = threading.Barrier(PARALLEL)
        answers: list[Any] = []

        def attempt() -> None:
            with factory() as s:
                barrier.wait()
                try:
                    out = authenticate(
                        s,
                        email=email,
                        password=PASSWORD,
                        hasher=hasher,
                        settings=settings,
                        totp="000000",
                    )
                    s.commit()
                    assert out.error is not None
                    answers.append(out.error.field)
                except OperationalError as exc:  # SQLite: another writer held the lock
                    answers.append(exc)

        threads = [threading.Thread(target=attempt) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(answers) == PARALLEL
        # Field totp: the wrong code was checked and counted; field password: the account
        # was already locked when this one read it (a right password on a locked account).
        counted = answers.count("totp")
        refused = [a for a in answers if isinstance(a, OperationalError)]
        # PostgreSQL waits for the row; SQLite refuses a writer that finds the lock taken
        # (no login happened: the entry point answers 500, nothing to count).
        assert refused == [] if is_postgres else all("locked" in str(e) for e in refused)
        with factory() as s:
            after = s.get(User, user_id)
            assert after is not None
            assert after.failed_login_attempts == counted, answers
            if threshold > PARALLEL:
                assert counted + len(refused) == PARALLEL and after.locked_until is None
            elif is_postgres:
                assert counted >= threshold and after.locked_until is not None
            else:  # how many SQLite let through varies with the load: locked iff enough did
                assert (after.locked_until is not None) == (counted >= threshold)
    finally:
        engine.dispose()
