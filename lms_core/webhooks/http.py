"""One HTTP POST to a webhook endpoint, with the SSRF guard.

* Only ``http`` and ``https`` URLs. The host is resolved here, and every address it resolves
  to must be public (not private, loopback, link-local, multicast, reserved or unspecified)
  unless ``LMS_WEBHOOKS_ALLOW_PRIVATE=1``; the connection then goes to the address that was
  checked, with the URL's host in ``Host`` (and in TLS SNI and certificate checks), so a DNS
  answer that changes between the check and the connection (DNS rebinding) cannot redirect it.
* 5 seconds to connect, 10 seconds in all; redirects are not followed (a ``Location`` could
  point at a private address): a 3xx answer is a failure. "In all" is a real total: a socket
  timeout bounds one read only, so a server trickling its headers a byte at a time would
  never trip it; the answer is read through :class:`_DeadlineReader`, which checks the
  deadline before every read and arms the socket timeout with what is left of it.
* The answer's body is read only up to a few kilobytes; 500 characters of it are kept.
* Each worker thread keeps its connections alive between deliveries (HTTP/1.1 keep-alive),
  per checked address: no handshake per delivery to the same endpoint.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lms_core.errors import ValidationError

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
EXCERPT_CHARS = 500
_READ_BYTES = 4096
ALLOW_HINT = "LMS_WEBHOOKS_ALLOW_PRIVATE=1 allows it"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The target is not allowed (SSRF guard) or not a usable URL: nothing was sent."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class Answer:
    """How one POST went: a status code, or the connection error in ``excerpt``."""

    status_code: int | None
    duration_ms: int
    excerpt: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def parse_url(url: str) -> Target:
    """The parts of an ``http(s)://host[:port]/path`` URL, or ValidationError naming the fault."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"not a valid URL: {exc}", field="url", value=url) from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("must start with http:// or https://", field="url", value=url)
    if not parts.hostname:
        raise ValidationError("has no host", field="url", value=url)
    if parts.username or parts.password:
        raise ValidationError("must not carry a user or password", field="url", value=url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and reaches: mapped (``::ffff:a.b.c.d``),
    6to4 (``2002:aabb:ccdd::``), Teredo (server and client) and NAT64 (``64:ff9b::a.b.c.d``)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be a webhook target, or None for a public address.

    An IPv6 address wrapping an IPv4 one is judged by the IPv4 address too: ``2002:7f00:1::``
    (6to4 around 127.0.0.1) must not pass as a public IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in embedded_ipv4(address):
            reason = _reason(inner)
            if reason is not None:
                return f"{reason} (inside {address})"
    return _reason(address)


def _reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: every address the host resolves to is checked."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {target.host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for text in addresses:
            reason = forbidden_reason(ipaddress.ip_address(text.split("%")[0]))
            if reason is not None:
                raise Refused(f"refused {target.host}: {reason} ({ALLOW_HINT})")
    if not addresses:
        raise Refused(f"cannot resolve {target.host}: no address")
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the URL's host for SNI and the certificate check."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(address, port, timeout=timeout, context=self._tls)
        self._server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        # As http.client does for plain HTTP: it writes headers and body separately, and
        # without this the body waits for the server's delayed ACK (~40 ms a request).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


class _DeadlineReader(io.RawIOBase):
    """The response bytes of ``sock``, each read bounded by what is left of ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float, holder: io.IOBase) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        # The makefile() object http.client made: while it is open, the connection's close()
        # does not close the socket under a response still being read (as in http.client).
        self._holder = holder

    def close(self) -> None:
        self._holder.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out (total time allowed for the request spent)")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


#: The deadline of the request this thread is sending (read by :class:`_DeadlineResponse`).
_current = threading.local()


class _DeadlineResponse(http.client.HTTPResponse):
    """An HTTP response read through :class:`_DeadlineReader`, bounded by the deadline of the
    request this thread sends (``_current.deadline``, set by :func:`_exchange`: a class made
    per request would cost more than a local POST)."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: Any = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = float(_current.deadline)
        self.fp = io.BufferedReader(_DeadlineReader(sock, deadline, self.fp))


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _excerpt(data: bytes) -> str:
    return data.decode("utf-8", "replace")[:EXCERPT_CHARS]


Connection = http.client.HTTPConnection
_PoolKey = tuple[str, str, int, str]
#: A kept-alive connection idle longer than this is closed rather than reused.
MAX_IDLE_SECONDS = 30.0
_local = threading.local()


def _pool() -> dict[_PoolKey, tuple[Connection, float]]:
    """This thread's kept-alive connections (a worker thread posts to the same endpoints
    again and again: no TCP and TLS handshake per delivery)."""
    pool: dict[_PoolKey, tuple[Connection, float]] | None = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def _take(key: _PoolKey, connect_timeout: float) -> tuple[Connection, bool]:
    """A kept-alive connection to the checked address, or a new one (not connected yet)."""
    entry = _pool().pop(key, None)
    if entry is not None:
        conn, idle_since = entry
        if conn.sock is not None and time.monotonic() - idle_since < MAX_IDLE_SECONDS:
            return conn, True
        conn.close()
    scheme, address, port, server_name = key
    if scheme == "https":
        return _PinnedHTTPS(address, port, server_name, connect_timeout), False
    return http.client.HTTPConnection(address, port, timeout=connect_timeout), False


def close_connections() -> None:
    """Close this thread's kept-alive connections."""
    pool = _pool()
    while pool:
        _key, (conn, _idle) = pool.popitem()
        conn.close()


def _exchange(
    conn: Connection, target: Target, body: bytes, headers: dict[str, str], deadline: float
) -> tuple[int, str, bool]:
    """Send the request on ``conn``; (status, excerpt, whether the connection can be reused)."""
    if conn.sock is None:
        conn.connect()
    if conn.sock is not None:
        conn.sock.settimeout(max(0.05, deadline - time.monotonic()))
    sent = {**headers, "Host": _host_header(target), "Content-Length": str(len(body))}
    conn.request("POST", target.path, body=body, headers=sent)
    _current.deadline = deadline
    conn.response_class = _DeadlineResponse
    response = conn.getresponse()
    data = response.read(_READ_BYTES)
    excerpt = _excerpt(data)
    if 300 <= response.status < 400:
        location = response.getheader("Location", "")
        excerpt = _excerpt(f"redirect to {location} not followed".encode() + b"; " + data)
    # Reusable only when the whole answer was read and the server keeps the connection.
    reusable = not response.will_close and response.isclosed()
    return response.status, excerpt, reusable


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float = TOTAL_TIMEOUT,
) -> Answer:
    """POST ``body`` to ``url``; raises :class:`Refused` when the guard refuses the target
    (nothing sent), else returns the answer (a connection error is an answer with no code).

    The connection is kept alive for the next post of this thread to the same checked
    address; a kept-alive connection the server closed meanwhile is replaced once.
    """
    try:
        target = parse_url(url)
    except ValidationError as exc:
        raise Refused(str(exc)) from None
    address = resolve(target, allow_private=allow_private)
    started = time.monotonic()
    deadline = started + timeout
    key: _PoolKey = (target.scheme, address, target.port, target.host)
    connect_timeout = min(CONNECT_TIMEOUT, timeout)
    while True:
        conn, reused = _take(key, connect_timeout)
        try:
            status, excerpt, reusable = _exchange(conn, target, body, headers, deadline)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            if reused:
                continue  # the server closed an idle kept-alive connection: one fresh try
            return _failed(exc, started)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return _failed(exc, started)
        if reusable:
            _pool()[key] = (conn, time.monotonic())
        else:
            conn.close()
        return Answer(status, _ms(started), excerpt)


def _failed(exc: BaseException, started: float) -> Answer:
    what = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else str(exc)
    return Answer(None, _ms(started), _excerpt(f"{type(exc).__name__}: {what}".encode()))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
