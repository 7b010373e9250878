"""The multiprocess metrics folder (``PROMETHEUS_MULTIPROC_DIR``): made, checked, emptied.

gunicorn.conf.py empties it before the first worker (a previous run's counts must not be added
to this one's), and the scrape sums every ``*.db`` file in it. So the folder must be the
metrics' own: pointed at the data folder, an emptying by pattern would delete ``lms.db``, and a
scrape would read it as counts. Only prometheus_client's own file names are ever deleted, and a
folder that is the database's or the uploaded files' folder, or that holds anything else, is
refused with a message saying which file and why.
"""

from __future__ import annotations

import re
from pathlib import Path

from lms_core.settings import Settings

#: prometheus_client's file names (values.py: ``{type}_{pid}.db``; gauges ``gauge_{mode}_{pid}.db``).
_OWN_FILE = re.compile(r"^(?:counter|histogram|summary|gauge_[a-z]+)_\d+\.db$")


class MetricsFolderError(RuntimeError):
    """The metrics folder is not the metrics' own: the server must not start."""


def _database_folder(settings: Settings) -> Path | None:
    if not settings.is_sqlite:
        return None
    from sqlalchemy.engine import make_url

    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).resolve().parent


def check_folder(folder: Path, settings: Settings) -> None:
    """MetricsFolderError unless ``folder`` holds nothing but prometheus_client's files and is
    neither the SQLite database's folder nor the files folder (nor inside it)."""
    where = folder.resolve()
    env = "PROMETHEUS_MULTIPROC_DIR"
    if where == _database_folder(settings):
        raise MetricsFolderError(f"{env}={folder} is the database's folder; give metrics their own")
    files = settings.files_dir.resolve()
    if where == files or files in where.parents:
        raise MetricsFolderError(
            f"{env}={folder} is (inside) LMS_FILES_DIR; give metrics their own"
        )
    if where.is_dir():
        for entry in sorted(where.iterdir()):
            if not _OWN_FILE.match(entry.name):
                raise MetricsFolderError(
                    f"{env}={folder} holds {entry.name}, which is not a metrics file: "
                    "give metrics a folder of their own (nothing else in it)"
                )


def prepare_folder(folder: Path, settings: Settings, *, empty: bool) -> None:
    """Check the folder (see :func:`check_folder`), make it if missing, and with ``empty``
    delete the last run's metrics files (only names prometheus_client writes)."""
    check_folder(folder, settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if empty:
        for stale in folder.iterdir():
            if _OWN_FILE.match(stale.name):
                stale.unlink(missing_ok=True)
