"""Rate limits: a 429 problem with Retry-After on login floods, and recovery after the window."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from admin_ui.api import limits as api_limits
from tests.api.conftest import API, assert_problem, login
from tests.factories import PASSWORD


def _limit(text: str) -> int:
    return int(text.split()[0])


def test_login_flood_from_one_address_gets_429_with_retry_after(app: Flask, make: Any) -> None:
    client = app.test_client()
    for n in range(_limit(api_limits.LOGIN_PER_ADDRESS)):
        assert login(client, f"nobody{n}@test.example").status_code == 401
    refused = login(client, "nobody-else@test.example")
    body = assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert body["errors"][0]["message"]


def test_one_account_is_limited_whatever_the_address(app: Flask, learner: Any) -> None:
    client = app.test_client()
    # Lockout first (5 wrong passwords: 423), the account's own limit next (429).
    statuses = []
    for n in range(_limit(api_limits.LOGIN_PER_ACCOUNT) + 1):
        response = client.post(
            f"{API}/auth/login",
            json={"email": learner.email.upper(), "password": "wrong"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"},
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {401, 423}


def test_correct_logins_do_not_fill_the_account_limit(app: Flask, learner: Any) -> None:
    """Only failed logins count against an account: its owner logging in from several
    devices more often than the limit is not refused."""
    from tests.factories import PASSWORD

    client = app.test_client()
    statuses = [
        client.post(
            f"{API}/auth/login",
            json={"email": learner.email, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        ).status_code
        for n in range(_limit(api_limits.LOGIN_PER_ACCOUNT) + 1)
    ]
    assert statuses == [200] * len(statuses)


class _Clock:
    """The limiter's clock (the counts' storage reads ``time.time()``), moved by the test."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead


