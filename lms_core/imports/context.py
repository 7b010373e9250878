"""What one import run knows while it plans: options, problems, and what the file holds so far.

A dry run writes nothing, so a course created earlier in the same run (or a OneRoster user)
is not in the database when a lesson or an enrollment refers to it: the context remembers
the records planned so far, by key, so such references resolve all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lms_core.actor import Actor
from lms_core.errors import FileProblem, Hint
from lms_core.imports.records import Problems
from lms_core.models import utcnow


@dataclass
class Context:
    actor: Actor
    mode: str
    problems: Problems
    now: datetime = field(default_factory=utcnow)
    #: Said without refusing: the columns of a file that the import does not read.
    warnings: list[FileProblem] = field(default_factory=list)
    #: The file being planned (its display name), for problems.
    file: str = ""
    #: Remember the users planned (e-mail -> role, external_id -> e-mail) for later entities.
    remember_users: bool = False
    #: Of the users planned (when remembered): e-mail -> is_active as this run leaves it.
    planned_active: dict[str, bool] = field(default_factory=dict)
    #: OneRoster: an enrollment of an inactive user is kept (the SIS sends it once; a delta
    #: enabling the user later does not send it again), and counted here.
    keep_inactive_learners: bool = False
    inactive_learners: int = 0
    planned_users: dict[str, str] = field(default_factory=dict)
    planned_user_ext: dict[str, str] = field(default_factory=dict)
    #: Courses planned in this run: slug -> id (None until created), external_id -> slug.
    planned_courses: dict[str, int | None] = field(default_factory=dict)
    planned_course_ext: dict[str, str] = field(default_factory=dict)
    #: Courses the file publishes (slug -> line), checked for lessons at the end.
    published: dict[str, int] = field(default_factory=dict)
    #: Course slugs that the lessons file gives lessons to.
    lesson_courses: set[str] = field(default_factory=set)
    #: Next free ``order_index`` per course slug, for lessons given without one.
    lesson_next: dict[str, int] = field(default_factory=dict)
    #: Ids, per entity type, of the records the file names, existing or created by this run
    #: (a sync removes the others in scope).
    seen_ids: dict[str, set[int]] = field(
        default_factory=lambda: {
            "user": set(),
            "course": set(),
            "lesson": set(),
            "enrollment": set(),
        }
    )
    #: Users sync: the roles in the file. Enrollments sync: the courses in the file.
    roles_in_file: set[str] = field(default_factory=set)
    courses_in_file: set[int] = field(default_factory=set)
    #: Planners' lookups kept from one chunk to the next (records they found), by planner.
    cache: dict[str, Any] = field(default_factory=dict)

    def problem(
        self,
        line: int | None,
        column: str | None,
        value: object,
        message: str,
        hint: Hint | None = None,
    ) -> None:
        self.problems.add(self.file, line, column, value, message, hint)
