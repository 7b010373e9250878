"""kill -9 real ``lmsctl jobs worker`` processes while they send mail, again and again: every
mail arrives, and a mail that arrives twice (the one window: killed after the server took
it, before ``sent`` was committed) carries the same Message-ID both times.

The SMTP server (in this process) takes 0.15 s per message, so kills land before, during and
after the server's answer. ``LMS_MAIL_KILLS=20`` for the issue's count.
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
from lms_core.mail.outbox import queue_mail
from lms_core.models import MailStatus, OutboxMail
from lms_core.models.jobs import Job
from lms_core.ops import schema
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl_env
from tests.mail.smtp_server import Server

pytestmark = pytest.mark.scratch

KILLS = int(os.environ.get("LMS_MAIL_KILLS", "5"))
#: Enough that every kill lands while mails are left (a worker sends 2-4 per life).
MAILS = 6 * KILLS
WORKERS = 2


def _wait_for(test: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_kill_9_while_sending_loses_no_mail_and_repeats_only_message_ids(
    scratch_url: str, tmp_path: Path, smtp_server: Server
) -> None:
    smtp_server.capture.delay = 0.15
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    base = "https://lms.school.example"
    with unit_of_work(factory) as session:
        for i in range(MAILS):
            queue_mail(
                session,
                template="test",
                to=f"user{i}@school.example",
                context={},
                key=f"kill:{i}",
                base_url=base,
            )
    env = {k: v for k, v in lmsctl_env(scratch_url, tmp_path).items() if k != "LMS_HUEY_URL"}
    env.update(
        LMS_JOBS_LEASE_SECONDS="1",
        LMS_JOBS_POLL_SECONDS="0.2",
        LMS_SMTP_HOST="127.0.0.1",
        LMS_SMTP_PORT=str(smtp_server.port),
        LMS_SMTP_SECURITY="none",
        LMS_PUBLIC_BASE_URL=base,
    )
    log = tmp_path / "worker.log"
    rng = random.Random()  # noqa: S311 - when to kill, not a secret

    def scalar(stmt: object) -> int:
        with unit_of_work(factory, write=False) as session:
            return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    def sent() -> int:
        return scalar(
            select(func.count())
            .select_from(OutboxMail)
            .where(OutboxMail.status == MailStatus.sent.value)
        )

    def running_on(pid: int) -> bool:
        return bool(
            scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.status == "running", Job.worker.like(f"%:{pid}"))
            )
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
        while kills < KILLS and sent() < MAILS:
            proc = worker()
            try:
                _wait_for(partial(running_on, proc.pid), 30, "the worker took no job", log)
                time.sleep(rng.uniform(0, 0.4))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            kills += 1
        proc = worker()
        try:
            _wait_for(lambda: sent() == MAILS, 60, "not every mail was sent", log)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
        with unit_of_work(factory, write=False) as session:
            ids = set(session.scalars(select(OutboxMail.message_id)))
            claims = int(session.scalar(select(func.sum(Job.attempts))) or 0)
        assert claims > MAILS, "no kill landed while a mail was being sent"
        received = Counter(str(m["Message-ID"]) for m in smtp_server.messages)
        assert set(received) == ids  # every mail arrived, and nothing else did
        repeats = sum(received.values()) - MAILS
        # Only the mails in flight when a worker died can arrive twice, each as itself.
        assert repeats <= WORKERS * kills, received
    finally:
        engine.dispose()
