"""MFA: enrollment, real TOTP codes (pyotp, computed from the seed), replay, recovery codes,
the seed encrypted at rest, the lockout counting wrong codes, and required roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from lms_core.accounts import auth, mfa
from lms_core.actor import Actor
from lms_core.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    PermissionDenied,
    ValidationError,
)
from lms_core.models import MfaRecoveryCode
from tests.factories import PASSWORD
from tests.helpers import audit_log

#: A step start: 1_800_000_000 is a multiple of 30.
T0 = datetime.fromtimestamp(1_800_000_000, tz=UTC)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


@pytest.fixture
def enrolled(session, operator, settings, make):
    """A staff user with MFA on (confirmed at T0 - 5 min); returns (user, enrollment)."""

    def build(role: str = "admin"):
        user = make.user(role=role)
        found = mfa.enable(session, actor=operator, email=user.email, settings=settings)
        start = T0 - timedelta(minutes=5)
        mfa.confirm(
            session,
            actor=operator,
            email=user.email,
            code=code_at(found.secret, start),
            settings=settings,
            now=start,
        )
        return user, found

    return build


@pytest.fixture
def login(session, hasher, settings):
    def attempt(email, password=PASSWORD, *, totp=None, now=T0, settings_=None):
        return auth.authenticate(
            session,
            email=email,
            password=password,
            hasher=hasher,
            settings=settings_ or settings,
            totp=totp,
            now=now,
        )

    return attempt


# --- enrollment -------------------------------------------------------------------------------


def test_enable_shows_the_seed_once_and_stores_it_encrypted(session, operator, settings, make):
    user = make.user(role="instructor")
    found = mfa.enable(session, actor=operator, email=user.email, settings=settings)
    assert found.uri.startswith("otpauth://totp/LMS:")
    assert f"secret={found.secret}" in found.uri
    assert len(found.recovery_codes) == 10 == len(set(found.recovery_codes))
    raw = session.execute(
        text("SELECT mfa_secret FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert raw.startswith("v1:")
    assert found.secret not in raw and found.secret.lower() not in raw.lower()
    assert mfa.decrypt_secret(settings, user.id, raw) == found.secret
    hashes = session.scalars(
        select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id)
    ).all()
    assert len(hashes) == 10
    assert not any(code.replace("-", "") in h for code in found.recovery_codes for h in hashes)


def test_the_ciphertext_is_bound_to_its_user_and_the_site_secret(settings, make):
    sealed = mfa.encrypt_secret(settings, 7, "JBSWY3DPEHPK3PXP")
    assert mfa.decrypt_secret(settings, 7, sealed) == "JBSWY3DPEHPK3PXP"
    assert mfa.decrypt_secret(settings, 8, sealed) is None  # copied onto another row
    other = settings.model_copy(
        update={"secret_key": SecretStr("another-secret-key-0123456789abcdef")}
    )
    assert mfa.decrypt_secret(other, 7, sealed) is None
    assert mfa.decrypt_secret(settings, 7, "JBSWY3DPEHPK3PXP") is None


def test_mfa_is_off_until_confirmed(session, operator, settings, make, login):
    user = make.user(role="admin")
    mfa.enable(session, actor=operator, email=user.email, settings=settings)
    assert mfa.status(session, actor=operator, email=user.email, settings=settings)["mfa"] == (
        "pending"
    )
    assert login(user.email).ok  # an unconfirmed seed never locks anyone out


def test_confirm_needs_a_right_code(session, operator, settings, make):
    user = make.user(role="admin")
    found = mfa.enable(session, actor=operator, email=user.email, settings=settings)
    with pytest.raises(ValidationError) as refused:
        mfa.confirm(
            session, actor=operator, email=user.email, code="000000", settings=settings, now=T0
        )
    assert refused.value.field == "code"
    mfa.confirm(
        session,
        actor=operator,
        email=user.email,
        code=code_at(found.secret, T0),
        settings=settings,
        now=T0,
    )
    state = mfa.status(session, actor=operator, email=user.email, settings=settings)
    assert (state["mfa"], state["recovery_codes_left"]) == ("on", 10)
    assert [e.action for e in audit_log(session, "user.mfa.enable")] == ["user.mfa.enable"]
    assert len(audit_log(session, "user.mfa.enroll")) == 1


def test_enable_twice_is_refused_while_on(session, operator, settings, enrolled):
    user, _ = enrolled()
    with pytest.raises(Conflict, match="disable it first"):
        mfa.enable(session, actor=operator, email=user.email, settings=settings)


def test_disable_forgets_seed_and_codes(session, operator, settings, enrolled, login):
    user, _ = enrolled()
    mfa.disable(session, actor=operator, email=user.email)
    assert (user.mfa_secret, user.mfa_enabled_at, user.mfa_last_step) == (None, None, None)
    assert (
        session.scalars(select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id)).all()
        == []
    )
    assert login(user.email).ok
    assert len(audit_log(session, "user.mfa.disable")) == 1


def test_a_learner_cannot_touch_someone_elses_mfa(session, settings, make, enrolled):
    staff, _ = enrolled("instructor")
    learner = Actor.for_user(make.user())
    for call in (
        lambda: mfa.enable(session, actor=learner, email=staff.email, settings=settings),
        lambda: mfa.disable(session, actor=learner, email=staff.email),
        lambda: mfa.status(session, actor=learner, email=staff.email, settings=settings),
    ):
        with pytest.raises(PermissionDenied):
            call()


# --- login with a code ------------------------------------------------------------------------


def test_login_without_a_code_asks_for_it_and_does_not_count(enrolled, login):
    user, _ = enrolled()
    outcome = login(user.email)
    assert isinstance(outcome.error, AuthenticationFailed)
    assert outcome.error.field == "totp"
    assert user.failed_login_attempts == 0


def test_login_with_the_current_code(enrolled, login):
    user, found = enrolled()
    outcome = login(user.email, totp=code_at(found.secret, T0))
    assert outcome.ok and outcome.second_factor == "totp"
    assert user.mfa_last_step == int(T0.timestamp()) // 30


@pytest.mark.parametrize(
    ("code_time", "accepted"),
    [
        (T0 - timedelta(seconds=31), False),  # two steps back
        (T0 - timedelta(seconds=1), True),  # the previous step: one step of clock drift
        (T0, True),
        (T0 + timedelta(seconds=29), True),  # same step, its last second
        (T0 + timedelta(seconds=30), True),  # the next step: the phone's clock is ahead
        (T0 + timedelta(seconds=60), False),
    ],
)
def test_time_step_boundaries(enrolled, login, code_time, accepted):
    user, found = enrolled()
    outcome = login(user.email, totp=code_at(found.secret, code_time), now=T0)
    assert outcome.ok is accepted


def test_a_code_is_not_accepted_twice_in_its_step(enrolled, login):
    user, found = enrolled()
    code = code_at(found.secret, T0)
    assert login(user.email, totp=code).ok
    again = login(user.email, totp=code, now=T0 + timedelta(seconds=10))
    assert again.error.field == "totp" and "already used" in again.error.message
    # nor an older code still inside the drift window
    older = login(user.email, totp=code_at(found.secret, T0 - timedelta(seconds=30)))
    assert not older.ok
    assert login(user.email, totp=code_at(found.secret, T0 + timedelta(seconds=30))).ok


def test_wrong_codes_count_and_lock(session, enrolled, login):
    user, found = enrolled()
    outcomes = [login(user.email, totp="000000") for _ in range(5)]
    assert [o.error.field for o in outcomes] == ["totp"] * 5
    assert isinstance(outcomes[-1].error, AccountLocked)
    assert user.failed_login_attempts == 5
    assert user.locked_until == T0 + timedelta(minutes=1)
    assert len(audit_log(session, "user.lock")) == 1
    # locked: even the right password and code wait
    right = login(user.email, totp=code_at(found.secret, T0 + timedelta(seconds=30)))
    assert isinstance(right.error, AccountLocked)


def test_a_right_password_without_a_code_does_not_reset_the_counter(enrolled, login):
    """Otherwise: guess a code, send no code (reset), guess again, and never lock."""
    user, _ = enrolled()
    login(user.email, totp="111111")
    login(user.email)
    assert user.failed_login_attempts == 1


def test_recovery_codes_work_once_each(session, settings, enrolled, login):
    user, found = enrolled()
    first, second = found.recovery_codes[:2]
    outcome = login(user.email, totp=first.upper().replace("-", " "))
    assert outcome.ok and outcome.second_factor == "recovery_code"
    assert not login(user.email, totp=first).ok
    assert login(user.email, totp=second).ok
    assert len(audit_log(session, "user.mfa.recovery_code_used")) == 2
    left = mfa.status(session, actor=Actor.system("t"), email=user.email, settings=settings)
    assert left["recovery_codes_left"] == 8


def test_another_users_recovery_code_does_not_work(enrolled, login):
    one, _ = enrolled()
    _, other = enrolled()
    assert not login(one.email, totp=other.recovery_codes[0]).ok


def test_an_unreadable_seed_refuses_codes_but_recovery_codes_still_work(
    session, settings, enrolled, login
):
    """After LMS_SECRET_KEY changed: the seed cannot be read; a recovery code gets in."""
    user, found = enrolled()
    moved = settings.model_copy(
        update={"secret_key": SecretStr("a-rotated-secret-key-0123456789abcdef")}
    )
    assert not login(user.email, totp=code_at(found.secret, T0), settings_=moved).ok
    assert login(user.email, totp=found.recovery_codes[0], settings_=moved).ok


# --- required for some roles ------------------------------------------------------------------


def test_required_roles_refuse_staff_without_mfa_saying_what_to_run(settings, make, login):
    strict = settings.model_copy(update={"mfa_required_roles": "admin"})
    admin = make.user(role="admin")
    outcome = login(admin.email, settings_=strict)
    assert isinstance(outcome.error, PermissionDenied)
    assert outcome.error.field == "totp"
    assert f"ask an administrator to enroll {admin.email} in MFA" in outcome.error.message
    assert admin.last_login_at is None
    # other roles are not concerned; a wrong password still says nothing more
    assert login(make.user(role="instructor").email, settings_=strict).ok
    assert login(admin.email, "Wrong-Password-1", settings_=strict).error.field == "password"


def test_required_roles_let_enrolled_admins_in(settings, enrolled, login):
    strict = settings.model_copy(update={"mfa_required_roles": "admin"})
    user, found = enrolled()
    assert login(user.email, totp=code_at(found.secret, T0), settings_=strict).ok


def test_the_setting_reads_a_comma_separated_list_of_roles():
    from lms_core.settings import Settings

    assert Settings(mfa_required_roles=" Admin, instructor ").mfa_roles == {"admin", "instructor"}
    assert Settings().mfa_roles == frozenset()
    with pytest.raises(ValueError, match="unknown role 'root'"):
        Settings(mfa_required_roles="root")


def test_a_purge_forgets_the_seed_and_the_recovery_codes(session, operator, enrolled):
    from lms_core.accounts import users

    user, _ = enrolled("instructor")
    users.delete_user(session, actor=operator, email=user.email, purge=True)
    assert (user.mfa_secret, user.mfa_enabled_at) == (None, None)
    codes = select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id)
    assert session.scalars(codes).all() == []


def test_a_code_another_login_used_meanwhile_is_refused(session, enrolled, login):
    """Two logins racing with one code: the loaded user still shows no step used, but the
    row (written by the other login) does; the conditional UPDATE lets only one win."""
    user, found = enrolled()
    step = int(T0.timestamp()) // 30
    session.execute(
        text("UPDATE users SET mfa_last_step = :s WHERE id = :id"), {"s": step, "id": user.id}
    )
    assert user.mfa_last_step != step  # the copy in memory did not see it
    outcome = login(user.email, totp=code_at(found.secret, T0))
    assert not outcome.ok and outcome.error.field == "totp"


def test_a_password_reset_keeps_the_lock_of_an_account_with_mfa(
    session, operator, hasher, enrolled, make, login
):
    """With MFA on, the lock guards the code: a reset proves the mailbox, not the phone, so
    it must not give a code guesser a fresh set of attempts. Without MFA it clears the lock."""
    from lms_core.accounts.tokens import issue_token, reset_password_with_token
    from lms_core.models import TokenPurpose

    new = "Another-Long-Pass-42"
    user, found = enrolled()
    plain = make.user(role="admin")
    for who, totp in ((user, "000000"), (plain, None)):
        for _ in range(5):
            login(who.email, "Wrong-Password-1" if totp is None else PASSWORD, totp=totp)
        raw = issue_token(session, actor=operator, user=who, purpose=TokenPurpose.password_reset)
        reset_password_with_token(session, raw=raw, password=new, hasher=hasher)
    assert user.failed_login_attempts == 5 and user.locked_until == T0 + timedelta(minutes=1)
    code = code_at(found.secret, T0 + timedelta(seconds=30))
    assert isinstance(login(user.email, new, totp=code).error, AccountLocked)
    assert plain.failed_login_attempts == 0 and plain.locked_until is None
    assert login(plain.email, new).ok