def test_the_limit_recovers_after_its_window(
    app: Flask, learner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import limits.storage.memory

    clock = _Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    client = app.test_client()
    for n in range(_limit(api_limits.LOGIN_PER_ADDRESS)):
        login(client, f"nobody{n}@test.example")
    assert login(client, learner).status_code == 429
    clock.ahead = 30  # within the minute: still refused
    assert login(client, learner).status_code == 429
    clock.ahead = 61  # the window has passed: a ban would still refuse
    assert login(client, learner).status_code == 200


def test_other_endpoints_are_not_held_by_the_login_limit(as_user: Any, learner: Any) -> None:
    api = as_user(learner)
    for _ in range(_limit(api_limits.LOGIN_PER_ADDRESS) + 2):
        assert api.get("/me/enrollments").status_code == 200


def test_workers_share_the_counts_in_redis(
    settings: Any, session_factory: Any, redis_url: str
) -> None:
    """Two apps (two gunicorn workers) on one Redis: a flood on one is refused on the other."""
    from admin_ui.app import EXTENSION, create_app

    shared = settings.model_copy(update={"redis_url": redis_url})
    one, two = (create_app(shared, session_factory=session_factory) for _ in range(2))
    one.extensions[api_limits.EXTENSION].reset()
    try:
        first = one.test_client()
        for n in range(_limit(api_limits.LOGIN_PER_ADDRESS)):
            assert login(first, f"nobody{n}@test.example").status_code == 401
        assert_problem(login(two.test_client(), "someone@test.example"), 429)
    finally:
        one.extensions[api_limits.EXTENSION].reset()
        for app in (one, two):
            app.extensions[EXTENSION].dispose()


def test_the_api_ceiling_is_a_setting(settings: Any, session_factory: Any, learner: Any) -> None:
    """``LMS_API_RATE_LIMIT``: a lower (or higher) ceiling for every API request."""
    from admin_ui.app import EXTENSION, create_app

    app = create_app(
        settings.model_copy(update={"api_rate_limit": "3 per minute"}),
        session_factory=session_factory,
    )
    try:
        client = app.test_client()
        token = login(client, learner).get_json()["access_token"]  # a login: its own limit
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [
            client.get(f"{API}/me/enrollments", headers=headers).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
    finally:
        app.extensions[EXTENSION].dispose()


@pytest.mark.parametrize("value", ["", "often", "10 per fortnight"])
def test_a_ceiling_that_is_not_a_rate_is_refused(value: str) -> None:
    from lms_core.settings import Settings

    with pytest.raises(ValueError, match="api_rate_limit"):
        Settings(api_rate_limit=value)


def test_the_memory_counts_start_no_thread_per_request(
    app: Flask, learner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Redis the counts are limits' memory storage, its expiry swept inline: a burst
    of requests starts no timer thread (limits' own storage starts one per hit)."""
    import threading

    from admin_ui.api.limit_storage import SweepingMemoryStorage

    limiter = app.extensions[api_limits.EXTENSION]
    storage = limiter.storage
    assert isinstance(storage, SweepingMemoryStorage)
    started: list[object] = []
    real_start = threading.Timer.start
    monkeypatch.setattr(threading.Timer, "start", lambda t: (started.append(t), real_start(t)))
    client = app.test_client()
    for n in range(5):
        assert login(client, f"nobody{n}@test.example").status_code == 401
        time.sleep(0.02)  # longer than limits' timer: its storage would start a new one
    assert started == []
    assert storage.events  # the hits were counted


def test_expired_memory_counts_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inline sweep drops what is out of its window (memory does not grow for ever)."""
    import limits.storage.memory

    from admin_ui.api.limit_storage import SWEEP_SECONDS, SweepingMemoryStorage

    clock = _Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    storage = SweepingMemoryStorage()
    assert storage.acquire_entry("k", 10, 60)
    assert storage.incr("fixed", 60) == 1
    clock.ahead = 61
    storage._next_sweep -= SWEEP_SECONDS  # the next hit is due to sweep
    assert storage.acquire_entry("other", 10, 60)
    assert "k" not in storage.events and "fixed" not in storage.storage
    assert storage.get_moving_window("other", 10, 60)[1] == 1


def test_a_key_whose_counts_all_expired_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every address and account ever seen must not stay in memory: after the sweep an
    expired key is gone from ``events`` (not left as an empty list), its lock too."""
    import limits.storage.memory

    from admin_ui.api.limit_storage import SWEEP_SECONDS, SweepingMemoryStorage

    clock = _Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    storage = SweepingMemoryStorage()
    assert storage.inline  # the installed limits has the names the sweep replaces
    for n in range(100):
        assert storage.acquire_entry(f"account:{n}", 10, 60)
    clock.ahead = 61
    storage._next_sweep -= SWEEP_SECONDS
    assert storage.acquire_entry("other", 10, 60)
    assert "account:0" not in storage.events and "account:0" not in storage.locks
    assert list(storage.events) == ["other"]


def test_sweeps_at_the_same_time_raise_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads of one worker reaching the sweep together (fixed windows expiring at once):
    no KeyError from a key another sweep dropped."""
    import sys
    import threading

    import admin_ui.api.limit_storage as limit_storage

    monkeypatch.setattr(limit_storage, "SWEEP_SECONDS", 0.0)
    storage = limit_storage.SweepingMemoryStorage()
    # limits' own one-shot expiry timer is cancelled: it raced the sweep (a KeyError in its
    # thread, which the loop below cannot see).
    assert storage.timer.finished.is_set()
    errors: list[str] = []

    def hit(i: int) -> None:
        try:
            for n in range(3000):
                storage.incr(f"k{i}-{n % 50}", 0.0001)
        except Exception as exc:  # any error is the failure reported
            errors.append(repr(exc))

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(8)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads swap often: the sweeps overlap
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []


def _ceiling_app(settings: Any, session_factory: Any, ceiling: str, **extra: Any) -> Flask:
    from admin_ui.app import create_app

    changed = settings.model_copy(update={"api_rate_limit": ceiling, **extra})
    return create_app(changed, session_factory=session_factory)


def test_the_ceiling_counts_each_endpoint_apart_and_says_what_is_left(
    settings: Any, session_factory: Any, learner: Any
) -> None:
    """Per address and endpoint (as Flask-Limiter's blueprint limit counted): a client held
    on one endpoint still reaches the others. Each answer carries the counts; the refusal
    ``Retry-After`` too."""
    from admin_ui.app import EXTENSION

    app = _ceiling_app(settings, session_factory, "2 per minute")
    try:
        client = app.test_client()
        token = login(client, learner).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        first = client.get(f"{API}/me/enrollments", headers=headers)
        assert first.status_code == 200
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert first.headers["X-RateLimit-Remaining"] == "1"
        assert int(first.headers["X-RateLimit-Reset"]) > time.time()
        second = client.get(f"{API}/me/enrollments", headers=headers)
        assert second.headers["X-RateLimit-Remaining"] == "0"
        refused = client.get(f"{API}/me/enrollments", headers=headers)
        body = assert_problem(refused, 429)
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert "2 per 1 minute" in body["detail"]
        other = client.get(f"{API}/me/certificates", headers=headers)
        assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "1"
        elsewhere = client.get(
            f"{API}/me/enrollments", headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.7"}
        )
        assert elsewhere.status_code == 200  # another address: its own count
    finally:
        app.extensions[EXTENSION].dispose()


def test_a_ceiling_of_several_limits_holds_to_each(
    settings: Any, session_factory: Any, learner: Any
) -> None:
    """``LMS_API_RATE_LIMIT`` may name several limits (``5 per minute;3 per hour``): the
    tightest refuses, and the headers speak of the one nearest its end."""
    from admin_ui.app import EXTENSION

    app = _ceiling_app(settings, session_factory, "5 per minute;3 per hour")
    try:
        client = app.test_client()
        token = login(client, learner).get_json()["access_token"]
        answers = [
            client.get(f"{API}/me/enrollments", headers={"Authorization": f"Bearer {token}"})
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[2].headers["X-RateLimit-Limit"] == "3"
        assert "3 per 1 hour" in answers[3].get_json()["detail"]
    finally:
        app.extensions[EXTENSION].dispose()


def test_workers_share_the_ceiling_in_redis(
    settings: Any, session_factory: Any, learner: Any, redis_url: str
) -> None:
    """Two apps (two gunicorn workers) on one Redis count one ceiling: the third request,
    whichever worker answers it, is refused."""
    import secrets

    from admin_ui.app import EXTENSION

    apps = [
        _ceiling_app(settings, session_factory, "2 per minute", redis_url=redis_url)
        for _ in range(2)
    ]
    # An address of this run's own: the counts of an earlier run stay in Redis a minute.
    address = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.9"}
    try:
        # Logged in from that address too: the flood test beside it (another xdist worker,
        # the same Redis) may have used up 127.0.0.1's logins.
        logged_in = (
            apps[0]
            .test_client()
            .post(
                f"{API}/auth/login",
                json={"email": learner.email, "password": PASSWORD},
                environ_base=address,
            )
        )
        token = logged_in.get_json()["access_token"]
        statuses = [
            apps[n % 2]
            .test_client()
            .get(
                f"{API}/me/enrollments",
                headers={"Authorization": f"Bearer {token}"},
                environ_base=address,
            )
            .status_code
            for n in range(3)
        ]
        assert statuses == [200, 200, 429]
    finally:
        for app in apps:
            app.extensions[EXTENSION].dispose()


def test_a_login_carries_its_own_limit_alone(app: Flask, learner: Any) -> None:
    """Logging in has its strict limits (Flask-Limiter's headers), not the ceiling's: one
    set of counts, the login's."""
    client = app.test_client()
    answer = login(client, learner)
    assert answer.status_code == 200
    assert answer.headers.getlist("X-RateLimit-Limit") == [
        str(_limit(api_limits.LOGIN_PER_ADDRESS))
    ]
    for n in range(_limit(api_limits.LOGIN_PER_ADDRESS)):
        login(client, f"nobody{n}@test.example")
    refused = login(client, learner)
    assert refused.status_code == 429
    assert refused.headers.getlist("X-RateLimit-Remaining") == ["0"]
