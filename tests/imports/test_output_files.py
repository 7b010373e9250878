"""An import's own output files (``--plan-out``, ``--errors-out``) are written whole or not at
all: a real import whose input stops half-way through the write leaves the previous file as
it was, and no temporary file in its folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lms_core.formats import sources
from lms_core.imports.plan.changes import ChangeLog
from tests.imports.importing import Importer

USERS = "email,full_name,role\nann@x.org,Ann,student\nbob@x.org,Bob,student\ncy@x.org,Cy,student\n"
BAD = "email,full_name,role\nann@x.org,Ann,student\nnot-an-email,Bob,student\ncy@x.org,Cy,pupil\n"
PREVIOUS = "previous\n"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _only_the_target_is_left(folder: Path, target: Path) -> None:
    assert target.read_text(encoding="utf-8") == PREVIOUS
    assert not list(folder.glob(".*.tmp"))
    assert not list(folder.glob("*.tmp"))


def test_a_plan_that_fails_half_way_leaves_the_previous_plan(
    imp: Importer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "plans"
    out.mkdir()
    plan = out / "plan.json"
    plan.write_text(PREVIOUS, encoding="utf-8")
    real_lines = ChangeLog.raw_lines
    served: list[str] = []

    def failing_lines(self: ChangeLog) -> Iterator[str]:
        for line in real_lines(self):
            if served:
                raise OSError("the change log's disk went away")
            served.append(line)
            yield line

    monkeypatch.setattr(ChangeLog, "raw_lines", failing_lines)
    with pytest.raises(OSError, match="went away"):
        imp("users", imp.file("users.csv", USERS), dry_run=True, plan_out=plan)
    assert len(served) == 1  # the plan's header and a change were written before the failure
    _only_the_target_is_left(out, plan)


def test_an_errors_file_that_fails_half_way_leaves_the_previous_one(
    imp: Importer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "errors"
    out.mkdir()
    errors = out / "errors.csv"
    errors.write_text(PREVIOUS, encoding="utf-8")
    real_open = sources.open_table
    opened: list[Path] = []

    def open_table(path: Path, **kw: Any) -> Any:
        """The import reads the file once; --errors-out reads it again, and that read fails
        after its first row."""
        table = real_open(path, **kw)
        opened.append(path)
        if len(opened) > 1:
            rows = table.rows

            def failing() -> Iterator[Any]:
                yield next(rows)
                raise OSError("the input file went away")

            table.rows = failing()
        return table

    monkeypatch.setattr(sources, "open_table", open_table)
    with pytest.raises(OSError, match="went away"):
        imp("users", imp.file("bad.csv", BAD), dry_run=True, errors_out=errors)
    assert len(opened) == 2
    _only_the_target_is_left(out, errors)
