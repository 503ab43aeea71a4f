"""Nothing a citizen wrote or is can be reached through a public URL: not a complaint or a
denunciation (not even that it exists), not a name, phone, address, description or tracking code of
any item — through every page, feed and Open311 endpoint, in both languages and both formats."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.public.open311 import issue_key
from bot.domain.kinds import ItemKind
from bot.petitions import Contact, Submission, file_submission
from storage.models import Item, User
from tests.webchat import COMPLAINT, DESCRIPTION, file_complaint, file_item

DENUNCIATION = "Tôi tố cáo cán bộ địa chính nhận tiền của hộ số 7 Hàng Bạc để cấp phép sai."
FEEDBACK_WITH_NAME = "Cống trước nhà bà Trần Thị Hoa số 21 Hàng Bạc bị tắc, gọi 0987654321."
CONTACT = ("Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")
PUBLIC_PATHS = ("", "/", "/schedule", "/disclosures", "/projects", "/consultations", "/announcements", "/figures",
                "/schedule.ics", "/feed.rss", "/feed.atom")


@pytest.fixture
async def http(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def test_no_complaint_denunciation_or_personal_field_is_public(runtime, http, citizen):
    await file_complaint(citizen)
    async with runtime.uows() as uow:  # a denouncer who gave their identity (Luật Tố cáo 2018, Điều 8)
        denouncer = User(language="vi", commune_code=70)
        uow.session.add(denouncer)
        await uow.session.flush()
        await file_submission(uow, denouncer.id, "web", "denouncer-chat", Submission(
            kind=ItemKind.denunciation, category="public_order", commune_code=70, description=DENUNCIATION,
            contact=Contact(*CONTACT)), runtime.settings.zone)
        await uow.commit()
    await file_item(citizen, "feedback", "infrastructure", DESCRIPTION, contact=CONTACT)
    await file_item(citizen, "feedback", "environment", FEEDBACK_WITH_NAME)
    key = await issue_key(runtime.uows, 70, "Cổng tỉnh")
    posted = await http.post("/open311/v2/requests.json", data={
        "api_key": key, "jurisdiction_id": "70", "service_code": "land", "address_string": "Số 40 Hàng Bạc",
        "description": "Nhà ông Phạm Văn Bình xây lấn ngõ.", "first_name": "Minh", "last_name": "Đỗ",
        "phone": "0900111222", "email": "minh@example.vn", "attribute[contact_consent]": "yes"})
    assert posted.status == 201
    async with runtime.uows() as uow:
        items = (await uow.session.execute(select(Item))).scalars().all()
    kinds = {item.kind for item in items}
    assert {"complaint_first", "denunciation", "feedback"} <= kinds
    secrets = {*CONTACT, COMPLAINT, DENUNCIATION, DESCRIPTION, FEEDBACK_WITH_NAME, "0987654321", "Trần Thị Hoa",
               "Phạm Văn Bình", "Số 40 Hàng Bạc", "0900111222", "minh@example.vn", "Đỗ",
               *(item.tracking_code for item in items)}
    secrets |= {s.split(",")[0][:25] for s in (COMPLAINT, DENUNCIATION, DESCRIPTION)}

    bodies = {}
    for commune in ("70", "phuong-hoan-kiem"):
        for path in PUBLIC_PATHS:
            for query in ("", "?lang=en"):
                url = f"/c/{commune}{path}{query}"
                response = await http.get(url)
                assert response.status == 200, url
                bodies[url] = await response.text()
    for fmt in ("json", "xml"):
        for resource in ("services", "requests"):
            for params in ({}, {"status": "open"}, {"status": "closed"}, {"start_date": "2000-01-01T00:00:00Z"}):
                response = await http.get(f"/open311/v2/{resource}.{fmt}", params={"jurisdiction_id": "70", **params})
                assert response.status == 200
                bodies[f"{resource}.{fmt}{params}"] = await response.text()
        all_ids = ",".join(str(item.id) for item in items)
        response = await http.get(f"/open311/v2/requests.{fmt}",
                                  params={"jurisdiction_id": "70", "service_request_id": all_ids})
        bodies[f"ids.{fmt}"] = await response.text()
        for item in items:
            response = await http.get(f"/open311/v2/requests/{item.id}.{fmt}")
            bodies[f"{item.id}.{fmt}"] = await response.text()
            # A complaint or denunciation is as unknown as a number nobody was ever given.
            assert response.status == (200 if item.kind == "feedback" else 404), (item.kind, fmt)
    for where, body in bodies.items():
        leaked = [secret for secret in secrets if secret and secret in body]
        assert not leaked, (where, leaked)
    listed = bodies["ids.json"]
    for item in items:
        assert (f'"service_request_id": "{item.id}"' in listed) == (item.kind == "feedback")
    figures = bodies["/c/70/figures"]
    assert "Khiếu nại" in figures  # totals by kind are public; which complaint, by whom, is not
