"""Dân biết through the web chat: reception schedule (register, cancel, subscribe), disclosures by
category with paging, projects with their timeline and following."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from storage.demo import DEMO_COMMUNE
from storage.models import Disclosure, ReceptionRegistration, Subscription
from tests.webchat import buttons
from tests.webchat import rows as _rows


async def test_register_for_a_reception_session_cancel_and_subscribe(runtime, citizen):
    schedule = await citizen.send(button="menu:schedule")
    text, choices = schedule[-1]["text"], buttons(schedule[-1])
    assert "Chủ tịch UBND phường Hoàn Kiếm" in text and "Thứ Năm" in text
    register = [v for k, v in choices.items() if k.startswith("✍️ Đăng ký dự buổi")]
    assert len(register) >= 2  # the weekly session's next two Thursdays and the one-off session
    replies = await citizen.send(button=register[0])
    assert replies[0]["text"].startswith("Đã đăng ký dự buổi tiếp công dân")
    assert "✅ Bạn đã đăng ký dự buổi" in replies[-1]["text"]
    assert register[0] not in buttons(replies[-1]).values()
    [registration] = await _rows(runtime, ReceptionRegistration)
    cancel = [v for k, v in buttons(replies[-1]).items() if k.startswith("❌ Huỷ đăng ký")]
    replies = await citizen.send(button=cancel[0])
    assert replies[0]["text"] == "Đã huỷ đăng ký."
    [registration] = await _rows(runtime, ReceptionRegistration)
    assert registration.cancelled_at is not None
    replies = await citizen.send(button="schedule:toggle")
    assert "Bạn sẽ nhận thông báo" in replies[0]["text"]
    assert "🔕 Thôi nhận thông báo lịch tiếp" in buttons(replies[-1])
    [subscription] = await _rows(runtime, Subscription)
    assert (subscription.topic, subscription.commune_code) == ("reception", DEMO_COMMUNE)
    await citizen.send(button="schedule:toggle")
    assert await _rows(runtime, Subscription) == []


async def test_a_forged_registration_button_is_refused(runtime, citizen):
    await citizen.send(button="menu:schedule")
    replies = await citizen.send(button="reg:1:12345")
    assert "Nút này đã cũ" in replies[0]["text"]
    assert await _rows(runtime, ReceptionRegistration) == []


async def test_disclosures_by_category_newest_first_and_paged(runtime, citizen):
    async with runtime.uows() as uow:
        for n in range(7):
            uow.session.add(Disclosure(commune_code=DEMO_COMMUNE, category="fees", title=f"Mức phí số {n}",
                                       body="…", published_at=datetime.now(timezone.utc) - timedelta(hours=n)))
        await uow.commit()
    kinds = await citizen.send(button="menu:disclosures")
    assert buttons(kinds[-1])["Phí, lệ phí (7)"] == "dcat:fees"
    first = await citizen.send(button="dcat:fees")
    text = first[-1]["text"]
    assert text.index("Mức phí số 0") < text.index("Mức phí số 4") and "Mức phí số 5" not in text
    assert "Dự toán ngân sách" not in text
    second = await citizen.send(button="dmore")
    assert "Mức phí số 5" in second[-1]["text"] and "Mức phí số 6" in second[-1]["text"]
    assert "dmore" not in buttons(second[-1]).values()


async def test_project_timeline_and_following(runtime, citizen):
    projects = await citizen.send(button="menu:projects")
    project_button = next(v for v in buttons(projects[-1]).values() if v.startswith("project:"))
    detail = await citizen.send(button=project_button)
    text = detail[-1]["text"]
    assert "Khởi công" in text and "Hoàn thành lát vỉa hè" in text and text.index("Khởi công") < text.index("Hoàn thành")
    followed = await citizen.send(button="follow")
    assert followed[0]["text"].startswith("Bạn sẽ nhận tin")
    [subscription] = await _rows(runtime, Subscription)
    assert subscription.topic == project_button
    await citizen.send(button="follow")
    assert await _rows(runtime, Subscription) == []
