"""RSS and Atom feeds of a commune's disclosures and announcements, read by feedparser as a feed
reader would: every entry with an absolute link back to its page, a stable id, a date; a new
announcement appears at once; a repeated fetch gets 304."""

from __future__ import annotations

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.publishing import announce
from storage.models import User


@pytest.fixture
async def client(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def fetch(client, path: str, content_type: str):
    response = await client.get(path)
    assert response.status == 200 and response.headers["Content-Type"].startswith(content_type)
    parsed = feedparser.parse(await response.read())
    assert not parsed.bozo, parsed.bozo_exception
    return parsed, response


@pytest.mark.parametrize("kind,content_type,version", [("rss", "application/rss+xml", "rss20"),
                                                       ("atom", "application/atom+xml", "atom10")])
async def test_feeds_list_disclosures_and_announcements(runtime, client, kind, content_type, version):
    parsed, first = await fetch(client, f"/c/phuong-hoan-kiem/feed.{kind}", content_type)
    assert parsed.version == version and "Phường Hoàn Kiếm" in parsed.feed.title
    titles = [entry.title for entry in parsed.entries]
    assert titles[0].startswith("[Công khai — Đất đai, bồi thường, tái định cư] Phương án bồi thường")
    origin = str(client.make_url("/")).rstrip("/")
    for entry in parsed.entries:
        assert entry.link.startswith(f"{origin}/c/phuong-hoan-kiem/") and entry.id and entry.published_parsed
    assert (await client.get(f"/c/70/feed.{kind}", headers={"If-None-Match": first.headers["ETag"]})).status == 304

    async with runtime.uows() as uow:
        leader = (await uow.session.execute(select(User).where(User.role == "leader"))).scalars().first()
        await announce(uow, leader, "Cắt nước khu phố Hàng Bạc sáng thứ Bảy 12/12.\nXin bà con chủ động trữ nước.",
                       "water-12-12")
        await uow.commit()
    parsed, _ = await fetch(client, f"/c/70/feed.{kind}", content_type)
    newest = parsed.entries[0]
    assert newest.title == "[Thông báo] Cắt nước khu phố Hàng Bạc sáng thứ Bảy 12/12."
    assert "Xin bà con chủ động trữ nước." in (newest.get("summary") or newest.content[0].value)
    assert newest.link.endswith("/c/phuong-hoan-kiem/announcements#a1")
    english, _ = await fetch(client, f"/c/70/feed.{kind}?lang=en", content_type)
    assert english.entries[0].title.startswith("[Announcement]")
    assert english.entries[0].id == newest.id  # the same entry whatever the language


async def test_unknown_commune_has_no_feed(client):
    assert (await client.get("/c/khong-co/feed.rss")).status == 404
