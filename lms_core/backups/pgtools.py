"""Running ``pg_dump`` / ``pg_restore`` safely: the right version, the password kept off argv.

The password goes in ``PGPASSWORD`` (the child's environment, which other accounts cannot
read, unlike ``ps`` output), and so do host, port, user and database: nothing of the URL is
on the command line. A ``pg_dump`` older than the server refuses to dump it, in words that do
not say what to install; we check first and say it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url

from lms_core.errors import Conflict

#: libpq parameters a URL's query string may carry, and their environment variables.
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "host": "PGHOST",
    "port": "PGPORT",
}


def database_url(url: str, field: str) -> str:
    """``url`` checked and made usable: a URL that does not parse is a refusal naming
    ``field``; plain ``postgresql://`` gets the bundled driver (psycopg2), as make_engine does."""
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise Conflict(
            f"not a database URL: {url!r} (e.g. sqlite:///var/restored.db or "
            "postgresql://user@host/name)",
            field=field,
            value=url,
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise Conflict(
            f"{parsed.get_backend_name()} is not supported: SQLite or PostgreSQL",
            field=field,
            value=url,
        )
    return parsed.render_as_string(hide_password=False)


def pg_env(url: str | URL, *, database: str | None = None) -> dict[str, str]:
    """The environment that points libpq tools at ``url`` (``database`` instead of its own)."""
    parsed = make_url(url) if isinstance(url, str) else url
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"):
        env.pop(key, None)
    if parsed.host:
        env["PGHOST"] = parsed.host
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    if parsed.username:
        env["PGUSER"] = parsed.username
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    env["PGDATABASE"] = database or parsed.database or "postgres"
    for key, var in _QUERY_ENV.items():
        value: Any = parsed.query.get(key)
        if isinstance(value, tuple):
            value = value[0] if value else None
        if value:
            env[var] = str(value)
    return env


def option(name: str, value: str | None = None) -> str:
    """A tool's long option (``option("no-owner")``, ``option("snapshot", s)``) for its argv.

    Built rather than spelled out so that no message-like string of lms_core names a
    command-line option: those are lmsctl's to word (tests/cli/test_hint_wording.py).
    """
    flag = "-" * 2 + name
    return flag if value is None else f"{flag}={value}"


def tool_major(tool: str) -> int:
    """The major version of ``tool`` (pg_dump, pg_restore); Conflict if it is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise Conflict(
            f"{tool} is not installed (or not on PATH): install the PostgreSQL client "
            "tools of the server's major version or newer (e.g. apt install postgresql-client)",
            field="database_url",
        )
    out = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
        [path, option("version")], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if found is None:
        raise Conflict(f"cannot tell the version of {path}: {out.strip()!r}", field="database_url")
    return int(found.group(1))


def require_tool(tool: str, conn: Connection) -> str:
    """The path of ``tool``, refusing one older than the server it is to talk to."""
    major = tool_major(tool)
    server = (conn.dialect.server_version_info or (0,))[0]
    if major < int(server):
        raise Conflict(
            f"{tool} is version {major} but the server is PostgreSQL {server}: {tool} must be "
            f"the server's major version or newer (install postgresql-client-{server})",
            field="database_url",
            value=major,
        )
    return shutil.which(tool) or tool


def run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    """Run a client tool; its stderr becomes the error when it fails."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise Conflict(
            f"{what} failed (exit {done.returncode}): " + " / ".join(detail[-5:]),
            field="database_url",
        )
