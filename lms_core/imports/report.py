"""What an import run did (or would do): counts, changes, problems; the ``--json`` document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lms_core.errors import FileProblem
from lms_core.imports.plan.changes import Change, ChangeLog, jsonable


@dataclass
class ImportReport:
    """What a run did (or would do); ``errors`` non-empty means refused, nothing written."""

    entity: str
    mode: str
    dry_run: bool
    run_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[FileProblem] = field(default_factory=list)
    error_count: int = 0
    #: What was read but not used, said without refusing (a column the import does not know).
    warnings: list[FileProblem] = field(default_factory=list)
    invites: int = 0
    #: New users without a password who got no link (no --invites-out): ``lmsctl users invite``.
    uninvited: int = 0
    #: The file is the one applied by this run, unchanged: nothing was read (no --force).
    unchanged_since: int | None = None
    #: ``apply_plan_file(once=True)``: the plan was applied already, by this run; nothing done.
    applied_by: int | None = None
    duration_ms: int = 0
    files: list[str] = field(default_factory=list)
    log: ChangeLog | None = field(default=None, repr=False)

    @property
    def refused(self) -> bool:
        return self.error_count > 0

    @property
    def skip_message(self) -> str:
        """Said when the file was skipped (the front door adds how to read it anyway)."""
        return f"unchanged since run {self.unchanged_since}: nothing to do"

    def problems(self) -> list[FileProblem]:
        """The errors in the order a user fixes them: file by file, by line (see :func:`by_line`)."""
        return by_line(self.errors)

    @property
    def head(self) -> list[Change]:
        return self.log.head if self.log else []

    def changes(self) -> Iterator[dict[str, Any]]:
        if self.log is not None and not self.refused:
            yield from self.log.changes()

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document (every change in memory: for small runs and tests)."""
        return {
            "run_id": self.run_id,
            "counts": self.counts,
            "changes": list(self.changes()),
            "errors": [e.as_dict() for e in self.problems()],
            "warnings": [w.as_dict() for w in self.warnings],
        }

    def write_json(self, out: IO[str]) -> None:
        """The ``--json`` document, streamed: a million changes never sit in memory at once."""
        head: dict[str, Any] = {
            "run_id": self.run_id,
            "counts": self.counts,
            "dry_run": self.dry_run,
        }
        if self.invites:
            head["invites"] = self.invites
        if self.uninvited:
            head["uninvited"] = self.uninvited
        if self.unchanged_since is not None:
            head["unchanged_since_run"] = self.unchanged_since
            head["message"] = self.skip_message
        out.write(json.dumps(head, default=jsonable, ensure_ascii=False)[:-1])
        out.write(', "errors": ')
        for key, items in (("errors", self.problems()), ("warnings", self.warnings)):
            if key != "errors":
                out.write(f', "{key}": ')
            out.write(
                json.dumps([e.as_dict() for e in items], default=jsonable, ensure_ascii=False)
            )
        out.write(', "changes": [')
        first = True
        if self.log is not None and not self.refused:
            for line in self.log.raw_lines():
                out.write(("\n  " if first else ",\n  ") + line)
                first = False
        out.write("\n]}\n")

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def by_line(problems: list[FileProblem]) -> list[FileProblem]:
    """Problems file by file (in the order the files were read), by line; a file's own
    problems (no line: a missing column, a sync threshold) first. Stable: the problems of
    one line keep the order of its columns."""
    rank: dict[str, int] = {}
    for problem in problems:
        rank.setdefault(problem.file, len(rank))
    return sorted(problems, key=lambda p: (rank[p.file], -1 if p.line is None else p.line))


@dataclass
class Group:
    """One problem, or the same problem (message, column and value) on several lines."""

    first: FileProblem
    lines: list[int] = field(default_factory=list)


def grouped(problems: list[FileProblem]) -> list[Group]:
    """Problems by line, each repeated one (an unknown course on 14 lines) once with its
    lines, where it first occurs: what a person reads. ``--json`` keeps one per problem."""
    groups: dict[tuple[Any, ...], Group] = {}
    for problem in by_line(problems):
        hint = problem.hint.as_dict() if problem.hint else None
        key = (problem.file, problem.column, repr(problem.value), problem.message, repr(hint))
        group = groups.get(key) if problem.line is not None else None
        if group is None:
            group = Group(problem)
            groups[key if problem.line is not None else (id(problem),)] = group
        if problem.line is not None:
            group.lines.append(problem.line)
    return list(groups.values())
