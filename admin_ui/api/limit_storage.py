"""The limiter's in-worker counts without a thread per request (``lms-memory://``).

limits' ``MemoryStorage`` drops expired counts from a ``threading.Timer`` it starts again on
every hit once the previous one has run (10 ms later): under load that is a new thread for
nearly every request, about a millisecond of CPU each. Expiry there is only housekeeping --
every read already ignores what is out of its window (the moving window looks at each entry's
time, a fixed window at its key's expiry) -- so this subclass sweeps inline instead, at most
once per :data:`SWEEP_SECONDS`, on the request that happens to come after it. The counts,
strategies and answers are limits' own. With Redis configured it is not used at all.

Importing this module registers the scheme with limits (its classes register themselves when
defined), so :func:`admin_ui.api.limits.init_limits` imports it only when it builds a limiter.
"""

from __future__ import annotations

import time

from limits.storage import MemoryStorage

#: The storage URI of :class:`SweepingMemoryStorage`.
SCHEME = "lms-memory"
#: How often expired counts are dropped from memory (seconds).
SWEEP_SECONDS = 1.0


class SweepingMemoryStorage(MemoryStorage):
    """limits' memory storage, its expiry done inline, at most once a second (no threads)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # The parent started one short timer (it runs once and ends); no other is started.
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self.sweeps = 0

    # MemoryStorage calls its private ``__schedule_expiry`` before each hit; the mangled name
    # is how a subclass replaces it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self.sweeps += 1
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
