"""``lmsctl jobs run-due`` and a queue entry it cannot read: reported cleanly (no traceback),
exit 1, and the rest of the queue and the ledger still run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from jobs.huey_app import make_huey
from jobs.tasks import register_tasks
from lms_core.db import unit_of_work
from lms_core.jobs import ledger
from lms_core.settings import Settings
from tests.conftest import Cli

#: A pickle naming a module that does not exist (GLOBAL opcode, then STOP): what an entry
#: written by another version of the toolkit can look like.
MISSING_MODULE_PICKLE = b"cno_such_module_lms_xyz\nthing\n."


def test_an_unreadable_signed_entry_is_reported_and_the_rest_runs(
    tmp_path: Path, settings: Settings, session_factory: Callable[[], Session]
) -> None:
    own = settings.model_copy(
        update={"huey_url": f"sqlite:///{tmp_path / 'huey.db'}", "files_dir": tmp_path / "f"}
    )
    queue = make_huey(own)
    queue.storage.enqueue(queue.serializer._sign(MISSING_MODULE_PICKLE))
    register_tasks(queue, own, session_factory=session_factory).ping("after the bad one")
    with unit_of_work(session_factory) as session:
        job_id = ledger.enqueue(session, "maintenance.ping", {"echo": "still runs"}).id

    result = Cli(own, session_factory)("jobs", "run-due", "--json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output + result.stderr
    report = json.loads(result.stdout)
    [refused] = report["refused_entries"]
    assert "could not be read" in refused and "no_such_module_lms_xyz" in refused
    assert report["queue_messages"] == 1  # the ping after it was run
    statuses = {j["id"]: j["status"] for j in report["jobs"]}  # with the periodic slots
    assert statuses[job_id] == "succeeded"
    assert make_huey(own).pending_count() == 0

    text = Cli(own, session_factory)("jobs", "run-due")  # nothing left: a clean run
    assert text.exit_code == 0, text.output
