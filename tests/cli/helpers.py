"""Assertions shared by the CLI tests: exit codes, one-line errors, JSON shapes, unchanged data."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import Result

from lms_core.models import AuditEntry, Base

#: Never in any output, whatever the command.
SECRETS = ("password_hash", "token_hash", "mfa_secret", "code_hash")


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
    assert "Traceback" not in result.stderr, result.stderr
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"unexpected {exc!r}"


def ok(result: Result) -> Result:
    """Exit 0, nothing unexpected raised."""
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    no_traceback(result)
    return result


def ok_json(result: Result) -> Any:
    """Exit 0 and stdout is exactly one JSON document (messages for people went to stderr)."""
    ok(result)
    data = json.loads(result.stdout)
    for secret in SECRETS:
        assert secret not in result.stdout
    return data


def refused(result: Result, field: str | None, *, contains: str = "") -> str:
    """Exit 1 and one line on stderr, ``error: <field>: ...``; nothing on stdout."""
    assert result.exit_code == 1, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    prefix = f"error: {field}: " if field else "error: "
    assert line.startswith(prefix), line
    assert contains.lower() in line.lower(), line
    assert result.stdout == "", result.stdout
    return line


def refused_json(result: Result, field: str | None, *, contains: str = "") -> dict[str, Any]:
    """Exit 1 and ``{"errors": [{"field", "value", "message"}]}`` on stdout; the first error.

    An error may also carry ``hint``: ``{"code", "params"}``, what to do next as data.
    """
    assert result.exit_code == 1, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    no_traceback(result)
    data = json.loads(result.stdout)
    assert set(data) == {"errors"}, data
    assert data["errors"], data
    for error in data["errors"]:
        assert set(error) - {"hint"} == {"field", "value", "message"}, error
        assert set(error.get("hint", {"code": "", "params": {}})) == {"code", "params"}, error
    first = data["errors"][0]
    assert first["field"] == field, data
    assert contains.lower() in first["message"].lower(), data
    return first


def usage_error(result: Result, contains: str = "") -> None:
    """Exit 2: click refused the command line before anything ran."""
    assert result.exit_code == 2, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    no_traceback(result)
    assert contains in result.stderr, result.stderr


def db_state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a refused command."""
    session.expire_all()
    state = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(row) for row in rows]
    return state


def audit_count(session: Session, action: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEntry)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    return session.scalar(stmt) or 0


def count(session: Session, model: type, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
