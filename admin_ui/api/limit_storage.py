"""The limiter's in-worker counts without a thread per request (``lms-memory://``).

limits' ``MemoryStorage`` drops expired counts from a ``threading.Timer`` it starts again on
every hit once the previous one has run (10 ms later): under load that is a new thread for
nearly every request, about a millisecond of CPU each. Expiry there is only housekeeping --
every read already ignores what is out of its window (the moving window looks at each entry's
time, a fixed window at its key's expiry) -- so this subclass sweeps inline instead, at most
once per :data:`SWEEP_SECONDS`, on the request that happens to come after it. The counts,
strategies and answers are limits' own. With Redis configured it is not used at all.

The sweep is this module's own (limits' leaves a key's emptied list in ``events`` for ever, so
memory and each sweep grew with every address and account ever seen): a key whose entries
have all expired is dropped, under its lock. Only one sweep runs at a time (a second thread at
the boundary skips it), and nothing is read by ``[key]`` that another thread may have dropped.
The override hangs on limits' private names (``MemoryStorage.__schedule_expiry`` and the
``events``/``expirations``/``storage``/``locks`` dicts): if a limits release lacks them, the
parent's own expiry is used (``inline`` is False), and pyproject.toml pins the tested major.

Importing this module registers the scheme with limits (its classes register themselves when
defined), so :func:`admin_ui.api.limits.init_limits` imports it only when it builds a limiter.
"""

from __future__ import annotations

import bisect
import threading
import time

import limits.storage.memory as limits_memory
from limits.storage import MemoryStorage

#: The storage URI of :class:`SweepingMemoryStorage`.
SCHEME = "lms-memory"
#: How often expired counts are dropped from memory (seconds).
SWEEP_SECONDS = 1.0
#: limits' private names the inline sweep relies on (checked; else limits' own expiry runs).
_HOOK = "_MemoryStorage__schedule_expiry"
_STATE = ("events", "expirations", "storage", "locks")


class SweepingMemoryStorage(MemoryStorage):
    """limits' memory storage, its expiry done inline, at most once a second (no threads)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self._sweeping = threading.Lock()
        self.sweeps = 0
        #: Whether limits still has the names the inline sweep replaces and reads.
        self.inline = hasattr(MemoryStorage, _HOOK) and all(hasattr(self, a) for a in _STATE)
        if self.inline:
            # The parent started a one-shot timer (10 ms) running its own expiry: racing the
            # inline sweep it read a key the sweep had dropped (KeyError in its thread).
            self.timer.cancel()

    # MemoryStorage calls its private ``__schedule_expiry`` before each hit; the mangled name
    # is how a subclass replaces it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.inline:
            parent = getattr(super(), _HOOK, None)
            if parent is not None:
                parent()
            return
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self.sweeps += 1
            self.sweep()
        finally:
            self._sweeping.release()

    def sweep(self) -> None:
        """Drop expired entries, and the keys left with none (moving windows: ``events``;
        fixed windows: ``storage``/``expirations``), with their locks."""
        clock = limits_memory.time  # type: ignore[attr-defined]  # the clock limits stamps with
        for key in list(self.events):
            with self.locks[key]:
                events = self.events.get(key)
                if events:
                    now = clock.time()
                    oldest = bisect.bisect_left(events, -now, key=lambda event: -event.expiry)
                    del events[oldest:]
                if not events:
                    self.events.pop(key, None)
                    self.locks.pop(key, None)
        for key in list(self.expirations):
            if self.expirations.get(key, float("inf")) <= clock.time():
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)
