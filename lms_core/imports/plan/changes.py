"""The plan of an import: one :class:`Change` per record, counted, kept out of memory.

A plan can be a million records long, so the changes are written to a temporary file as JSON
lines as they are planned; only the counts and the first few changes stay in memory (for the
summary table). ``--json`` output and ``--plan-out`` files stream from that file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import orjson

#: Plan actions. ``unchanged`` and ``skip`` write nothing; ``drop`` counts as ``deactivate``.
CREATE, UPDATE, UNCHANGED, DEACTIVATE, DROP, SKIP = (
    "create",
    "update",
    "unchanged",
    "deactivate",
    "drop",
    "skip",
)
#: Actions that write (and leave an ImportChange row in the ledger).
WRITING = frozenset({CREATE, UPDATE, DEACTIVATE, DROP})

#: The counts every import reports (``skipped``: records the mode leaves alone, e.g. unknown
#: records in ``--mode update``, existing ones that differ in ``--mode add``).
COUNT_KEYS = ("create", "update", "unchanged", "deactivate", "skipped")
_COUNTED = {CREATE: "create", UPDATE: "update", UNCHANGED: "unchanged", DEACTIVATE: "deactivate"}
_COUNTED |= {DROP: "deactivate", SKIP: "skipped"}

#: The entity type of a change (the audit log's names) and the counts key of a bundle.
ENTITY_PLURAL = {
    "user": "users",
    "course": "courses",
    "lesson": "lessons",
    "enrollment": "enrollments",
}


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


@dataclass(slots=True)
class Change:
    """One record's planned change, in the import's column names (``before``/``after``)."""

    entity_type: str
    key: str
    action: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    #: The source line (for messages); not part of a plan file.
    line: int | None = None
    #: Resolved foreign keys (``instructor_id``, ``course_id``, ``student_id``) when known.
    refs: dict[str, int] = field(default_factory=dict)
    #: A new user's password, then its hash: never serialised anywhere.
    secret: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "key": self.key,
            "action": self.action,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
        }

    @property
    def fields(self) -> list[str]:
        """The fields this change sets (all of them for a create)."""
        return sorted((self.after or {}).keys())


#: Enrollments counts of a OneRoster import: how many of the file's enrollments belong to
#: users who cannot sign in (``enabledUser`` false), kept for when the SIS enables them.
INACTIVE_LEARNERS = "inactive_learners"


def new_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


class ChangeLog:
    """Counts per entity type, the first ``head_size`` changes, and every change on disk."""

    def __init__(self, head_size: int = 20) -> None:
        self.head_size = head_size
        self.head: list[Change] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.total_changes = 0
        self._file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def add(self, change: Change) -> None:
        counts = self.counts.setdefault(ENTITY_PLURAL[change.entity_type], new_counts())
        counts[_COUNTED[change.action]] += 1
        if change.action == UNCHANGED:
            return
        self.total_changes += 1
        if len(self.head) < self.head_size:
            self.head.append(change)
        self._file.write(orjson.dumps(change.as_dict(), default=jsonable).decode())
        self._file.write("\n")

    def add_all(self, changes: list[Change]) -> None:
        """:meth:`add` for a chunk's changes: one write, the counts kept in locals."""
        lines: list[bytes] = []
        counted: dict[tuple[str, str], int] = {}
        head = self.head
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        for change in changes:
            pair = (change.entity_type, change.action)
            counted[pair] = counted.get(pair, 0) + 1
            if change.action == UNCHANGED:
                continue
            if len(head) < self.head_size:
                head.append(change)
            lines.append(
                dumps(
                    {
                        "entity_type": change.entity_type,
                        "key": change.key,
                        "action": change.action,
                        "entity_id": change.entity_id,
                        "before": change.before,
                        "after": change.after,
                    },
                    default=jsonable,
                    option=option,
                )
            )
        for (entity_type, action), n in counted.items():
            counts = self.counts.setdefault(ENTITY_PLURAL[entity_type], new_counts())
            counts[_COUNTED[action]] += n
        self.total_changes += len(lines)
        if lines:
            self._file.write(b"".join(lines).decode())

    def ensure(self, plural: str) -> None:
        """Report an entity with zero counts (a file with no rows still has counts)."""
        self.counts.setdefault(plural, new_counts())

    def changes(self) -> Iterator[dict[str, Any]]:
        """Every change (not the unchanged records), in plan order, read back from disk."""
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, 2)

    def raw_lines(self) -> Iterator[str]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield line.rstrip("\n")
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()

    def summary(self, main: str) -> dict[str, Any]:
        """The ``counts`` of the JSON document: ``main``'s counts, others under their name.

        A courses import reports its lessons under ``counts["lessons"]``; a OneRoster bundle
        reports users, courses and enrollments each under its own key, and their sums on top.
        """
        if main == "oneroster":
            top = new_counts()
            for counts in self.counts.values():
                for k in COUNT_KEYS:
                    top[k] += counts.get(k, 0)
            out: dict[str, Any] = dict(top)
            out.update({name: dict(c) for name, c in self.counts.items()})
            return out
        out = dict(self.counts.get(main, new_counts()))
        out.update({name: dict(c) for name, c in self.counts.items() if name != main})
        return out
