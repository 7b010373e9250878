"""Analytics reports: student, instructor, course and system figures (docs/reports.md).

Each figure is one set-based SQL statement (aggregates, joins, window functions), never a
Python loop over rows, and gives the same numbers on SQLite and PostgreSQL: the few things
the two spell differently (week and month starts, seconds between timestamps, reading a
question's points out of an attempt's JSON) are written once per dialect in
:mod:`lms_core.reports.sql`. A report is a list of named :class:`~lms_core.reports.base.Section`
tables whose rows are read lazily, a section at a time, so that the writers in
:mod:`lms_core.reports.output` stream them in constant memory.

Who may see what follows :mod:`lms_core.scopes`: administrators (and the operator) every
report; instructors their own instructor report, the course reports of the courses they
teach, and the student reports of their learners (only those learners' enrollments in their
courses); learners their own student report; the system report is administrators' only.
"""
