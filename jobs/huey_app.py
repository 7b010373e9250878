"""The Huey instance, built from settings (huey's ``docs/imports.rst``: one place makes it).

* no ``huey_url``: :class:`~huey.SqliteHuey` in ``huey.db`` next to the SQLite database, or
  ``var/huey.db`` when the database is not a SQLite file. Nothing to start: the embedded default.
* ``huey_url=redis://...`` (or ``rediss://``): :class:`~huey.RedisHuey`, for several consumers.
* ``huey_url=sqlite:///path/huey.db``: SqliteHuey in that file.
* ``immediate=True``: :class:`~huey.MemoryHuey` running each task as it is enqueued (tests).

Every kind signs its entries with the secret key (:mod:`jobs.signing`): a forged entry is
refused before it is unpickled, so producers and workers must share ``LMS_SECRET_KEY``.
"""

from __future__ import annotations

from pathlib import Path

import huey
from sqlalchemy.engine import make_url

from jobs.signing import QueueSerializer
from lms_core.private_paths import create_private_file, make_private_dirs
from lms_core.settings import Settings

DEFAULT_NAME = "lms"
DEFAULT_SQLITE_PATH = Path("var/huey.db")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def sqlite_queue_path(settings: Settings) -> Path:
    """Where the embedded queue lives: beside the SQLite database file, else ``var/huey.db``."""
    if settings.huey_url and settings.huey_url.startswith("sqlite:///"):
        return Path(settings.huey_url.removeprefix("sqlite:///"))
    url = make_url(settings.database_url)
    database = url.database
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        return Path(database).parent / "huey.db"
    return DEFAULT_SQLITE_PATH


def make_huey(
    settings: Settings, *, immediate: bool = False, name: str = DEFAULT_NAME
) -> huey.Huey:
    """Build the queue ``settings`` describe; ``name`` separates queues sharing one Redis."""
    serializer = QueueSerializer(settings.secret_key.get_secret_value())
    if immediate:
        return huey.MemoryHuey(name, immediate=True, serializer=serializer)
    url = settings.huey_url
    if url and url.startswith(REDIS_SCHEMES):
        return huey.RedisHuey(name, url=url, serializer=serializer)
    if url and not url.startswith("sqlite:///"):
        raise ValueError(
            f"huey_url: unsupported scheme in {url.split('://')[0]!r}; "
            "use redis://, rediss:// or sqlite:///"
        )
    path = sqlite_queue_path(settings)
    make_private_dirs(path.parent)
    create_private_file(path)  # owner-only like the database beside it (SQLite keeps the mode)
    return huey.SqliteHuey(name, filename=str(path), serializer=serializer)
