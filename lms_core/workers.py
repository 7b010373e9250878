"""Process pools whose workers die with the process that started them.

A pool worker blocked on its task queue does not notice that its parent was killed
(``kill -9``, or ``kill -TERM`` with no handler): left alone it would live on, and a forked
worker would keep every descriptor it inherited. On Linux each worker asks the kernel to
send it SIGKILL when its parent ends (``prctl(PR_SET_PDEATHSIG)``), then checks that the
parent did not end before it asked. Run locks (:mod:`lms_core.locks`) are not inherited by
forked children in any case.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, method: str) -> None:
    """In a worker: end when the process that started the pool ends (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return
    # The parent may have ended between the fork and the prctl: then nothing would signal us.
    if method in ("fork", "spawn"):
        if os.getppid() != parent_pid:
            os._exit(1)
        return
    try:  # forkserver: the OS parent is the server, which ends when the pool's owner ends
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        os._exit(1)
    except PermissionError:  # pragma: no cover - alive, someone else's
        pass


def _start(
    parent_pid: int,
    method: str,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    die_with_parent(parent_pid, method)
    if initializer is not None:
        initializer(*initargs)


def worker_pool(
    workers: int,
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    method: str | None = None,
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` processes that die with this process."""
    method = method or multiprocessing.get_start_method()
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_start,
        initargs=(os.getpid(), method, initializer, initargs),
    )
