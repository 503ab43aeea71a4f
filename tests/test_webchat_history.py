"""The web chat's history through its JSON API, on both databases: both sides kept in order, pages
from the newest back, old menus no longer live and a press on one refused, the page's language."""

from __future__ import annotations

import io
import re
import uuid

from aiohttp.test_utils import TestClient, TestServer

from bot.domain.dialog import Reply
from storage.models import ConversationState, OutboxMessage
from tests.webchat import Browser, buttons, chat_id, rows

VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)


async def history(tab: Browser, **params) -> dict:
    response = await tab.client.get("/api/chat/history", params={k: str(v) for k, v in params.items()})
    assert response.status == 200, await response.text()
    return await response.json()


async def press(tab: Browser, message: dict, label: str, *, status: int = 200, message_id: str | None = None) -> dict:
    """Taps ``label`` on ``message`` as the page does: the press names its message."""
    body = {"id": message_id or uuid.uuid4().hex, "after": tab.cursor, "button": buttons(message)[label],
            "message": message["id"]}
    response = await tab.client.post("/api/chat/send", json=body)
    assert response.status == status, await response.text()
    data = await response.json()
    if status == 200:
        tab.cursor = data["cursor"]
    return data


async def to_menu(tab: Browser) -> list[dict]:
    """/start, then the language, the ward and its confirmation tapped as on the page."""
    welcome = await tab.send("/start")
    asked = (await press(tab, welcome[-1], "🇻🇳 Tiếng Việt"))["messages"]
    found = await tab.send("hoan kiem")
    return (await press(tab, found[-1], "Phường Hoàn Kiếm, Thành phố Hà Nội"))["messages"] or asked


