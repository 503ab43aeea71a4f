"""The demo province as the end-to-end tests of the organisation use it (storage/demo.py): Thành phố Hà
Nội's units, its communes — the demo ward, a remote commune with its own office, one served by the
province, one whose citizens are sent elsewhere — and staff appointed by invite, driven through the web
chat like tests/webchat.py."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.officers import create_invite
from bot.texts import t
from storage.models import (
    BoardObservation,
    Consultation,
    ConversationState,
    Item,
    ItemContact,
    ItemEvent,
    OutboxMessage,
    Project,
    ProjectUpdate,
    Resident,
    Unit,
    User,
)
from tests.webchat import file_item as file_item_of
from tests.webchat import Browser, chat_id, rows

HOAN_KIEM, BA_VI, BAT_TRANG, SUOI_HAI = 70, 9700, 583, 9694
THUC_PHAN = 1273  # a ward of Cao Bằng, another province
SEARCH = {HOAN_KIEM: "hoan kiem", BA_VI: "ba vi", BAT_TRANG: "bat trang", SUOI_HAI: "suoi hai", THUC_PHAN: "thuc phan"}
OFFICE, ECONOMY = "Văn phòng HĐND và UBND phường", "Phòng Kinh tế, Hạ tầng và Đô thị"
BA_VI_OFFICE = "Văn phòng HĐND và UBND xã Ba Vì"
NAME, ADDRESS, PHONE = "Đỗ Văn Giấu Tên", "Số 8 ngõ Kín, Hoàn Kiếm", "0961234567"
NOT_ALLOWED = t("vi", "officer.not_allowed")


class Tabs:
    """Browser tabs on one running tiepdan, closed at the end of the test."""

    def __init__(self, runtime):
        self.runtime, self.clients = runtime, []

    async def open(self, commune: int = HOAN_KIEM) -> tuple[Browser, list[dict]]:
        """A tab that chose Vietnamese and ``commune``; with what choosing the commune answered."""
        client = TestClient(TestServer(self.runtime.web_app))
        await client.start_server()
        self.clients.append(client)
        tab = Browser(client)
        await tab.send("/start")
        await tab.send(button="lang:vi")
        await tab.send(SEARCH[commune])
        return tab, await tab.send(button=f"commune:{commune}")

    async def staff(self, unit_id: int, role: str, commune: int = HOAN_KIEM) -> Browser:
        tab, _ = await self.open(commune)
        await tab.send(f"/officer {await create_invite(self.runtime.uows, unit_id, role)}")
        return tab

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


async def unit_id(runtime, name: str, commune: int | None = HOAN_KIEM) -> int:
    where = Unit.commune_code.is_(None) if commune is None else Unit.commune_code == commune
    [unit] = await rows(runtime, Unit, where, Unit.name == name)
    return unit.id


async def file_item(tab: Browser, kind: str, category: str, text: str, *, identity: bool) -> list[dict]:
    return await file_item_of(tab, kind, category, text, (NAME, ADDRESS, PHONE) if identity else None)


async def items(runtime, commune: int) -> dict[str, Item]:
    return {item.description: item for item in await rows(runtime, Item, Item.commune_code == commune)}


async def forge(runtime, tab: Browser, flow: str, step: str, pressed: list[str], **data) -> None:
    """The tab's chat as if the server had shown it ``step`` of ``flow`` with the buttons ``pressed``: a
    client that forges buttons gets past the check of the buttons shown, so the server must refuse."""
    async with runtime.uows() as uow:
        await uow.session.execute(
            update(ConversationState)
            .where(ConversationState.channel == "web", ConversationState.chat_id == chat_id(tab))
            .values(flow=flow, step=step, data=data, expected_buttons=pressed))
        await uow.commit()


async def database(runtime) -> tuple:
    """Everything an action could change."""
    found = [(i.id, i.status, i.unit_id, i.assignee_id, i.accepted_at, i.closed_at, i.version)
             for i in await rows(runtime, Item)]
    events = [(e.item_id, e.action, e.note) for e in await rows(runtime, ItemEvent)]
    consultations = [(c.id, c.status) for c in await rows(runtime, Consultation)]
    projects = [(p.id, p.progress_percent, p.status) for p in await rows(runtime, Project)]
    updates = len(await rows(runtime, ProjectUpdate))
    observations = [(o.id, o.answer, o.answered_at) for o in await rows(runtime, BoardObservation)]
    published = sorted(r.dedupe_key for r in await rows(runtime, OutboxMessage)
                       if r.dedupe_key.startswith(("announce:", "project:")))
    residents = [(r.user_id, r.checked_in_commune) for r in await rows(runtime, Resident)]
    contacts = len(await rows(runtime, ItemContact))
    staff = [(u.id, u.role, u.unit_id, u.board_id) for u in await rows(runtime, User)]
    return found, events, consultations, projects, updates, observations, published, residents, contacts, staff


def seen(messages: list[dict]) -> str:
    return "\n".join(m["text"] + " " + " ".join(b["label"] for row in m["buttons"] for b in row) for m in messages)


def every_action_on(item_id: int, units: list[int], officer_id: int, project_id: int,
                    consultation_id: int) -> list[tuple[str, str | None, str | None, dict]]:
    """Every action an officer's screens offer, pressed or typed on a forged screen: (step, button, text, data)."""
    attempts = [("item", pressed, None, {"item_id": item_id})
                for pressed in ("oa:accept", "oa:start", "oa:answer", "oa:refuse", "oa:request_info", "oa:extend",
                                "oa:forward", "oa:close", "oassign", "oreveal", "oresident")]
    attempts += [("assign", f"oassign:{officer_id}", None, {"item_id": item_id}),
                 ("forward_target", "ofwd:out", None, {"item_id": item_id}),
                 ("extend_kind", "oext:complex", None, {"item_id": item_id}),
                 ("text", "otpl:0", None, {"item_id": item_id, "action": "answer", "templates": ["Đã xử lý xong."]}),
                 ("text", None, "Đã xử lý xong, trả lời công dân.", {"item_id": item_id, "action": "answer"}),
                 ("text", None, "Không thuộc thẩm quyền giải quyết.", {"item_id": item_id, "action": "refuse"}),
                 ("text", None, "Đề nghị bổ sung ảnh hiện trường.", {"item_id": item_id, "action": "request_info"}),
                 ("reveal", None, "Cơ quan điều tra yêu cầu xác minh nhân thân.", {"item_id": item_id}),
                 ("consult_pick", f"oclose:{consultation_id}", None, {}),
                 ("project_pick", f"oproj:{project_id}", None, {}),
                 ("project_note", None, "Hoàn thành 90% khối lượng.", {"project_id": project_id, "progress": 90}),
                 ("announce_text", None, "Chủ nhật này tổng vệ sinh toàn phường.", {})]
    attempts += [("forward_target", f"ofwd:{unit}", None, {"item_id": item_id}) for unit in units]
    return attempts
