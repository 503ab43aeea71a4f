"""The web server against real sockets, as slow networks and abusers behave: bodies that arrive in
pieces, bodies that never finish, idle and trickling connections, more connections than the process
may hold, and an error that repeats in a loop."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time

import pytest
from aiohttp import web

from bot.web_server import BoundedSite, RepeatedLines, connection_cap, raise_file_limit


@pytest.fixture
async def site(runtime):
    """The runtime's web app served the way ``serve`` serves it, with small limits to test quickly."""
    runtime.settings.body_timeout_seconds = 1.0
    runner = web.AppRunner(runtime.web_app, access_log=None, shutdown_timeout=0.5, keepalive_timeout=1.0)
    await runner.setup()
    site = BoundedSite(runner, "127.0.0.1", 0, max_connections=20)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield site, port
    await runner.cleanup()


async def _request_head(port: int, body: bytes, *, origin: bool = False) -> tuple:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /api/chat/send HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    writer.write(head)
    await writer.drain()
    return reader, writer


async def _response(reader) -> tuple[int, dict]:
    """One response, read by its length (after answering, the server may linger to drain the rest
    of an unread body before it closes)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split()[1])
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    body = await asyncio.wait_for(reader.readexactly(length) if length is not None else reader.read(), 10)
    return status, json.loads(body) if body else {}


async def test_a_body_that_arrives_in_two_segments_is_read_whole(site):
    """Before: only the first segment was read, and every message of 400+ characters on a slow
    mobile link failed with "Tin nhắn không hợp lệ"."""
    _, port = site
    text = "Đường ngõ 5 phố Hàng Bạc bị ngập mỗi khi mưa lớn. " * 12
    body = json.dumps({"id": "two-pieces", "text": "/start " + text}).encode()
    reader, writer = await _request_head(port, body)
    writer.write(body[: len(body) // 2])
    await writer.drain()
    await asyncio.sleep(0.4)  # the second segment comes later, as on a slow link
    writer.write(body[len(body) // 2:])
    await writer.drain()
    status, answer = await _response(reader)
    writer.close()
    assert status == 200 and answer["messages"], answer


async def test_a_body_that_stops_arriving_gets_a_clear_answer(site):
    _, port = site
    body = json.dumps({"id": "stalled", "text": "/start"}).encode()
    reader, writer = await _request_head(port, body)
    writer.write(body[:5])
    await writer.drain()
    started = time.monotonic()
    status, answer = await _response(reader)
    writer.close()
    assert status == 408 and answer["error"].startswith("Mạng chậm quá")
    assert time.monotonic() - started < 5


async def test_idle_and_trickling_connections_are_closed(site):
    """Before: kept open for an hour (aiohttp's default), so 1,100 idle sockets exhausted 1,024 files."""
    _, port = site
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n")
    started = time.monotonic()

    async def trickle():
        for header in (b"Host: x\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"X-C: 3\r\n", b"X-D: 4\r\n", b"X-E: 5\r\n"):
            await asyncio.sleep(0.3)
            writer.write(header)

    trickling = asyncio.create_task(trickle())
    for idle_reader, _ in idle:
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # closed by the server
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert time.monotonic() - started < 3
    trickling.cancel()
    for _, idle_writer in idle:
        idle_writer.close()
    writer.close()


async def test_more_connections_than_the_cap_get_503_and_the_service_recovers(site):
    bounded, port = site
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(bounded.max_connections)]
    await asyncio.sleep(0.1)
    extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
    answer = await asyncio.wait_for(extra_reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After" in answer
    assert bounded.turned_away >= 1
    for _, writer in held:
        writer.close()
    extra_writer.close()
    await asyncio.sleep(0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    status, health = await _response(reader)
    assert (status, health["database"]) == (200, "ok")


def test_the_cap_stays_below_the_file_limit():
    assert connection_cap(4000, 1024) == 1024 - 128
    assert connection_cap(500, 65536) == 500
    before = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert raise_file_limit() >= before


def test_a_log_line_repeated_in_a_loop_is_written_once_then_counted(caplog):
    now = [0.0]
    handler = logging.StreamHandler()
    repeated = RepeatedLines(window=10, clock=lambda: now[0])
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    keep = Keep()
    keep.addFilter(repeated)
    logger = logging.getLogger("tests.repeated")
    logger.addHandler(keep)
    logger.propagate = False
    try:
        for _ in range(10_000):
            logger.error("socket.accept() out of system resource")
        logger.error("another problem")
        now[0] = 11.0
        logger.error("socket.accept() out of system resource")
    finally:
        logger.removeHandler(keep)
        handler.close()
    assert records == ["socket.accept() out of system resource", "another problem",
                       "socket.accept() out of system resource [and 9999 more like it in the last 10 s]"]
