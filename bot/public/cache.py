"""Conditional GETs and an in-process cache for the public pages and feeds.

A province's notice is read by many at once: each page is rendered once per change and served from
memory until the commune publishes something (its ``public_changes`` version, one primary-key read a
request, storage/models_public.py) or the clock moves what the page shows (the next session, a
consultation closing): a rendered page lives at most ``BUCKET_SECONDS``. Every answer carries a
strong ETag (a hash of the bytes) and Last-Modified (when this process first saw these bytes), and a
repeated request with If-None-Match / If-Modified-Since gets 304 and no body."""

from __future__ import annotations

import hashlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

BUCKET_SECONDS = 300
# How long a publication version read from the database is trusted. A change made in this process
# drops it at once (storage/models_public.py tells us at commit); one made by another process is
# seen within this.
VERSION_SECONDS = 2.0
MAX_AGE = 60  # seconds a browser or proxy may reuse a page without asking
ENTRIES = 4096


@dataclass
class Rendered:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    version: int
    bucket: int


class PageCache:
    def __init__(self, bucket_seconds: int = BUCKET_SECONDS, clock: Callable[[], float] = time.time):
        self.bucket_seconds, self._clock = bucket_seconds, clock
        self._entries: OrderedDict[tuple, Rendered] = OrderedDict()
        self._versions: dict[int, tuple[float, object]] = {}
        self.renders = 0  # how many times a page was actually rendered (tests, the bench)
        from storage.models_public import PUBLIC_CHANGE_LISTENERS

        PUBLIC_CHANGE_LISTENERS.append(weakref.WeakMethod(self.forget))  # a stopped runtime's cache may go

    def version(self, commune_code: int) -> object | None:
        known = self._versions.get(commune_code)
        if known is None or time.monotonic() - known[0] > VERSION_SECONDS:
            return None
        return known[1]

    def remember(self, commune_code: int, version: object) -> None:
        if len(self._versions) > ENTRIES:
            self._versions.clear()
        self._versions[commune_code] = (time.monotonic(), version)

    def forget(self, communes) -> None:
        for code in communes:
            self._versions.pop(code, None)

    async def get(self, key: tuple, version: int, render: Callable[[], Awaitable[tuple[bytes, str]]]) -> Rendered:
        bucket = int(self._clock() // self.bucket_seconds)
        entry = self._entries.get(key)
        if entry is not None and entry.version == version and entry.bucket == bucket:
            self._entries.move_to_end(key)
            return entry
        body, content_type = await render()
        self.renders += 1
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if entry is not None and entry.etag == etag:
            modified = entry.last_modified
        else:
            modified = datetime.fromtimestamp(int(self._clock()), timezone.utc)
        fresh = Rendered(body, content_type, etag, modified, version, bucket)
        self._entries[key] = fresh
        self._entries.move_to_end(key)
        while len(self._entries) > ENTRIES:
            self._entries.popitem(last=False)
        return fresh


def respond(request: web.Request, page: Rendered, *, status: int = 200, max_age: int = MAX_AGE) -> web.Response:
    """The page, or 304 when the client's copy is this one (If-None-Match first, RFC 9110 §13.2.2)."""
    headers = {"ETag": page.etag, "Last-Modified": format_datetime(page.last_modified, usegmt=True),
               "Cache-Control": f"public, max-age={max_age}"}
    if status == 200 and not_modified(request, page):
        return web.Response(status=304, headers=headers)
    return web.Response(body=page.body, status=status, headers={**headers, "Content-Type": page.content_type})


def not_modified(request: web.Request, page: Rendered) -> bool:
    wanted = request.headers.get("If-None-Match")
    if wanted is not None:
        tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
        return "*" in tags or page.etag in tags
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            seen = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=timezone.utc)
        return page.last_modified <= seen
    return False


def static_page(body: bytes, content_type: str) -> Rendered:
    """A page that never changes while the process runs (the stylesheet)."""
    return Rendered(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                    datetime.fromtimestamp(int(time.time()), timezone.utc), 0, 0)
