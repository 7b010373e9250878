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
    invites: int = 0
    duration_ms: int = 0
    files: list[str] = field(default_factory=list)
    log: ChangeLog | None = field(default=None, repr=False)

    @property
    def refused(self) -> bool:
        return self.error_count > 0

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
            "errors": [e.as_dict() for e in self.errors],
        }

    def write_json(self, out: IO[str]) -> None:
        """The ``--json`` document, streamed: a million changes never sit in memory at once."""
        head = {"run_id": self.run_id, "counts": self.counts, "dry_run": self.dry_run}
        out.write(json.dumps(head, default=jsonable, ensure_ascii=False)[:-1])
        out.write(', "errors": ')
        out.write(
            json.dumps([e.as_dict() for e in self.errors], default=jsonable, ensure_ascii=False)
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
