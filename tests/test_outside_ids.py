"""Ids as an outsider writes them into addresses and forms — a superscript digit ("²" passes
``str.isdigit`` and fails ``int``), full-width digits, a number past the 32-bit ids of PostgreSQL —
get a plain 400/404 answer on every web surface, on SQLite and PostgreSQL, never a 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.domain.ids import record_id
from bot.channels.web import STAFF_COOKIE
from tests.test_reports_web import staff

ODD = ("²", "１２", "99999999999", "2147483648", "-1", "1e3")


def test_record_id_takes_ascii_digits_within_an_id_and_nothing_else():
    assert record_id("42") == 42 and record_id("2147483647") == 2 ** 31 - 1
    for text in (*ODD, "", " 1", "1 ", None, ["1"], ("1",)):
        assert record_id(text) is None, text


@pytest.fixture
async def http(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


@pytest.mark.parametrize("odd", ODD)
async def test_public_pages_and_open311(http, odd):
    for path in (f"/c/{odd}", f"/c/{odd}/schedule", f"/c/{odd}/schedule.ics", f"/c/{odd}/feed.rss",
                 f"/c/phuong-hoan-kiem/projects/{odd}", f"/c/phuong-hoan-kiem/files/{odd}/a.pdf", f"/minutes/{odd}",
                 f"/open311/v2/requests/{odd}.json"):
        response = await http.get(path)
        assert response.status == 404, (path, response.status)
    for params in ({"service_request_id": odd}, {"service_request_id": f"1,{odd}"}):
        response = await http.get("/open311/v2/requests.json", params={"jurisdiction_id": "70", **params})
        assert response.status == 200 and await response.json() == [], (params, response.status)
    response = await http.get("/open311/v2/services.json", params={"jurisdiction_id": odd})
    assert response.status == 404, response.status


@pytest.mark.parametrize("odd", ODD)
async def test_console_addresses_and_reports(runtime, http, odd):
    token = await staff(runtime, "leader")
    http.session.cookie_jar.update_cookies({STAFF_COOKIE: token})
    for path in (f"/console/items/{odd}", f"/console/register/entries/{odd}", f"/console/register/meetings/{odd}"):
        response = await http.get(path, allow_redirects=False)
        assert response.status == 404, (path, response.status)
    for path in ("/console/reports", "/console/dashboard", "/console/reports/download"):
        response = await http.get(path, params={"period": "2026-Q3", "commune": odd, "format": "csv"},
                                  allow_redirects=False)
        assert response.status in (400, 403), (path, response.status)
