"""Logging in: argon2id, lockout with doubling backoff, rehash on new cost, generic refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms_core.accounts import auth, users
from lms_core.errors import AccountLocked, AuthenticationFailed, ValidationError
from lms_core.models import utcnow
from lms_core.security import COMMON_PASSWORDS, PasswordHasher
from tests.factories import PASSWORD
from tests.helpers import audit_log

WRONG = "Wrong-Password-1"


@pytest.fixture
def login(session, hasher, settings):
    def attempt(email, password, *, now=None, hasher_=None):
        return auth.authenticate(
            session,
            email=email,
            password=password,
            hasher=hasher_ or hasher,
            settings=settings,
            now=now,
        )

    return attempt


def fail_times(login, email, n, now):
    return [login(email, WRONG, now=now) for _ in range(n)]


# --- hashing ----------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2id(learner, hasher, settings):
    assert learner.password_hash.startswith("$argon2id$")
    assert (
        f"m={settings.password_memory_cost},t={settings.password_time_cost}"
        in learner.password_hash
    )
    assert PASSWORD not in learner.password_hash


def test_hashes_are_salted(hasher):
    assert hasher.hash(PASSWORD) != hasher.hash(PASSWORD)


def test_verify_without_a_hash_fails(hasher):
    assert hasher.verify(PASSWORD, None) == (False, None)
    assert hasher.verify(PASSWORD, "") == (False, None)


def test_hasher_takes_its_policy_from_settings(settings):
    hasher = PasswordHasher.from_settings(settings.model_copy(update={"password_min_length": 14}))
    with pytest.raises(ValidationError, match="at least 14 characters"):
        hasher.check_strength("Abcdefgh-123")
    hasher.check_strength("Abcdefgh-12345")


@pytest.mark.parametrize("common", sorted(COMMON_PASSWORDS))
def test_common_passwords_are_refused(hasher, common):
    with pytest.raises(ValidationError, match="most common passwords"):
        hasher.check_strength(common.upper())


def test_minimum_length_boundary(hasher):
    assert hasher.min_length == 10
    with pytest.raises(ValidationError, match="at least 10 characters"):
        hasher.check_strength("Abcdefg-1")
    hasher.check_strength("Abcdefgh-1")


def test_a_strong_password_passes(hasher):
    hasher.check_strength("Corr3ct-Horse-Battery", email="ada@x.org")


# --- success ----------------------------------------------------------------------------------


def test_success_sets_last_login_and_resets_counters(session, login, learner):
    learner.failed_login_attempts = 3
    session.flush()
    now = utcnow()
    outcome = login(f"  {learner.email.upper()} ", PASSWORD, now=now)
    assert outcome.ok
    assert outcome.error is None
    assert outcome.user.id == learner.id
    assert learner.failed_login_attempts == 0
    assert learner.locked_until is None
    assert learner.last_login_at == now


def test_last_login_defaults_to_now(login, learner):
    before = utcnow()
    assert login(learner.email, PASSWORD).ok
    assert before <= learner.last_login_at <= utcnow()


# --- failures and lockout ---------------------------------------------------------------------


def test_wrong_passwords_count_without_saying_how_many_are_left(login, learner):
    """No "N attempts left": an unknown e-mail cannot say it, so an account must not either."""
    now = utcnow()
    messages = [o.error.message for o in fail_times(login, learner.email, 4, now)]
    assert messages == ["wrong e-mail or password"] * 4
    assert learner.failed_login_attempts == 4
    assert learner.locked_until is None


def test_a_failed_login_is_an_outcome_not_an_exception(login, learner):
    outcome = login(learner.email, WRONG)
    assert not outcome.ok
    assert isinstance(outcome.error, AuthenticationFailed)
    assert outcome.error.field == "password"
    assert outcome.user.id == learner.id


def test_fifth_failure_locks_for_a_minute_and_answers_like_any_failure(login, learner):
    now = utcnow()
    *_, fifth = fail_times(login, learner.email, 5, now)
    assert isinstance(fifth.error, AuthenticationFailed)
    assert (fifth.error.message, fifth.error.field) == ("wrong e-mail or password", "password")
    assert learner.failed_login_attempts == 5
    assert learner.locked_until == now + timedelta(minutes=1)


def test_a_locked_account_answers_a_wrong_password_like_an_unknown_e_mail(login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    locked = login(learner.email, WRONG, now=now + timedelta(seconds=10))
    unknown = login("nobody@x.org", WRONG, now=now + timedelta(seconds=10))
    for outcome in (locked, unknown):
        assert type(outcome.error) is AuthenticationFailed
        assert (outcome.error.message, outcome.error.field) == (
            "wrong e-mail or password",
            "password",
        )
    assert learner.failed_login_attempts == 5  # a locked account's counter does not grow
    assert learner.locked_until == now + timedelta(minutes=1)


def test_the_lock_is_audited(session, login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    [entry] = audit_log(session, "user.lock")
    assert entry.actor_label == "system:auth"
    assert entry.entity_id == learner.id
    assert entry.after["failed_login_attempts"] == 5


def test_a_locked_account_refuses_even_the_right_password_naming_the_time(login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    outcome = login(learner.email, PASSWORD, now=now + timedelta(seconds=30))
    assert isinstance(outcome.error, AccountLocked)
    until = now + timedelta(minutes=1)
    assert f"until {until:%Y-%m-%d %H:%M} UTC" in outcome.error.message
    assert "about 1 min" in outcome.error.message
    assert "ask an administrator to unlock it" in outcome.error.message
    assert learner.last_login_at is None
    assert learner.failed_login_attempts == 5


def test_later_failures_double_the_lock(login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    locks = []
    for _ in range(3):
        now = learner.locked_until + timedelta(seconds=1)
        outcome = login(learner.email, WRONG, now=now)
        assert type(outcome.error) is AuthenticationFailed
        locks.append(learner.locked_until - now)
    assert locks == [timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8)]
    assert learner.failed_login_attempts == 8


def test_right_password_after_the_lock_expires_logs_in_and_resets(login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    outcome = login(learner.email, PASSWORD, now=now + timedelta(minutes=1, seconds=1))
    assert outcome.ok
    assert (learner.failed_login_attempts, learner.locked_until) == (0, None)


def test_unlock_lets_a_locked_user_in_again(session, operator, login, learner):
    now = utcnow()
    fail_times(login, learner.email, 5, now)
    users.unlock_user(session, actor=operator, email=learner.email)
    assert login(learner.email, PASSWORD, now=now).ok


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(1, 1), (4, 1), (5, 1), (6, 2), (7, 4), (10, 32), (15, 1024), (16, 1440), (40, 1440)],
)
def test_lock_minutes_start_at_the_base_double_and_are_capped(settings, attempts, minutes):
    assert auth.lock_minutes(settings, attempts) == minutes


def test_lock_minutes_follow_the_settings(settings):
    custom = settings.model_copy(
        update={"lockout_threshold": 3, "lockout_base_minutes": 5, "lockout_max_minutes": 30}
    )
    assert [auth.lock_minutes(custom, n) for n in (3, 4, 5, 6)] == [5, 10, 20, 30]


def test_lockout_threshold_comes_from_settings(session, hasher, settings, learner):
    custom = settings.model_copy(update={"lockout_threshold": 2})
    now = utcnow()
    first = auth.authenticate(
        session, email=learner.email, password=WRONG, hasher=hasher, settings=custom, now=now
    )
    second = auth.authenticate(
        session, email=learner.email, password=WRONG, hasher=hasher, settings=custom, now=now
    )
    assert first.error.message == second.error.message == "wrong e-mail or password"
    assert learner.locked_until == now + timedelta(minutes=1)


# --- generic refusals -------------------------------------------------------------------------


def test_unknown_user_gets_the_generic_message(login):
    outcome = login("nobody@x.org", PASSWORD)
    assert outcome.user is None
    assert isinstance(outcome.error, AuthenticationFailed)
    assert outcome.error.message == "wrong e-mail or password"
    assert outcome.error.field == "password"


def test_an_unknown_e_mail_costs_one_password_check_like_a_known_one(login, hasher, learner):
    """The dummy hash is made once: an unknown e-mail then costs one argon2 check, as a
    wrong password does (hashing at each call made it twice as slow: a timing tell)."""
    login("nobody@x.org", WRONG)
    calls = []
    original = hasher.context.hash

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    hasher.context.hash = counting  # type: ignore[method-assign]
    try:
        login("nobody-else@x.org", WRONG)
    finally:
        del hasher.context.hash
    assert calls == []


def test_inactive_user_gets_the_generic_message_even_with_the_right_password(
    session, operator, login, learner
):
    users.deactivate_user(session, actor=operator, email=learner.email)
    outcome = login(learner.email, PASSWORD)
    assert outcome.user is None
    assert outcome.error.message == "wrong e-mail or password"
    assert learner.last_login_at is None
    assert learner.failed_login_attempts == 0


def test_deleted_user_cannot_log_in(session, operator, login, learner):
    users.delete_user(session, actor=operator, email=learner.email)
    outcome = login(learner.email, PASSWORD)
    assert outcome.user is None
    assert outcome.error.message == "wrong e-mail or password"


def test_user_without_a_password_cannot_log_in(make, login):
    invitee = make.user(password=None)
    outcome = login(invitee.email, "")
    assert isinstance(outcome.error, AuthenticationFailed)
    assert invitee.last_login_at is None


# --- rehash -----------------------------------------------------------------------------------


def test_login_rehashes_when_the_cost_changes(login, settings, learner):
    old = learner.password_hash
    stronger = PasswordHasher.from_settings(
        settings.model_copy(update={"password_memory_cost": settings.password_memory_cost * 2})
    )
    assert login(learner.email, PASSWORD, hasher_=stronger).ok
    assert learner.password_hash != old
    assert learner.password_hash.startswith("$argon2id$")
    assert f"m={settings.password_memory_cost * 2}," in learner.password_hash
    assert stronger.verify(PASSWORD, learner.password_hash) == (True, None)


def test_login_keeps_the_hash_when_the_cost_is_unchanged(login, learner):
    old = learner.password_hash
    assert login(learner.email, PASSWORD).ok
    assert learner.password_hash == old


def test_wrong_password_never_rehashes(login, settings, learner):
    old = learner.password_hash
    stronger = PasswordHasher.from_settings(settings.model_copy(update={"password_time_cost": 2}))
    assert not login(learner.email, WRONG, hasher_=stronger).ok
    assert learner.password_hash == old


def test_rehash_is_stored_in_the_database(session, login, settings, learner):
    stronger = PasswordHasher.from_settings(settings.model_copy(update={"password_time_cost": 2}))
    login(learner.email, PASSWORD, hasher_=stronger)
    session.expire_all()
    assert ",t=2," in users.get_user(session, learner.email).password_hash


def test_a_short_email_name_does_not_forbid_its_letters(hasher):
    hasher.check_strength("jolly-good-2026", email="j@x.org")
    with pytest.raises(ValidationError, match="e-mail name"):
        hasher.check_strength("my-janet-2026", email="janet@x.org")
