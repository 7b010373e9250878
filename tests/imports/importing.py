"""Helpers for the import engine's tests: write a small file, run an import, read the problems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.imports.runs import ImportOptions, ImportReport, import_file
from lms_core.settings import Settings


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


class Importer:
    def __init__(
        self, factory: Callable[[], Session], settings: Settings, actor: Actor, tmp: Path
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.actor = actor
        self.tmp = tmp

    def file(self, name: str, text: str) -> Path:
        return write(self.tmp / name, text)

    def __call__(
        self, entity: str, path: Path, *, actor: Actor | None = None, **options: Any
    ) -> ImportReport:
        report = import_file(
            self.factory,
            actor=actor or self.actor,
            settings=self.settings,
            entity=entity,
            path=path,
            options=ImportOptions(**options),
        )
        report.changes_list = list(report.changes())  # type: ignore[attr-defined]
        return report


def problems(report: ImportReport) -> list[tuple[str, int | None, str | None, Any]]:
    """(file, line, column, value) of each problem, in the order found."""
    return [(e.file, e.line, e.column, e.value) for e in report.errors]


def messages(report: ImportReport) -> str:
    return "\n".join(str(e) for e in report.errors)
