"""Issue 18, item 9: nothing is published without a preview and a confirmation, and a consultation
closed before its published end carries the leader's reason and its real closing time, in the chat,
in the voters' notice and on the public page. Web chat API, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from storage.models import Consultation, OutboxMessage, utcnow
from tests.test_publishing import _poll, leader  # noqa: F401  (fixture)
from tests.webchat import buttons, rows

NOTICE = "Thứ Bảy này phường tổng vệ sinh, mời bà con tham gia từ 6 giờ sáng."


async def _announcements(runtime) -> list[OutboxMessage]:
    return [m for m in await rows(runtime, OutboxMessage) if m.dedupe_key.startswith("announce:")]


async def test_an_announcement_can_be_rewritten_or_dropped_at_its_preview_and_is_sent_once(runtime, citizen, leader):
    await citizen.send(button="menu:schedule")
    await citizen.send(button="schedule:toggle")
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:announce")
    preview = await leader.send("Thứ Bảy nay phường tổng vệ sinh")  # a typo, seen in the preview
    assert set(buttons(preview[0]).values()) == {"opub:send", "opub:rewrite", "opub"}
    again = await leader.send(button="opub:rewrite")
    assert again[-1]["text"] == "Nội dung thông báo gửi tới người dân đã đăng ký nhận tin:"
    await leader.send(NOTICE)
    dropped = await leader.send(button="opub")
    assert dropped[0]["text"] == "Đã huỷ, không gửi gì." and await _announcements(runtime) == []
    assert await _poll(citizen) == []

    await leader.send(button="opub:announce")
    await leader.send(NOTICE)
    done = await leader.send(button="opub:send")
    assert done[0]["text"] == "Đã gửi thông báo tới 1 người."
    twice = await leader.send(button="opub:send")  # the old preview's button, pressed again
    assert twice[0]["text"].startswith("Nút này đã cũ")
    assert len(await _announcements(runtime)) == 1
    [notice] = await _poll(citizen)
    assert notice["text"] == f"📣 Thông báo của UBND:\n\n{NOTICE}"


async def test_a_consultation_past_its_end_closes_without_a_reason_and_shows_when(runtime, citizen, leader):
    [consultation] = await rows(runtime, Consultation)
    async with runtime.uows() as uow:
        await uow.session.execute(update(Consultation).values(closes_at=utcnow() - timedelta(hours=1)))
        await uow.commit()
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:close")
    preview = await leader.send(button=f"oclose:{consultation.id}")
    assert preview[0]["text"].startswith("👀 Kết thúc lấy ý kiến «") and "Lý do" not in preview[0]["text"]
    closed = await leader.send(button="opub:send")
    assert "Kết thúc sớm" not in closed[1]["text"]
    [consultation] = await rows(runtime, Consultation)
    assert consultation.status == "closed" and consultation.closed_at is not None
    assert consultation.close_reason is None
    await citizen.send(button="menu:consultations")
    shown = await citizen.send(button=f"consult:{consultation.id}")
    assert re.search(r"Đã kết thúc lúc: \d\d/\d\d/\d{4} \d\d:\d\d", shown[-1]["text"])


async def test_an_early_close_needs_a_reason_shown_with_the_result_and_on_the_public_page(runtime, citizen, leader):
    [consultation] = await rows(runtime, Consultation)
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:close")
    asked = await leader.send(button=f"oclose:{consultation.id}")
    assert "Kết thúc sớm hơn cần nêu lý do" in asked[0]["text"]
    assert (await leader.send("vì"))[0]["text"].startswith("Nội dung hơi ngắn")
    preview = await leader.send("UBND phường đã họp và quyết định theo phương án đa số.")
    assert "Lý do kết thúc sớm: UBND phường đã họp và quyết định theo phương án đa số." in preview[0]["text"]
    [still] = await rows(runtime, Consultation)
    assert still.status == "open"  # nothing closed before the confirmation
    await leader.send(button="opub:send")
    [closed] = await rows(runtime, Consultation)
    assert closed.status == "closed" and closed.close_reason.startswith("UBND phường đã họp")
    await citizen.send(button="menu:consultations")
    shown = await citizen.send(button=f"consult:{consultation.id}")
    assert "⏱️ Kết thúc sớm lúc " in shown[-1]["text"] and "Lý do: UBND phường đã họp" in shown[-1]["text"]
    async with TestClient(TestServer(runtime.web_app)) as client:
        html = await (await client.get("/c/70/consultations")).text()
    today = utcnow().astimezone(runtime.settings.zone).strftime("%d/%m/%Y")
    published_end = consultation.closes_at.astimezone(runtime.settings.zone).strftime("%d/%m/%Y")
    assert "Kết thúc sớm hơn hạn đã công bố. Lý do: UBND phường đã họp" in html
    assert f"Đã kết thúc ngày {today}" in html and today != published_end
