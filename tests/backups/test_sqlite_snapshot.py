"""The SQLite copy's compression: threads bounded whatever the host, a few frames in flight,
stopped at once when the backup fails, and each frame carrying zstd's own checksum."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import zstandard

from lms_core.backups import sqlite_snapshot as snap

#: Bytes that compress, in 64 frames of 4 KiB.
IMAGE = os.urandom(1024) * 256
FRAME = 4096


def test_the_threads_are_bounded_by_the_cap_and_the_quota(tmp_path: Path) -> None:
    assert snap.workers_for(64, None) == snap.MAX_WORKERS == 8
    assert snap.workers_for(64, 3) == 3 and snap.workers_for(2, None) == 2
    assert snap.workers_for(2, 16) == 2 and snap.workers_for(1, None) == 1
    assert 1 <= snap.cores() <= snap.MAX_WORKERS
    v2, v1 = tmp_path / "cpu.max", tmp_path / "v1"
    v1.mkdir()
    assert snap.cpu_quota(v2, v1) is None  # neither file: no quota
    v2.write_text("150000 100000\n")
    assert snap.cpu_quota(v2, v1) == 2  # 1.5 cores: two threads
    v2.write_text("max 100000\n")
    assert snap.cpu_quota(v2, v1) is None
    v2.unlink()
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert snap.cpu_quota(v2, v1) is None
    (v1 / "cpu.cfs_quota_us").write_text("300000\n")
    assert snap.cpu_quota(v2, v1) == 3


class _SlowSink(io.BytesIO):
    """Slow to write, so frames pile up if nothing holds them back; ``on_write`` after each."""

    def __init__(self, on_write: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.on_write = on_write
        self.writes = 0

    def write(self, data: Any) -> int:
        threading.Event().wait(0.002)
        written = super().write(data)
        self.writes += 1
        self.on_write()
        return written


class _Counting(ThreadPoolExecutor):
    """A real pool that records the most frames submitted and not yet written to ``sink``."""

    def __init__(self, workers: int, sink: _SlowSink) -> None:
        super().__init__(max_workers=workers)
        self.sink = sink
        self.submitted = 0
        self.most = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.submitted += 1
        self.most = max(self.most, self.submitted - self.sink.writes)
        return future


def test_one_frame_more_than_the_threads_is_in_flight() -> None:
    workers = 2
    sink = _SlowSink()
    with _Counting(workers, sink) as pool:
        size, *_ = snap._compress(IMAGE, sink, 1, pool, workers, FRAME)
    assert pool.submitted == len(IMAGE) // FRAME and size == len(sink.getvalue())
    assert pool.most == workers + 1


def test_a_stop_starts_no_more_frames() -> None:
    stop = threading.Event()
    sink = _SlowSink(stop.set)
    with _Counting(2, sink) as pool, pytest.raises(snap.Stopped):
        snap._compress(IMAGE, sink, 1, pool, 2, FRAME, stop)
    assert pool.submitted == 2 + 1  # those in flight when the first frame was written


def test_each_frame_carries_its_checksum() -> None:
    with ThreadPoolExecutor(2) as pool:
        sink = io.BytesIO()
        snap._compress(IMAGE, sink, snap.ZSTD_LEVEL, pool, 2, len(IMAGE) // 2)
    data = sink.getvalue()
    assert zstandard.get_frame_parameters(data).has_checksum
    second = data.index(b"\x28\xb5\x2f\xfd", 4)
    assert zstandard.get_frame_parameters(data[second:]).has_checksum
    damaged = bytearray(data)
    damaged[second - 2] ^= 0xFF  # the first frame's checksum
    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(bytes(damaged)), read_across_frames=True
    )
    with pytest.raises(zstandard.ZstdError):
        reader.read()
