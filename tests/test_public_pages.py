"""The public pages at /c/<commune>/…: what a visitor without any chat sees, in both languages, and
how little a repeated visit costs (ETag, Last-Modified, the in-process cache). Every test runs on
SQLite and PostgreSQL through a real socket (aiohttp's test server)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.publishing import announce, close_consultation
from storage.models import Consultation, ConsultationVote, Disclosure, ReceptionSession, User, utcnow


@pytest.fixture
async def client(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def page(client, path: str, status: int = 200, **headers) -> str:
    response = await client.get(path, headers=headers)
    assert response.status == status, (path, response.status)
    return await response.text()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_commune_by_slug_and_code_in_both_languages(client):
    vi = await page(client, "/c/phuong-hoan-kiem")
    assert '<html lang="vi">' in vi and "<h1>Phường Hoàn Kiếm</h1>" in vi
    assert "Lịch tiếp công dân" in vi and "Chủ tịch UBND phường Hoàn Kiếm" in vi
    by_code = await page(client, "/c/70/schedule?lang=en")
    assert '<html lang="en">' in by_code and "Citizen reception schedule" in by_code
    assert 'rel="canonical" href="/c/phuong-hoan-kiem/schedule?lang=en"' in by_code
    # Two communes of the same name in different provinces: the slug names the province.
    assert "Xã Tân Phú" in await page(client, "/c/xa-tan-phu-dong-nai")
    # What a visitor adds to a URL is not cached into the page everyone else gets.
    await page(client, "/c/70/projects?utm=%22%3E%3Cb%3Eevil")
    assert "evil" not in await page(client, "/c/70/projects")
    assert 'href="/c/phuong-hoan-kiem/disclosures?category=land&amp;lang=en"' in \
        await page(client, "/c/70/disclosures?category=land")
    missing = await page(client, "/c/xa-khong-co-that", status=404)
    assert "Không tìm thấy" in missing and "Traceback" not in missing
    await page(client, "/c/70/projects/999999", status=404)


async def test_schedule_lists_next_sessions_postponement_and_cancellation(runtime, client):
    before = text_of(await page(client, "/c/70/schedule"))
    assert "Định kỳ hằng tuần" in before and "Thứ Năm" in before and "Hội trường tổ dân phố số 5" in before
    async with runtime.uows() as uow:
        special = (await uow.session.execute(select(ReceptionSession).where(
            ReceptionSession.place == "Hội trường tổ dân phố số 5"))).scalar_one()
        old = special.starts_at
        special.moved_from = old
        special.starts_at, special.ends_at = old + timedelta(days=2), special.ends_at + timedelta(days=2)
        await uow.commit()
    moved = old.astimezone(runtime.settings.zone)
    after = text_of(await page(client, "/c/70/schedule"))
    assert f"Đã dời từ {moved:%d/%m/%Y} {moved:%H:%M}" in after  # at once: the publication version moved
    new_day = (old + timedelta(days=2)).astimezone(runtime.settings.zone)
    assert f"{new_day:%d/%m/%Y}, 14:00–16:30" in after
    async with runtime.uows() as uow:
        special = await uow.session.get(ReceptionSession, special.id)
        special.status = "cancelled"
        await uow.commit()
    cancelled = await page(client, "/c/70/schedule?lang=en")
    assert 'class="card cancelled"' in cancelled and "Cancelled" in cancelled


async def test_disclosures_by_legal_category_with_posting_period_and_document_link(runtime, client):
    html = await page(client, "/c/70/disclosures")
    # All 14 categories of Điều 11 (and "other") are offered, each with its count.
    assert html.count('href="/c/phuong-hoan-kiem/disclosures?category=') == 15
    assert "Ngân sách (1)" in html
    assert '<a href="https://example.gov.vn/hoankiem/du-toan-2026.pdf" rel="noopener">' in html
    assert "Niêm yết từ" in html and "đang niêm yết" in html
    land = await page(client, "/c/70/disclosures?category=land")
    assert "Phương án bồi thường" in land and "Dự toán ngân sách" not in land
    # A made-up category shows everything rather than an error.
    assert "Dự toán ngân sách" in await page(client, "/c/70/disclosures?category=<script>")


async def test_projects_with_progress_budget_timeline(client):
    listing = await page(client, "/c/70/projects")
    assert "Cải tạo vỉa hè, thoát nước phố Hàng Bạc" in listing and "12.500.000.000 đồng" in listing
    assert '<progress max="100" value="40"' in listing
    project_id = re.search(r'/c/phuong-hoan-kiem/projects/(\d+)"', listing).group(1)
    detail = text_of(await page(client, f"/c/70/projects/{project_id}?lang=en"))
    assert "12,500,000,000 VND" in detail and "Timeline" in detail
    assert "40%: Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt" in detail


async def test_consultation_question_then_both_tallies_after_closing(runtime, client):
    open_page = await page(client, "/c/70/consultations")
    assert "Phương án bố trí chỗ để xe máy" in open_page and "Đang lấy ý kiến đến" in open_page
    assert "Đồng ý nếu miễn phí" in open_page and "Kết quả chính thức" not in open_page
    async with runtime.uows() as uow:
        consultation = (await uow.session.execute(select(Consultation))).scalars().first()
        voters = [User(language="vi", commune_code=70) for _ in range(5)]
        uow.session.add_all(voters)
        await uow.session.flush()
        for voter, (option, tally) in zip(voters, [("Đồng ý", "verified"), ("Đồng ý", "verified"),
                                                   ("Không đồng ý", "verified"), ("Không đồng ý", "unverified"),
                                                   ("Không đồng ý", "unverified")]):
            uow.session.add(ConsultationVote(consultation_id=consultation.id, user_id=voter.id, option=option,
                                             tally=tally, comment="Nhà tôi số 9, gọi 0911222333"))
        leader = (await uow.session.execute(select(User).where(User.role == "leader"))).scalars().first()
        await close_consultation(uow, leader, consultation.id)
        await uow.commit()
    closed = text_of(await page(client, "/c/70/consultations"))
    assert "Kết quả chính thức (người dân đã xác minh): 3 phiếu" in closed
    assert "Đồng ý 2 67%" in closed and "Không đồng ý 1 33%" in closed
    assert "Ý kiến chưa xác minh (không tính vào kết quả): 2 phiếu" in closed
    assert "0911222333" not in closed  # comments are the voters' own words: never on a public page


async def test_figures_and_announcements(runtime, client, citizen):
    from tests.webchat import file_feedback

    assert "Chưa tiếp nhận đơn nào" in await page(client, "/c/70/figures")
    await file_feedback(citizen)
    figures = text_of(await page(client, "/c/70/figures"))
    assert "1 Đã tiếp nhận" in figures and "Đường sá, hạ tầng 1 0" in figures
    assert "<svg" in await page(client, "/c/70/figures")
    async with runtime.uows() as uow:
        leader = (await uow.session.execute(select(User).where(User.role == "leader"))).scalars().first()
        await announce(uow, leader, "Chủ nhật 13/12 tổng vệ sinh toàn phường.", "cleanup-13-12")
        await announce(uow, leader, "Chủ nhật 13/12 tổng vệ sinh toàn phường.", "cleanup-13-12")  # again: one
        await uow.commit()
    home = await page(client, "/c/70")
    assert home.count("Chủ nhật 13/12 tổng vệ sinh toàn phường.") == 1
    assert "Chủ nhật 13/12" in await page(client, "/c/70/announcements")


async def test_conditional_requests_and_cache(runtime, client):
    cache = runtime.public_cache
    first = await client.get("/c/70/disclosures")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag) and "public, max-age=" in first.headers["Cache-Control"]
    renders = cache.renders
    again = await client.get("/c/70/disclosures", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b"" and again.headers["ETag"] == etag
    since = await client.get("/c/70/disclosures", headers={"If-Modified-Since": modified})
    assert since.status == 304
    for _ in range(5):
        assert (await client.get("/c/70/disclosures")).headers["ETag"] == etag
    assert cache.renders == renders  # served from memory: nothing rendered again
    async with runtime.uows() as uow:
        uow.session.add(Disclosure(commune_code=70, category="fees", title="Mức thu phí vệ sinh 2027",
                                   body="Theo Nghị quyết HĐND phường.", published_at=utcnow()))
        await uow.commit()
    changed = await client.get("/c/70/disclosures", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "Mức thu phí vệ sinh 2027" in await changed.text()
    other = await client.get("/c/70/projects", headers={"If-None-Match": etag})
    assert other.status == 200  # another page's tag is not this page's
    css = await client.get("/c/assets/public.css")
    assert css.headers["Content-Type"].startswith("text/css")
    assert (await client.get("/c/assets/public.css", headers={"If-None-Match": css.headers["ETag"]})).status == 304


async def test_an_edit_in_place_moves_the_version(runtime, client):
    """A disclosure corrected in place (the importer updates by title) is seen at once."""
    await page(client, "/c/70/disclosures")
    async with runtime.uows() as uow:
        disclosure = (await uow.session.execute(select(Disclosure).where(Disclosure.category == "budget"))).scalar_one()
        disclosure.body = "Bản đã sửa: tổng thu 1.234 tỷ đồng."
        await uow.commit()
    assert "Bản đã sửa: tổng thu 1.234 tỷ đồng." in await page(client, "/c/70/disclosures")


async def test_pages_are_accessible_basics(client):
    for path in ("/c/70", "/c/70/schedule", "/c/70/disclosures", "/c/70/projects", "/c/70/consultations",
                 "/c/70/announcements", "/c/70/figures"):
        html = await page(client, path)
        assert html.count("<h1") == 1, path
        assert '<a class="skip" href="#main">' in html and '<main id="main">' in html
        assert 'name="viewport"' in html and "<script" not in html  # readable without JavaScript
        assert 'aria-current="page"' in html
