"""Driving the web chat API as a citizen's browser tab would, for the end-to-end tests."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy import select

DESCRIPTION = "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần từ tuần trước."
COMPLAINT = "Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng."


class Browser:
    """One browser tab: keeps its cookie and the last message id it saw."""

    def __init__(self, client: TestClient):
        self.client = client
        self.cursor = 0

    async def send(self, text: str | None = None, *, button: str | None = None, location: dict | None = None,
                   message_id: str | None = None, status: int = 200) -> list[dict]:
        body = {"id": message_id or uuid.uuid4().hex, "after": self.cursor}
        if location is not None:
            body["location"] = location
        else:
            body.update({"button": button} if button is not None else {"text": text})
        response = await self.client.post("/api/chat/send", json=body)
        assert response.status == status, await response.text()
        data = await response.json()
        if status != 200:
            return data
        self.cursor = data["cursor"]
        return data["messages"]

    async def history(self) -> list[dict]:
        response = await self.client.get("/api/chat/messages", params={"after": 0, "wait": 0})
        return (await response.json())["messages"]


def chat_id(tab: Browser) -> str:
    """The chat id behind a tab's cookie (the cookie carries it with the server's signature)."""
    cookie = tab.client.session.cookie_jar.filter_cookies(tab.client.make_url("/"))["tiepdan_chat"].value
    return cookie.rpartition(".")[0]


def same_origin(client: TestClient) -> dict[str, str]:
    """The Origin header a browser adds to an upload from the chat page (uploads must name it)."""
    return {"Origin": str(client.make_url("/")).rstrip("/")}


def buttons(message: dict) -> dict[str, str]:
    return {b["label"]: b["value"] for row in message["buttons"] for b in row}


async def reach_menu(tab: Browser) -> list[dict]:
    """/start, Vietnamese, Phường Hoàn Kiếm: the main menu."""
    await tab.send("/start")
    await tab.send(button="lang:vi")
    await tab.send("hoan kiem")
    return await tab.send(button="commune:70")


async def describe(tab: Browser, kind: str, category: str = "infrastructure", text: str = DESCRIPTION) -> None:
    """From the menu to the location step of a submission."""
    await tab.send(button="menu:submit")
    await tab.send(button=f"kind:{kind}")
    await tab.send(button=f"category:{category}")
    await tab.send(text)
    await tab.send(button="photos:done")


async def file_feedback(tab: Browser) -> list[dict]:
    await describe(tab, "feedback")
    await tab.send(button="location:skip")
    await tab.send(button="consent:anonymous")
    return await tab.send(button="submit:send")


async def give_contact(tab: Browser) -> list[dict]:
    """Consent, then name, address and phone: the summary."""
    asked = await tab.send(button="consent:yes")
    if "contact:new" in buttons(asked[-1]).values():  # offered the last item's contact (issue 18)
        await tab.send(button="contact:new")
    await tab.send("Nguyễn Thị Lan")
    await tab.send("Số 3 Hàng Bạc, tổ 5")
    return await tab.send("0912345678")


async def file_item(tab: Browser, kind: str, category: str, text: str,
                    contact: tuple[str, str, str] | None = None) -> list[dict]:
    """From the menu to the receipt: with consent and ``contact`` (name, address, phone), or anonymously."""
    await describe(tab, kind, category, text)
    await tab.send(button="location:skip")
    if contact is not None:
        asked = await tab.send(button="consent:yes")
        if "contact:new" in buttons(asked[-1]).values():  # offered the last item's contact (issue 18)
            await tab.send(button="contact:new")
        for answer in contact:
            await tab.send(answer)
    else:
        await tab.send(button="consent:anonymous")
    return await tab.send(button="submit:send")


async def file_complaint(tab: Browser) -> list[dict]:
    await describe(tab, "complaint_first", "land", COMPLAINT)
    await tab.send(button="location:skip")
    await give_contact(tab)
    return await tab.send(button="submit:send")


async def rows(runtime, model, *where) -> list:
    """Rows in primary-key order (PostgreSQL returns updated rows in whatever order it likes)."""
    async with runtime.uows() as uow:
        query = select(model).where(*where).order_by(*model.__table__.primary_key.columns)
        return list((await uow.session.execute(query)).scalars())