async def test_both_sides_are_kept_in_order_and_the_page_opens_at_the_newest(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await to_menu(tab)
        page = await history(tab)
    lines = [(m.get("from", "bot"), m["text"]) for m in page["messages"]]
    mine = [text for side, text in lines if side == "me"]
    # The page's own /start is not a line of the citizen's; taps show their labels, typing as typed.
    assert mine == ["🇻🇳 Tiếng Việt", "hoan kiem", "Phường Hoàn Kiếm, Thành phố Hà Nội"]
    assert lines[0][0] == "bot" and "Xin chào" in lines[0][1]
    assert lines[-1][0] == "bot" and "Bạn muốn làm gì?" in lines[-1][1]
    said = [i for i, (side, _) in enumerate(lines) if side == "me"]
    assert all(lines[i + 1][0] == "bot" for i in said), "each line is followed by its answer"
    assert page["cursor"] == page["messages"][-1]["id"] and page["more"] is False
    ids = [m["id"] for m in page["messages"]]
    assert ids == sorted(ids)


async def test_an_invite_code_never_enters_the_history(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        await tab.send("/officer SECRET-CODE-123")
        page = await history(tab)
    assert "SECRET-CODE-123" not in str(page)
    assert [m["text"] for m in page["messages"] if m.get("from") == "me"] == ["/officer"]


async def test_a_long_chat_opens_at_its_newest_message_and_pages_back_to_the_first(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        chat = chat_id(tab)
        async with runtime.uows() as uow:
            await uow.outbox.enqueue_many([("web", chat, Reply(f"Thông báo số {n}"), f"test:{chat}:{n}")
                                           for n in range(1, 151)])
            await uow.commit()
        page = await history(tab)
        assert page["messages"][-1]["text"] == "Thông báo số 150"  # not message 101
        assert len(page["messages"]) == 40 and page["more"] is True
        seen = page["messages"]
        while page["more"]:
            page = await history(tab, before=seen[0]["id"], limit=100)
            seen = page["messages"] + seen
        assert [m["text"] for m in seen if m["text"].startswith("Thông báo")] == \
            [f"Thông báo số {n}" for n in range(1, 151)]
        assert "Xin chào" in seen[0]["text"]
        assert len({m["id"] for m in seen}) == len(seen)
        # The long-poll still reads on from a cursor: nothing repeated, nothing skipped.
        newest = await client.get("/api/chat/messages", params={"after": seen[-2]["id"]})
        assert [m["text"] for m in (await newest.json())["messages"]] == ["Thông báo số 150"]
        for bad in ({"before": "abc"}, {"limit": "x"}):
            response = await client.get("/api/chat/history", params=bad)
            assert response.status == 400 and "error" in await response.json()


async def test_only_the_newest_menu_is_live_and_an_old_one_is_refused_not_acted_on(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await to_menu(tab)
        page = (await history(tab))["messages"]
        menus = [m for m in page if m.get("buttons")]
        assert [m["live"] for m in menus] == [False] * (len(menus) - 1) + [True]
        welcome = menus[0]
        assert "Xin chào" in welcome["text"]

        # The language picker was answered long ago: pressing it again changes nothing.
        before = await rows(runtime, ConversationState, ConversationState.chat_id == chat_id(tab))
        refused = await press(tab, welcome, "🇬🇧 English", status=409)
        assert "tin nhắn cũ" in refused["error"]
        after = await rows(runtime, ConversationState, ConversationState.chat_id == chat_id(tab))
        assert (after[0].flow, after[0].step, after[0].data) == (before[0].flow, before[0].step, before[0].data)
        assert (await history(tab))["messages"][-1]["id"] == page[-1]["id"]  # nothing said, nothing answered

        # The live menu works; sending the same press again (a retry) is not taken for a stale one.
        menu = menus[-1]
        key = uuid.uuid4().hex
        first = await press(tab, menu, "📅 Lịch tiếp công dân", message_id=key)
        assert "said" in first and all(m.get("from") != "me" for m in first["messages"])
        again = await press(tab, menu, "📅 Lịch tiếp công dân", message_id=key)
        assert again["messages"] == []
        newest = (await history(tab))["messages"]
        assert [m["text"] for m in newest if m.get("from") == "me"][-1] == "📅 Lịch tiếp công dân"
        assert next(m for m in newest if m["id"] == menu["id"])["live"] is False


async def test_a_forged_press_is_refused(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        other, tab = Browser(client), None
        await other.send("/start")
        theirs = (await history(other))["messages"][-1]
        client.session.cookie_jar.clear()
        tab = Browser(client)
        welcome = (await tab.send("/start"))[-1]
        # A button of another chat's message, and a value that message never offered.
        assert (await press(tab, theirs, "🇻🇳 Tiếng Việt", status=400))["error"]
        forged = {"id": uuid.uuid4().hex, "button": "lang:xx", "message": welcome["id"]}
        assert (await client.post("/api/chat/send", json=forged)).status == 400
        assert [m for m in (await history(tab))["messages"] if m.get("from") == "me"] == []


async def test_a_photo_and_a_location_are_kept_on_the_citizens_side(runtime):
    from tests.test_webchat_media import png

    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await to_menu(tab)
        await tab.send(button="menu:submit")
        await tab.send(button="kind:feedback")
        await tab.send(button="category:infrastructure")
        await tab.send("Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
        form = {"id": "photo-1", "photo": io.BytesIO(png(20, 10))}
        response = await client.post("/api/chat/photo", data=form,
                                     headers={"Origin": str(client.make_url("/")).rstrip("/")})
        assert response.status == 200, await response.text()
        await tab.send(button="photos:done")
        await tab.send(location={"latitude": 21.03401, "longitude": 105.85})
        mine = [m for m in (await history(tab))["messages"] if m.get("from") == "me"]
        [sent] = [m["photos"] for m in mine if m.get("photos")]
        photo = await client.get(sent[0])  # the citizen's own photo, back from the server
    assert sent[0].startswith("/media/") and photo.status == 200 and photo.content_type == "image/png"
    assert mine[-1]["text"] == "📍 21.03401, 105.85000"


async def test_the_page_is_in_the_chosen_language(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        # Before a choice, the commune's language, whatever the phone announces.
        vietnamese = await (await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})).text()
        assert '<html lang="vi">' in vietnamese and ">Gửi</button>" in vietnamese

        tab = Browser(client)
        welcome = await tab.send("/start")
        chose = await client.post("/api/chat/send", json={"id": "x1", "button": "lang:en",
                                                           "message": welcome[-1]["id"]})
        assert (await chose.json())["lang"] == "en"
        # The person chose English in the chat: the page follows, whatever the browser says.
        text = await (await client.get("/", headers={"Accept-Language": "vi"})).text()
        assert '<html lang="en">' in text and ">Send</button>" in text and 'placeholder="Type a message…"' in text
        visible = re.sub(r'<script type="application/json".*?</script>', "", text, flags=re.S)
        assert not VIETNAMESE.search(visible), "Vietnamese left in the English page"


async def test_the_history_is_erased_with_the_persons_data(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await to_menu(tab)
        chat = chat_id(tab)
        said = (OutboxMessage.chat_id == chat, OutboxMessage.dedupe_key.startswith("said:"))
        assert len(await rows(runtime, OutboxMessage, *said)) == 3
        await tab.send("/privacy")
        await tab.send(button="privacy:erase")
        await tab.send(button="privacy:erase_yes")
        # What the citizen wrote goes with the rest of their data; only the press that asked for the
        # erasure is written after it, like the erasure's own answer.
        left = await rows(runtime, OutboxMessage, *said)
        assert [row.payload["button"] for row in left] == ["privacy:erase_yes"]
        assert "hoan kiem" not in str([row.payload for row in left])
