"""A bounded HTTP load for the benchmarks: N connections kept busy for S seconds by an
asyncio client speaking HTTP/1.1 over raw streams (no client library to install), with
keep-alive when the server keeps the connection and a reconnect when it closes it (gunicorn's
sync workers close after each answer). Each request's latency is measured from sending it to
reading the whole answer, connection set-up included; anything but a 2xx is an error.

The rate is the answers read within the S seconds over S: the answers still in flight at the
end (up to one per connection, each as long as a request's latency) are waited for and
counted as ``late``, not in the rate, so that a short load is not credited with the time its
last answers took.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    #: Answers read after the S seconds (not in ``requests`` nor in the rate; their
    #: latencies are in ``latencies``).
    late: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def add(self, other: Result) -> None:
        """Count ``other`` (a later slice of the same load) in this one."""
        self.requests += other.requests
        self.errors.update(other.errors)
        self.latencies.extend(other.latencies)
        self.seconds += other.seconds
        self.late += other.late

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000


class Connection:
    """One client connection: HTTP/1.1 over asyncio streams, reopened when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, token: str | None, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body or method in ("PUT", "POST"):
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        data = await self.reader.readexactly(length) if length else b""
        if not keep:
            await self.close()
        return status, data


@dataclass
class Target:
    name: str
    method: str
    paths: list[str]  # one per connection (or one for all)
    tokens: list[str | None]
    body: bytes = b""


async def _worker(port: int, target: Target, n: int, deadline: float, result: Result) -> None:
    conn = Connection(port)
    path = target.paths[n % len(target.paths)]
    token = target.tokens[n % len(target.tokens)]
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _ = await conn.request(target.method, path, token, target.body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                await conn.close()
                await asyncio.sleep(0.01)
                continue
            finished = time.perf_counter()
            result.latencies.append(finished - started)
            if not 200 <= status < 300:
                result.errors[str(status)] += 1
            if finished > deadline:
                result.late += 1
                continue
            result.requests += 1
    finally:
        await conn.close()


async def _run(port: int, target: Target, connections: int, seconds: float) -> Result:
    result = Result(target.name, seconds=seconds)
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(_worker(port, target, n, deadline, result) for n in range(connections)))
    return result


def run_load(port: int, target: Target, connections: int, seconds: float) -> Result:
    """``connections`` clients on ``target`` for ``seconds``; what they measured."""
    return asyncio.run(_run(port, target, connections, seconds))
