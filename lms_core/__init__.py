"""The shared domain core: every business rule of the toolkit, grouped by domain area.

``accounts``, ``catalog``, ``quizzes`` (``bank/``), ``assignments``, ``certificates`` (``pdf/``),
``imports`` (``plan/``, ``oneroster/``), ``exports``, ``formats`` and ``ops``, over one
``models`` package and the shared ``settings``, ``db``, ``errors``, ``actor``, ``permissions``,
``security``, ``pagination``, ``locks``, ``validation`` and ``fields``. No Flask, Typer, Rich,
Click or Huey in here: the front doors (``lmsctl``, ``admin_ui``, ``jobs``) depend on this
package, never the other way round.

Two kinds of entry. A *service* takes ``session`` and an explicit ``actor``, validates,
changes state and flushes, never commits: its caller (a CLI command, a web request, a Huey
task) opens the unit of work with :func:`lms_core.db.unit_of_work` and commits or rolls back.
A *run* is long work that owns its batches, locks and commits, so it takes the session
*factory*; its docstring starts with "Run:" (``imports.runs.import_file``,
``imports.runs.apply_plan_file``, ``certificates.issue.issue_certificates``). See
docs/architecture.md for the areas, both kinds and the path of a request from each front door.
"""

__version__ = "0.1.0"
