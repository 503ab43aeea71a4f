"""Open311 GeoReport v2, tested by a client written only from the specification
(http://wiki.open311.org/GeoReport_v2): it knows the endpoints, parameters and field names the spec
lists, and nothing of tiepdan. Requests go through a real socket; every test runs on SQLite and
PostgreSQL. A posted request is a real filing: routed, with its legal deadlines, its unit told."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.public.open311 import issue_key
from storage.models import ChannelIdentity, Item, ItemContact, ItemDeadline, OutboxMessage, Unit, User

SPEC_SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
SPEC_REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                       "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                       "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


class GeoReportClient:
    """What any Open311 client does: GET/POST {endpoint}/{resource}.{format}, form-encoded posts,
    responses as a JSON array or an XML list, errors as [{code, description}]."""

    def __init__(self, http: TestClient, endpoint: str, jurisdiction: str, fmt: str = "json"):
        self.http, self.endpoint, self.jurisdiction, self.fmt = http, endpoint, jurisdiction, fmt

    async def _parse(self, response) -> tuple[int, list[dict]]:
        body = await response.text()
        if self.fmt == "json":
            return response.status, json.loads(body)
        root = ET.fromstring(body)
        return response.status, [{child.tag: child.text for child in element} for element in root]

    async def get(self, resource: str, **params) -> tuple[int, list[dict]]:
        params.setdefault("jurisdiction_id", self.jurisdiction)
        response = await self.http.get(f"{self.endpoint}/{resource}.{self.fmt}", params=params)
        return await self._parse(response)

    async def post(self, **fields) -> tuple[int, list[dict]]:
        fields.setdefault("jurisdiction_id", self.jurisdiction)
        response = await self.http.post(f"{self.endpoint}/requests.{self.fmt}", data=fields)
        return await self._parse(response)


@pytest.fixture
async def http(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


@pytest.fixture
async def key(runtime):
    return await issue_key(runtime.uows, 70, "Cổng dịch vụ công thành phố")


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_services_are_the_communes_feedback_categories(http, fmt):
    client = GeoReportClient(http, "/open311/v2", "70", fmt)
    status, services = await client.get("services")
    assert status == 200
    assert {s["service_code"] for s in services} >= {"land", "environment", "infrastructure"}
    assert SPEC_SERVICE_FIELDS <= set(services[0])
    land = next(s for s in services if s["service_code"] == "land")
    assert land["service_name"] == "Đất đai, nhà ở" and land["type"] == "realtime"
    status, definition = await client.get("services/land")
    assert status == 200
    # the slug is accepted as a jurisdiction too
    assert (await GeoReportClient(http, "/open311/v2", "phuong-hoan-kiem", fmt).get("services"))[0] == 200


async def test_post_files_a_real_feedback_item_with_deadlines_and_routing(runtime, http, key):
    async with runtime.uows() as uow:  # the ward's land officer uses the web chat
        officer = (await uow.session.execute(
            select(User).where(User.display_name == "Cán bộ địa chính (demo)"))).scalar_one()
        uow.session.add(ChannelIdentity(channel="web", external_id="officer-tab", user_id=officer.id,
                                        last_chat_id="officer-chat"))
        await uow.commit()
    client = GeoReportClient(http, "/open311/v2", "70")
    status, answer = await client.post(api_key=key, service_code="environment", lat="21.0342871", long="105.8531124",
                                       description="Rác thải ùn ứ ở đầu ngõ 12 phố Hàng Bạc ba ngày nay.",
                                       first_name="Lan", last_name="Nguyễn", phone="0912345678")
    assert status == 201 and set(answer[0]) >= {"service_request_id", "service_notice"}
    request_id = answer[0]["service_request_id"]
    assert "Mã theo dõi: TD-" in answer[0]["service_notice"]  # the citizen's receipt is the response
    async with runtime.uows() as uow:
        item = await uow.session.get(Item, int(request_id))
        unit = await uow.session.get(Unit, item.unit_id)
        deadlines = (await uow.session.execute(
            select(ItemDeadline).where(ItemDeadline.item_id == item.id))).scalars().all()
        contact = await uow.session.get(ItemContact, item.id)
        notices = (await uow.session.execute(select(OutboxMessage.chat_id).where(
            OutboxMessage.dedupe_key.like(f"new-item:{item.id}:%")))).scalars().all()
    assert (item.kind, item.channel, item.status, item.category) == ("feedback", "open311", "received", "environment")
    assert unit.name == "Phòng Kinh tế, Hạ tầng và Đô thị"  # the demo ward's routing rule for environment
    assert {d.phase for d in deadlines} >= {"intake", "resolution"}
    assert contact is None and item.anonymous  # no consent attribute: the name and phone are not kept
    assert notices == ["officer-chat"]  # the unit's officer is told, as for a chat filing
    status, found = await client.get(f"requests/{request_id}")
    assert status == 200 and found[0]["status"] == "open" and found[0]["service_code"] == "environment"
    assert found[0]["lat"] == 21.034 and found[0]["long"] == 105.853  # rounded to a street, not a house
    assert SPEC_REQUEST_FIELDS <= set(found[0])
    assert found[0]["agency_responsible"] == "Phòng Kinh tế, Hạ tầng và Đô thị"


async def test_contact_is_kept_only_with_the_citizens_consent(runtime, http, key):
    client = GeoReportClient(http, "/open311/v2", "70")
    status, answer = await client.post(**{"api_key": key, "service_code": "infrastructure",
                                          "address_string": "Ngõ 12 Hàng Bạc", "description": "Đèn đường hỏng.",
                                          "first_name": "Lan", "last_name": "Nguyễn", "phone": "0912345678",
                                          "attribute[contact_consent]": "yes"})
    assert status == 201
    async with runtime.uows() as uow:
        contact = await uow.session.get(ItemContact, int(answer[0]["service_request_id"]))
    assert (contact.full_name, contact.phone) == ("Lan Nguyễn", "0912345678")


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_errors_are_the_specs_array_of_code_and_description(http, key, fmt):
    client = GeoReportClient(http, "/open311/v2", "70", fmt)
    status, errors = await client.post(api_key="forged-key", service_code="land", lat="21.03", long="105.85",
                                       description="x")
    assert status == 403 and int(errors[0]["code"]) == 403 and "Khóa API" in errors[0]["description"]
    status, errors = await client.post(api_key=key, service_code="no-such", lat="21.03", long="105.85", description="x")
    assert status == 400 and "service_code" in errors[0]["description"]
    status, errors = await client.post(api_key=key, service_code="land", description="x")
    assert status == 400 and "lat" in errors[0]["description"]
    status, errors = await client.post(api_key=key, service_code="land", lat="91", long="105.85", description="x")
    assert status == 400
    status, errors = await client.post(api_key=key, service_code="land", lat="21.03", long="105.85", description="")
    assert status == 400 and "description" in errors[0]["description"]
    status, errors = await client.get("requests/123456")
    assert status == 404 and int(errors[0]["code"]) == 404
    status, errors = await client.get("requests", start_date="hôm qua")
    assert status == 400
    status, errors = await client.get("services", jurisdiction_id="xa-khong-co")
    assert status == 404
    response = await http.get("/open311/v2/services.csv", params={"jurisdiction_id": "70"})
    assert response.status == 400


async def test_a_key_posts_only_for_its_own_commune(runtime, http):
    other_key = await issue_key(runtime.uows, 9700, "Xã Ba Vì")  # Xã Ba Vì's key
    client = GeoReportClient(http, "/open311/v2", "70")
    status, errors = await client.post(api_key=other_key, service_code="land", lat="21.03", long="105.85",
                                       description="Lấn chiếm vỉa hè.")
    assert status == 403


async def test_get_requests_filters(runtime, http, key):
    client = GeoReportClient(http, "/open311/v2", "70")
    ids = {}
    for code in ("land", "environment", "environment"):
        status, answer = await client.post(api_key=key, service_code=code, lat="21.03", long="105.85",
                                           description=f"Phản ánh về {code}.")
        ids.setdefault(code, []).append(answer[0]["service_request_id"])
    status, found = await client.get("requests", service_code="environment")
    assert status == 200 and sorted(r["service_request_id"] for r in found) == sorted(ids["environment"])
    status, found = await client.get("requests", service_request_id=",".join([ids["land"][0], ids["environment"][0]]))
    assert {r["service_request_id"] for r in found} == {ids["land"][0], ids["environment"][0]}
    async with runtime.uows() as uow:
        item = await uow.session.get(Item, int(ids["land"][0]))
        item.status = "answered"
        await uow.commit()
    status, closed = await client.get("requests", status="closed")
    assert [r["service_request_id"] for r in closed] == ids["land"]
    status, still_open = await client.get("requests", status="open")
    assert ids["land"][0] not in {r["service_request_id"] for r in still_open}
    status, none = await client.get("requests", start_date="2020-01-01T00:00:00Z", end_date="2020-12-31T00:00:00Z")
    assert status == 200 and none == []
    status, everything = await client.get("requests", start_date="2020-01-01T00:00:00+07:00")
    assert len(everything) == 3
    xml_client = GeoReportClient(http, "/open311/v2", "70", "xml")
    status, as_xml = await xml_client.get("requests")
    assert status == 200 and {r["service_request_id"] for r in as_xml} == {r["service_request_id"] for r in everything}
