"""The nightly token clean-up deletes API tokens past the refresh lifetime, keeping a used
refresh token while its login lives (a copy presented again must still be caught)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts.api_tokens import (
    create_personal_token,
    issue_login_tokens,
    refresh_tokens,
)
from lms_core.actor import Actor
from lms_core.automation.housekeeping import purge_api_tokens
from lms_core.db import unit_of_work
from lms_core.jobs import ledger
from lms_core.models import ApiToken, Job, utcnow
from lms_core.security import token_hash
from lms_core.settings import Settings
from tests.cli.helpers import ok
from tests.conftest import Cli
from tests.jobs.test_automatic import jobs_cli  # noqa: F401  # a fixture: the CLI for jobs

SCOPE = ["courses:read"]


def _left(session: Session) -> set[str]:
    return set(session.scalars(select(ApiToken.token_hash)))


def test_old_api_tokens_are_purged_and_a_live_logins_used_refresh_stays(
    jobs_cli: Cli,  # noqa: F811  # the fixture imported above
    session: Session,
    make: Any,
    settings: Settings,
) -> None:
    user = make.user("student")
    now = utcnow()
    days = timedelta(days=1)
    # A login refreshed once, 59 days ago: every token of it has ended.
    ended = issue_login_tokens(session, user=user, now=now - 60 * days)
    ended_next = refresh_tokens(
        session, raw=ended.refresh_token, settings=settings, now=now - 59 * days
    ).pair
    assert ended_next is not None
    # A login of 40 days ago refreshed 15 days ago: it lives on.
    live = issue_login_tokens(session, user=user, now=now - 40 * days)
    live_next = refresh_tokens(
        session, raw=live.refresh_token, settings=settings, now=now - 15 * days
    ).pair
    assert live_next is not None
    actor = Actor.for_user(user)
    old_pat, _ = create_personal_token(session, actor=actor, name="old", scopes=SCOPE)
    kept_pat, kept_raw = create_personal_token(session, actor=actor, name="kept", scopes=SCOPE)
    for row, ends in ((old_pat, now - days), (kept_pat, now + 10 * days)):
        row.created_at, row.expires_at = now - 100 * days, ends
    session.flush()

    assert purge_api_tokens(session, now=now) == 6
    session.expire_all()
    assert _left(session) == {
        token_hash(live.refresh_token),  # used, expired: kept while its login lives
        token_hash(live_next.access_token),
        token_hash(live_next.refresh_token),
        token_hash(kept_raw),
    }
    again = refresh_tokens(session, raw=live.refresh_token, settings=settings, now=now)
    assert again.pair is None and "already used" in str(again.error)

    # The nightly job runs the same purge.
    issue_login_tokens(session, user=user, now=now - 60 * days)
    session.flush()
    with unit_of_work(jobs_cli.factory) as s:
        job_id = ledger.enqueue(s, "accounts.clean_tokens", {}, key="test:api-tokens").id
    ok(jobs_cli("jobs", "run-due"))
    done = session.get(Job, job_id)
    assert done is not None
    session.refresh(done)
    assert done.status == "succeeded" and done.result is not None
    assert done.result["api_tokens"] == 2
