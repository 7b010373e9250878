"""The bare consumer's entry point: ``huey_consumer jobs.main.huey``.

``lmsctl jobs worker`` is the usual way to run a worker: the same consumer plus a thread that
polls the job ledger every few seconds (docs/jobs.md). Without it, due jobs that got no
wake-up are found by the once-a-minute ``dispatch_due`` periodic task. Run it with the same ``LMS_*`` settings as the web app and the CLI (environment or ``.env``)::

    huey_consumer jobs.main.huey --workers 4 --worker-type thread
    LMS_HUEY_URL=redis://redis:6379/0 huey_consumer jobs.main.huey -w 8 -k process

``huey_consumer`` only accepts a dotted path to a module attribute, so this is the one module
whose ``huey`` stands for a queue built from settings. It is still not built at import: the
module ``__getattr__`` builds it on first access (``huey_consumer`` does ``getattr`` right after
importing), so importing ``jobs.main`` from a test or a linter reads no settings and opens no
file. Everything else calls :func:`jobs.huey_app.make_huey` and
:func:`jobs.tasks.register_tasks` itself.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.tasks import Tasks


@cache
def get_tasks() -> Tasks:
    """The queue from ``load_settings()`` with every task registered, built once per process."""
    from jobs.huey_app import make_huey
    from jobs.tasks import register_tasks
    from lms_core.settings import load_settings

    settings = load_settings()
    return register_tasks(make_huey(settings), settings)


def __getattr__(name: str) -> Any:
    if name == "huey":
        return get_tasks().huey
    if name == "tasks":
        return get_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
