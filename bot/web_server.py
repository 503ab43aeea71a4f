"""The HTTP server's limits against slow, idle and too many connections.

A browser on a bad mobile link, a crawler or an abuser may open sockets and send nothing, or send a
byte a second. Each holds a file descriptor; at the process's limit every new citizen is refused and
asyncio logs the failed accept on every loop turn. So:
  - a connection that has not sent a whole request head within ``keepalive`` seconds of opening, or
    sits idle that long between requests, is closed (aiohttp's keep-alive timer runs from the start
    of a connection and is not reset by trickled bytes);
  - a request body must arrive within ``body_timeout`` seconds (``read_body`` in the handlers);
  - at most ``max_connections`` are open at once, set below the file limit (raised to the hard limit
    at start where the system allows); one more is answered 503 at once and closed;
  - the same log line repeated within a few seconds is written once, then counted.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time

from aiohttp import web

# Descriptors kept for everything that is not a client connection: the database pool, Telegram's and
# Zalo's HTTP clients, log files, the listening socket.
RESERVED_FILES = 128
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n")

log = logging.getLogger(__name__)


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit where allowed; the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(wanted: int, file_limit: int) -> int:
    return max(16, min(wanted, file_limit - RESERVED_FILES))


class _Busy(asyncio.Protocol):
    """Answers a connection over the cap with 503 and closes it, without reading a byte."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(BUSY)  # type: ignore[attr-defined]
        transport.close()


class BoundedSite(web.TCPSite):
    """A TCP site that keeps at most ``max_connections`` open; the next ones get 503."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, max_connections: int):
        super().__init__(runner, host, port)
        self.max_connections = max_connections
        self.turned_away = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= self.max_connections:
                self.turned_away += 1
                if self.turned_away in (1, 10, 100) or self.turned_away % 1000 == 0:
                    log.warning("web: %d connections open, the limit; %d turned away so far",
                                len(server.connections), self.turned_away)
                return _Busy()
            return server()

        self._server = await asyncio.get_running_loop().create_server(
            protocol, self._host, self._port, backlog=self._backlog, reuse_address=self._reuse_address)


class RepeatedLines(logging.Filter):
    """Lets a log line through once per ``window`` seconds per (logger, message); the next one after
    the window says how many were left out, so a loop of errors cannot fill the disk."""

    def __init__(self, window: float = 10.0, clock=time.monotonic):
        super().__init__()
        self.window, self._clock = window, clock
        self._seen: dict[tuple[str, object], list] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [and {seen[1]} more like it in the last {self.window:.0f} s]"
        self._seen[key] = [now, 0]
        if len(self._seen) > 10_000:  # messages are templates; so many keys means something odd
            self._seen.clear()
        return True


class BodyTooSlow(Exception):
    pass


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes | None:
    """The body as sent, however many pieces it arrives in; None when it is over ``limit``.
    ``BodyTooSlow`` when it has not all arrived within ``timeout`` seconds."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except TimeoutError as exc:
        raise BodyTooSlow() from exc
    return b"".join(chunks)
