"""One-time tokens: only the SHA-256 is stored, they expire, work once, and reissue revokes."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms_core.accounts import auth, tokens, users
from lms_core.errors import PermissionDenied, ValidationError
from lms_core.models import OneTimeToken, TokenPurpose, utcnow
from lms_core.security import new_token, token_hash
from tests.factories import PASSWORD
from tests.helpers import as_, audit_log

RESET = TokenPurpose.password_reset


def stored(session, user):
    return list(
        session.scalars(
            select(OneTimeToken).where(OneTimeToken.user_id == user.id).order_by(OneTimeToken.id)
        )
    )


@pytest.fixture
def issue(session, operator):
    def issue_(user, purpose=RESET, **kwargs):
        return tokens.issue_token(session, actor=operator, user=user, purpose=purpose, **kwargs)

    return issue_


def test_new_tokens_are_random_and_url_safe():
    a, b = new_token(), new_token()
    assert a != b
    assert len(a) >= 43
    assert set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_token_hash_is_sha256_hex():
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_issue_returns_the_raw_token_and_stores_only_its_sha256(session, issue, learner):
    raw = issue(learner)
    [row] = stored(session, learner)
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in (row.token_hash, row.purpose)
    assert row.purpose == "password_reset"
    assert row.used_at is None


@pytest.mark.parametrize(
    ("purpose", "ttl"),
    [
        (TokenPurpose.password_reset, timedelta(hours=2)),
        (TokenPurpose.email_verification, timedelta(days=3)),
        (TokenPurpose.invitation, timedelta(days=14)),
    ],
)
def test_tokens_expire_after_the_default_ttl_of_their_purpose(
    session, issue, learner, purpose, ttl
):
    before = utcnow()
    issue(learner, purpose)
    [row] = stored(session, learner)
    assert before + ttl <= row.expires_at <= utcnow() + ttl


def test_issue_accepts_a_custom_ttl(session, issue, learner):
    issue(learner, ttl=timedelta(minutes=5))
    [row] = stored(session, learner)
    assert row.expires_at <= utcnow() + timedelta(minutes=5)


def test_issue_is_audited_without_the_token(session, issue, operator, learner):
    raw = issue(learner)
    [entry] = audit_log(session, "token.issue.password_reset")
    assert entry.actor_label == operator.label
    assert (entry.entity_type, entry.entity_id) == ("users", learner.id)
    assert raw not in f"{entry.before} {entry.after}"


def test_consume_returns_the_user_and_works_once(session, issue, learner):
    raw = issue(learner)
    assert tokens.consume_token(session, raw=f" {raw}\n", purpose=RESET).id == learner.id
    [row] = stored(session, learner)
    assert row.used_at is not None
    with pytest.raises(ValidationError, match="already used") as err:
        tokens.consume_token(session, raw=raw, purpose=RESET)
    assert err.value.field == "token"


def test_expired_token_is_refused(session, issue, learner):
    raw = issue(learner)
    [row] = stored(session, learner)
    with pytest.raises(ValidationError, match="expired; ask for a new one"):
        tokens.consume_token(session, raw=raw, purpose=RESET, now=row.expires_at)
    assert row.used_at is None
    # One second earlier it still works.
    assert (
        tokens.consume_token(
            session, raw=raw, purpose=RESET, now=row.expires_at - timedelta(seconds=1)
        ).id
        == learner.id
    )


def test_unknown_token_is_refused(session, issue, learner):
    issue(learner)
    with pytest.raises(ValidationError, match="not valid"):
        tokens.consume_token(session, raw=new_token(), purpose=RESET)


def test_token_of_another_purpose_is_refused_and_stays_usable(session, issue, learner):
    raw = issue(learner, TokenPurpose.invitation)
    with pytest.raises(ValidationError, match="not valid"):
        tokens.consume_token(session, raw=raw, purpose=RESET)
    assert tokens.consume_token(session, raw=raw, purpose=TokenPurpose.invitation).id == learner.id


def test_reissue_invalidates_the_previous_token_of_that_purpose(session, issue, learner):
    first = issue(learner)
    invitation = issue(learner, TokenPurpose.invitation)
    second = issue(learner)
    with pytest.raises(ValidationError, match="already used"):
        tokens.consume_token(session, raw=first, purpose=RESET)
    assert tokens.consume_token(session, raw=second, purpose=RESET).id == learner.id
    # Another purpose is not affected.
    assert (
        tokens.consume_token(session, raw=invitation, purpose=TokenPurpose.invitation).id
        == learner.id
    )


def test_reissue_does_not_touch_other_users_tokens(session, issue, make, learner):
    other = make.user()
    theirs = issue(other)
    issue(learner)
    assert tokens.consume_token(session, raw=theirs, purpose=RESET).id == other.id


def test_email_verification_token_marks_the_email_verified(session, issue, learner):
    raw = issue(learner, TokenPurpose.email_verification)
    now = utcnow()
    tokens.consume_token(session, raw=raw, purpose=TokenPurpose.email_verification, now=now)
    assert learner.email_verified_at == now


def test_other_purposes_do_not_verify_the_email(session, issue, learner):
    raw = issue(learner, TokenPurpose.invitation)
    tokens.consume_token(session, raw=raw, purpose=TokenPurpose.invitation)
    assert learner.email_verified_at is None


def test_token_of_a_deleted_user_is_refused(session, issue, operator, learner):
    raw = issue(learner)
    users.delete_user(session, actor=operator, email=learner.email)
    with pytest.raises(ValidationError, match="not valid"):
        tokens.consume_token(session, raw=raw, purpose=RESET)


def test_reset_password_with_token(session, issue, hasher, settings, learner):
    learner.failed_login_attempts = 5
    learner.locked_until = utcnow() + timedelta(hours=1)
    session.flush()
    raw = issue(learner)
    user = tokens.reset_password_with_token(
        session, raw=raw, password="Fresh-Start-2026", hasher=hasher
    )
    assert user.id == learner.id
    assert (learner.failed_login_attempts, learner.locked_until) == (0, None)
    assert auth.authenticate(
        session, email=learner.email, password="Fresh-Start-2026", hasher=hasher, settings=settings
    ).ok
    assert not auth.authenticate(
        session, email=learner.email, password=PASSWORD, hasher=hasher, settings=settings
    ).ok
    [entry] = audit_log(session, "user.reset_password")
    assert (entry.actor_label, entry.actor_id) == (learner.email, learner.id)
    with pytest.raises(ValidationError, match="already used"):
        tokens.reset_password_with_token(
            session, raw=raw, password="Fresh-Start-2027", hasher=hasher
        )


def test_reset_password_with_token_checks_strength(session, issue, hasher, learner):
    old = learner.password_hash
    with pytest.raises(ValidationError, match="at least 10 characters") as err:
        tokens.reset_password_with_token(
            session, raw=issue(learner), password="abc1", hasher=hasher
        )
    assert err.value.field == "password"
    assert learner.password_hash == old


def test_reset_password_needs_a_reset_token(session, issue, hasher, learner):
    raw = issue(learner, TokenPurpose.invitation)
    with pytest.raises(ValidationError, match="not valid"):
        tokens.reset_password_with_token(
            session, raw=raw, password="Fresh-Start-2026", hasher=hasher
        )


def test_email_verification_is_audited_as_the_user_themself(session, issue, learner):
    raw = issue(learner, TokenPurpose.email_verification)
    tokens.consume_token(session, raw=raw, purpose=TokenPurpose.email_verification)
    (entry,) = audit_log(session, "user.verify_email")
    assert entry.actor_id == learner.id
    assert entry.entity_id == learner.id


def test_token_of_a_deactivated_user_is_refused(session, issue, operator, learner):
    raw = issue(learner)
    users.deactivate_user(session, actor=operator, email=learner.email)
    with pytest.raises(ValidationError, match="not valid"):
        tokens.consume_token(session, raw=raw, purpose=RESET)


def test_reset_tokens_are_for_admins_and_the_user_themself(session, make):
    from lms_core.accounts import tokens

    alice, bob = make.user(), make.user()
    user, raw = tokens.request_password_reset(session, actor=as_(alice), email=alice.email)
    assert user.id == alice.id and len(raw) >= 43
    with pytest.raises(PermissionDenied):
        tokens.request_password_reset(session, actor=as_(bob), email=alice.email)
