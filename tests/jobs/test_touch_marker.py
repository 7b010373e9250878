"""``maintenance.touch``'s marker appears whole or not at all: what a worker killed part-way
leaves (its scratch copy, not yet linked) does not count as done, and a marker that exists is
never written again."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.jobs.maintenance import touch, touch_path
from lms_core.jobs.registry import JobContext
from lms_core.settings import Settings


def _context(settings: Settings, factory: Callable[[], Session], files: Path) -> JobContext:
    local = settings.model_copy(update={"files_dir": files})
    return JobContext(session_factory=factory, settings=local, job_id=1, attempt=2, key="k:1")


class _Died(Exception):
    """The run's end part-way through writing (a kill, a full disk)."""


def test_a_run_that_dies_while_writing_leaves_no_marker(
    settings: Settings,
    session_factory: Callable[[], Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = _context(settings, session_factory, tmp_path)
    marker = touch_path(tmp_path, ctx.key)

    def dies(fd: int, *_args: Any, **_kwargs: Any) -> Any:
        os.close(fd)
        raise _Died

    with monkeypatch.context() as patched:
        patched.setattr(os, "fdopen", dies)
        with pytest.raises(_Died):
            touch(ctx, {})
    assert not marker.exists()  # before: an empty marker, taken as done by every later run
    assert touch(ctx, {}) == {"path": str(marker), "created": True}
    assert marker.read_text() == "k:1\n"


def test_a_killed_runs_scratch_copy_does_not_count_as_done(
    settings: Settings, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    ctx = _context(settings, session_factory, tmp_path)
    marker = touch_path(tmp_path, ctx.key)
    # What a run killed after writing its copy and before linking it leaves behind.
    left = marker.parent.parent / "touch-writing" / f"{marker.stem}.999.1"
    left.parent.mkdir(parents=True)
    left.write_text("k:1\n")
    assert touch(ctx, {}) == {"path": str(marker), "created": True}
    assert marker.read_text() == "k:1\n"
    assert [p.name for p in left.parent.iterdir()] == [left.name]  # its own copy is gone


def test_a_marker_that_exists_is_left_as_it_is(
    settings: Settings, session_factory: Callable[[], Session], tmp_path: Path
) -> None:
    ctx = _context(settings, session_factory, tmp_path)
    marker = touch_path(tmp_path, ctx.key)
    marker.parent.mkdir(parents=True)
    marker.write_text("first run\n")
    assert touch(ctx, {}) == {"path": str(marker), "created": False}
    assert marker.read_text() == "first run\n"
