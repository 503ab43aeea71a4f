"""Property-based fuzzing (hypothesis) of everything that reaches us from outside: Telegram updates
through the webhook and ``process_update``, and web-chat requests (JSON bodies, raw bytes, query
strings, multipart uploads).

Properties, on SQLite and PostgreSQL:
- never a 5xx (a 503 "try again" is only for a database that is really down, not here);
- nothing logged at ERROR by our code (bot, handlers, storage, scheduler) and nothing reaching
  python-telegram-bot's error handler: no flow blew up;
- no message to Telegram asks for markup parsing, so a user's text is always shown as typed.

Zalo: the Official Account's webhook gets mutated events signed as Zalo signs them (a forged
signature is tests/test_zalo_oa.py's business), the Zalo Bot Platform's webhook mutated updates with
its secret. Examples are derandomized (the same on every run) and not stored, so CI is deterministic.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from telegram import Update

from bot.app import Runtime
from bot.settings import TelegramMode
from storage.demo import seed_demo
from tests.webchat import same_origin
from tests.telegram_fake import (
    RecordingBotAPI,
    button_update,
    location_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

SECRET = "fuzz-secret"
OURS = ("bot", "handlers", "storage", "scheduler")
FUZZ = hypothesis_settings(max_examples=100, derandomize=True, database=None, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class ErrorsFromOurCode(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in OURS:
            self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in self.records]


@pytest.fixture
def our_errors():
    handler = ErrorsFromOurCode()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


# -- strategies -------------------------------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["/start", "/menu", "/cancel", "/help", "/privacy", "/inbox", "/officer", "/officer ABCD-EFGH-JKMN",
                     "/start@tiepdan_bot x", "/", "//", "/ ", "TD-4K70X-M9PA3", "hoan kiem", "ạ" * 4001,
                     "<b>x</b>", "\x00", "\u202e", "\ud800", "ổ gà\n" * 500]),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                         st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4)), max_leaves=10)
button_values = st.one_of(st.text(max_size=70), st.sampled_from(
    ["g:menu", "g:help", "g:start", "g:oi:1", "g:oi:-1", "g:oi:99999999999999999999", "g:item:1", "g:item:",
     "lang:vi", "lang:xx", "commune:70", "commune:abc", "commune:99999999999999999999", "menu:submit", "kind:x",
     "item:1", "oi:1", "oa:accept", "opub", "oproj:1", "oclose:1", "reg:1:1", "reg:x", "unreg:1", "vote:9",
     "consult:1", "project:0", "dcat:*", "track:withdraw_yes", "privacy:erase_yes", "x" * 64]))


def _templates(update_id: int, chat: int, text: str, data: str) -> list[dict]:
    return [text_update(update_id, chat, text), button_update(update_id, chat, data), photo_update(update_id, chat, text),
            location_update(update_id, chat), sticker_update(update_id, chat), voice_update(update_id, chat)]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, prefix + (index,))
    return found


@st.composite
def telegram_updates(draw) -> dict:
    """A well-formed update of some kind with a few fields replaced, removed or added at random."""
    chat = draw(st.sampled_from([5550001, 5550002, -1001, 0, 2 ** 40]))
    # _mutated works on a copy: the builders share dicts such as the bot's user.
    return _mutated(draw, draw(st.sampled_from(
        _templates(draw(st.integers(1, 2 ** 31)), chat, draw(texts), draw(button_values)))))


# -- Telegram ---------------------------------------------------------------------------------------------

@pytest.fixture
async def telegram(settings):
    api = RecordingBotAPI()
    tg = settings.model_copy(update={"telegram_token": "123:ABC", "telegram_per_chat_rate": 1000.0,
                                     "telegram_mode": TelegramMode.webhook, "telegram_webhook_url": "https://x.org/tg",
                                     "telegram_webhook_secret": SECRET})
    runtime = Runtime(tg, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    await seed_demo(runtime.uows, tg)
    application = runtime.telegram.application
    runtime.handler_errors, runtime.at_menu = [], set()

    async def record(update, context):
        runtime.handler_errors.append(context.error)

    application.add_error_handler(record)
    await application.initialize()
    async with TestClient(TestServer(runtime.web_app)) as client:
        runtime.client, runtime.api = client, api
        yield runtime
    await application.shutdown()
    await runtime.engine.dispose()


async def _settle(runtime) -> None:
    queue = runtime.telegram.application.update_queue
    while not queue.empty():
        await runtime.telegram.application.process_update(queue.get_nowait())
    await runtime.dispatcher.drain()


@FUZZ
@given(update=telegram_updates())
async def test_any_update_through_the_webhook_is_taken_or_refused_never_a_crash(telegram, our_errors, update):
    response = await telegram.client.post("/telegram/webhook", data=json.dumps(update),
                                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                                   "Content-Type": "application/json"})
    assert response.status in (200, 400)
    await _settle(telegram)
    assert telegram.handler_errors == []
    assert our_errors.messages() == []
    assert all("parse_mode" not in p and "entities" not in p for p in telegram.api.answered("sendMessage"))


@FUZZ
@given(update=telegram_updates(), chat=st.sampled_from([5550001, 5550002]))
async def test_any_update_fed_straight_to_the_application_is_answered_or_ignored(telegram, our_errors, update, chat):
    """The same without the webhook's check in front (polling hands updates straight to the
    application), in chats that have got as far as the menu before the random updates come."""
    application = telegram.telegram.application
    if chat not in telegram.at_menu:
        telegram.at_menu.add(chat)
        for step in (text_update(1, chat, "/start"), button_update(2, chat, "lang:vi"),
                     text_update(3, chat, "hoan kiem"), button_update(4, chat, "commune:70")):
            step["update_id"] = -chat * 10 - step["update_id"]
            await application.process_update(Update.de_json(step, application.bot))
    try:
        parsed = Update.de_json(update, application.bot)
    except (ValueError, TypeError, KeyError, AttributeError):
        parsed = None
    if parsed is not None:
        await application.process_update(parsed)
    await telegram.dispatcher.drain()
    assert telegram.handler_errors == []
    assert our_errors.messages() == []


# -- the web chat -----------------------------------------------------------------------------------------

web_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={
        "id": st.one_of(st.text(max_size=70), json_scalars), "text": st.one_of(texts, json_scalars),
        "button": st.one_of(button_values, json_scalars), "after": json_scalars,
        "location": st.one_of(json_values, st.fixed_dictionaries(
            {"latitude": st.one_of(st.floats(), json_scalars), "longitude": st.one_of(st.floats(), json_scalars)})),
    }).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b'{"id": "\\ud800", "text": "x"}', b'{"id": "a", "text": "\\udfff"}',
                     b'{"id": "b", "button": "\\ud83d"}', b'{"id": "c", "text": "x", "after": 100000000000000000000}',
                     b'{"id": "d", "location": {"latitude": NaN, "longitude": 1}}', b"\xef\xbb\xbf{}", b"[]" * 5000]),
)
query_values = st.one_of(st.text(max_size=30), st.integers(min_value=-2 ** 70, max_value=2 ** 70).map(str),
                         st.sampled_from(["nan", "-inf", "1e309", "0x10", "", " 1", "9" * 5000]))


@pytest.fixture
async def web(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        await client.post("/api/chat/send", json={"id": "hello", "text": "/start"})
        runtime.client = client
        yield runtime


def _no_server_error(status: int, body: bytes) -> None:
    assert status < 500, body[:300]
    data = json.loads(body)
    assert isinstance(data.get("error"), str) if status >= 400 else "messages" in data


@FUZZ
@given(body=web_bodies, cookie=st.one_of(st.none(), st.text(max_size=80)))
async def test_any_web_chat_message_body_gets_an_answer_not_a_crash(web, our_errors, body, cookie):
    headers = {"Content-Type": "application/json"}
    if cookie is not None and cookie.isascii() and cookie.isprintable() and ";" not in cookie:
        headers["Cookie"] = f"tiepdan_chat={cookie}"
    response = await web.client.post("/api/chat/send", data=body, headers=headers)
    _no_server_error(response.status, await response.read())
    await web.dispatcher.drain()
    assert our_errors.messages() == []


@FUZZ
@given(after=query_values, wait=st.one_of(st.sampled_from(["0", "-1", "nan", "-inf", "abc", ""]),
                                          st.floats(max_value=0.02).map(str)),
       extra=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3))
async def test_any_query_string_for_the_message_poll_gets_an_answer(web, our_errors, after, wait, extra):
    response = await web.client.get("/api/chat/messages", params={**extra, "after": after, "wait": wait})
    _no_server_error(response.status, await response.read())
    assert our_errors.messages() == []


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["id", "after", "photo", "other"]),
                              st.one_of(st.text(max_size=70), st.binary(max_size=64)), max_size=4),
       photo=st.one_of(st.none(), st.binary(max_size=200).map(lambda b: b"\xff\xd8\xff" + b),
                       st.binary(max_size=200)))
async def test_any_upload_form_gets_an_answer_not_a_crash(web, our_errors, fields, photo):
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value, **({"filename": "blob"} if isinstance(value, bytes) else {}))
    if photo is not None:
        form.add_field("photo", photo, filename="x.jpg", content_type="image/jpeg")
    if not fields and photo is None:
        form.add_field("nothing", "")
    response = await web.client.post("/api/chat/photo", data=form, headers=same_origin(web.client))
    _no_server_error(response.status, await response.read())
    assert our_errors.messages() == []


# -- Zalo: the Official Account's signed events and the Zalo Bot Platform's updates ------------------------

def _mutated(draw, update: dict) -> dict:
    """A copy of ``update`` with up to three fields replaced, deleted or added."""
    update = copy.deepcopy(update)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(update)))
        parent = update
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
    return update


@st.composite
def zalo_oa_events(draw) -> dict:
    from tests.zalo_fake import FakeZalo

    fake, user = FakeZalo(), draw(st.sampled_from(["8421000000000000001", "8421000000000000002"]))
    made = draw(st.sampled_from([
        lambda: fake.text_event(user, draw(texts)), lambda: fake.text_event(user, "#b:" + draw(button_values)),
        lambda: fake.image_event(user, draw(st.sampled_from(["https://zalo.example/a.jpg", "javascript:x", ""]))),
        lambda: fake.location_event(user, 21.03, 105.85), lambda: fake.file_event(user, "a.pdf", "https://z/a.pdf"),
        lambda: fake.submit_info_event(user, name=draw(texts), phone=draw(texts), address=draw(texts)),
        lambda: fake.event("follow", user), lambda: fake.event("unfollow", user),
        lambda: fake.event("user_click_chatnow", user), lambda: fake.event(draw(st.text(max_size=20)), user)]))()
    return _mutated(draw, made)


@pytest.fixture
async def zalo_oa(settings):
    from bot.channels import zalo_oa as channel
    from tests.zalo_fake import APP_ID, APP_SECRET, OA_SECRET, FakeZalo

    fake = await FakeZalo().start()
    access, refresh = fake.issue()
    runtime = Runtime(settings.model_copy(update={
        "zalo_oa_app_id": APP_ID, "zalo_oa_secret_key": OA_SECRET, "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_access_token": access, "zalo_oa_refresh_token": refresh, "zalo_oa_api_url": fake.url,
        "zalo_oa_oauth_url": fake.url, "zalo_oa_requests_per_second": 1000.0}), run_scheduler=False)
    await seed_demo(runtime.uows, runtime.settings)
    await runtime.zalo.start()
    async with TestClient(TestServer(runtime.web_app)) as client:
        runtime.client = client

        def sign(body: bytes, event: dict) -> str:
            return "mac=" + channel.signature(APP_ID, body, str(event.get("timestamp", "")), OA_SECRET)

        runtime.sign = sign
        yield runtime
    await runtime.zalo.stop()
    await runtime.engine.dispose()
    await fake.stop()


@FUZZ
@given(event=zalo_oa_events())
async def test_any_signed_zalo_oa_event_is_acknowledged_never_a_crash(zalo_oa, our_errors, event):
    body = json.dumps(event).encode()
    response = await zalo_oa.client.post(zalo_oa.settings.zalo_oa_webhook_path, data=body,
                                         headers={"X-ZEvent-Signature": zalo_oa.sign(body, event)})
    assert response.status in (200, 401)  # 401: the mutation broke the timestamp the signature covers
    await zalo_oa.zalo.idle()
    await zalo_oa.dispatcher.drain()
    assert our_errors.messages() == []


@st.composite
def zalo_bot_updates(draw) -> dict:
    from tests.zalo_bot_fake import FakeZaloBotPlatform

    fake, chat = FakeZaloBotPlatform(), draw(st.sampled_from(["e4ea2cd5189df1c3a88c", "a0b1c2d3e4f5a6b7c8d9"]))
    made = draw(st.sampled_from([
        lambda: fake.text(chat, draw(texts)), lambda: fake.image(chat, "https://zalo.example/a.jpg", draw(texts)),
        lambda: fake.sticker(chat), lambda: fake.message(chat, draw(st.text(max_size=30)))]))()
    update = _mutated(draw, made)
    return {"ok": True, "result": update} if draw(st.booleans()) else update


@pytest.fixture
async def zalo_bot(settings):
    from tests.zalo_bot_fake import TOKEN, FakeZaloBotPlatform

    fake = await FakeZaloBotPlatform().start()
    runtime = Runtime(settings.model_copy(update={
        "zalo_bot_token": TOKEN, "zalo_bot_base_url": fake.url, "zalo_bot_mode": "webhook",
        "zalo_bot_webhook_url": "https://tiepdan.example/zalobot/webhook",
        "zalo_bot_webhook_secret": "s3cret-webhook-token"}), run_scheduler=False)
    await seed_demo(runtime.uows, runtime.settings)
    await runtime.zalo_bot.start()
    async with TestClient(TestServer(runtime.web_app)) as client:
        runtime.client = client
        yield runtime
    await runtime.stop()
    await fake.close()


@FUZZ
@given(body=zalo_bot_updates())
async def test_any_zalo_bot_update_is_taken_or_refused_never_a_crash(zalo_bot, our_errors, body):
    response = await zalo_bot.client.post("/zalobot/webhook", data=json.dumps(body),
                                          headers={"X-Bot-Api-Secret-Token": "s3cret-webhook-token"})
    assert response.status in (200, 400)
    await zalo_bot.zalo_bot.idle()
    await zalo_bot.dispatcher.drain()
    assert our_errors.messages() == []


# -- what the fuzzing found, kept as plain regression tests -------------------------------------------------

async def test_an_update_with_a_chat_id_of_the_wrong_type_cannot_stop_the_bot(telegram):
    """Before: the webhook queued it, python-telegram-bot's update fetcher died on it (an unhashable
    chat id), and no later update was ever processed."""
    application = telegram.telegram.application
    await application.start()  # the update fetcher, as in production
    try:
        forged = text_update(1, 5550001, "/start")
        forged["message"]["chat"]["id"] = [5550001]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert (await telegram.client.post("/telegram/webhook", json=forged, headers=headers)).status == 400
        assert (await telegram.client.post("/telegram/webhook", json=text_update(2, 5550001, "/start"),
                                           headers=headers)).status == 200
        for _ in range(100):
            await telegram.dispatcher.drain()
            if telegram.api.sent_texts(5550001):
                break
            await asyncio.sleep(0.02)
        assert telegram.api.sent_texts(5550001)[0].startswith("Xin chào!")
    finally:
        await application.stop()


@pytest.mark.parametrize("body", [b'{"id": "\\ud800", "text": "x"}', b'{"id": "a", "text": "\\udfff"}',
                                  b'{"id": "b", "button": "\\ud83d"}'])
async def test_a_lone_surrogate_in_a_web_chat_message_is_a_bad_request(web, body):
    """Before: 503 "try again shortly", which no retry could ever fix."""
    response = await web.client.post("/api/chat/send", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400


async def test_a_cursor_beyond_what_an_id_can_be_means_nothing_newer(web):
    """Before: 503 on PostgreSQL (outbox ids are 32-bit there)."""
    for after in ("2147483648", str(2 ** 70)):
        response = await web.client.get("/api/chat/messages", params={"after": after})
        assert response.status == 200 and (await response.json())["messages"] == []
    response = await web.client.post("/api/chat/send", json={"id": "far", "text": "/menu", "after": 2 ** 70})
    assert response.status == 200


@pytest.mark.parametrize("typed", ["/ ", "/\n", "/ start", "/\t/"])
async def test_a_slash_followed_by_a_space_is_text_not_a_broken_command(web, typed):
    """Before: an IndexError inside the pipeline and the apology, on every channel."""
    from bot.domain.dialog import Incoming

    assert Incoming("web", "c", "c", "k", text=typed).command is None
    replies = await web.client.post("/api/chat/send", json={"id": f"slash-{typed!r}", "text": typed})
    assert replies.status == 200
    assert not any(m["text"].startswith("Xin lỗi, đã có lỗi") for m in (await replies.json())["messages"])
