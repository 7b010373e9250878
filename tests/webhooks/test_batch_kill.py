"""kill -9 real ``lmsctl jobs worker`` processes in the middle of webhook batches: every
delivery reaches the receiver, and one that arrives twice (the crash window: posted, its
group's answers not committed yet) is bounded by the group size per killed worker.

The receiver (in this process) takes 10 ms per request, so a batch of a hundred lasts about
a second and the kills land mid-batch. ``LMS_WEBHOOK_KILLS`` sets how many.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.events import record
from lms_core.models.jobs import Job
from lms_core.models.webhooks import WebhookDelivery
from lms_core.ops import schema
from lms_core.webhooks.batch import GROUP
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl_env
from tests.webhooks.conftest import Receiver
from tests.webhooks.helpers import add

pytestmark = pytest.mark.scratch

KILLS = int(os.environ.get("LMS_WEBHOOK_KILLS", "3"))
DELIVERIES = 400
WORKERS = 2


def _wait_for(test: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_kill_9_mid_batch_delivers_each_once_but_the_crash_window(
    scratch_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.delay = 0.01
    settings = cheap_settings(scratch_url, tmp_path / "files").model_copy(
        update={"webhooks_allow_private": True}
    )
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    hook = add(factory, settings, receiver.url)
    with unit_of_work(factory) as session:
        for i in range(DELIVERIES):
            record(session, "user.created", {"user_id": i}, [hook])
    env = {k: v for k, v in lmsctl_env(scratch_url, tmp_path).items() if k != "LMS_HUEY_URL"}
    env.update(
        LMS_JOBS_LEASE_SECONDS="1", LMS_JOBS_POLL_SECONDS="0.2", LMS_WEBHOOKS_ALLOW_PRIVATE="1"
    )
    log = tmp_path / "worker.log"
    rng = random.Random()  # noqa: S311 - when to kill, not a secret

    def scalar(stmt: object) -> int:
        with unit_of_work(factory, write=False) as session:
            return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    def succeeded() -> int:
        return scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "succeeded")
        )

    def worker() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [str(BIN / "lmsctl"), "jobs", "worker", f"--workers={WORKERS}", "--no-periodic"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    try:
        kills = 0
        while kills < KILLS and succeeded() < DELIVERIES:
            proc = worker()
            try:
                sent_more = partial(lambda n: len(receiver.requests) > n, len(receiver.requests))
                _wait_for(sent_more, 30, "nothing was sent", log)
                time.sleep(rng.uniform(0.1, 0.5))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            kills += 1
        proc = worker()
        try:
            _wait_for(lambda: succeeded() == DELIVERIES, 90, "not every delivery succeeded", log)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
        with unit_of_work(factory, write=False) as session:
            ids = set(session.scalars(select(WebhookDelivery.id)))
            claims = int(session.scalar(select(func.sum(Job.attempts))) or 0)
        jobs = (DELIVERIES + 99) // 100
        assert claims > jobs, "no kill landed mid-batch"
        received = Counter(r.headers["Webhook-Id"] for r in receiver.requests)
        assert set(received) == ids  # every delivery arrived, and nothing else did
        assert all(r.signature_valid() for r in receiver.requests)
        repeats = sum(received.values()) - DELIVERIES
        # Only the answers not yet committed (a group per batch in flight) can come twice.
        assert repeats <= WORKERS * GROUP * kills, received.most_common(5)
        assert max(received.values()) <= 1 + kills
    finally:
        engine.dispose()
