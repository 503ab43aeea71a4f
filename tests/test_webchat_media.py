"""Photos and locations through the web chat: stored in the database, checked by content, served
back by unguessable key; oversized or non-image uploads refused with a clear message."""

from __future__ import annotations

import struct
import uuid
import zlib

from aiohttp import FormData

from storage.models import Attachment, Item
from tests.webchat import rows as _rows
from tests.webchat import DESCRIPTION, same_origin


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def upload(citizen, data: bytes, name: str = "o-ga.png", content_type: str = "image/png"):
    form = FormData()
    form.add_field("id", uuid.uuid4().hex)
    form.add_field("after", str(citizen.cursor))
    form.add_field("photo", data, filename=name, content_type=content_type)
    response = await citizen.client.post("/api/chat/photo", data=form, headers=same_origin(citizen.client))
    body = await response.json()
    if response.status == 200:
        citizen.cursor = body["cursor"]
    return response.status, body


async def _to_photos_step(citizen):
    await citizen.send(button="menu:submit")
    await citizen.send(button="kind:feedback")
    await citizen.send(button="category:infrastructure")
    await citizen.send(DESCRIPTION)


async def test_photos_and_a_location_from_the_web_chat_reach_the_item(runtime, citizen):
    await _to_photos_step(citizen)
    for n in (1, 2):
        status, body = await upload(citizen, png())
        assert status == 200 and body["messages"][0]["text"] == f"Đã nhận ảnh {n}/5."
    await citizen.send(button="photos:done")
    replies = await citizen.send(location={"latitude": 21.0340, "longitude": 105.8500})
    assert replies[0]["text"] == "Đã ghi nhận vị trí."
    await citizen.send(button="consent:anonymous")
    await citizen.send(button="submit:send")
    [item] = await _rows(runtime, Item)
    assert len(item.photos) == 2 and all(p.startswith("web:") for p in item.photos)
    assert (item.latitude, item.longitude) == (21.034, 105.85)
    key = item.photos[0][4:]
    response = await citizen.client.get(f"/media/{key}")
    assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    assert await response.read() == png()
    assert (await citizen.client.get("/media/not-a-key")).status == 404


async def test_a_file_that_is_not_an_image_is_refused_whatever_it_claims(runtime, citizen):
    await _to_photos_step(citizen)
    status, body = await upload(citizen, b"%PDF-1.7 pretending", name="x.png")
    assert status == 415 and body["error"] == "Chỉ nhận ảnh JPEG, PNG hoặc WebP."
    assert await _rows(runtime, Attachment) == []


async def test_an_oversized_photo_is_refused_with_the_limit(runtime, citizen):
    await _to_photos_step(citizen)
    status, body = await upload(citizen, png() + b"\x00" * (6 * 1024 * 1024))
    assert status == 413 and body["error"] == "Ảnh quá lớn. Vui lòng gửi ảnh dưới 5 MB."
    assert await _rows(runtime, Attachment) == []
    status, _ = await upload(citizen, png())
    assert status == 200  # the conversation goes on


async def test_impossible_locations_are_refused(runtime, citizen):
    for location in ({"latitude": 91, "longitude": 0}, {"latitude": "21", "longitude": 105}, {"latitude": True,
                                                                                               "longitude": 1}):
        response = await citizen.client.post("/api/chat/send", json={"id": uuid.uuid4().hex, "location": location})
        assert response.status == 400
