"""Bad input that the other suites do not cover yet: a flood from one user (the per-user limit of
handlers/flood.py), a replayed webhook call, an unknown command at every step a citizen, officer or
leader can reach, and markup in user texts.

Already covered elsewhere, not repeated here: empty, whitespace and oversized texts, stickers,
voice, forged and stale buttons, a wrong webhook secret and malformed webhook bodies
(tests/test_telegram.py); malformed and oversized web-chat requests (tests/test_webchat_api.py);
photos of the wrong type or size (tests/test_webchat_media.py); Zalo's forged signatures and secrets
and its retried deliveries (tests/test_zalo_oa.py, tests/test_zalo_bot.py). Random and mutated input
is in tests/test_fuzz.py.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from telegram import Update

from bot.app import Runtime
from bot.officers import create_invite
from bot.texts import t
from handlers.flood import FloodGate, Verdict, gate_for
from storage.demo import seed_demo
from storage.models import Consultation, ConversationState, Item, Project, ProcessedUpdate, Unit
from tests.telegram_fake import RecordingBotAPI, button_update, text_update
from tests.webchat import COMPLAINT, Browser, buttons, chat_id, reach_menu, rows, same_origin

OFFICE = "Văn phòng HĐND và UBND phường"
SLOW_DOWN_VI = t("vi", "flood.slow_down")
SLOW_DOWN_EN = t("en", "flood.slow_down")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the flood gate on its own -------------------------------------------------------------------------

def test_a_burst_passes_then_one_warning_then_silence():
    clock = Clock()
    gate = FloodGate(5, 1.0, clock=clock)
    key = ("telegram", "42")
    assert [gate.admit(key) for _ in range(5)] == [Verdict.admit] * 5
    assert [gate.admit(key) for _ in range(4)] == [Verdict.warn, Verdict.silent, Verdict.silent, Verdict.silent]
    assert gate.admit(("telegram", "43")) is Verdict.admit  # another person is not slowed down
    assert gate.admit(("web", "42")) is Verdict.admit        # nor the same id on another channel


def test_the_sustained_rate_passes_and_the_episode_ends_when_the_bucket_is_full_again():
    clock = Clock()
    gate = FloodGate(4, 0.5, clock=clock)
    key = ("web", "abc")
    for _ in range(4):
        gate.admit(key)
    assert gate.admit(key) is Verdict.warn
    clock.now += 2.0  # one message every 2 s is the sustained rate
    assert gate.admit(key) is Verdict.admit
    assert gate.admit(key) is Verdict.silent  # still the same episode: no second warning
    clock.now += 8.0  # quiet for burst / rate seconds: a full bucket, a new episode
    assert [gate.admit(key) for _ in range(5)] == [Verdict.admit] * 4 + [Verdict.warn]


def test_idle_buckets_are_forgotten_and_the_number_of_buckets_is_capped():
    clock = Clock()
    gate = FloodGate(20, 1.0, clock=clock, max_buckets=1000)
    for user in range(5000):
        gate.admit(("telegram", str(user)))
    assert len(gate) == 1000
    clock.now += 20.0
    gate.admit(("telegram", "new"))
    assert len(gate) == 1  # everyone else is idle with a full bucket: nothing to remember


def test_the_gate_costs_next_to_nothing_per_message():
    gate = FloodGate(20, 1.0)
    started = time.perf_counter()
    for n in range(100_000):
        gate.admit(("telegram", str(n % 5000)))
    assert time.perf_counter() - started < 2.0  # about 0.1 s on the development machine


# -- the flood limit end to end ------------------------------------------------------------------------

@pytest.fixture
async def flood_runtime(settings):
    """A running tiepdan with the demo ward, a burst of 8 and one message every 2 s, on a fake clock."""
    flood_settings = settings.model_copy(update={"flood_burst": 8, "flood_rate": 0.5})
    runtime = Runtime(flood_settings, run_scheduler=False)
    await runtime.start(migrate=False)
    await seed_demo(runtime.uows, flood_settings)
    clock = Clock()
    gate_for(runtime.uows, flood_settings).clock = clock
    runtime.clock = clock
    yield runtime
    await runtime.stop()


async def _count(runtime, model) -> int:
    async with runtime.uows() as uow:
        return (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()


async def _conversation(runtime, chat_id: str, channel: str = "web") -> tuple:
    [row] = await rows(runtime, ConversationState, ConversationState.channel == channel,
                       ConversationState.chat_id == chat_id)
    return row.flow, row.step, row.data, row.expected_buttons


def _cookie(tab: Browser) -> str:
    return chat_id(tab)


async def test_a_flooding_web_visitor_gets_one_polite_answer_and_nothing_else_runs(flood_runtime):
    runtime, clock = flood_runtime, flood_runtime.clock
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        await tab.send(button="lang:vi")
        await tab.send("hoan kiem")
        await tab.send(button="commune:70")
        for _ in range(4):
            assert (await tab.send("chào"))[-1]["text"] == t("vi", "menu.title")  # 8 messages: the burst
        state = await _conversation(runtime, _cookie(tab))
        deliveries = await _count(runtime, ProcessedUpdate)

        assert [m["text"] for m in await tab.send(button="menu:submit", message_id="over-1")] == [SLOW_DOWN_VI]
        for n in range(10):
            assert await tab.send(button="menu:submit") == []  # acknowledged, silently
        assert await _conversation(runtime, _cookie(tab)) == state  # no flow ran
        assert await _count(runtime, ProcessedUpdate) == deliveries + 11  # every message recorded
        tab.cursor = 0
        assert await tab.send(button="menu:submit", message_id="over-1") != []  # a redelivery: the same page
        assert await _count(runtime, ProcessedUpdate) == deliveries + 11

        clock.now += 2.0  # the sustained rate lets one through, and the episode goes on
        kinds = await tab.send(button="menu:submit")
        assert "kind:feedback" in buttons(kinds[-1]).values()
        assert await tab.send(button="kind:feedback") == []

        clock.now += 16.0  # quiet long enough: the bucket is full, the flood is over
        categories = await tab.send(button="kind:feedback")
        assert "category:infrastructure" in buttons(categories[-1]).values()


async def test_a_flooding_telegram_user_is_told_once_in_their_language(flood_runtime):
    api = RecordingBotAPI()
    settings = flood_runtime.settings.model_copy(update={"telegram_token": "123:ABC", "telegram_per_chat_rate": 1000.0})
    runtime = Runtime(settings, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    application = runtime.telegram.application
    errors = []

    async def record(update, context):
        errors.append(context.error)

    application.add_error_handler(record)
    await application.initialize()
    gate_for(runtime.uows, settings).clock = Clock()
    chat, ids = 6660001, itertools.count(1)
    try:
        for update in ([text_update(next(ids), chat, "/start", language_code="en"),
                        button_update(next(ids), chat, "lang:en", language_code="en")]
                       + [text_update(next(ids), chat, "hello", language_code="en") for _ in range(30)]):
            await application.process_update(Update.de_json(update, application.bot))
        await runtime.dispatcher.drain()
    finally:
        await application.shutdown()
        await runtime.engine.dispose()
    assert errors == []
    texts = api.sent_texts(chat)
    assert texts.count(SLOW_DOWN_EN) == 1 and SLOW_DOWN_VI not in texts
    assert texts[-1] == SLOW_DOWN_EN  # nothing after it: the rest of the flood was not answered


async def test_a_flood_of_photo_uploads_stores_no_more_photos(flood_runtime):
    from aiohttp import FormData

    from storage.models import Attachment

    async with TestClient(TestServer(flood_runtime.web_app)) as client:  # one browser: one person
        tab = Browser(client)
        await reach_menu(tab)  # to a step that takes photos: 6 of the burst of 8
        await tab.send(button="menu:submit")
        await tab.send(button="kind:feedback")
        flood_runtime.clock.now += 30  # a pause: the burst is whole again
        await tab.send(button="category:infrastructure")
        for n in range(20):
            form = FormData()
            form.add_field("id", f"upload-{n}")
            form.add_field("photo", b"\xff\xd8\xff\xe0" + bytes(20_000), filename="a.jpg", content_type="image/jpeg")
            assert (await client.post("/api/chat/photo", data=form, headers=same_origin(client))).status == 200
    assert await _count(flood_runtime, Attachment) <= 8  # the burst


async def test_a_person_filing_at_a_normal_pace_is_never_slowed_down(settings):
    """The production defaults (a burst of 20, then one a second): a whole submission typed as fast as
    a test can type stays within the burst."""
    defaults = settings.model_copy(update={"flood_burst": 20, "flood_rate": 1.0})
    runtime = Runtime(defaults, run_scheduler=False)
    await runtime.start(migrate=False)
    await seed_demo(runtime.uows, defaults)
    try:
        async with TestClient(TestServer(runtime.web_app)) as client:
            tab = Browser(client)
            from tests.webchat import file_feedback, reach_menu

            await reach_menu(tab)
            receipt = await file_feedback(tab)
            assert receipt[0]["text"].startswith("✅ Đã tiếp nhận")
            history = [m["text"] for m in await tab.history()]
            assert SLOW_DOWN_VI not in history
    finally:
        await runtime.stop()


async def test_a_replayed_webhook_call_is_answered_once(settings):
    """Someone who captured a genuine webhook call (secret header and all) and sends it again gets
    nothing out of it: the update id was recorded the first time."""
    from bot.settings import TelegramMode

    api = RecordingBotAPI()
    tg = settings.model_copy(update={"telegram_token": "123:ABC", "telegram_per_chat_rate": 1000.0,
                                     "telegram_mode": TelegramMode.webhook, "telegram_webhook_url": "https://x.org/tg",
                                     "telegram_webhook_secret": "replay-secret"})
    runtime = Runtime(tg, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    application = runtime.telegram.application
    await application.initialize()
    try:
        async with TestClient(TestServer(runtime.web_app)) as client:
            call = text_update(31337, 6660003, "/start")
            for _ in range(3):
                response = await client.post("/telegram/webhook", json=call,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": "replay-secret"})
                assert response.status == 200
                await application.process_update(await application.update_queue.get())
                await runtime.dispatcher.drain()
    finally:
        await application.shutdown()
        await runtime.engine.dispose()
    assert len(api.sent_texts(6660003)) == 1


# -- an unknown command at every step: a polite answer and the same step again --------------------------

UNKNOWN = t("vi", "error.unknown_command", command="nonsense")


class Walker:
    """A web-chat tab that remembers what arrived last, so a probe can check the step is shown again."""

    def __init__(self, runtime, tab: Browser):
        self.runtime, self.tab = runtime, tab
        self.last: list[dict] = []

    async def do(self, text: str | None = None, *, button: str | None = None) -> list[dict]:
        self.last = await self.tab.send(text, button=button)
        return self.last

    async def probe(self, flow: str, step: str, visited: set) -> None:
        before = await _conversation(self.runtime, _cookie(self.tab))
        assert before[:2] == (flow, step), f"expected to be at {flow}:{step}, at {before[:2]}"
        replies = await self.tab.send("/nonsense")
        assert replies[0]["text"] == UNKNOWN, (flow, step)
        again = [(m["text"], m["buttons"]) for m in replies[1:]]
        assert again, f"{flow}:{step} was not shown again"
        assert again == [(m["text"], m["buttons"]) for m in self.last[-len(again):]], (flow, step)
        assert await _conversation(self.runtime, _cookie(self.tab)) == before
        visited.add(f"{flow}:{step}")


async def _tab(runtime) -> Walker:
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    return Walker(runtime, Browser(client))


EVERY_STEP = {
    "start:language", "start:commune", "start:commune_pick", "menu:main", "menu:settings", "schedule:list",
    "publications:disclosures", "publications:disclosure_list", "publications:projects", "publications:project",
    "consultations:list", "consultations:detail", "consultations:comment", "statistics:show", "privacy:show",
    "privacy:confirm",
    "submit:kind", "submit:category", "submit:description", "submit:photos", "submit:location", "submit:consent",
    "submit:complaint_anonymous", "submit:name", "submit:address", "submit:phone", "submit:summary",
    "submit:part_kind", "submit:part_category", "submit:part_description", "submit:duplicate",
    "track:list", "track:detail", "track:add_info", "track:withdraw_confirm", "track:rate_comment",
    "track:second_reason",
    "officer:inbox", "officer:item", "officer:text", "officer:forward_target", "officer:assign",
    "officer:extend_kind", "officer:reveal", "officer:publish", "officer:announce_text", "officer:project_pick",
    "officer:project_progress", "officer:project_note", "officer:consult_pick",
    # Issue 18: drafts, contact reuse, publishing previews, an early close's reason.
    "submit:leave", "menu:draft_or_new", "submit:reuse_contact", "officer:announce_preview",
    "officer:project_preview", "officer:close_reason", "officer:close_preview",
}


async def test_an_unknown_command_at_every_step_is_answered_and_the_step_shown_again(runtime):
    visited: set[str] = set()
    citizen, officer, leader = await _tab(runtime), await _tab(runtime), await _tab(runtime)
    try:
        # /start, the menu and everything a citizen reads
        c = citizen
        await c.do("/start")
        await c.probe("start", "language", visited)
        await c.do(button="lang:vi")
        await c.probe("start", "commune", visited)
        await c.do("hoan kiem")
        await c.probe("start", "commune_pick", visited)
        await c.do(button="commune:70")
        await c.probe("menu", "main", visited)
        await c.do(button="menu:settings")
        await c.probe("menu", "settings", visited)
        await c.do(button="g:menu")
        await c.do(button="menu:schedule")
        await c.probe("schedule", "list", visited)
        await c.do(button="g:menu")
        await c.do(button="menu:disclosures")
        await c.probe("publications", "disclosures", visited)
        await c.do(button="dcat:*")
        await c.probe("publications", "disclosure_list", visited)
        await c.do(button="g:menu")
        projects = await c.do(button="menu:projects")
        await c.probe("publications", "projects", visited)
        await c.do(button=next(v for v in buttons(projects[-1]).values() if v.startswith("project:")))
        await c.probe("publications", "project", visited)
        await c.do(button="g:menu")
        listing = await c.do(button="menu:consultations")
        await c.probe("consultations", "list", visited)
        await c.do(button=next(v for v in buttons(listing[-1]).values() if v.startswith("consult:")))
        await c.probe("consultations", "detail", visited)
        await c.do(button="vote:0")
        await c.do(button="consult:comment")
        await c.probe("consultations", "comment", visited)
        await c.do(button="consult:detail")
        await c.do(button="g:menu")
        await c.do(button="menu:statistics")
        await c.probe("statistics", "show", visited)
        await c.do("/privacy")
        await c.probe("privacy", "show", visited)
        await c.do(button="privacy:erase")
        await c.probe("privacy", "confirm", visited)
        await c.do(button="privacy:show")
        await c.do(button="g:menu")

        # a complaint, every submit step on the way, with a part split off
        async def to_consent() -> None:
            await c.do(button="menu:submit")
            await c.do(button="kind:complaint_first")
            await c.do(button="category:land")
            await c.do(COMPLAINT)
            await c.do(button="photos:done")
            await c.do(button="location:skip")

        await c.do(button="menu:submit")
        await c.probe("submit", "kind", visited)
        await c.do(button="kind:complaint_first")
        await c.probe("submit", "category", visited)
        await c.do(button="category:land")
        await c.probe("submit", "description", visited)
        await c.do(COMPLAINT)
        await c.probe("submit", "photos", visited)
        await c.do(button="photos:done")
        await c.probe("submit", "location", visited)
        await c.do(button="location:skip")
        await c.probe("submit", "consent", visited)
        await c.do(button="consent:no")
        await c.probe("submit", "complaint_anonymous", visited)
        await c.do(button="submit:cancel")
        await to_consent()
        await c.do(button="consent:yes")
        await c.probe("submit", "name", visited)
        await c.do("Nguyễn Thị Lan")
        await c.probe("submit", "address", visited)
        await c.do("Số 3 Hàng Bạc, tổ 5")
        await c.probe("submit", "phone", visited)
        await c.do("0912345678")
        await c.probe("submit", "summary", visited)
        await c.do(button="g:menu")
        await c.probe("submit", "leave", visited)
        await c.do(button="draft:keep")
        await c.do(button="menu:submit")
        await c.probe("menu", "draft_or_new", visited)
        await c.do(button="menu:draft")
        await c.do(button="submit:split")
        await c.probe("submit", "part_kind", visited)
        await c.do(button="part:feedback")
        await c.probe("submit", "part_category", visited)
        await c.do(button="pcat:environment")
        await c.probe("submit", "part_description", visited)
        await c.do("Rác thải để trước cửa nhà số 5 không được thu gom ba ngày nay.")
        await c.do(button="submit:send")
        await to_consent()
        await c.do(button="consent:yes")
        await c.probe("submit", "reuse_contact", visited)  # the contact given with the first item
        await c.do(button="contact:reuse")
        await c.do(button="submit:send")
        await c.probe("submit", "duplicate", visited)
        await c.do(button="submit:cancel")
        [complaint] = await rows(runtime, Item, Item.kind == "complaint_first")

        # the officer of the complaint's unit, and the citizen answering
        o = officer
        await o.do("/start")
        await o.do(button="lang:vi")
        await o.do("hoan kiem")
        await o.do(button="commune:70")
        await o.do(f"/officer {await create_invite(runtime.uows, complaint.unit_id, 'officer')}")
        await o.probe("officer", "inbox", visited)
        await o.do(button=f"g:oi:{complaint.id}")
        await o.probe("officer", "item", visited)
        await o.do(button="oa:forward")  # only a received item can be forwarded
        await o.probe("officer", "forward_target", visited)
        await o.do(button="oback")
        await o.do(button="oassign")
        await o.probe("officer", "assign", visited)
        await o.do(button="oback")
        await o.do(button="oa:accept")
        await o.do(button="oa:request_info")
        await o.probe("officer", "text", visited)
        await o.do("Đề nghị ông/bà gửi bản sao quyết định xử phạt.")

        await c.do(button="menu:track")
        await c.probe("track", "list", visited)
        await c.do(button=f"item:{complaint.id}")
        await c.probe("track", "detail", visited)
        await c.do(button="track:add_info")
        await c.probe("track", "add_info", visited)
        await c.do("Tôi đã gửi bản sao quyết định tại bộ phận một cửa.")
        await c.do(button="track:info_done")  # information may come in several messages until «Xong»
        await c.do(button="track:withdraw")
        await c.probe("track", "withdraw_confirm", visited)
        await c.do(button="track:detail")

        await o.do(button=f"g:oi:{complaint.id}")  # the information came in: a fresh view
        await o.do(button="oa:answer")
        await o.do("Giữ nguyên quyết định xử phạt số 15/QĐ-XPHC vì đúng đối tượng.")
        await c.do(button="track:list")
        await c.do(button=f"item:{complaint.id}")
        await c.do(button="rate:no")
        await c.probe("track", "rate_comment", visited)
        await c.do(button="rate:skip")
        await c.do(button="track:second")
        await c.probe("track", "second_reason", visited)
        await c.do(button="track:detail")

        # a leader: publishing, and a denunciation's extension and identity
        [office] = await rows(runtime, Unit, Unit.name == OFFICE)
        leader_ = leader
        await leader_.do("/start")
        await leader_.do(button="lang:vi")
        await leader_.do("hoan kiem")
        await leader_.do(button="commune:70")
        await leader_.do(f"/officer {await create_invite(runtime.uows, office.id, 'leader')}")
        await leader_.do(button="opub")
        await leader_.probe("officer", "publish", visited)
        await leader_.do(button="opub:announce")
        await leader_.probe("officer", "announce_text", visited)
        await leader_.do("Thứ Bảy này phường tổng vệ sinh.")
        await leader_.probe("officer", "announce_preview", visited)
        await leader_.do(button="oinbox")
        await leader_.do(button="opub")
        await leader_.do(button="opub:project")
        await leader_.probe("officer", "project_pick", visited)
        [project, *_] = await rows(runtime, Project)
        await leader_.do(button=f"oproj:{project.id}")
        await leader_.probe("officer", "project_progress", visited)
        await leader_.do("50")
        await leader_.probe("officer", "project_note", visited)
        await leader_.do("Hoàn thành rãnh thoát nước.")
        await leader_.probe("officer", "project_preview", visited)
        await leader_.do(button="opub")
        await leader_.do(button="opub")
        await leader_.do(button="opub:close")
        await leader_.probe("officer", "consult_pick", visited)
        [consultation, *_] = await rows(runtime, Consultation, Consultation.status == "open")
        await leader_.do(button=f"oclose:{consultation.id}")
        await leader_.probe("officer", "close_reason", visited)
        await leader_.do("Đã đủ ý kiến để quyết định.")
        await leader_.probe("officer", "close_preview", visited)
        await leader_.do(button="oinbox")

        await c.do(button="g:menu")
        await c.do(button="menu:submit")
        await c.do(button="kind:denunciation")
        await c.do(button="category:public_order")
        await c.do("Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5.")
        await c.do(button="photos:done")
        await c.do(button="location:skip")
        await c.do(button="consent:yes")
        await c.do(button="contact:reuse")
        await c.do(button="submit:send")
        [denunciation] = await rows(runtime, Item, Item.kind == "denunciation")
        await leader_.do(button=f"g:oi:{denunciation.id}")
        await leader_.do(button="oa:accept")
        await leader_.do(button="oa:extend")
        await leader_.probe("officer", "extend_kind", visited)
        await leader_.do(button="oback")
        await leader_.do(button="oreveal")
        await leader_.probe("officer", "reveal", visited)
    finally:
        for walker in (citizen, officer, leader):
            await walker.tab.client.close()
    assert visited == EVERY_STEP


# -- markup in user texts is shown as typed, never interpreted ----------------------------------------

MARKUP = '<script>alert("x")</script><b>đậm</b> *in đậm* _nghiêng_ [bấm](http://evil.example) &amp; `mã`'


@contextlib.asynccontextmanager
async def telegram_and_web(settings):
    """The demo ward served on Telegram (a recording fake of the Bot API) and the web chat: (runtime,
    the fake, feed(update) — one update processed and its answers sent)."""
    api = RecordingBotAPI()
    tg = settings.model_copy(update={"telegram_token": "123:ABC", "telegram_per_chat_rate": 1000.0})
    runtime = Runtime(tg, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    await seed_demo(runtime.uows, tg)
    application = runtime.telegram.application
    await application.initialize()

    async def feed(update: dict) -> None:
        await application.process_update(Update.de_json(update, application.bot))
        await runtime.dispatcher.drain()

    try:
        yield runtime, api, feed
    finally:
        await application.shutdown()
        await runtime.engine.dispose()


async def test_markup_typed_by_a_citizen_reaches_an_officer_on_telegram_as_plain_text(settings):
    ids, officer_chat = itertools.count(1), 6660002
    async with telegram_and_web(settings) as (runtime, api, feed):
        [office] = await rows(runtime, Unit, Unit.name == OFFICE)
        code = await create_invite(runtime.uows, office.id, "officer")
        await feed(text_update(next(ids), officer_chat, "/start"))
        await feed(button_update(next(ids), officer_chat, "lang:vi"))
        await feed(text_update(next(ids), officer_chat, "hoan kiem"))
        await feed(button_update(next(ids), officer_chat, "commune:70"))
        await feed(text_update(next(ids), officer_chat, f"/officer {code}"))
        async with TestClient(TestServer(runtime.web_app)) as client:
            tab = Browser(client)
            from tests.webchat import describe, reach_menu

            await reach_menu(tab)
            await describe(tab, "feedback", "public_order", "Karaoke ồn ào " + MARKUP)
            await tab.send(MARKUP[:200])  # the place, typed
            await tab.send(button="consent:yes")
            await tab.send("Lan " + MARKUP[:150])
            await tab.send("Số 3 Hàng Bạc")
            summary = await tab.send("0912345678")
            assert MARKUP in summary[-1]["text"]  # the web chat gets the raw text; chat.js shows it as text
            await tab.send(button="submit:send")
        [item] = await rows(runtime, Item)
        await feed(button_update(next(ids), officer_chat, f"g:oi:{item.id}"))
    view = api.sent(officer_chat)[-1]
    assert "Karaoke ồn ào " + MARKUP in view["text"] and "Lan " + MARKUP[:150] in view["text"]
    assert all("parse_mode" not in params and "entities" not in params for params in api.sent())


def test_the_web_chat_page_renders_every_text_as_text():
    script = (Path(__file__).resolve().parents[1] / "bot" / "channels" / "static" / "chat.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    # Received text goes in as text nodes (links and emoji as elements around them: chat.js richText);
    # tests/test_webchat_page_browser.py checks in Chromium that markup in a message stays text.
    assert "document.createTextNode(text.slice(" in script and "withEmoji(b.label)" in script


async def test_a_nul_byte_in_what_a_citizen_writes_is_dropped_and_the_petition_filed(settings):
    """JSON may carry "\\u0000" (a pasted binary, a forged client); PostgreSQL refuses it in text, and
    the description, the contact and the message id holding one made every save fail with "try again"
    — the petition could never be filed. Web chat and Telegram, SQLite and PostgreSQL."""
    from storage.models import ItemContact
    from tests.webchat import file_item

    ids, chat = itertools.count(1), 6660003
    async with telegram_and_web(settings) as (runtime, api, feed):
        async with TestClient(TestServer(runtime.web_app)) as client:
            tab = Browser(client)
            await reach_menu(tab)
            receipt = await file_item(tab, "feedback", "infrastructure", "Đèn\x00 đường hỏng cả dãy ngõ 45.",
                                      contact=("Nguyễn\x00 Thị Lan", "Số 3 Hàng Bạc", "0912\x00345678"))
            odd_id = await client.post("/api/chat/send", json={"id": "x\x00" * 8, "text": "xin chào", "after": 0},
                                       headers=same_origin(client))
            assert odd_id.status < 500
        for update in (text_update(next(ids), chat, "/start"), button_update(next(ids), chat, "lang:vi"),
                       text_update(next(ids), chat, "hoan kiem"), button_update(next(ids), chat, "commune:70"),
                       button_update(next(ids), chat, "menu:submit"), button_update(next(ids), chat, "kind:feedback"),
                       button_update(next(ids), chat, "category:infrastructure"),
                       text_update(next(ids), chat, "Cống\x00 thoát nước ngõ 12 bị tắc, nước tràn ra đường."),
                       button_update(next(ids), chat, "photos:done"), button_update(next(ids), chat, "location:skip"),
                       button_update(next(ids), chat, "consent:anonymous"), button_update(next(ids), chat, "submit:send")):
            await feed(update)
        items = await rows(runtime, Item)
        contacts = await rows(runtime, ItemContact)
    assert [i.description for i in items] == ["Đèn đường hỏng cả dãy ngõ 45.",
                                              "Cống thoát nước ngõ 12 bị tắc, nước tràn ra đường."]
    assert any(items[0].tracking_code in message["text"] for message in receipt)
    assert [(c.full_name, c.phone) for c in contacts] == [("Nguyễn Thị Lan", "0912345678")]
    told = api.sent_texts(chat)
    assert any(items[1].tracking_code in text for text in told) and not any(t("vi", "error.temporary") in text for text in told)
