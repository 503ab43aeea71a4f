"""Every GET address the web server has, as an outsider fills it in: each path parameter and each
query parameter the code reads, set to what no form would send — a superscript digit, full-width
digits, a number past any id, a NUL byte, bytes that are not UTF-8, 3,000 characters, quotes — as a
visitor and as a leader with a console session, on SQLite and PostgreSQL. Every answer is a page or
a refusal (< 500), never a server error."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.channels.web import STAFF_COOKIE
from tests.test_reports_web import staff

# Percent-encoded as they go on the wire; "%FF" and "%ED%A0%80" are not UTF-8 (the second is a lone surrogate).
ODD = [quote(v, safe="") for v in ("²", "１２", "99999999999999999999", "-1", "\x00", "' OR '1'='1", "x" * 3000)]
ODD += ["%FF", "%ED%A0%80", ""]
# What the handlers read from a query string (grep 'query.get' in bot/); "wait" is left out: a valid
# value holds the long poll open for its whole time.
KEYS = ("after", "assigned", "before", "category", "code", "commune", "done", "end_date", "exp", "format", "from",
        "jurisdiction_id", "kind", "lang", "limit", "overdue", "period", "q", "service_code", "service_request_id",
        "sig", "start", "start_date", "state", "status", "to", "unit", "attribute[contact_consent]")
NORMAL = {"commune": "phuong-hoan-kiem", "format": "json", "name": "a.pdf", "key": "abc", "token": "abc"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _addresses(app) -> list[str]:
    """The GET routes as formatters ('/c/{commune}/projects/{project}'), static folders left out."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method == "GET" and ("path" in info or "formatter" in info):
            found.append(info.get("path") or info["formatter"])
    return sorted(set(found))


def _fill(formatter: str, odd: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: odd.get(m.group(1), NORMAL.get(m.group(1), "1")), formatter)


@pytest.fixture
async def http(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def _sweep(http) -> list[tuple[str, int]]:
    failures = []

    async def get(path: str) -> None:
        response = await http.session.get(URL(f"{http.make_url('')}{path}", encoded=True), allow_redirects=False)
        await response.read()
        if response.status >= 500:
            failures.append((path[:160], response.status))

    addresses = _addresses(http.server.app)
    assert len(addresses) > 25, addresses  # the sweep sees the whole server, not a corner of it
    for formatter in addresses:
        for name in PLACEHOLDER.findall(formatter):
            for value in ODD:
                await get(_fill(formatter, {name: value}))
        base = _fill(formatter, {})
        for n, key in enumerate(KEYS):
            for value in (ODD[n % len(ODD)], ODD[(n + 3) % len(ODD)]):
                await get(f"{base}?{quote(key, safe='')}={value}")
        for value in ODD:
            await get(base + "?" + "&".join(f"{quote(key, safe='')}={value}" for key in KEYS))
    return failures


async def test_as_a_visitor(http):
    assert await _sweep(http) == []


async def test_as_a_leader_with_a_console_session(runtime, http):
    http.session.cookie_jar.update_cookies({STAFF_COOKIE: await staff(runtime, "leader")})
    assert await _sweep(http) == []
