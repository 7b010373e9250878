"""Hash imported passwords with argon2id in a pool of processes, with progress.

argon2id costs tens of milliseconds a hash by design; a process per core divides the wall
time by the cores. Only users the import creates get their password hashed (an existing
user's password is never changed by an import), so a rerun hashes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from lms_core.workers import worker_pool

Progress = Callable[[int, int], None]
_hasher: PasswordHasher | None = None


def _init(params: dict[str, Any]) -> None:
    global _hasher
    _hasher = PasswordHasher.from_settings(Settings.model_construct(**params))


def _hash_batch(passwords: Sequence[str]) -> list[str]:
    assert _hasher is not None
    return [_hasher.hash(p) for p in passwords]


def _params(settings: Settings) -> dict[str, Any]:
    return {
        "password_time_cost": settings.password_time_cost,
        "password_memory_cost": settings.password_memory_cost,
        "password_parallelism": settings.password_parallelism,
        "password_min_length": settings.password_min_length,
    }


class PasswordPool:
    """A lazily started pool (no process is started when the file has no password)."""

    def __init__(self, settings: Settings, *, workers: int | None = None) -> None:
        self.settings = settings
        self.workers = workers or os.cpu_count() or 1
        self._pool: Executor | None = None
        self.done = 0

    def hash_all(self, passwords: Sequence[str], progress: Progress | None = None) -> list[str]:
        if not passwords:
            return []
        if self.workers == 1 or len(passwords) < 4:
            hasher = PasswordHasher.from_settings(self.settings)
            done: list[str] = []
            for p in passwords:
                done.append(hasher.hash(p))
                self.done += 1
                if progress:
                    progress(self.done, 0)
            return done
        if self._pool is None:
            self._pool = worker_pool(
                self.workers, initializer=_init, initargs=(_params(self.settings),)
            )
        size = max(1, min(64, len(passwords) // (self.workers * 4) or 1))
        batches = [passwords[i : i + size] for i in range(0, len(passwords), size)]
        hashes: list[str] = []
        for batch_hashes in self._pool.map(_hash_batch, batches):
            hashes.extend(batch_hashes)
            self.done += len(batch_hashes)
            if progress:
                progress(self.done, 0)
        return hashes

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def strength_checker(settings: Settings) -> Callable[[str, str], str | None]:
    """A users-row check: the password policy's message, or None when the password is fine."""
    hasher = PasswordHasher.from_settings(settings)

    def check(password: str, email: str) -> str | None:
        from lms_core.errors import ValidationError

        try:
            hasher.check_strength(password, email=email)
        except ValidationError as exc:
            return exc.message
        return None

    return check
