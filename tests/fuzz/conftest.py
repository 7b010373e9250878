"""The fuzz harness: run one case through lmsctl in-process, check the outcome, reset the data.

Each case runs inside a SAVEPOINT of the test's transaction that is rolled back afterwards, so
the next case starts from the same known state on SQLite and PostgreSQL alike; a refused case
must also leave every table as it was (the import history may gain the refused run's row),
and an accepted one must not have stored a control character anywhere. Outcomes are tallied
per fuzzer and printed in pytest's terminal summary.

Knobs (environment): ``LMS_FUZZ_SEED`` replays another seed, ``LMS_FUZZ_SCALE=4`` runs four
times the random cases (a longer hunt, not for CI), ``LMS_FUZZ_VERBOSE=1`` with ``-s`` prints
one line per case.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection
from typer.testing import Result

from tests.fuzz.snapshot import db_snapshot, row_count, stored_controls

#: Fixed unless overridden, so CI runs the same cases every time and a failure can be replayed.
SEED = int(os.environ.get("LMS_FUZZ_SEED", "20261206"))
VERBOSE = os.environ.get("LMS_FUZZ_VERBOSE") == "1"
#: Tables a refused run may append to: its own line in the import history.
HISTORY = ("import_runs",)

_TALLY = pytest.StashKey[dict[str, Counter[str]]]()


@dataclass
class Fuzzer:
    """Runs cases for one fuzzer and collects what went wrong, to report all of them at once."""

    name: str
    cli: Callable[..., Result]
    connection: Connection
    tally: Counter[str]
    problems: list[str] = field(default_factory=list)

    def run(
        self, label: str, *args: str, usage_ok: bool = False, input: str | None = None
    ) -> Result:
        """One case: lmsctl ``args`` (with ``--json``); checks, then rolls its changes back."""
        savepoint = self.connection.begin_nested()
        try:
            before = db_snapshot(self.connection, skip=HISTORY)
            runs = row_count(self.connection, "import_runs")
            result = self.cli(*args, input=input)
            for problem in self._check(result, usage_ok):
                self.problems.append(f"{label}: {problem}")
            if result.exit_code == 0:
                for stored in stored_controls(self.connection, skip=HISTORY):
                    self.problems.append(f"{label}: accepted a control character: {stored}")
            else:
                after = db_snapshot(self.connection, skip=HISTORY)
                changed = [t for t in before if before[t] != after.get(t)]
                if changed:
                    self.problems.append(f"{label}: refused but changed {changed}")
                if row_count(self.connection, "import_runs") - runs not in (0, 1):
                    self.problems.append(f"{label}: import history grew by more than one run")
        finally:
            if savepoint.is_active:
                savepoint.rollback()
        if VERBOSE:  # LMS_FUZZ_VERBOSE=1 pytest -s: one line per case, to read what each did
            print(f"{result.exit_code} {label[:90]!r} {result.stdout[-160:]!r}")
        self.tally[{0: "accepted", 1: "refused", 2: "usage"}.get(result.exit_code, "crashed")] += 1
        self.tally["cases"] += 1
        return result

    def _check(self, result: Result, usage_ok: bool) -> list[str]:
        allowed = {0, 1, 2} if usage_ok else {0, 1}
        problems = []
        if result.exit_code not in allowed:
            problems.append(f"exit {result.exit_code}")
        if "Traceback" in result.output or "Traceback" in result.stderr:
            problems.append("traceback: " + result.stderr[-400:])
        exc = result.exception
        if exc is not None and not isinstance(exc, SystemExit):
            problems.append(f"raised {exc!r}")
        if result.exit_code in (0, 1):
            problems += _json_problems(result.stdout, refused=result.exit_code == 1)
        return problems

    def assert_clean(self) -> None:
        shown = "\n".join(self.problems[:40])
        assert not self.problems, f"{len(self.problems)} problem(s) in {self.name}:\n{shown}"


def _json_problems(stdout: str, *, refused: bool) -> list[str]:
    """Exactly one JSON document; a refusal lists errors that say where and what."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return [f"stdout is not JSON: {stdout[:200]!r}"]
    if not refused:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    if not errors:
        return [f"a refusal without errors: {stdout[:200]!r}"]
    problems = []
    for error in errors:
        located = {"file", "line", "column", "message"} <= set(error)
        by_field = {"field", "message"} <= set(error)  # refused before a file was read
        if not (located or by_field) or not error["message"]:
            problems.append(f"error without place or message: {error!r}")
    return problems


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TALLY] = {}


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    tallies = config.stash.get(_TALLY, {})
    if not tallies:
        return
    terminalreporter.section(f"fuzz cases (seed {SEED})")
    for name, tally in sorted(tallies.items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(tally.items()) if k != "cases")
        terminalreporter.write_line(f"{name}: {tally['cases']} cases: {outcomes}")


@pytest.fixture
def fuzzer(
    request: pytest.FixtureRequest, cli: Any, connection: Connection
) -> Callable[[str], Fuzzer]:
    """``fuzzer("csv users")``: a harness whose outcomes count towards that fuzzer's tally."""

    def make(name: str) -> Fuzzer:
        tally = request.config.stash[_TALLY].setdefault(name, Counter())
        return Fuzzer(name, cli, connection, tally)

    return make


@pytest.fixture
def scale() -> Callable[[int], int]:
    """How many random cases to run of ``n``: all of them, times ``LMS_FUZZ_SCALE``."""
    factor = float(os.environ.get("LMS_FUZZ_SCALE", "1"))
    return lambda n: max(1, round(n * factor))
