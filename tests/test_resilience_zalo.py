"""The Zalo Official Account's webhook under real-world conditions (issue 14), on SQLite and PostgreSQL,
against the local fake of Zalo (tests/zalo_fake.py): stickers, voice, video, GIFs, links and contact
cards; events delivered long after they happened; a follow and an unfollow arriving out of order.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from bot.domain.dialog import Reply
from bot.settings import SettingsError, load_settings
from storage.models import ChannelIdentity, OutboxMessage, ProcessedUpdate, ZaloUnfollow, utcnow
from tests.test_zalo_oa import (  # noqa: F401  (fixtures)
    HOAN_KIEM,
    LAN,
    MENU,
    MORE,
    ZaloUser,
    fake,
    lan,
    open_process,
    shown,
    zalo,
)

HELD_ONE = "⏳ 1 tin nhắn dưới đây chưa gửi được cho bạn lúc trước nên đã được giữ lại; nay gửi lại theo thứ tự."


def stamped(event: dict, moment: datetime) -> dict:
    """``event`` as if it had happened at ``moment`` (Zalo signs the timestamp with the body)."""
    return {**event, "timestamp": str(int(moment.timestamp() * 1000))}


async def hold_a_notice(lan: ZaloUser, text: str) -> OutboxMessage:
    """A notice for Lan while her 7-day window is closed: held, not attempted."""
    await lan.process.execute(update(ChannelIdentity).where(ChannelIdentity.external_id == LAN)
                              .values(last_seen_at=utcnow() - timedelta(days=8)))
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply(text), dedupe_key=f"notice:{text}")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == f"notice:{text}")
    assert row.status == "held"
    return row


async def queue_and_send(lan: ZaloUser, text: str) -> OutboxMessage:
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply(text), dedupe_key=f"notice:{text}")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == f"notice:{text}")
    return row


# -- what Zalo counts as an interaction ---------------------------------------------------------------------

@pytest.mark.parametrize("event_name, what", [
    ("user_send_sticker", "nhãn dán"), ("user_send_audio", "tin nhắn thoại"), ("user_send_video", "video"),
    ("user_send_gif", "ảnh động"), ("user_send_link", "liên kết"), ("user_send_business_card", "danh thiếp")])
async def test_stickers_voice_video_gifs_links_and_cards_are_answered_and_release_held_messages(
        fake, lan, event_name, what):
    await hold_a_notice(lan, "🔔 Hồ sơ TD-00001: đã thụ lý.")
    replies = await lan.deliver(fake.media_event(event_name, LAN))
    assert [shown(m) for m in replies] == [
        f"{HELD_ONE}\n\n🔔 Hồ sơ TD-00001: đã thụ lý.",
        f"Xin lỗi, tôi chưa nhận được loại tin nhắn này ({what}). Hãy gửi chữ, ảnh hoặc vị trí.", MENU, MORE]



# -- events delivered long after they happened ----------------------------------------------------------------

async def test_an_event_older_than_the_window_is_acknowledged_and_not_processed(fake, lan):
    now = datetime.now(timezone.utc)
    stale = stamped(fake.text_event(LAN, "/menu"), now - timedelta(seconds=301))
    assert await lan.deliver(stale) == []  # Zalo got its 200 (checked in deliver), nothing was done
    assert await lan.process.rows(ProcessedUpdate, ProcessedUpdate.update_key == stale["message"]["msg_id"]) == []
    replayed_unfollow = stamped(fake.event("unfollow", LAN), now - timedelta(hours=2))
    assert await lan.deliver(replayed_unfollow) == []
    fake._unfollowed.discard(LAN)  # as far as Zalo knows she still follows: that unfollow was long ago
    assert await lan.process.rows(ZaloUnfollow) == []

    recent = stamped(fake.text_event(LAN, "/menu"), now - timedelta(seconds=60))
    assert [shown(m) for m in await lan.deliver(recent)] == [MENU, MORE]


async def test_the_window_is_a_setting(fake, open_process):
    narrow = await open_process(open_process.settings.model_copy(update={"zalo_oa_event_max_age_seconds": 30}))
    lan = ZaloUser(fake, narrow, LAN)
    follow = stamped(fake.event("follow", LAN), datetime.now(timezone.utc) - timedelta(seconds=45))
    assert await lan.deliver(follow) == []
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_OA_EVENT_MAX_AGE_SECONDS"):
        load_settings(zalo_oa_event_max_age_seconds=0, _env_file=None)


# -- follow and unfollow in the order they happened ----------------------------------------------------------

async def test_a_late_unfollow_does_not_undo_a_later_follow(fake, lan):
    unfollow = fake.event("unfollow", LAN)  # Lan unfollows; this delivery fails and Zalo will retry it
    fake.advance(seconds=20)
    follow = fake.event("follow", LAN)      # twenty seconds later she follows again
    await lan.deliver(follow)
    assert await lan.deliver(unfollow) == []  # Zalo's retry of the unfollow comes in last
    fake._unfollowed.discard(LAN)  # Zalo knows the follow came last
    assert await lan.process.rows(ZaloUnfollow) == []
    row = await queue_and_send(lan, "🔔 Hồ sơ TD-00001: đã thụ lý.")
    assert row.status == "sent"
    assert shown(fake.messages(LAN)[-1]) == "🔔 Hồ sơ TD-00001: đã thụ lý."


async def test_a_late_follow_or_message_does_not_undo_a_later_unfollow(fake, lan):
    follow = fake.event("follow", LAN)
    message = fake.text_event(LAN, "/menu")
    fake.advance(seconds=20)
    await lan.unfollow()
    [record] = await lan.process.rows(ZaloUnfollow)
    # Deliveries of what happened before the unfollow arrive after it.
    await lan.deliver(follow)
    await lan.deliver(message)
    fake._unfollowed.add(LAN)  # Zalo knows the unfollow came last
    assert [row.unfollowed_at for row in await lan.process.rows(ZaloUnfollow)] == [record.unfollowed_at]
    row = await queue_and_send(lan, "🔔 Hồ sơ TD-00001: đã thụ lý.")
    assert (row.status, row.last_error) == ("held", "unfollowed: not attempted")
    # A follow after the unfollow is taken: she is greeted back, and what was held arrives first (the
    # answer to her late message, then the notice).
    fake.advance(seconds=20)
    greeting = await lan.follow()
    assert greeting[0].startswith("⏳ 2 tin nhắn dưới đây chưa gửi được cho bạn lúc trước")
    assert greeting[2:] == ["🔔 Hồ sơ TD-00001: đã thụ lý.",
                            f"Chào mừng bạn quay lại! Bạn đang dùng kênh của {HOAN_KIEM}.", MENU, MORE]
