"""A command group that imports each sub-command's module only when it is run.

``lmsctl --help`` then loads Typer and the command modules (which import nothing heavy at
top level), never SQLAlchemy models, settings, Flask or fpdf2.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from typer.core import TyperGroup

if TYPE_CHECKING:
    # The types TyperGroup's methods are declared with: Typer vendors Click since 0.26, so the
    # separately installed ``click`` package (Flask's) holds other, unrelated classes.
    from typer._click import Command, Context

#: name -> (module holding a Typer ``app``, one-line help shown by ``lmsctl --help``).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("lmsctl.commands.init", "Create the database, migrate it, create the first admin."),
    "doctor": ("lmsctl.commands.doctor", "Check settings, database, migrations and files dir."),
    "db": ("lmsctl.commands.db", "Schema migrations: upgrade, downgrade, current, check."),
    "users": ("lmsctl.commands.users", "Create, list, update, lock out and delete users."),
    "courses": ("lmsctl.commands.courses", "Create, publish, list and delete courses."),
    "lessons": ("lmsctl.commands.lessons", "Add, update, reorder and delete a course's lessons."),
    "enrollments": ("lmsctl.commands.enrollments", "Enroll, drop, record progress, review."),
    "certificates": (
        "lmsctl.commands.certificates",
        "Eligibility, issue runs, verify, revoke, reinstate, reissue, export.",
    ),
    "quizzes": (
        "lmsctl.commands.quizzes",
        "Quizzes: settings, question banks, attempts, regrading.",
    ),
    "files": ("lmsctl.commands.files", "Upload, list, download and delete files."),
    "assignments": ("lmsctl.commands.assignments", "Create, update, list and show assignments."),
    "submissions": ("lmsctl.commands.submissions", "List, submit and grade submissions."),
    "grading": ("lmsctl.commands.grading", "Offline grading: worksheet export and import."),
    "gradebook": ("lmsctl.commands.gradebook", "Export a course's gradebook (CSV or XLSX)."),
    "reports": (
        "lmsctl.commands.reports",
        "Student, instructor, course and system figures: table, JSON, CSV or XLSX.",
    ),
    "import": (
        "lmsctl.commands.imports",
        "Bulk import users, courses, enrollments, OneRoster; history and undo.",
    ),
    "export": (
        "lmsctl.commands.exports",
        "Export users, courses, enrollments to CSV or XLSX (re-importable).",
    ),
    "demo": (
        "lmsctl.commands.demo",
        "Demo data: a small seeded school, or synthetic data at scale.",
    ),
    "email": ("lmsctl.commands.email", "Send a test e-mail, list the mail outbox."),
    "jobs": (
        "lmsctl.commands.jobs",
        "Background jobs: the worker, run-due for cron, list, show, retry, cancel.",
    ),
    "webhooks": (
        "lmsctl.commands.webhooks",
        "Webhook endpoints: add, list, test, deliveries, replay, disable, enable.",
    ),
    "api": ("lmsctl.commands.api", "The JSON API: its OpenAPI document."),
    "tokens": (
        "lmsctl.commands.tokens",
        "Personal access tokens for the JSON API: create, list, revoke.",
    ),
    "backup": (
        "lmsctl.commands.backup",
        "Backups: create, list, verify (restore drill), restore, prune.",
    ),
    "schedules": (
        "lmsctl.commands.schedules",
        "Scheduled exports and reports to a folder (cron, UTC), retention, mail: add, list, remove, run.",
    ),
    "serve": (
        "lmsctl.commands.serve",
        "Serve the back office on the development server (production: gunicorn).",
    ),
}


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        import typer.main

        module = importlib.import_module(COMMANDS[cmd_name][0])
        command = typer.main.get_command(module.app)
        command.name = cmd_name
        command.short_help = COMMANDS[cmd_name][1]
        return command
